import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { expect, it } from "vitest";
import { freePort } from "../../src/net/free-port.ts";

/**
 * Ports for the servers tests start come from below the kernel's ephemeral
 * range, where no listen(0) or outgoing connection can take them between the
 * choice and the bind, and are never handed out twice by one process.
 */
it("hands out distinct, bindable ports below the ephemeral range", async () => {
  const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  const ports: number[] = [];
  for (let i = 0; i < 50; i++) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
  for (const port of ports) {
    expect(port).toBeLessThan(ephemeralLow);
    expect(port).toBeGreaterThanOrEqual(1_024);
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(ports[0], "127.0.0.1", resolve);
  });
  await new Promise((resolve) => server.close(resolve));
});
