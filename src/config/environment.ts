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
  // Websocket limits (docs/security.md, Realtime); unset: the defaults of graphql/realtime-socket.ts.
  WS_CONNECTION_INIT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(60).optional(),
  WS_UNAUTHENTICATED_IDLE_SECONDS: z.coerce.number().int().min(1).max(3600).optional(),
  WS_MAX_SOCKETS_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).optional(),
  WS_MAX_SUBSCRIPTIONS_PER_USER: z.coerce.number().int().min(1).max(10_000).optional(),
  WS_MESSAGES_PER_SECOND: z.coerce.number().int().min(1).max(10_000).optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),
  DATA_DIR: z.string().min(1).default(".data"),
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
