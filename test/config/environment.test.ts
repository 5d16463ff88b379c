import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { environmentFor } from "../../src/config/command-inputs.ts";
import { ConfigurationError, parseEnvironment } from "../../src/config/environment.ts";

const SECRET = "0123456789abcdef0123456789abcdef";

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
    expect(() => environmentFor("user:create", { ...production, DATABASE_OWNER_URL: "postgres://o@h/d" })).not.toThrow();
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
    [{ JWT_SECRET: "short" }, "JWT_SECRET"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ NODE_ENV: "staging" }, "NODE_ENV"],
    [{ CORS_ORIGINS: "not-an-origin" }, "CORS_ORIGINS"],
    [{ GRAPHIQL: "maybe" }, "GRAPHIQL"],
    [{ NODE_ENV: "production", JWT_SECRET: SECRET }, "DATABASE_URL"],
    [{ NODE_ENV: "production", DATABASE_URL: "postgres://a@b/c" }, "JWT_SECRET"],
  ])("refuses %o naming %s", (environment, variable) => {
    const message = refusal(environment);
    expect(message).toContain(variable);
    expect(message).not.toContain("\n");
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

describe("start-up with bad configuration", () => {
  it("exits non-zero with one line naming the variable", () => {
    const result = spawnSync(process.execPath, ["src/cli/start.ts"], {
      env: { PATH: process.env.PATH, NODE_ENV: "production", DATABASE_URL: "postgres://a@b/c", JWT_SECRET: "short" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toEqual(["Invalid configuration: JWT_SECRET must be at least 32 bytes"]);
  });
});
