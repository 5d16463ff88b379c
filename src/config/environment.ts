import { z } from "zod";

/**
 * The environment variables the API reads, validated once at start-up.
 * Each refusal names the variable so the operator can fix it in one go.
 */
const booleanFlag = z
  .enum(["true", "false", "1", "0"])
  .transform((value) => value === "true" || value === "1");

const postgresUrl = z
  .string()
  .url()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), "must be a postgres:// URL");

const environmentSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(5678),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_OWNER_URL: postgresUrl.optional(),
  ROOT_DATABASE_URL: postgresUrl.optional(),
  SHADOW_DATABASE_URL: postgresUrl.optional(),
  JWT_SECRET: z
    .string()
    .refine((value) => Buffer.byteLength(value) >= 32, "must be at least 32 bytes")
    .optional(),
  JWT_ISSUER: z.string().min(1).default("ticketing-api"),
  JWT_AUDIENCE: z.string().min(1).default("ticketing-clients"),
  JWT_ACCESS_TOKEN_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((value) =>
      value
        .split(",")
        .map((origin) => origin.trim())
        .filter((origin) => origin.length > 0),
    )
    .pipe(z.array(z.string().url())),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  GRAPHIQL: booleanFlag.optional(),
  // Express's "trust proxy": which proxies may set X-Forwarded-For. Behind a load
  // balancer it must be set, or every client shares the balancer's IP for the
  // login rate limit. "true"/"false", a hop count, or addresses/subnets/"loopback".
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2}|[\w.:/]+(\s*,\s*[\w.:/]+)*)$/, "must be true, false, a hop count or a list of addresses")
    .transform((value): boolean | number | string =>
      value === "true" ? true : value === "false" ? false : /^\d+$/.test(value) ? Number(value) : value,
    )
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),
  DATA_DIR: z.string().min(1).default(".data"),
  // GraphQL documents and query cost (docs/security.md, "Documents and query cost").
  GRAPHQL_MAX_DOCUMENT_BYTES: z.coerce.number().int().min(1_024).max(1_000_000).default(32_768),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).max(100_000).default(1_000),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(20),
  GRAPHQL_MAX_FIELDS: z.coerce.number().int().min(10).max(100_000).default(500),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(100).max(100_000_000).default(25_000),
  GRAPHQL_DEFAULT_PAGE_SIZE: z.coerce.number().int().min(1).max(10_000).default(20),
  GRAPHQL_MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(10_000).default(100),
  GRAPHQL_MAX_MUTATIONS: z.coerce.number().int().min(1).max(1_000).default(10),
  GRAPHQL_DOCUMENT_CACHE_MB: z.coerce.number().int().min(1).max(4_096).default(16),
  GRAPHQL_INTROSPECTION: booleanFlag.default(true),
  // A JSON manifest { id: document } or a directory of <id>.graphql files.
  TRUSTED_DOCUMENTS: z.string().min(1).optional(),
});

export type Environment = z.infer<typeof environmentSchema>;

/** A configuration error: its message is the single line shown to the operator. */
export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}

/** Treats empty strings as unset, as shells and .env files commonly produce them. */
function withoutEmptyValues(source: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(source).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ""),
  );
}

export function parseEnvironment(source: NodeJS.ProcessEnv = process.env): Environment {
  const result = environmentSchema.safeParse(withoutEmptyValues(source));
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = issue?.path.join(".") ?? "environment";
    throw new ConfigurationError(`Invalid configuration: ${variable} ${issue?.message ?? "is invalid"}`);
  }
  const environment = result.data;
  if (environment.GRAPHQL_DEFAULT_PAGE_SIZE > environment.GRAPHQL_MAX_PAGE_SIZE) {
    throw new ConfigurationError("Invalid configuration: GRAPHQL_DEFAULT_PAGE_SIZE must not exceed GRAPHQL_MAX_PAGE_SIZE");
  }
  if (environment.NODE_ENV === "production") {
    if (!environment.DATABASE_URL) {
      throw new ConfigurationError("Invalid configuration: DATABASE_URL is required in production");
    }
    if (!environment.JWT_SECRET) {
      throw new ConfigurationError("Invalid configuration: JWT_SECRET is required in production");
    }
  }
  return environment;
}
