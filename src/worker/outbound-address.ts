import dns from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

/**
 * Where webhooks may not go: addresses inside the network the service runs
 * in (private, loopback, link-local, unique-local, carrier-grade NAT,
 * unspecified, multicast and reserved ranges, and IPv4-mapped IPv6 forms of
 * them). A host named in WEBHOOK_ALLOWED_HOSTS is exempt.
 */
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  INTERNAL.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["64:ff9b::", 96],
] as const) {
  INTERNAL.addSubnet(network, prefix, "ipv6");
}

export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return INTERNAL.check(address, "ipv4");
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return INTERNAL.check(mapped, "ipv4");
  return INTERNAL.check(address, "ipv6");
}

export class RefusedAddressError extends Error {
  override name = "RefusedAddressError";
}

/**
 * A DNS lookup for the HTTP client that refuses internal addresses, so the
 * address checked is the address connected to (no second resolution an
 * attacker's DNS could answer differently).
 */
export function guardedLookup(allowedHosts: ReadonlySet<string>): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 4);
      const list = addresses as dns.LookupAddress[];
      const refused =
        !allowedHosts.has(hostname.toLowerCase()) && list.some((entry) => isInternalAddress(entry.address));
      if (refused || list.length === 0) {
        return callback(new RefusedAddressError(`refused address for ${hostname}`), "", 4);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      const first = list[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/** Checks a URL before any connection: scheme, and for a literal address its range. */
export function checkWebhookUrl(url: URL, options: { httpsOnly: boolean; allowedHosts: ReadonlySet<string> }): void {
  if (url.protocol !== "https:" && (options.httpsOnly || url.protocol !== "http:")) {
    throw new RefusedAddressError("webhook URLs must use https");
  }
  if (url.username || url.password) throw new RefusedAddressError("webhook URLs must not carry credentials");
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (isIP(host) !== 0 && !options.allowedHosts.has(host) && isInternalAddress(host)) {
    throw new RefusedAddressError(`refused address ${host}`);
  }
}
