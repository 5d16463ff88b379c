import type http from "node:http";
import type { Duplex } from "node:stream";
import type express from "express";
import { CloseCode, makeServer, type ServerOptions } from "graphql-ws";
import { makeGraphQLWSConfig, type GrafservBase } from "postgraphile/grafserv";
import proxyaddr from "proxy-addr";
import { WebSocketServer, type WebSocket } from "ws";
import { CLOSE_POLICY_VIOLATION, type SocketExtra, type SocketRegistry } from "../graphql/realtime-socket.ts";
import { MessageThrottle, TurnScheduler } from "./websocket-throttle.ts";

/**
 * GraphQL over websockets on the GraphQL path, built here rather than by
 * grafserv so that its limits can be set: grafserv's own server accepts
 * messages of up to 100 MiB and has no per-address cap. Operations still
 * run through grafserv's graphql-ws configuration (its middleware, masking
 * and execution), exactly as grafserv would run them.
 */
export interface WebsocketServerOptions {
  app: express.Express;
  server: http.Server;
  serv: GrafservBase & { shouldHandleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean };
  sockets: SocketRegistry;
  /** Largest message accepted, in bytes: the HTTP request limit. Larger ones close the socket with 1009. */
  maxPayload: number;
  /** Ping interval; a peer that does not answer before the next ping is cut. */
  keepaliveMs?: number;
}

const DEFAULT_KEEPALIVE_MS = 12_000;

/** Pings the peer and cuts it when a pong does not come back in time. */
function keepAlive(socket: WebSocket, intervalMs: number): void {
  let answered = true;
  socket.on("pong", () => (answered = true));
  const timer = setInterval(() => {
    if (!answered) {
      socket.terminate();
      return;
    }
    answered = false;
    socket.ping();
  }, intervalMs);
  socket.once("close", () => clearInterval(timer));
}

/** Serves graphql-ws on the server's upgrades to the GraphQL path; returns a function that detaches it. */
export function attachWebsockets(options: WebsocketServerOptions): () => void {
  const { app, server, serv, sockets, maxPayload } = options;
  const config = makeGraphQLWSConfig(serv) as ServerOptions<Record<string, unknown> | undefined, SocketExtra>;
  const graphqlWs = makeServer<Record<string, unknown> | undefined, SocketExtra>({
    ...config,
    connectionInitWaitTimeout: sockets.limits.connectionInitTimeoutMs,
    onConnect: (ctx) => sockets.onConnect(ctx),
  });
  const wsServer = new WebSocketServer({ noServer: true, maxPayload });
  const turns = new TurnScheduler();

  const onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!serv.shouldHandleUpgrade(request, socket, head)) {
      socket.destroy();
      return;
    }
    // The same rule as Express's req.ip for HTTP requests (TRUST_PROXY).
    const address = proxyaddr(request, app.get("trust proxy fn"));
    wsServer.handleUpgrade(request, socket, head, (ws) => {
      if (!sockets.admit(ws, request, address)) return;
      keepAlive(ws, options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS);
      const closed = graphqlWs.opened(
        {
          protocol: ws.protocol,
          send: (data) =>
            new Promise<void>((resolve, reject) => ws.send(data, (error) => (error ? reject(error) : resolve()))),
          close: (code, reason) => ws.close(code, reason),
          // At a steady rate per socket, each message in its own turn of the
          // event loop (websocket-throttle.ts).
          onMessage: (receive) => {
            const throttle = new MessageThrottle(
              { perSecond: sockets.limits.messagesPerSecond, maxQueuedBytes: maxPayload },
              (message) =>
                turns.run(() => {
                  sockets.touch(ws);
                  receive(message).catch(() => {
                    // graphql-ws reports operation errors itself; this is a failure of the server.
                    ws.close(CloseCode.InternalServerError, "Internal error");
                  });
                }),
              () => ws.close(CLOSE_POLICY_VIOLATION, "Too many messages"),
            );
            ws.on("message", (data) => throttle.push(String(data)));
            ws.once("close", () => throttle.stop());
          },
        },
        { socket: ws, request },
      );
      ws.once("close", (code, reason) => void closed(code, String(reason)));
    });
  };
  server.on("upgrade", onUpgrade);
  return () => {
    server.off("upgrade", onUpgrade);
    wsServer.close();
  };
}
