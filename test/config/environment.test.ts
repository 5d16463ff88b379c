import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { appConfigFrom } from "../../src/config/app-config.ts";
import { environmentFor } from "../../src/config/command-inputs.ts";
import { ConfigurationError, parseEnvironment } from "../../src/config/environment.ts";
import { runCliSync } from "../support/cli-process.ts";

const SECRET = "0123456789abcdef0123456789abcdef";

/**
 * The README's configuration table, rows whose defaults are all plain
 * numbers: `| \`A\`, \`B\` | \`1\`, \`2\` | … |` gives A → 1 and B → 2.
 */
function documentedNumericDefaults(): Map<string, number> {
  const defaults = new Map<string, number>();
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  for (const line of readme.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells.length < 4 || !/^`[A-Z][A-Z0-9_]*`/.test(cells[1]!)) continue;
    const names = cells[1]!.split(",").map((name) => name.trim());
    const values = cells[2]!.split(",").map((value) => value.trim());
    if (names.length !== values.length || !values.every((value) => /^`\d+`$/.test(value))) continue;
    names.forEach((name, index) => defaults.set(name.replaceAll("`", ""), Number(values[index]!.replaceAll("`", ""))));
  }
  return defaults;
}

function refusal(environment: NodeJS.ProcessEnv): string {
  try {
    environmentFor("start", environment);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error("configuration was accepted");
}

describe("environment validation", () => {
  it("takes PASSWORD_HASHING=fast outside production only", () => {
    expect(parseEnvironment({}).PASSWORD_HASHING).toBe("standard");
    expect(parseEnvironment({ PASSWORD_HASHING: "fast" }).PASSWORD_HASHING).toBe("fast");
    expect(() => parseEnvironment({ PASSWORD_HASHING: "fast", NODE_ENV: "production" })).toThrow(
      "Invalid configuration: PASSWORD_HASHING=fast is for tests only and refused in production",
    );
    expect(() => parseEnvironment({ PASSWORD_HASHING: "cheap" })).toThrow(/^Invalid configuration: PASSWORD_HASHING /);
  });

  it("applies defaults outside production", () => {
    const environment = parseEnvironment({});
    expect(environment.PORT).toBe(5678);
    expect(environment.NODE_ENV).toBe("development");
    expect(environment.DATABASE_URL).toBeUndefined();
    expect(environment.CORS_ORIGINS).toEqual([]);
    expect(environment.HOST).toBe("127.0.0.1");
  });

  it("listens on every interface by default in production only, and where HOST says", () => {
    expect(parseEnvironment({ NODE_ENV: "production" }).HOST).toBe("0.0.0.0");
    expect(parseEnvironment({ NODE_ENV: "test" }).HOST).toBe("127.0.0.1");
    expect(parseEnvironment({ HOST: "0.0.0.0" }).HOST).toBe("0.0.0.0");
    expect(parseEnvironment({ NODE_ENV: "production", HOST: "10.0.0.5" }).HOST).toBe("10.0.0.5");
  });

  it("asks each command only for its own inputs", () => {
    const production = { NODE_ENV: "production" };
    expect(() => environmentFor("db:migrate", { ...production, DATABASE_OWNER_URL: "postgres://o@h/d" })).not.toThrow();
    expect(() =>
      environmentFor("user:create", { ...production, DATABASE_OWNER_URL: "postgres://o@h/d" }),
    ).not.toThrow();
    expect(() => environmentFor("start", production)).toThrow("DATABASE_URL is required in production");
    expect(() => environmentFor("db:setup", {})).toThrow("ROOT_DATABASE_URL is required by db:setup");
    // Outside production a missing URL means the local embedded database.
    expect(() => environmentFor("start", {})).not.toThrow();
  });

  it("parses lists and numbers", () => {
    const environment = parseEnvironment({
      PORT: "8080",
      CORS_ORIGINS: "https://a.example.com, https://b.example.com",
      GRAPHIQL: "false",
    });
    expect(environment.PORT).toBe(8080);
    expect(environment.CORS_ORIGINS).toEqual(["https://a.example.com", "https://b.example.com"]);
    expect(environment.GRAPHIQL).toBe(false);
  });

  it.each([
    [{ PORT: "eighty" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ DATABASE_URL: "mysql://x@y/z" }, "DATABASE_URL"],
    [{ DATABASE_URL: "not a url" }, "DATABASE_URL"],
    [{ DATABASE_LISTEN_URL: "http://db/ticketing" }, "DATABASE_LISTEN_URL"],
    [{ DATABASE_PREPARED_STATEMENTS: "off" }, "DATABASE_PREPARED_STATEMENTS"],
    [{ JWT_SECRET: "short" }, "JWT_SECRET"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ NODE_ENV: "staging" }, "NODE_ENV"],
    [{ CORS_ORIGINS: "not-an-origin" }, "CORS_ORIGINS"],
    [{ GRAPHIQL: "maybe" }, "GRAPHIQL"],
    [{ NODE_ENV: "production", JWT_SECRET: SECRET }, "DATABASE_URL"],
    [{ NODE_ENV: "production", DATABASE_URL: "postgres://a@b/c" }, "JWT_SECRET"],
    [{ STATEMENT_TIMEOUT_MS: "0" }, "STATEMENT_TIMEOUT_MS"],
    [{ STATEMENT_TIMEOUT_ANONYMOUS_MS: "3s" }, "STATEMENT_TIMEOUT_ANONYMOUS_MS"],
    [{ REQUEST_TIMEOUT_MS: "-1" }, "REQUEST_TIMEOUT_MS"],
    [{ DATABASE_POOL_WAIT_MS: "forever" }, "DATABASE_POOL_WAIT_MS"],
    [{ MAX_CONNECTIONS: "0" }, "MAX_CONNECTIONS"],
    [{ MAX_CONNECTIONS_PER_ADDRESS: "1.5" }, "MAX_CONNECTIONS_PER_ADDRESS"],
    [{ HTTP_HEADERS_TIMEOUT_MS: "10" }, "HTTP_HEADERS_TIMEOUT_MS"],
    [{ HTTP_BODY_TIMEOUT_MS: "none" }, "HTTP_BODY_TIMEOUT_MS"],
    [{ SHUTDOWN_TIMEOUT_MS: "5" }, "SHUTDOWN_TIMEOUT_MS"],
    [{ METRICS_PORT: "99999" }, "METRICS_PORT"],
    [{ METRICS_TOKEN: "short" }, "METRICS_TOKEN"],
  ])("refuses %o naming %s", (environment, variable) => {
    const message = refusal(environment);
    expect(message).toContain(variable);
    expect(message).not.toContain("\n");
  });

  it("takes the LISTEN connection from DATABASE_LISTEN_URL when set, else from DATABASE_URL", () => {
    const resolved = { databaseUrl: "postgres://ticketing_authenticator@pooler:6432/ticketing", jwtSecret: SECRET };
    expect(appConfigFrom(parseEnvironment({}), resolved).listenDatabaseUrl).toBeUndefined();
    const direct = "postgres://ticketing_authenticator@primary:5432/ticketing";
    expect(appConfigFrom(parseEnvironment({ DATABASE_LISTEN_URL: direct }), resolved).listenDatabaseUrl).toBe(direct);
    expect(parseEnvironment({}).DATABASE_PREPARED_STATEMENTS).toBe(true);
    expect(parseEnvironment({ DATABASE_PREPARED_STATEMENTS: "false" }).DATABASE_PREPARED_STATEMENTS).toBe(false);
  });

  it("accepts a complete production configuration", () => {
    const environment = environmentFor("start", {
      NODE_ENV: "production",
      DATABASE_URL: "postgres://ticketing_authenticator:pw@db:5432/ticketing",
      JWT_SECRET: SECRET,
    });
    expect(environment.NODE_ENV).toBe("production");
  });
});

