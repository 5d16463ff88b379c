import type http from "node:http";
import type { Socket } from "node:net";
import client from "prom-client";
import type { TimeLimits } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";

/**
 * Bounds on the HTTP server's connections, so no client can hold the
 * process's file descriptors or memory:
 *
 * - open connections in total (Node's `server.maxConnections`) and per
 *   client address (counted here); a connection over either cap is closed
 *   as soon as it is accepted. Websockets are upgraded HTTP connections
 *   and count until they close.
 * - headers must arrive within `headersTimeoutMs` (also the first request
 *   of a connection that sends nothing), the whole request within
 *   `bodyTimeoutMs`; a slow sender's connection is closed. Node checks
 *   these every `CHECK_INTERVAL_MS`.
 * - an idle keep-alive connection is closed after `KEEP_ALIVE_MS`.
 * - accept() failing for want of file descriptors (EMFILE/ENFILE) is logged
 *   at most once every few seconds; the server keeps serving the
 *   connections it has.
 *
 * The address is the socket's peer: behind a load balancer every client
 * shares the balancer's address, so raise MAX_CONNECTIONS_PER_ADDRESS there
 * (the balancer should enforce its own per-client cap).
 */
export const CHECK_INTERVAL_MS = 1_000;
const KEEP_ALIVE_MS = 5_000;
const ACCEPT_ERROR_LOG_INTERVAL_MS = 5_000;

/** Options for http.createServer so the header and body timeouts are checked often enough to matter. */
export const serverOptions: http.ServerOptions = { connectionsCheckingInterval: CHECK_INTERVAL_MS };

export interface ConnectionLimits {
  /** Open connections per address right now (for tests and metrics). */
  openConnections(): number;
}

export function limitConnections(
  server: http.Server,
  limits: TimeLimits,
  logger: Logger,
  metrics: Metrics,
): ConnectionLimits {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.bodyTimeoutMs;
  server.keepAliveTimeout = KEEP_ALIVE_MS;

  const refused = new client.Counter({
    name: "http_connections_refused_total",
    help: "HTTP connections closed on accept because a connection cap was reached (reason: total, address).",
    labelNames: ["reason"],
    registers: [metrics.registry],
  });
  new client.Gauge({
    name: "http_connections_open",
    help: "Open HTTP connections, websockets included.",
    registers: [metrics.registry],
    collect() {
      this.set(open);
    },
  });

  const perAddress = new Map<string, number>();
  let open = 0;
  // Node closes connections over maxConnections before 'connection' is emitted.
  server.on("drop", () => refused.inc({ reason: "total" }));
  // Before the HTTP parser is attached, so a refused connection costs nothing more.
  server.prependListener("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "unknown";
    const count = (perAddress.get(address) ?? 0) + 1;
    if (count > limits.maxConnectionsPerAddress) {
      refused.inc({ reason: "address" });
      socket.destroy();
      return;
    }
    perAddress.set(address, count);
    open += 1;
    socket.once("close", () => {
      open -= 1;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });

  let lastAcceptErrorLog = 0;
  server.on("error", (error: NodeJS.ErrnoException) => {
    // listen() failures are reported by listen itself; once listening, errors
    // come from accept() and the server keeps listening.
    if (error.syscall !== "accept") return;
    const now = Date.now();
    if (now - lastAcceptErrorLog < ACCEPT_ERROR_LOG_INTERVAL_MS) return;
    lastAcceptErrorLog = now;
    logger.warn({ code: error.code, syscall: error.syscall }, "could not accept a connection");
  });

  return { openConnections: () => open };
}
