import type { WebsocketLimits } from "../graphql/realtime-socket.ts";
import type { Environment } from "./environment.ts";

/** Everything the HTTP server needs, resolved from the environment (and, locally, generated secrets). */
export interface AppConfig {
  production: boolean;
  host: string;
  port: number;
  databaseUrl: string;
  poolSize: number;
  jwt: JwtConfig;
  corsOrigins: string[];
  logLevel: string;
  graphiql: boolean;
  /** Express "trust proxy" (TRUST_PROXY); unset: the socket address is the client IP. */
  trustProxy?: boolean | number | string;
  /** Websocket limits set in the environment (WS_*); the others keep their defaults. */
  websocketLimits?: Partial<WebsocketLimits>;
}

export interface JwtConfig {
  secret: string;
  issuer: string;
  audience: string;
  accessTokenSeconds: number;
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
    poolSize: environment.DATABASE_POOL_SIZE,
    jwt: {
      secret: resolved.jwtSecret,
      issuer: environment.JWT_ISSUER,
      audience: environment.JWT_AUDIENCE,
      accessTokenSeconds: environment.JWT_ACCESS_TOKEN_SECONDS,
    },
    corsOrigins: environment.CORS_ORIGINS,
    logLevel: environment.LOG_LEVEL,
    graphiql: environment.GRAPHIQL ?? !production,
    ...(environment.TRUST_PROXY === undefined ? {} : { trustProxy: environment.TRUST_PROXY }),
    websocketLimits: websocketLimitsFrom(environment),
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