describe("time, connection and metrics limits", () => {
  it("default to the values the README's configuration table documents", () => {
    const environment = parseEnvironment({});
    const documented = documentedNumericDefaults();
    // Every limit's variable is in the table with a plain number as its default.
    const variables = [
      "STATEMENT_TIMEOUT_ANONYMOUS_MS",
      "STATEMENT_TIMEOUT_MS",
      "REQUEST_TIMEOUT_MS",
      "DATABASE_POOL_WAIT_MS",
      "MAX_CONNECTIONS",
      "MAX_CONNECTIONS_PER_ADDRESS",
      "HTTP_HEADERS_TIMEOUT_MS",
      "HTTP_BODY_TIMEOUT_MS",
    ] as const;
    for (const variable of variables) expect(documented.get(variable), variable).toBe(environment[variable]);
    // And every other plain number the table gives as a default is the one the
    // environment's schema applies, where the schema applies it (some apply
    // where they are used, e.g. the websocket limits).
    for (const [variable, value] of documented) {
      const parsed = environment[variable as keyof typeof environment];
      if (parsed !== undefined) expect(parsed, variable).toBe(value);
    }
    const config = appConfigFrom(environment, { databaseUrl: "postgres://a@b/c", jwtSecret: SECRET });
    // In the order of TimeLimits: statement timeouts, request, pool wait, connections, HTTP timeouts.
    expect(Object.values(config.limits ?? {})).toEqual(variables.map((variable) => environment[variable]));
    expect(config.metrics).toEqual({});
  });

  it("are read from the environment", () => {
    const config = appConfigFrom(
      parseEnvironment({
        STATEMENT_TIMEOUT_ANONYMOUS_MS: "1000",
        STATEMENT_TIMEOUT_MS: "5000",
        MAX_CONNECTIONS_PER_ADDRESS: "64",
        METRICS_PORT: "9464",
        METRICS_TOKEN: "a-long-enough-scrape-token",
      }),
      { databaseUrl: "postgres://a@b/c", jwtSecret: SECRET },
    );
    expect(config.limits).toMatchObject({
      statementTimeoutAnonymousMs: 1_000,
      statementTimeoutMs: 5_000,
      maxConnectionsPerAddress: 64,
    });
    expect(config.metrics).toEqual({ port: 9464, host: "127.0.0.1", token: "a-long-enough-scrape-token" });
  });
});

