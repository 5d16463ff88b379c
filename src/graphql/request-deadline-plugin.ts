import type http from "node:http";
import pg from "pg";
import client from "prom-client";
import { SafeError } from "postgraphile/grafast";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { projectPlugin } from "./project-plugin.ts";

/**
 * Bounds the life of each GraphQL request over HTTP:
 *
 * - A deadline: a request not answered within `requestTimeoutMs` (a hung
 *   database, a pool that never frees up) is answered 503 REQUEST_TIMEOUT
 *   with `Retry-After`, so no client waits forever.
 * - Cancellation: when the deadline passes or the client disconnects, the
 *   SQL the request is running is cancelled (PostgreSQL's cancel request,
 *   sent on a separate socket, as psql's Ctrl-C does), a connection it
 *   had yet to use is not taken, and every connection it used is discarded
 *   instead of returned to the pool, so a late cancel can never hit another
 *   request's statement. A database that does not answer the cancel within
 *   `FORCE_CLOSE_MS` has the connection closed under it.
 *
 * The statement timeout (database/web-roles.ts, pgSettingsFor) bounds the SQL in any
 * case; this ends it early and frees its connection for other clients.
 *
 * Over the websocket, a query or mutation still running when its socket
 * closes has its SQL cancelled the same way (reason `client_gone`); the
 * statement timeout is its deadline. Subscriptions are ended by the socket
 * (realtime-plugin.ts) and run no SQL of their own between events.
 */
export interface RequestDeadlineOptions {
  requestTimeoutMs: number;
  logger: Logger;
  /** Counts stopped requests by reason (graphql_requests_stopped_total). */
  metrics?: Metrics;
}

export const REQUEST_TIMEOUT = "REQUEST_TIMEOUT";
const TIMEOUT_MESSAGE = "The request took too long and was stopped; please retry";
const RETRY_AFTER_SECONDS = 2;
/** After a cancel, how long the database gets to end the statement before its connection is closed. */
const FORCE_CLOSE_MS = 2_000;
/** A cancel request that the database does not take within this long is given up. */
const CANCEL_SOCKET_MS = 2_000;

type Reason = "deadline" | "client_gone";

/** What one HTTP request is doing with the database, and whether it was stopped. */
class RequestWork {
  readonly active = new Set<pg.PoolClient>();
  stopped: Reason | undefined;
  private readonly logger: Logger;
  constructor(logger: Logger) {
    this.logger = logger;
  }

  stop(reason: Reason): void {
    if (this.stopped) return;
    this.stopped = reason;
    for (const client of this.active) this.cancel(client);
  }

  /** Registers a connection while the request runs SQL on it (callers check `stopped` first). */
  enter(client: pg.PoolClient): void {
    this.active.add(client);
  }

  leave(client: pg.PoolClient): void {
    this.active.delete(client);
  }

  private cancel(client: pg.PoolClient): void {
    discardOnRelease(client);
    sendCancelRequest(client, this.logger);
    const force = setTimeout(() => {
      // Still held: the database did not end the statement (hung, or unreachable).
      if (this.active.has(client))
        (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }, FORCE_CLOSE_MS);
    force.unref();
  }
}

/** On its next release the connection is closed rather than pooled (pg-pool drops a client released with an error). */
function discardOnRelease(client: pg.PoolClient): void {
  const release = client.release.bind(client);
  client.release = ((error?: Error | boolean) =>
    release(error ?? new Error("statement cancelled"))) as pg.PoolClient["release"];
}

/**
 * PostgreSQL's CancelRequest for the connection's backend, over a new socket
 * to the same server (node-postgres' own Connection serialises it).
 */
function sendCancelRequest(client: pg.PoolClient, logger: Logger): void {
  const { processID, secretKey, host, port } = client as unknown as {
    processID: number | null;
    secretKey: number | null;
    host: string;
    port: number;
  };
  if (processID === null || secretKey === null) return;
  // node-postgres' protocol connection; its typings omit connect and cancel.
  const connection = new pg.Connection() as unknown as CancelConnection;
  const timer = setTimeout(() => connection.stream.destroy(), CANCEL_SOCKET_MS);
  timer.unref();
  connection.on("error", (error: Error) => logger.debug({ err: error }, "cancel request failed"));
  connection.on("end", () => clearTimeout(timer));
  connection.once("connect", () => connection.cancel(processID, secretKey));
  if (host.startsWith("/")) connection.connect(`${host}/.s.PGSQL.${port}`);
  else connection.connect(port, host);
}

interface CancelConnection {
  stream: { destroy(): void };
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "end", listener: () => void): void;
  once(event: "connect", listener: () => void): void;
  connect(portOrPath: number | string, host?: string): void;
  cancel(processID: number, secretKey: number): void;
}

