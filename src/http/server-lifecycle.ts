import type http from "node:http";
import type { Duplex } from "node:stream";
import type { NextFunction, Request, Response } from "express";

/**
 * Starting and stopping the HTTP listeners: listen, then on shutdown stop
 * accepting, let requests in flight finish within a grace period, and close
 * the connections that would otherwise hold the process open.
 */

/** How long requests in flight may take to finish once shutdown begins, before their sockets are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Listens on `port` (0: any free port) and resolves with the port taken. */
export function listenOn(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

/** Raw sockets taken over by websockets, so shutdown can cut those that never authenticated. */
export function trackUpgradedSockets(server: http.Server): Set<Duplex> {
  const sockets = new Set<Duplex>();
  server.on("upgrade", (_req: http.IncomingMessage, socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return sockets;
}

/**
 * The draining state: the readiness probe reports it, and while draining
 * every answer closes its connection, so keep-alive sockets do not hold
 * shutdown open until their idle timeout.
 */
export class Drain {
  #draining = false;
  readonly #inFlight = new Set<http.ServerResponse>();

  /** Express middleware that tracks the responses in flight. */
  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    if (this.#draining) res.setHeader("Connection", "close");
    this.#inFlight.add(res);
    res.once("close", () => this.#inFlight.delete(res));
    next();
  };

  readonly isDraining = (): boolean => this.#draining;

  /** From now on, and for the answers not yet sent, every connection closes after its answer. */
  begin(): void {
    this.#draining = true;
    for (const res of this.#inFlight) if (!res.headersSent) res.setHeader("Connection", "close");
  }
}

export interface StopServingOptions {
  server: http.Server;
  drain: Drain;
  metricsServer?: http.Server | undefined;
  /**
   * Ends what server.close() does not wait for and would otherwise wait
   * forever on: websockets are no longer HTTP connections.
   */
  closeUpgraded: () => Promise<void>;
}

/**
 * Stops accepting connections, closes idle ones and the metrics listener,
 * ends the websockets, then waits for the requests in flight (cut after a
 * grace period).
 */
export async function stopServing(options: StopServingOptions): Promise<void> {
  const { server, drain, metricsServer } = options;
  drain.begin();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  if (metricsServer?.listening) {
    metricsServer.close();
    metricsServer.closeAllConnections();
  }
  server.closeIdleConnections();
  await options.closeUpgraded();
  const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  await closed;
  clearTimeout(force);
}
