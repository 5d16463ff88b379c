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
  /** Express "trust proxy" (TRUST_PROXY): a hop count or trusted proxy addresses; unset: the socket address is the client IP. */
  trustProxy?: number | string;
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
  };
}
