import { createHmac } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { TEST_JWT, graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import {
  CURRENT_USER,
  advanceClock,
  createAccount,
  errorCode,
  forgetAuthLimits,
  refresh,
  signIn,
} from "./auth-helpers.ts";

/** Tokens have a bounded age: no access token from the future, no session older than SESSION_MAX_AGE_DAYS. */
const database = useTestDatabase();
const api = useTestApi(database, { jwt: { ...TEST_JWT, sessionMaxAgeDays: 3 } });
const request = () => api.current.request;

const USER_ID = "01900000-0000-7000-8000-0000000000ab";
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

function signed(claims: Record<string, unknown>): string {
  const payload = { sub: USER_ID, role: "ticketing_customer", iss: TEST_JWT.issuer, aud: TEST_JWT.audience, ...claims };
  const body = `${base64url({ alg: "HS256", typ: "JWT" })}.${base64url(payload)}`;
  return `Bearer ${body}.${createHmac("sha256", TEST_JWT.secret).update(body).digest("base64url")}`;
}

describe("access tokens", () => {
  it.each([
    ["an iat an hour in the future", { iat: now() + 3600, exp: now() + 4000 }],
    ["an iat two minutes in the future", { iat: now() + 120, exp: now() + 600 }],
    ["no iat", { exp: now() + 600 }],
    ["an nbf in the future", { iat: now(), nbf: now() + 120, exp: now() + 600 }],
    [
      "a lifetime far beyond the configured one (iat long ago, exp far ahead)",
      { iat: now() - 7200, exp: now() + 86_400 * 365 },
    ],
  ])("refuses %s", async (_label, claims) => {
    const response = await graphql(request(), CURRENT_USER, {}, signed(claims));
    expect(response.status).toBe(401);
    expect(response.body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  it("accepts an iat a few seconds ahead (clock skew between instances) (control)", async () => {
    const response = await graphql(request(), CURRENT_USER, {}, signed({ iat: now() + 30, exp: now() + 600 }));
    expect(response.status).toBe(200);
  });
});

describe("refresh-token families", () => {
  beforeEach(() => forgetAuthLimits(database.current.owner));

  it("end SESSION_MAX_AGE_DAYS after the login, however often they were refreshed", async () => {
    const owner = database.current.owner;
    await createAccount(owner, { email: "long-session@example.com", role: "customer" });
    let token = (await signIn(request(), "long-session@example.com")).refreshToken;
    try {
      for (let day = 1; day <= 2; day += 1) {
        await advanceClock(owner, "1 day");
        const response = await refresh(request(), token);
        expect(response.body.errors, `day ${day}`).toBeUndefined();
        token = response.body.data.refreshSession.refreshToken;
      }
      // The last token was issued 2 days in: on its own it would live 30 days, but the session is 3 days old.
      const { rows } = await owner.query(
        "select expires_at - session_started_at as age from app_private.refresh_tokens where revoked_at is null and rotated_at is null",
      );
      expect(rows[0].age).toEqual({ days: 3 });
      await advanceClock(owner, "1 day 1 hour");
      expect(errorCode(await refresh(request(), token))).toBe("INVALID_TOKEN");
      // A new login starts a new session.
      expect(
        (await refresh(request(), (await signIn(request(), "long-session@example.com")).refreshToken)).body.errors,
      ).toBeUndefined();
    } finally {
      await owner.query("update app_private.auth_clock set offset_by = interval '0'");
    }
  });
});
