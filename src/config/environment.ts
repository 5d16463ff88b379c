import { isIP } from "node:net";
import { z } from "zod";
import { DEFAULT_TIME_LIMITS } from "./app-config.ts";

/**
 * The environment variables the API reads, validated once at start-up.
 * Each refusal names the variable so the operator can fix it in one go.
 */
const booleanFlag = z.enum(["true", "false", "1", "0"]).transform((value) => value === "true" || value === "1");

/** A comma-separated list (empty by default): each item trimmed, then `normalise`d; empty items dropped. */
function commaSeparated(normalise: (item: string) => string) {
  return z
    .string()
    .default("")
    .transform((value) =>
      value
        .split(",")
        .map((item) => normalise(item.trim()))
        .filter((item) => item.length > 0),
    );
}

/** A whole number given as text, within min and max (inclusive). */
const wholeNumber = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const postgresUrl = z
  .string()
  .url()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), "must be a postgres:// URL");

/** Express's names for address ranges, accepted in TRUST_PROXY lists. */
const TRUSTED_RANGE_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

function isAddressOrSubnet(entry: string): boolean {
  if (TRUSTED_RANGE_NAMES.has(entry)) return true;
  const [address, prefix, ...rest] = entry.split("/");
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return isIP(prefix) === 4 && family === 4;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** "false", a hop count, or a list of addresses, subnets (CIDR or address/netmask) and range names. */
function isTrustProxySetting(value: string): boolean {
  if (value === "false") return true;
  if (/^\d+$/.test(value)) return Number(value) <= 10;
  return value.split(",").every((entry) => isAddressOrSubnet(entry.trim()));
}

/** How long a login session may last at most, refreshes notwithstanding. */
export const DEFAULT_SESSION_MAX_AGE_DAYS = 30;

const environmentSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  PORT: wholeNumber(0, 65535).default(5678),
  // Unset: loopback outside production, every interface in production (see withDefaults).
  HOST: z.string().min(1).optional(),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_OWNER_URL: postgresUrl.optional(),
  // The realtime dispatcher's LISTEN connection, straight to PostgreSQL: LISTEN
  // does not work through a transaction-mode pooler. Unset: DATABASE_URL.
  DATABASE_LISTEN_URL: postgresUrl.optional(),
  // false: no named prepared statements (a transaction-mode pooler without
  // max_prepared_statements, such as PgBouncer before 1.21). Read at start-up
  // by cli/graphile-env.ts.
  DATABASE_PREPARED_STATEMENTS: booleanFlag.default(true),
  ROOT_DATABASE_URL: postgresUrl.optional(),
  SHADOW_DATABASE_URL: postgresUrl.optional(),
  JWT_SECRET: z
    .string()
    .refine((value) => Buffer.byteLength(value) >= 32, "must be at least 32 bytes")
    .optional(),
  JWT_ISSUER: z.string().min(1).default("ticketing-api"),
  JWT_AUDIENCE: z.string().min(1).default("ticketing-clients"),
  JWT_ACCESS_TOKEN_SECONDS: wholeNumber(30, 86_400).default(900),
  CORS_ORIGINS: commaSeparated((origin) => origin).pipe(z.array(z.string().url())),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  GRAPHIQL: booleanFlag.optional(),
  // Express's "trust proxy": which proxies may set X-Forwarded-For. Behind a load
  // balancer it must be set, or every client shares the balancer's IP for the
  // rate limits. A hop count, or trusted proxy addresses/subnets (and Express's
  // names loopback, linklocal, uniquelocal); "false" is the same as unset.
  // Never "true": trusting every hop lets any client choose its address.
  TRUST_PROXY: z
    .string()
    .transform((value) => value.trim())
    .refine(
      (value) => value.toLowerCase() !== "true",
      "must not be true (it trusts any client's X-Forwarded-For); give a hop count or the proxies' addresses",
    )
    .refine(
      isTrustProxySetting,
      "must be a hop count (0 to 10) or a comma-separated list of proxy addresses or subnets",
    )
    .transform((value): number | string | undefined => {
      if (value === "false") return undefined;
      return /^\d+$/.test(value) ? Number(value) : value;
    })
    .optional(),
  SESSION_MAX_AGE_DAYS: wholeNumber(1, 365).default(DEFAULT_SESSION_MAX_AGE_DAYS),
  // Websocket limits (docs/security.md, Realtime); unset: the defaults of graphql/realtime-socket.ts.
  WS_CONNECTION_INIT_TIMEOUT_SECONDS: wholeNumber(1, 60).optional(),
  WS_UNAUTHENTICATED_IDLE_SECONDS: wholeNumber(1, 3600).optional(),
  WS_MAX_SOCKETS_PER_ADDRESS: wholeNumber(1, 100_000).optional(),
  WS_MAX_SUBSCRIPTIONS_PER_USER: wholeNumber(1, 10_000).optional(),
  WS_MESSAGES_PER_SECOND: wholeNumber(1, 10_000).optional(),
  DATABASE_POOL_SIZE: wholeNumber(1, 500).default(20),
  // Time and connection limits (docs/security.md, "Time and connections").
  STATEMENT_TIMEOUT_ANONYMOUS_MS: wholeNumber(100, 600_000).default(DEFAULT_TIME_LIMITS.statementTimeoutAnonymousMs),
  STATEMENT_TIMEOUT_MS: wholeNumber(100, 600_000).default(DEFAULT_TIME_LIMITS.statementTimeoutMs),
  REQUEST_TIMEOUT_MS: wholeNumber(500, 600_000).default(DEFAULT_TIME_LIMITS.requestTimeoutMs),
  DATABASE_POOL_WAIT_MS: wholeNumber(100, 60_000).default(DEFAULT_TIME_LIMITS.poolWaitMs),
  MAX_CONNECTIONS: wholeNumber(1, 1_000_000).default(DEFAULT_TIME_LIMITS.maxConnections),
  MAX_CONNECTIONS_PER_ADDRESS: wholeNumber(1, 1_000_000).default(DEFAULT_TIME_LIMITS.maxConnectionsPerAddress),
  HTTP_HEADERS_TIMEOUT_MS: wholeNumber(1_000, 600_000).default(DEFAULT_TIME_LIMITS.headersTimeoutMs),
  HTTP_BODY_TIMEOUT_MS: wholeNumber(1_000, 600_000).default(DEFAULT_TIME_LIMITS.bodyTimeoutMs),
  SHUTDOWN_TIMEOUT_MS: wholeNumber(1_000, 600_000).default(30_000),
  // Where /metrics is served: its own listener (METRICS_PORT, on METRICS_HOST)
  // and/or behind a Bearer token (METRICS_TOKEN). In production, with neither, the
  // public port does not serve /metrics at all.
  METRICS_PORT: wholeNumber(0, 65535).optional(),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  METRICS_TOKEN: z
    .string()
    .refine((value) => Buffer.byteLength(value) >= 16, "must be at least 16 bytes")
    .optional(),
  EMBEDDED_POSTGRES_PORT: wholeNumber(1024, 65535).default(54329),
  DATA_DIR: z.string().min(1).default(".data"),
  // How often the API prunes expired security rows (login attempts, sessions,
  // counted writes); 0 leaves it to `npm run db:maintain` on a schedule.
  HOUSEKEEPING_INTERVAL_MINUTES: wholeNumber(0, 1440).default(10),
  // GraphQL documents and query cost (docs/security.md, "Documents and query cost").
  GRAPHQL_MAX_DOCUMENT_BYTES: wholeNumber(1_024, 1_000_000).default(32_768),
  GRAPHQL_MAX_TOKENS: wholeNumber(100, 100_000).default(1_000),
  GRAPHQL_MAX_DEPTH: wholeNumber(2, 100).default(20),
  GRAPHQL_MAX_FIELDS: wholeNumber(10, 100_000).default(500),
  GRAPHQL_MAX_COST: wholeNumber(100, 100_000_000).default(25_000),
  GRAPHQL_DEFAULT_PAGE_SIZE: wholeNumber(1, 10_000).default(20),
  GRAPHQL_MAX_PAGE_SIZE: wholeNumber(1, 10_000).default(100),
  GRAPHQL_MAX_OFFSET: wholeNumber(0, 10_000_000).default(10_000),
  GRAPHQL_MAX_MUTATIONS: wholeNumber(1, 1_000).default(10),
  GRAPHQL_DOCUMENT_CACHE_MB: wholeNumber(1, 4_096).default(16),
  GRAPHQL_INTROSPECTION: booleanFlag.default(true),
  // A JSON manifest { id: document } or a directory of <id>.graphql files.
  TRUSTED_DOCUMENTS: z.string().min(1).optional(),
  // Job worker and webhooks (docs/webhooks.md). Unset WORKER_IN_PROCESS: `npm start`
  // runs the worker whenever it knows the owner's URL (DATABASE_OWNER_URL, or the
  // local embedded database).
  WORKER_IN_PROCESS: booleanFlag.optional(),
  WORKER_CONCURRENCY: wholeNumber(1, 100).default(4),
  WEBHOOK_TIMEOUT_MS: wholeNumber(1_000, 60_000).default(10_000),
  // Hosts (names or addresses) webhooks may reach even when they resolve to
  // private, loopback or link-local addresses.
  // Mail (docs/email.md). SMTP_URL unset outside production: mails are written to
  // DATA_DIR/mail/*.eml (`npm run mail:list`); in production SMTP_URL or
  // MAIL_DISABLED=true is required.
  SMTP_URL: z
    .string()
    .url()
    .refine((value) => /^smtps?:\/\//.test(value), "must be an smtp:// or smtps:// URL")
    .optional(),
  MAIL_FROM: z
    .string()
    .min(3)
    .max(320)
    .regex(/^[^\r\n]*@[^\r\n]*$/, "must be an address, e.g. Helpdesk <help@example.com>")
    .optional(),
  MAIL_REPLY_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+\.?[a-z0-9-]*$/i, "must be a domain name")
    .optional(),
  MAIL_DISABLED: booleanFlag.default(false),
  APP_URL: z.string().url().optional(),
  INBOUND_EMAIL_MAX_BYTES: wholeNumber(10_000, 50_000_000).default(10_000_000),
  INBOUND_UNKNOWN_SENDER: z.enum(["reject", "create"]).default("reject"),
  INBOUND_EMAIL_SECRET: z
    .string()
    .refine((value) => Buffer.byteLength(value) >= 24, "must be at least 24 bytes")
    .optional(),
  WEBHOOK_ALLOWED_HOSTS: commaSeparated((host) => host.toLowerCase().replace(/^\[|\]$/g, "")).pipe(
    z.array(z.string().regex(/^[a-z0-9.:-]+$/, "must be a comma-separated list of host names or addresses")),
  ),
  // Attachments (docs/attachments.md): the local filesystem by default, or
  // S3-compatible object storage. Incomplete S3 settings stop start-up
  // (storage/storage-config.ts).
  STORAGE_DRIVER: z.enum(["local", "s3"]).default("local"),
  // argon2 parameters (auth/passwords.ts): `fast` (1 MiB, one pass) is for the
  // test suite only and refused in production.
  PASSWORD_HASHING: z.enum(["standard", "fast"]).default("standard"),
  STORAGE_LOCAL_DIR: z.string().min(1).optional(),
  S3_ENDPOINT: z
    .string()
    .url()
    .refine((value) => /^https?:\/\//.test(value), "must be an http(s) URL")
    .optional(),
  S3_BUCKET: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      "must be an S3 bucket name (3 to 63 lower-case letters, digits, dots, hyphens)",
    )
    .optional(),
  S3_REGION: z.string().min(1).optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: booleanFlag.optional(),
});

