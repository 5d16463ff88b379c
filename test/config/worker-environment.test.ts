import { describe, expect, it } from "vitest";
import { environmentFor } from "../../src/config/command-inputs.ts";
import { ConfigurationError, parseEnvironment } from "../../src/config/environment.ts";
import { workerConfigFrom } from "../../src/worker/worker-config.ts";

/** The job worker's and webhooks' variables (docs/webhooks.md). */
function refusal(source: NodeJS.ProcessEnv): string {
  try {
    parseEnvironment(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error("configuration was accepted");
}

describe("worker and webhook variables", () => {
  it("default to the documented values", () => {
    const environment = parseEnvironment({});
    expect(environment.WORKER_IN_PROCESS).toBeUndefined();
    expect(environment.WORKER_CONCURRENCY).toBe(4);
    expect(environment.WEBHOOK_TIMEOUT_MS).toBe(10_000);
    expect(environment.WEBHOOK_ALLOWED_HOSTS).toEqual([]);
  });

  it("are read from the environment; https is required in production only", () => {
    const environment = parseEnvironment({
      WORKER_IN_PROCESS: "false",
      WORKER_CONCURRENCY: "8",
      WEBHOOK_TIMEOUT_MS: "2500",
      WEBHOOK_ALLOWED_HOSTS: " 127.0.0.1, Hooks.Internal ,[::1]",
    });
    expect(environment.WORKER_IN_PROCESS).toBe(false);
    const config = workerConfigFrom(environment, "postgres://o@h/d");
    expect(config).toMatchObject({ concurrency: 8, webhooks: { httpsOnly: false, timeoutMs: 2_500 } });
    expect([...config.webhooks.allowedHosts]).toEqual(["127.0.0.1", "hooks.internal", "::1"]);
    expect(
      workerConfigFrom(parseEnvironment({ NODE_ENV: "production", MAIL_DISABLED: "true" }), "postgres://o@h/d").webhooks
        .httpsOnly,
    ).toBe(true);
  });

  it.each([
    [{ WORKER_IN_PROCESS: "yes" }, "WORKER_IN_PROCESS"],
    [{ WORKER_CONCURRENCY: "0" }, "WORKER_CONCURRENCY"],
    [{ WEBHOOK_TIMEOUT_MS: "100" }, "WEBHOOK_TIMEOUT_MS"],
    [{ WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,http://evil/" }, "WEBHOOK_ALLOWED_HOSTS"],
  ])("refuses %o with one line naming %s", (source, variable) => {
    expect(refusal(source)).toMatch(new RegExp(`^Invalid configuration: ${variable}`));
  });

  it("npm run worker needs the owner's URL in production", () => {
    expect(() => environmentFor("worker", { NODE_ENV: "production" })).toThrow(
      "DATABASE_OWNER_URL is required in production",
    );
    expect(() =>
      environmentFor("worker", { NODE_ENV: "production", DATABASE_OWNER_URL: "postgres://o@h/d" }),
    ).not.toThrow();
  });
});