describe("attachment storage", () => {
  const config = (environment: NodeJS.ProcessEnv) =>
    appConfigFrom(parseEnvironment(environment), { databaseUrl: "postgres://a@b/c", jwtSecret: SECRET }).storage;

  it("is the local directory under the data directory by default", () => {
    expect(config({})).toEqual({ driver: "local", directory: ".data/attachments" });
    expect(config({ DATA_DIR: "/var/lib/helpdesk" })).toEqual({
      driver: "local",
      directory: "/var/lib/helpdesk/attachments",
    });
    expect(config({ STORAGE_LOCAL_DIR: "/srv/files" })).toEqual({ driver: "local", directory: "/srv/files" });
  });

  it("is S3 with its endpoint, bucket, region and credentials", () => {
    const s3 = { STORAGE_DRIVER: "s3", S3_BUCKET: "helpdesk-files", S3_REGION: "eu-west-1" };
    expect(config(s3)).toEqual({ driver: "s3", bucket: "helpdesk-files", region: "eu-west-1", forcePathStyle: false });
    expect(
      config({
        ...s3,
        S3_ENDPOINT: "http://127.0.0.1:9000",
        S3_ACCESS_KEY_ID: "minio",
        S3_SECRET_ACCESS_KEY: "minio-secret",
      }),
    ).toEqual({
      driver: "s3",
      bucket: "helpdesk-files",
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:9000",
      accessKeyId: "minio",
      secretAccessKey: "minio-secret",
      forcePathStyle: true,
    });
  });

  it("refuses incomplete S3 settings with one line naming the variable", () => {
    expect(refusal({ STORAGE_DRIVER: "s3", S3_REGION: "eu-west-1" })).toBe(
      "Invalid configuration: S3_BUCKET is required when STORAGE_DRIVER is s3",
    );
    expect(refusal({ STORAGE_DRIVER: "s3", S3_BUCKET: "files" })).toBe(
      "Invalid configuration: S3_REGION is required when STORAGE_DRIVER is s3",
    );
    expect(refusal({ STORAGE_DRIVER: "s3", S3_BUCKET: "files", S3_REGION: "x", S3_ACCESS_KEY_ID: "id" })).toBe(
      "Invalid configuration: S3_SECRET_ACCESS_KEY is required when S3_ACCESS_KEY_ID is set",
    );
    expect(refusal({ STORAGE_DRIVER: "gcs" })).toMatch(/^Invalid configuration: STORAGE_DRIVER /);
    expect(refusal({ S3_BUCKET: "Not A Bucket" })).toMatch(
      /^Invalid configuration: S3_BUCKET must be an S3 bucket name/,
    );
    expect(refusal({ S3_ENDPOINT: "ftp://files.example.com" })).toBe(
      "Invalid configuration: S3_ENDPOINT must be an http(s) URL",
    );
  });
});

describe("start-up with bad configuration", () => {
  it("exits non-zero with one line naming the variable", () => {
    const result = runCliSync("start", [], {
      NODE_ENV: "production",
      DATABASE_URL: "postgres://a@b/c",
      JWT_SECRET: "short",
    });
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toEqual(["Invalid configuration: JWT_SECRET must be at least 32 bytes"]);
  });
});

describe("DATABASE_PREPARED_STATEMENTS", () => {
  /** What PostGraphile's adaptor will read, as the entry points set it before importing it. */
  function cacheSizeWith(value: string | undefined): string {
    const result = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'await import("./src/cli/graphile-env.ts"); process.stdout.write(String(process.env.DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE))',
      ],
      {
        env: { PATH: process.env.PATH, ...(value === undefined ? {} : { DATABASE_PREPARED_STATEMENTS: value }) },
        encoding: "utf8",
        timeout: 20_000,
      },
    );
    expect(result.stderr).toBe("");
    return result.stdout;
  }

  it("false turns off PostGraphile's named prepared statements (a pooler before PgBouncer 1.21); unset leaves them on", () => {
    expect(cacheSizeWith("false")).toBe("0");
    expect(cacheSizeWith("0")).toBe("0");
    expect(cacheSizeWith("true")).toBe("undefined");
    expect(cacheSizeWith(undefined)).toBe("undefined");
  });
});
