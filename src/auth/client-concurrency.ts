import { authError } from "./auth-errors.ts";

/**
 * How many authentication operations one client address may have in flight
 * in this process at once. The SQL limits count attempts over minutes; this
 * bounds a burst's share of the database pool and of the hashing queue in
 * the moment, so a burst from one address is refused at once instead of
 * queueing in front of everyone else's logins.
 */
export const MAX_IN_FLIGHT_PER_CLIENT = 8;

/** Seconds a refused client should wait: its operations take a fraction of a second each. */
const RETRY_AFTER_SECONDS = 1;

const inFlight = new Map<string, number>();

/** The key a client's work is counted and queued under: its address; all unknown addresses together. */
export function clientKey(ip: string | undefined): string {
  return ip === undefined ? "unknown-address" : `address:${ip}`;
}

/** Runs `work` as one of the client's in-flight operations, or refuses with RATE_LIMITED when it has too many. */
export async function withClientSlot<T>(client: string, work: () => Promise<T>): Promise<T> {
  const current = inFlight.get(client) ?? 0;
  if (current >= MAX_IN_FLIGHT_PER_CLIENT) {
    throw authError("RATE_LIMITED", undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  }
  inFlight.set(client, current + 1);
  try {
    return await work();
  } finally {
    const remaining = (inFlight.get(client) ?? 1) - 1;
    if (remaining === 0) inFlight.delete(client);
    else inFlight.set(client, remaining);
  }
}
