import type { IncomingMessage } from "node:http";
import type { Context } from "graphql-ws";
import jwt from "jsonwebtoken";
import { getOperationAST, GraphQLError, parse } from "postgraphile/graphql";
import type { WebSocket } from "ws";
import { InvalidTokenError, verifyAccessToken, type AccessClaims } from "../auth/access-tokens.ts";
import type { JwtConfig } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";
import { projectPlugin } from "./project-plugin.ts";

/**
 * Authentication and limits of GraphQL over websockets (graphql-ws on
 * /graphql; the server itself is built in http/websocket-server.ts). The
 * access token travels in the connection_init payload
 * (`{ authorization: "Bearer …" }`) because browsers cannot set headers on a
 * websocket; it is verified at connection_init and a bad one closes the
 * socket with 4401. See docs/realtime.md.
 */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_TRY_AGAIN_LATER = 1013;
export const CLOSE_IDLE = 4002;
export const CLOSE_UNAUTHORIZED = 4401;
export const MAX_OPERATIONS_PER_CONNECTION = 20;

/** The configurable websocket limits (environment variables WS_*, docs/security.md). */
export interface WebsocketLimits {
  /** A socket that sends no connection_init in time is closed with 4408. */
  connectionInitTimeoutMs: number;
  /** A socket without a token and with no operation running is closed with 4002 after this long without a message. */
  unauthenticatedIdleMs: number;
  /** Open sockets per client address; the next is closed with 1013. */
  maxSocketsPerAddress: number;
  /** Subscriptions per user across all their sockets; the next is refused with TOO_MANY_SUBSCRIPTIONS. */
  maxSubscriptionsPerUser: number;
  /** Messages handled per second and socket (twice as many at once); the excess waits, and beyond a queue of maxPayload bytes the socket is closed with 1008. */
  messagesPerSecond: number;
}

export const DEFAULT_WEBSOCKET_LIMITS: WebsocketLimits = {
  connectionInitTimeoutMs: 10_000,
  unauthenticatedIdleMs: 60_000,
  maxSocketsPerAddress: 100,
  maxSubscriptionsPerUser: 20,
  messagesPerSecond: 20,
};

const BEARER = /^Bearer ([A-Za-z0-9_\-.]+)$/;
// setTimeout stores its delay in 32 bits.
const MAX_TIMER_MS = 2 ** 31 - 1;
const SHUTDOWN_GRACE_MS = 1_000;

/** The per-user subscription limit, as the dispatcher keeps it (realtime-dispatcher.ts). */
export interface SubscriptionLimit {
  isFull(userId: string): boolean;
  refusal(): { message: string; extensions?: Record<string, unknown> | undefined };
}

export interface SocketExtra {
  socket: WebSocket;
  request: IncomingMessage;
}

/** Claims of each socket that passed connection_init; null for an anonymous one. */
const claimsBySocket = new WeakMap<object, AccessClaims | null>();
/** Client address of each upgrade request, resolved with the HTTP trust-proxy rule. */
const addressByRequest = new WeakMap<object, string>();

/** The verified claims of a websocket's operations, for the GraphQL context (preset.ts). */
export function socketClaims(socket: object | undefined): AccessClaims | undefined {
  const claims = socket ? claimsBySocket.get(socket) : undefined;
  if (claims === undefined) throw new Error("A websocket operation ran before its socket was authenticated");
  return claims ?? undefined;
}

