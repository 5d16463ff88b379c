import { createServer } from "node:net";

/**
 * A TCP port free on the loopback interface right now, for the servers that
 * tests, the benchmark and the soak start side by side (another run may be
 * using any fixed port).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
