import type { DocumentLimits } from "../graphql/document-limits.ts";
import type { WebsocketLimits } from "../graphql/realtime-socket.ts";
import { type StorageConfig, storageConfigFrom } from "../storage/storage-config.ts";
import type { Environment } from "./environment.ts";
import type { InboundSettings } from "../mail/mail-config.ts";

/** Everything the HTTP server needs, resolved from the environment (and, locally, generated secrets). */
export interface AppConfig {
  production: boolean;
  host: string;
  port: number;
  databaseUrl: string;
  /** The realtime LISTEN connection's URL (DATABASE_LISTEN_URL); unset: databaseUrl. */
  listenDatabaseUrl?: string;
  poolSize: number;
  jwt: JwtConfig;
  corsOrigins: string[];
  logLevel: string;
  graphiql: boolean;
  /** Express "trust proxy" (TRUST_PROXY): a hop count or trusted proxy addresses; unset: the socket address is the client IP. */
  trustProxy?: number | string;
  /** Minutes between prunings of security rows (HOUSEKEEPING_INTERVAL_MINUTES); 0: never; unset: the default. */
  housekeepingMinutes?: number;
  /** Time and connection limits (docs/security.md, "Time and connections"); defaults apply when absent. */
  limits?: Partial<TimeLimits>;
  /** Where /metrics is served (docs/security.md); absent: open on the main port outside production, nowhere in production. */
  metrics?: MetricsExposure;
  /** GraphQL document limits (GRAPHQL_MAX_*); unset: the defaults of document-limits.ts. */
  documentLimits?: DocumentLimits;
  /** `__schema`/`__type` queries (GRAPHQL_INTROSPECTION); unset: allowed. */
  introspection?: boolean;
  /** Trusted documents manifest or directory (TRUSTED_DOCUMENTS); unset: any document within the limits. */
  trustedDocuments?: string;
  /** Websocket limits set in the environment (WS_*); the others keep their defaults. */
  websocketLimits?: Partial<WebsocketLimits>;
  /** Where attachments are stored (STORAGE_DRIVER, S3_*); unset: the local driver under .data/attachments. */
  storage?: StorageConfig;
  /** POST /inbound/email (INBOUND_EMAIL_*, set by the start command from mail-config.ts); absent: the route answers 404. */
  inbound?: InboundSettings;
}

