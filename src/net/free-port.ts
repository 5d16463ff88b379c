import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * The first port of the kernel's ephemeral range (Linux's
 * /proc/sys/net/ipv4/ip_local_port_range; 32768 where it cannot be read).
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Ports handed out by this process, never handed out twice. */
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on the loopback interface right now, for the servers that
 * tests, the benchmark and the soak start side by side (another run may be
 * using any fixed port).
 *
 * It is drawn at random from the 10 000 ports just below the ephemeral range,
 * not asked of the kernel with port 0: the kernel hands ports of its
 * ephemeral range to every listen(0) and outgoing connection, so a port it
 * chose could be taken by another of them in the seconds between this answer
 * and the server binding it (an embedded PostgreSQL starts for seconds).
 * Below the range only another caller of this function competes, one chance
 * in thousands, and never within this process.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  const low = Math.max(1_024, high - 10_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = randomInt(low, high);
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}
