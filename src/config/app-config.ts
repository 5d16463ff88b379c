import type { DocumentLimits } from "../graphql/document-limits.ts";
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
  /** GraphQL document limits (GRAPHQL_MAX_*); unset: the defaults of document-limits.ts. */
  documentLimits?: DocumentLimits;
  /** `__schema`/`__type` queries (GRAPHQL_INTROSPECTION); unset: allowed. */
  introspection?: boolean;
  /** Trusted documents manifest or directory (TRUSTED_DOCUMENTS); unset: any document within the limits. */
  trustedDocuments?: string;
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
    documentLimits: {
      maxDocumentBytes: environment.GRAPHQL_MAX_DOCUMENT_BYTES,
      maxTokens: environment.GRAPHQL_MAX_TOKENS,
      maxDepth: environment.GRAPHQL_MAX_DEPTH,
      maxFields: environment.GRAPHQL_MAX_FIELDS,
      maxCost: environment.GRAPHQL_MAX_COST,
      defaultPageSize: environment.GRAPHQL_DEFAULT_PAGE_SIZE,
      maxPageSize: environment.GRAPHQL_MAX_PAGE_SIZE,
      maxMutationFields: environment.GRAPHQL_MAX_MUTATIONS,
      documentCacheBytes: environment.GRAPHQL_DOCUMENT_CACHE_MB * 1024 * 1024,
    },
    introspection: environment.GRAPHQL_INTROSPECTION,
    ...(environment.TRUSTED_DOCUMENTS === undefined ? {} : { trustedDocuments: environment.TRUSTED_DOCUMENTS }),
  };
}