/** Bounds on time and connections. All durations in milliseconds. */
export interface TimeLimits {
  /** `statement_timeout` of anonymous requests' transactions. */
  statementTimeoutAnonymousMs: number;
  /** `statement_timeout` of signed-in requests' transactions, and of the API's own queries. */
  statementTimeoutMs: number;
  /** A GraphQL request not answered by then gets 503 REQUEST_TIMEOUT and its SQL is cancelled. */
  requestTimeoutMs: number;
  /** How long a request waits for a pooled connection before 503 SERVICE_BUSY. */
  poolWaitMs: number;
  /** Open HTTP connections (websockets included), in total and per client address. */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Time to receive a request's headers, and its whole body. */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

export const DEFAULT_TIME_LIMITS: TimeLimits = {
  statementTimeoutAnonymousMs: 3_000,
  statementTimeoutMs: 8_000,
  requestTimeoutMs: 15_000,
  poolWaitMs: 5_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 256,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
};

/** The configured limits, each one not set keeping its default. */
export function limitsOf(config: AppConfig): TimeLimits {
  return { ...DEFAULT_TIME_LIMITS, ...config.limits };
}

export interface MetricsExposure {
  /** A second listener that serves only /metrics (port 0: any free port). */
  port?: number;
  host?: string;
  /** Required as `Authorization: Bearer <token>` wherever /metrics is served. */
  token?: string;
  /** Websocket limits set in the environment (WS_*); the others keep their defaults. */
  websocketLimits?: Partial<WebsocketLimits>;
}

export interface JwtConfig {
  secret: string;
  issuer: string;
  audience: string;
  accessTokenSeconds: number;
  /**
   * A login session (refresh-token family) ends this many days after it began,
   * however often it is refreshed (SESSION_MAX_AGE_DAYS; default
   * DEFAULT_SESSION_MAX_AGE_DAYS).
   */
  sessionMaxAgeDays?: number;
}

export function appConfigFrom(
  environment: Environment,
  resolved: { databaseUrl: string; jwtSecret: string },
): AppConfig {
  const production = environment.NODE_ENV === "production";
  return {
    production,
    host: environment.HOST,
    port: environment.PORT,
    databaseUrl: resolved.databaseUrl,
    ...(environment.DATABASE_LISTEN_URL === undefined ? {} : { listenDatabaseUrl: environment.DATABASE_LISTEN_URL }),
    poolSize: environment.DATABASE_POOL_SIZE,
    jwt: {
      secret: resolved.jwtSecret,
      issuer: environment.JWT_ISSUER,
      audience: environment.JWT_AUDIENCE,
      accessTokenSeconds: environment.JWT_ACCESS_TOKEN_SECONDS,
      sessionMaxAgeDays: environment.SESSION_MAX_AGE_DAYS,
    },
    corsOrigins: environment.CORS_ORIGINS,
    logLevel: environment.LOG_LEVEL,
    graphiql: environment.GRAPHIQL ?? !production,
    ...(environment.TRUST_PROXY === undefined ? {} : { trustProxy: environment.TRUST_PROXY }),
    housekeepingMinutes: environment.HOUSEKEEPING_INTERVAL_MINUTES,
    limits: {
      statementTimeoutAnonymousMs: environment.STATEMENT_TIMEOUT_ANONYMOUS_MS,
      statementTimeoutMs: environment.STATEMENT_TIMEOUT_MS,
      requestTimeoutMs: environment.REQUEST_TIMEOUT_MS,
      poolWaitMs: environment.DATABASE_POOL_WAIT_MS,
      maxConnections: environment.MAX_CONNECTIONS,
      maxConnectionsPerAddress: environment.MAX_CONNECTIONS_PER_ADDRESS,
      headersTimeoutMs: environment.HTTP_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: environment.HTTP_BODY_TIMEOUT_MS,
    },
    metrics: {
      ...(environment.METRICS_PORT === undefined
        ? {}
        : { port: environment.METRICS_PORT, host: environment.METRICS_HOST }),
      ...(environment.METRICS_TOKEN === undefined ? {} : { token: environment.METRICS_TOKEN }),
    },
    documentLimits: {
      maxDocumentBytes: environment.GRAPHQL_MAX_DOCUMENT_BYTES,
      maxTokens: environment.GRAPHQL_MAX_TOKENS,
      maxDepth: environment.GRAPHQL_MAX_DEPTH,
      maxFields: environment.GRAPHQL_MAX_FIELDS,
      maxCost: environment.GRAPHQL_MAX_COST,
      defaultPageSize: environment.GRAPHQL_DEFAULT_PAGE_SIZE,
      maxPageSize: environment.GRAPHQL_MAX_PAGE_SIZE,
      maxOffset: environment.GRAPHQL_MAX_OFFSET,
      maxMutationFields: environment.GRAPHQL_MAX_MUTATIONS,
      documentCacheBytes: environment.GRAPHQL_DOCUMENT_CACHE_MB * 1024 * 1024,
    },
    introspection: environment.GRAPHQL_INTROSPECTION,
    ...(environment.TRUSTED_DOCUMENTS === undefined ? {} : { trustedDocuments: environment.TRUSTED_DOCUMENTS }),
    websocketLimits: websocketLimitsFrom(environment),
    storage: storageConfigFrom(environment),
  };
}

function websocketLimitsFrom(environment: Environment): Partial<WebsocketLimits> {
  const seconds = (value: number | undefined) => (value === undefined ? undefined : value * 1000);
  const limits: Partial<Record<keyof WebsocketLimits, number | undefined>> = {
    connectionInitTimeoutMs: seconds(environment.WS_CONNECTION_INIT_TIMEOUT_SECONDS),
    unauthenticatedIdleMs: seconds(environment.WS_UNAUTHENTICATED_IDLE_SECONDS),
    maxSocketsPerAddress: environment.WS_MAX_SOCKETS_PER_ADDRESS,
    maxSubscriptionsPerUser: environment.WS_MAX_SUBSCRIPTIONS_PER_USER,
    messagesPerSecond: environment.WS_MESSAGES_PER_SECOND,
  };
  return Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
}