type WithPgClient = (
  pgSettings: Record<string, string> | null,
  callback: (client: unknown) => Promise<unknown>,
) => Promise<unknown>;

function stoppedError(): SafeError {
  return new SafeError(TIMEOUT_MESSAGE, { code: REQUEST_TIMEOUT });
}

/** The same withPgClient, with each connection registered with the request while its SQL runs. */
function trackedWithPgClient(original: WithPgClient, work: RequestWork): WithPgClient {
  const tracked: WithPgClient = (pgSettings, callback) => {
    if (work.stopped) return Promise.reject(stoppedError());
    return original(pgSettings, async (client) => {
      const raw = (client as { rawClient?: pg.PoolClient }).rawClient;
      if (work.stopped) throw stoppedError();
      if (raw) work.enter(raw);
      try {
        return await callback(client);
      } finally {
        if (raw) work.leave(raw);
      }
    });
  };
  return Object.assign(tracked, { release: (original as { release?: unknown }).release });
}

/** A websocket, as the ws library gives it to grafserv (requestContext.ws.socket). */
interface ClosableSocket {
  once(event: "close", listener: () => void): unknown;
}

export function requestDeadlinePlugin(options: RequestDeadlineOptions): GraphileConfig.Plugin {
  const works = new WeakMap<http.IncomingMessage, RequestWork>();
  // The operations each websocket is running, stopped together when it closes (one listener a socket).
  const socketWorks = new WeakMap<ClosableSocket, Set<RequestWork>>();
  const worksOf = (socket: ClosableSocket): Set<RequestWork> => {
    let running = socketWorks.get(socket);
    if (!running) {
      const set = new Set<RequestWork>();
      running = set;
      socketWorks.set(socket, set);
      socket.once("close", () => {
        for (const work of set) stop(work, "client_gone");
        set.clear();
      });
    }
    return running;
  };
  const stopped = options.metrics
    ? new client.Counter({
        name: "graphql_requests_stopped_total",
        help: "GraphQL requests over HTTP stopped before their answer, and their SQL cancelled (reason: deadline, client_gone).",
        labelNames: ["reason"],
        registers: [options.metrics.registry],
      })
    : undefined;
  const stop = (work: RequestWork, reason: Reason) => {
    if (work.stopped) return;
    work.stop(reason);
    stopped?.inc({ reason });
  };
  return projectPlugin("RequestDeadline", {
    grafast: {
      middleware: {
        async prepareArgs(next, event) {
          const args = await next();
          const req = event.args.requestContext?.expressv4?.req as http.IncomingMessage | undefined;
          const work = req ? works.get(req) : undefined;
          const context = args.contextValue as { withPgClient?: WithPgClient };
          if (work && context.withPgClient) context.withPgClient = trackedWithPgClient(context.withPgClient, work);
          return args;
        },
        async execute(next, event) {
          const socket = (event.args.requestContext?.ws as { socket?: ClosableSocket } | undefined)?.socket;
          const context = event.args.contextValue as { withPgClient?: WithPgClient };
          if (!socket || !context.withPgClient) return next();
          const work = new RequestWork(options.logger);
          const running = worksOf(socket);
          running.add(work);
          context.withPgClient = trackedWithPgClient(context.withPgClient, work);
          try {
            return await next();
          } finally {
            running.delete(work);
          }
        },
      },
    },
    grafserv: {
      middleware: {
        async processRequest(next, event) {
          const node = event.requestDigest.requestContext.expressv4;
          if (!node) return next();
          const { req, res } = node as { req: http.IncomingMessage; res: http.ServerResponse };
          const work = new RequestWork(options.logger);
          works.set(req, work);
          const onClose = () => {
            if (!res.writableFinished) stop(work, "client_gone");
          };
          res.once("close", onClose);
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<"deadline">((resolve) => {
            timer = setTimeout(() => resolve("deadline"), options.requestTimeoutMs);
          });
          const answer = Promise.resolve(next());
          try {
            const first = await Promise.race([answer, deadline]);
            if (first !== "deadline") return first;
            stop(work, "deadline");
            // The abandoned execution still settles; nothing waits for it.
            answer.then(undefined, () => undefined);
            // Debug only: counted in graphql_requests_stopped_total, and a hung database would flood the log.
            options.logger.debug({ requestId: (req as { id?: unknown }).id }, "request deadline passed; SQL cancelled");
            return {
              type: "json",
              statusCode: 503,
              headers: {
                "content-type": "application/json; charset=utf-8",
                "retry-after": String(RETRY_AFTER_SECONDS),
              },
              json: { errors: [{ message: TIMEOUT_MESSAGE, extensions: { code: REQUEST_TIMEOUT } }] },
            };
          } finally {
            clearTimeout(timer);
          }
        },
      },
    },
  });
}
