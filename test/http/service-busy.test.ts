import { GraphQLError } from "postgraphile/graphql";
import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable, isServiceBusy } from "../../src/database/availability.ts";
import { createMaskError } from "../../src/graphql/error-masking.ts";
import { createLogger } from "../../src/observability/logger.ts";

/**
 * Out of file descriptors is "busy", not "down": a pool that cannot open a
 * connection with EMFILE/ENFILE answers SERVICE_BUSY (HTTP 503 with
 * Retry-After), never SERVICE_UNAVAILABLE or an internal error. The abuse
 * test (test/abuse/descriptor-exhaustion.test.ts) shows the server survives a
 * real descriptor flood; this checks the mapping itself, deterministically.
 */
function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -24, syscall: "connect" });
}

describe("descriptors exhausted", () => {
  it.each(["EMFILE", "ENFILE"])("%s is busy, not unavailable, also as the cause of another error", (code) => {
    const error = systemError(code);
    expect(isServiceBusy(error)).toBe(true);
    expect(isServiceBusy(new Error("pool connect failed", { cause: error }))).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(false);
  });

  it("other errors are not busy", () => {
    expect(isServiceBusy(systemError("ECONNREFUSED"))).toBe(false);
    expect(isServiceBusy(new Error("syntax error"))).toBe(false);
  });

  it("answers SERVICE_BUSY through the GraphQL error mask, with no internal detail", () => {
    const mask = createMaskError(createLogger("silent"));
    const masked = mask(new GraphQLError("connect EMFILE 127.0.0.1:5432", { originalError: systemError("EMFILE") }));
    expect(masked.extensions.code).toBe("SERVICE_BUSY");
    expect(masked.message).not.toMatch(/EMFILE|127\.0\.0\.1/);
  });
});