export type Environment = Omit<z.infer<typeof environmentSchema>, "HOST"> & { HOST: string };

/** Defaults that depend on other variables. */
function withDefaults(parsed: z.infer<typeof environmentSchema>): Environment {
  // A development machine serves only itself; a production container serves the network.
  return { ...parsed, HOST: parsed.HOST ?? (parsed.NODE_ENV === "production" ? "0.0.0.0" : "127.0.0.1") };
}

/** A configuration error: its message is the single line shown to the operator. */
export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}

/** S3 attachment storage needs its bucket and region, and credentials come in pairs. */
function checkStorage(environment: Environment): void {
  if (environment.STORAGE_DRIVER !== "s3") return;
  for (const variable of ["S3_BUCKET", "S3_REGION"] as const) {
    if (!environment[variable])
      throw new ConfigurationError(`Invalid configuration: ${variable} is required when STORAGE_DRIVER is s3`);
  }
  const pairs = [
    ["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"],
    ["S3_SECRET_ACCESS_KEY", "S3_ACCESS_KEY_ID"],
  ] as const;
  for (const [given, needed] of pairs) {
    if (environment[given] && !environment[needed]) {
      throw new ConfigurationError(`Invalid configuration: ${needed} is required when ${given} is set`);
    }
  }
}

/** Treats empty strings as unset, as shells and .env files commonly produce them. */
function withoutEmptyValues(source: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(source).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ""),
  );
}

/**
 * The environment, validated. Which variables must be set depends on the
 * command (config/command-inputs.ts): each asks only for its own.
 */
export function parseEnvironment(source: NodeJS.ProcessEnv = process.env): Environment {
  const result = environmentSchema.safeParse(withoutEmptyValues(source));
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = issue?.path.join(".") ?? "environment";
    throw new ConfigurationError(`Invalid configuration: ${variable} ${issue?.message ?? "is invalid"}`);
  }
  const environment = withDefaults(result.data);
  if (environment.GRAPHQL_DEFAULT_PAGE_SIZE > environment.GRAPHQL_MAX_PAGE_SIZE) {
    throw new ConfigurationError(
      "Invalid configuration: GRAPHQL_DEFAULT_PAGE_SIZE must not exceed GRAPHQL_MAX_PAGE_SIZE",
    );
  }
  checkStorage(environment);
  if (environment.PASSWORD_HASHING === "fast" && environment.NODE_ENV === "production") {
    throw new ConfigurationError(
      "Invalid configuration: PASSWORD_HASHING=fast is for tests only and refused in production",
    );
  }
  return environment;
}