/** The client address of a websocket, for the GraphQL context (`clientIp`, preset.ts). */
export function socketClientAddress(request: object | undefined): string | undefined {
  return request ? addressByRequest.get(request) : undefined;
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

/** When each socket last had a message handled (not merely received: messages may wait in its queue). */
const lastActivityBySocket = new WeakMap<object, number>();

/** Closes an anonymous socket once it has run nothing and had no message handled for `idleMs`. */
function closeWhenIdle(socket: WebSocket, subscriptions: Readonly<Record<string, unknown>>, idleMs: number): void {
  const check = () => {
    const busy = Object.keys(subscriptions).length > 0;
    const idleFor = Date.now() - (lastActivityBySocket.get(socket) ?? 0);
    if (!busy && idleFor >= idleMs) {
      socket.close(CLOSE_IDLE, "Idle without authentication");
      return;
    }
    timer = setTimeout(check, busy ? idleMs : idleMs - idleFor);
  };
  let timer = setTimeout(check, idleMs);
  socket.once("close", () => clearTimeout(timer));
}

export interface SocketRegistryOptions {
  jwt: JwtConfig;
  logger: Logger;
  limits: WebsocketLimits;
}

/** The open websockets: admission per address, authentication at connection_init, shutdown. */
export class SocketRegistry {
  readonly limits: WebsocketLimits;
  private readonly options: SocketRegistryOptions;
  private readonly sockets = new Set<WebSocket>();
  private readonly perAddress = new Map<string, number>();

  constructor(options: SocketRegistryOptions) {
    this.options = options;
    this.limits = options.limits;
  }

  /**
   * A socket just opened from `address`: counted against its address, or
   * closed with 1013 when the address already has its share. Returns
   * whether it was admitted.
   */
  admit(socket: WebSocket, request: IncomingMessage, address: string): boolean {
    // ws reports a refused frame (too large, malformed) here, then closes with
    // its code (1009, 1002); without a listener the error would be thrown.
    socket.on("error", (error) => this.options.logger.debug({ err: error, address }, "websocket error"));
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.limits.maxSocketsPerAddress) {
      this.options.logger.debug({ address }, "websocket refused: too many from one address");
      socket.close(CLOSE_TRY_AGAIN_LATER, "Too many connections from your address");
      return false;
    }
    this.perAddress.set(address, open + 1);
    lastActivityBySocket.set(socket, Date.now());
    addressByRequest.set(request, address);
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
    return true;
  }

  /** A message of the socket is being handled (websocket-server.ts): it is not idle. */
  touch(socket: WebSocket): void {
    lastActivityBySocket.set(socket, Date.now());
  }

  /**
   * graphql-ws `onConnect`: verifies the token of connection_init. A socket
   * without one is anonymous (it may log in) and is closed when idle; a bad
   * token closes it with 4401.
   */
  onConnect(ctx: Context<Record<string, unknown> | undefined, SocketExtra>): boolean {
    const { socket } = ctx.extra;
    const header = authorizationParam(ctx.connectionParams);
    try {
      const verified = header === undefined ? null : verifyBearer(this.options.jwt, header);
      claimsBySocket.set(socket, verified?.claims ?? null);
      if (verified) closeAtExpiry(socket, verified.expiresAt);
      else closeWhenIdle(socket, ctx.subscriptions, this.limits.unauthenticatedIdleMs);
      return true;
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      this.options.logger.debug({ reason: error.message }, "websocket refused");
      // Closed before graphql-ws closes it with 4403: the first close code wins.
      socket.close(CLOSE_UNAUTHORIZED, "Invalid or expired access token");
      return false;
    }
  }

  /** Closes every socket with 1001, and cuts those that do not finish the close handshake in time. */
  async closeAll(): Promise<void> {
    const closing = [...this.sockets].map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.once("close", () => resolve());
          socket.close(CLOSE_GOING_AWAY, "Server shutting down");
        }),
    );
    const grace = setTimeout(() => this.sockets.forEach((socket) => socket.terminate()), SHUTDOWN_GRACE_MS);
    await Promise.all(closing);
    clearTimeout(grace);
  }
}

function refusal(message: string, code: string): GraphQLError[] {
  return [new GraphQLError(message, { extensions: { code } })];
}

/** Whether a document's operation is a subscription; false when it does not parse (grafserv reports that). */
function isSubscription(payload: { query?: unknown; operationName?: unknown }): boolean {
  if (typeof payload.query !== "string") return false;
  try {
    const document = parse(payload.query, { noLocation: true, maxTokens: 1_000 });
    const name = typeof payload.operationName === "string" ? payload.operationName : undefined;
    return getOperationAST(document, name)?.operation === "subscription";
  } catch {
    return false;
  }
}

/**
 * At most MAX_OPERATIONS_PER_CONNECTION operations at a time on one socket.
 * And a subscription of a user who already has their share is refused here,
 * before it is planned and executed, with the dispatcher's own refusal:
 * refusing thousands of them then costs little.
 */
export function realtimeSocketPlugin(subscriptions: SubscriptionLimit): GraphileConfig.Plugin {
  return projectPlugin("RealtimeSocket", {
    grafserv: {
      middleware: {
        onSubscribe(next, event) {
          const { ctx, message } = event;
          // graphql-ws has already registered this operation.
          if (Object.keys(ctx.subscriptions).length > MAX_OPERATIONS_PER_CONNECTION) {
            return refusal(
              `At most ${MAX_OPERATIONS_PER_CONNECTION} subscriptions at a time on one connection`,
              "TOO_MANY_SUBSCRIPTIONS",
            );
          }
          const claims = claimsBySocket.get((ctx.extra as SocketExtra).socket);
          if (claims && subscriptions.isFull(claims.userId) && isSubscription(message.payload)) {
            const error = subscriptions.refusal();
            return [new GraphQLError(error.message, { extensions: error.extensions ?? {} })];
          }
          return next();
        },
      },
    },
  });
}
