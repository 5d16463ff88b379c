import jwt from "jsonwebtoken";
import { GraphQLError } from "postgraphile/graphql";
import type { WebSocket } from "ws";
import { InvalidTokenError, verifyAccessToken, type AccessClaims } from "../auth/access-tokens.ts";
import type { JwtConfig } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";

/**
 * Authentication and limits of GraphQL over websockets (graphql-ws, served
 * by grafserv on /graphql). The access token travels in the connection_init
 * payload (`{ authorization: "Bearer …" }`) because browsers cannot set
 * headers on a websocket. Grafserv exposes no hook at connection_init, so the
 * token is checked when the socket's first operation arrives (graphql-ws
 * clients send it right after the acknowledgement); a bad token then closes
 * the socket with 4401. See docs/realtime.md.
 */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_GOING_AWAY = 1001;
export const MAX_OPERATIONS_PER_CONNECTION = 20;

const BEARER = /^Bearer ([A-Za-z0-9_\-.]+)$/;
// setTimeout stores its delay in 32 bits.
const MAX_TIMER_MS = 2 ** 31 - 1;
const SHUTDOWN_GRACE_MS = 1_000;

/** Claims of each authenticated socket; null for an anonymous one. */
const socketClaimsBySocket = new WeakMap<object, AccessClaims | null>();

/** The verified claims of a websocket's operations, for the GraphQL context (preset.ts). */
export function socketClaims(socket: object | undefined): AccessClaims | undefined {
  const claims = socket ? socketClaimsBySocket.get(socket) : undefined;
  if (claims === undefined) throw new Error("A websocket operation ran before its socket was authenticated");
  return claims ?? undefined;
}

/** The open, authenticated sockets, so shutdown can close them. */
export class SocketRegistry {
  private readonly sockets = new Set<WebSocket>();

  add(socket: WebSocket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  /** Closes every socket with 1001, and cuts those that do not finish the close handshake in time. */
  async closeAll(): Promise<void> {
    const closing = [...this.sockets].map(
      (socket) => new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.close(CLOSE_GOING_AWAY, "Server shutting down");
      }),
    );
    const grace = setTimeout(() => this.sockets.forEach((socket) => socket.terminate()), SHUTDOWN_GRACE_MS);
    await Promise.all(closing);
    clearTimeout(grace);
  }
}

function authorizationParam(params: Readonly<Record<string, unknown>> | undefined): unknown {
  const key = Object.keys(params ?? {}).find((name) => name.toLowerCase() === "authorization");
  return key === undefined ? undefined : params?.[key];
}

function verifyBearer(config: JwtConfig, header: unknown): { claims: AccessClaims; expiresAt: number } {
  const token = typeof header === "string" ? BEARER.exec(header)?.[1] : undefined;
  if (!token) throw new InvalidTokenError("authorization must be 'Bearer <token>'");
  const claims = verifyAccessToken(config, token);
  // Verified just above; decoding again only reads the expiry.
  const { exp } = jwt.decode(token, { json: true }) ?? {};
  return { claims, expiresAt: (exp ?? 0) * 1000 };
}

/** The socket stays usable only as long as its token: at `exp` it is closed with 4401. */
function closeAtExpiry(socket: WebSocket, expiresAt: number): void {
  const timer = setTimeout(
    () => socket.close(CLOSE_UNAUTHORIZED, "Access token expired"),
    Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS),
  );
  socket.once("close", () => clearTimeout(timer));
}

function refusal(message: string, code: string): GraphQLError[] {
  return [new GraphQLError(message, { extensions: { code } })];
}

interface SocketPluginOptions {
  jwt: JwtConfig;
  logger: Logger;
  sockets: SocketRegistry;
}

/** Authenticates a socket on its first operation; returns errors when it is refused. */
function authenticate(options: SocketPluginOptions, socket: WebSocket, params: Record<string, unknown> | undefined) {
  if (socketClaimsBySocket.has(socket)) return null;
  const header = authorizationParam(params);
  try {
    const verified = header === undefined ? null : verifyBearer(options.jwt, header);
    socketClaimsBySocket.set(socket, verified?.claims ?? null);
    if (verified) closeAtExpiry(socket, verified.expiresAt);
    options.sockets.add(socket);
    return null;
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    options.logger.debug({ reason: error.message }, "websocket refused");
    socket.close(CLOSE_UNAUTHORIZED, "Invalid or expired access token");
    return refusal("Invalid or expired access token", "UNAUTHENTICATED");
  }
}

export function realtimeSocketPlugin(options: SocketPluginOptions): GraphileConfig.Plugin {
  return {
    name: "TicketingRealtimeSocketPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        onSubscribe(next, event) {
          const { ctx } = event;
          const socket = (ctx.extra as { socket: WebSocket }).socket;
          const refused = authenticate(options, socket, ctx.connectionParams);
          if (refused) return refused;
          // graphql-ws has already registered this operation.
          if (Object.keys(ctx.subscriptions).length > MAX_OPERATIONS_PER_CONNECTION) {
            return refusal(
              `At most ${MAX_OPERATIONS_PER_CONNECTION} subscriptions at a time on one connection`,
              "TOO_MANY_SUBSCRIPTIONS",
            );
          }
          return next();
        },
      },
    },
  };
}
