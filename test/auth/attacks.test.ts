import { createHmac, generateKeyPairSync } from "node:crypto";
import jwt from "jsonwebtoken";
import { hashesStartedTotal } from "../../src/auth/passwords.ts";
import { beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { useStandardPasswordHashing } from "../support/password-hashing.ts";
import { TEST_JWT, bearer, graphql, useTestApi } from "../support/test-api.ts";
import {
  CREATE_USER,
  CURRENT_USER,
  DEACTIVATE_USER,
  LOGIN,
  PASSWORD,
  REGISTER,
  registerAndVerify,
  SET_USER_ROLE,
  advanceClock,
  createAccount,
  errorCode,
  forgetLoginAttempts,
  login,
  refresh,
  signIn,
} from "./auth-helpers.ts";

const database = useTestDatabase();
// Trusting the loopback proxy lets tests speak for other client IPs through X-Forwarded-For.
const api = useTestApi(database, { trustProxy: "loopback" });
const request = () => api.current.request;

const USER_ID = "01900000-0000-7000-8000-0000000000aa";
const UNAUTHORIZED_BODY = {
  errors: [{ message: "Invalid or expired access token", extensions: { code: "UNAUTHENTICATED" } }],
};

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function validClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: USER_ID,
    role: "ticketing_customer",
    iat: nowSeconds(),
    exp: nowSeconds() + 600,
    iss: TEST_JWT.issuer,
    aud: TEST_JWT.audience,
    ...overrides,
  };
}

/** Signs any header and payload with HMAC-SHA256, bypassing the library's own checks. */
function hs256(
  payload: Record<string, unknown>,
  key: string | Buffer = TEST_JWT.secret,
  header: object = { alg: "HS256", typ: "JWT" },
) {
  const body = `${base64url(header)}.${base64url(payload)}`;
  return `${body}.${createHmac("sha256", key).update(body).digest("base64url")}`;
}

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const rsaPublicPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();

function tamper(token: string, change: Record<string, unknown>): string {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8"));
  return `${header}.${base64url({ ...claims, ...change })}.${signature}`;
}

describe("access token attacks: every one is a 401 with the same clean body", () => {
  const cases: Array<[string, () => string]> = [
    ["alg none", () => `${base64url({ alg: "none", typ: "JWT" })}.${base64url(validClaims())}.`],
    ["alg none without signature part", () => `${base64url({ alg: "none" })}.${base64url(validClaims())}`],
    ["a wrong key", () => hs256(validClaims(), "another-secret-that-is-at-least-32-bytes")],
    ["RS256 with a real key pair", () => jwt.sign(validClaims(), rsa.privateKey, { algorithm: "RS256" })],
    ["HS256 keyed with a public key (key confusion)", () => hs256(validClaims(), rsaPublicPem, { alg: "HS256" })],
    ["HS512 with the right secret", () => jwt.sign(validClaims(), TEST_JWT.secret, { algorithm: "HS512" })],
    ["an expired token", () => hs256(validClaims({ iat: nowSeconds() - 3600, exp: nowSeconds() - 60 }))],
    ["a token without exp", () => hs256(validClaims({ exp: undefined }))],
    ["a future nbf", () => hs256(validClaims({ nbf: nowSeconds() + 600 }))],
    ["a wrong issuer", () => hs256(validClaims({ iss: "someone-else" }))],
    ["a wrong audience", () => hs256(validClaims({ aud: "another-app" }))],
    ["no audience", () => hs256(validClaims({ aud: undefined }))],
    ["a tampered payload", () => tamper(bearer(USER_ID, "ticketing_customer").slice(7), { role: "ticketing_admin" })],
    ["a subject that is not a uuid", () => hs256(validClaims({ sub: "1 or 1=1" }))],
    ["a malformed session id", () => hs256(validClaims({ sid: "x'; drop table users; --" }))],
    ...[
      "postgres",
      "ticketing_owner",
      "ticketing_authenticator",
      "ticketing_analyst",
      "ticketing_anonymous",
      "pg_read_all_data",
      "TICKETING_ADMIN",
    ].map((role): [string, () => string] => [`role claim ${role}`, () => hs256(validClaims({ role }))]),
    ["garbage", () => "not.a.jwt"],
  ];

  it.each(cases)("refuses %s", async (_label, makeToken) => {
    const response = await graphql(request(), CURRENT_USER, {}, `Bearer ${makeToken()}`);
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toContain("invalid_token");
    if (response.body.errors[0].message.startsWith("Authorization header")) return;
    expect(response.body).toEqual(UNAUTHORIZED_BODY);
  });

  it("accepts the same claims when properly signed (control)", async () => {
    const response = await graphql(request(), CURRENT_USER, {}, `Bearer ${hs256(validClaims())}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ data: { currentUser: null } });
  });
});

describe("tokens of users who changed since", () => {
  it("a deactivated user's valid token sees nothing and can do nothing", async () => {
    const owner = database.current.owner;
    await createAccount(owner, { email: "boss@example.com", role: "admin" });
    await createAccount(owner, { email: "leaver@example.com", role: "admin" });
    const boss = await signIn(request(), "boss@example.com");
    const leaver = await signIn(request(), "leaver@example.com");
    const deactivated = await graphql(request(), DEACTIVATE_USER, { input: { userId: leaver.userId } }, boss.bearer);
    expect(deactivated.body.errors).toBeUndefined();

    const me = await graphql(request(), CURRENT_USER, {}, leaver.bearer);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ data: { currentUser: null } });
    const users = await graphql(request(), "{ users { nodes { rowId } } }", {}, leaver.bearer);
    expect(users.body.data.users.nodes).toEqual([]);
    const promote = await graphql(
      request(),
      SET_USER_ROLE,
      { input: { userId: leaver.userId, role: "admin" } },
      leaver.bearer,
    );
    expect(errorCode(promote)).toBe("FORBIDDEN");
    const create = await graphql(
      request(),
      CREATE_USER,
      { input: { email: "sneaky@example.com", displayName: "S", role: "admin", password: "sneaky-backdoor-pass" } },
      leaver.bearer,
    );
    expect(errorCode(create)).toBe("FORBIDDEN");
    expect(errorCode(await refresh(request(), leaver.refreshToken))).toBe("INVALID_TOKEN");
  });

  it("a demoted admin's token keeps no admin right", async () => {
    await createAccount(database.current.owner, { email: "former-admin@example.com", role: "admin" });
    const boss = await signIn(request(), "boss@example.com");
    const former = await signIn(request(), "former-admin@example.com");
    const demoted = await graphql(
      request(),
      SET_USER_ROLE,
      { input: { userId: former.userId, role: "customer" } },
      boss.bearer,
    );
    expect(demoted.body.data.setUserRole.user.role).toBe("customer");

    const users = await graphql(request(), "{ users { nodes { rowId } } }", {}, former.bearer);
    expect(users.body.data.users.nodes).toEqual([]);
    const restore = await graphql(
      request(),
      SET_USER_ROLE,
      { input: { userId: former.userId, role: "admin" } },
      former.bearer,
    );
    expect(errorCode(restore)).toBe("FORBIDDEN");
    const create = await graphql(
      request(),
      CREATE_USER,
      { input: { email: "sneaky@example.com", displayName: "S", role: "admin", password: "sneaky-backdoor-pass" } },
      former.bearer,
    );
    expect(errorCode(create)).toBe("FORBIDDEN");
    expect(errorCode(await refresh(request(), former.refreshToken))).toBe("INVALID_TOKEN");
  });
});

describe("refresh token attacks", () => {
  beforeEach(() => forgetLoginAttempts(database.current.owner));

  it("a replayed refresh token ends the whole session, the newer token included", async () => {
    await createAccount(database.current.owner, { email: "replay@example.com", role: "customer" });
    const first = await signIn(request(), "replay@example.com");
    const second = (await refresh(request(), first.refreshToken)).body.data.refreshSession.refreshToken;
    const third = (await refresh(request(), second)).body.data.refreshSession.refreshToken;

    const replay = await refresh(request(), first.refreshToken);
    expect(errorCode(replay)).toBe("TOKEN_REUSED");
    expect(replay.body.data.refreshSession).toBeNull();
    expect(errorCode(await refresh(request(), third))).toBe("INVALID_TOKEN");
    // Another session of the same user is untouched.
    const other = await signIn(request(), "replay@example.com");
    expect((await refresh(request(), other.refreshToken)).body.errors).toBeUndefined();
  });

  it("refuses unknown, malformed and expired refresh tokens", async () => {
    expect(errorCode(await refresh(request(), "A".repeat(43)))).toBe("INVALID_TOKEN");
    expect(errorCode(await refresh(request(), "short"))).toBe("INVALID_TOKEN");
    expect(errorCode(await refresh(request(), "' or 1=1 --".padEnd(43, "x")))).toBe("INVALID_TOKEN");
    const session = await signIn(request(), "replay@example.com");
    await advanceClock(database.current.owner, "31 days");
    try {
      expect(errorCode(await refresh(request(), session.refreshToken))).toBe("INVALID_TOKEN");
    } finally {
      await advanceClock(database.current.owner, "-31 days");
    }
  });
});

describe("password and email attacks", () => {
  beforeEach(() => forgetLoginAttempts(database.current.owner));

  it("refuses a 100 kB password fast and cleanly, before any hashing", async () => {
    await createAccount(database.current.owner, { email: "huge@example.com", role: "customer" });
    const huge = "p".repeat(100_000);
    const hashesBefore = hashesStartedTotal();
    let started = performance.now();
    const registered = await graphql(request(), REGISTER, {
      input: { email: "new-huge@example.com", password: huge, displayName: "H" },
    });
    // Generous bound: a loaded machine must not break it; the hash count below is the exact check.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(registered.body.errors).toEqual([
      expect.objectContaining({
        message: "Password must be at most 256 characters",
        extensions: { code: "WEAK_PASSWORD" },
      }),
    ]);
    started = performance.now();
    const loggedIn = await login(request(), "huge@example.com", huge);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(errorCode(loggedIn)).toBe("INVALID_CREDENTIALS");
    expect(hashesStartedTotal()).toBe(hashesBefore);
  });

  it("keeps the 1 MB body limit separate", async () => {
    const response = await request()
      .post("/graphql")
      .set("Content-Type", "application/json")
      .send({ query: LOGIN, variables: { input: { email: "huge@example.com", password: "p".repeat(1_100_000) } } });
    expect(response.status).toBe(413);
    expect(response.body.errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it.each([
    "' or 1=1 --",
    "admin@example.com' --",
    "x@example.com'; drop table app_public.users; --",
    '" or ""="',
    "*)(uid=*))(|(uid=*",
    "huge@example.com\u0000",
  ])("answers the SQL-looking email %j like any wrong login", async (email) => {
    const response = await login(request(), email);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      data: { login: null },
      errors: [
        expect.objectContaining({ message: "Invalid email or password", extensions: { code: "INVALID_CREDENTIALS" } }),
      ],
    });
  });

  it("stores an odd but valid email verbatim and leaves the tables alone", async () => {
    const email = "robert');drop_table_users;--@example.com";
    const response = await registerAndVerify(request(), database.current.owner, {
      email,
      password: PASSWORD,
      displayName: "Bobby Tables",
    });
    expect(response.body.errors).toBeUndefined();
    const { rows } = await database.current.owner.query(
      "select count(*)::int as n from app_private.user_accounts where email = $1",
      [email],
    );
    expect(rows[0].n).toBe(1);
    expect((await login(request(), email)).body.data.login.user.displayName).toBe("Bobby Tables");
  });
});

describe("lockout", () => {
  beforeEach(() => forgetLoginAttempts(database.current.owner));

  it("locks after 5 failures in 15 minutes; ACCOUNT_LOCKED only for the right password; lifts after 15 minutes", async () => {
    const owner = database.current.owner;
    await createAccount(owner, { email: "target@example.com", role: "customer" });
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      expect(errorCode(await login(request(), "target@example.com", `wrong-guess-number-${attempt}`))).toBe(
        "INVALID_CREDENTIALS",
      );
    }
    expect(errorCode(await login(request(), "target@example.com"))).toBe("ACCOUNT_LOCKED");
    expect(errorCode(await login(request(), "target@example.com", "wrong-guess-again"))).toBe("INVALID_CREDENTIALS");
    await advanceClock(owner, "14 minutes");
    expect(errorCode(await login(request(), "target@example.com"))).toBe("ACCOUNT_LOCKED");
    await advanceClock(owner, "2 minutes");
    const after = await login(request(), "target@example.com");
    expect(after.body.errors).toBeUndefined();
    const { rows } = await owner.query(
      "select failed_login_count, locked_until from app_private.user_accounts join app_public.users on id = user_id where display_name = 'target'",
    );
    expect(rows[0]).toEqual({ failed_login_count: 0, locked_until: null });
  });

  it("does not count failures older than 15 minutes", async () => {
    const owner = database.current.owner;
    await createAccount(owner, { email: "slow@example.com", role: "customer" });
    for (let attempt = 1; attempt <= 4; attempt += 1)
      await login(request(), "slow@example.com", `wrong-${attempt}-guess-pw`);
    await advanceClock(owner, "16 minutes");
    for (let attempt = 1; attempt <= 4; attempt += 1)
      await login(request(), "slow@example.com", `wrong-${attempt}-guess-pw`);
    expect((await login(request(), "slow@example.com")).body.errors).toBeUndefined();
  });

  it("records every attempt with its outcome and the client IP", async () => {
    await login(request(), "slow@example.com", "wrong-again-guess-pw").set("X-Forwarded-For", "198.51.100.23");
    await login(request(), "nobody-here@example.com").set("X-Forwarded-For", "198.51.100.23");
    const { rows } = await database.current.owner.query(
      "select email::text, user_id is not null as known, host(ip) as ip, success, reason from app_private.login_attempts order by attempted_at, id",
    );
    expect(rows).toEqual([
      { email: "slow@example.com", known: true, ip: "198.51.100.23", success: false, reason: "invalid_credentials" },
      {
        email: "nobody-here@example.com",
        known: false,
        ip: "198.51.100.23",
        success: false,
        reason: "invalid_credentials",
      },
    ]);
  });
});

describe("unknown email and wrong password", () => {
  useStandardPasswordHashing();

  beforeEach(() => forgetLoginAttempts(database.current.owner));

  it("give the same error and cost the same work", async () => {
    await createAccount(database.current.owner, { email: "known@example.com", role: "customer" });
    // CPU time of this process (argon2 runs on its libuv threads, which count),
    // not wall time: other processes on the machine cannot skew it.
    const cost = async (email: string) => {
      const before = process.cpuUsage();
      const response = await login(request(), email, "definitely-not-it-123");
      const used = process.cpuUsage(before);
      return { ms: (used.user + used.system) / 1000, body: response.body };
    };
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      const a = await cost("unknown@example.com");
      const b = await cost("known@example.com");
      expect(a.body).toEqual(b.body);
      unknown.push(a.ms);
      wrong.push(b.ms);
    }
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
    // Both paths run a full argon2id verification (64 MiB, 3 passes: far above 40 ms of CPU).
    expect(median(unknown)).toBeGreaterThan(40);
    expect(median(unknown) / median(wrong)).toBeGreaterThan(0.5);
    expect(median(unknown) / median(wrong)).toBeLessThan(2);
  });
});

describe("per-IP rate limit", () => {
  beforeEach(() => forgetLoginAttempts(database.current.owner));

  it("refuses an IP after 30 attempts in 5 minutes, before checking anything; other IPs are unaffected", async () => {
    const owner = database.current.owner;
    await createAccount(owner, { email: "victim@example.com", role: "customer" });
    await owner.query(
      `insert into app_private.login_attempts (email, ip, success, reason)
       select 'guess' || n || '@example.com', '203.0.113.7', false, 'invalid_credentials' from generate_series(1, 30) as n`,
    );
    const limited = await login(request(), "victim@example.com").set("X-Forwarded-For", "203.0.113.7");
    expect(limited.body).toEqual({
      data: { login: null },
      errors: [expect.objectContaining({ extensions: { code: "RATE_LIMITED", retryAfterSeconds: 300 } })],
    });
    const elsewhere = await login(request(), "victim@example.com").set("X-Forwarded-For", "203.0.113.8");
    expect(elsewhere.body.errors).toBeUndefined();

    await advanceClock(owner, "6 minutes");
    const later = await login(request(), "victim@example.com").set("X-Forwarded-For", "203.0.113.7");
    expect(later.body.errors).toBeUndefined();
  });
});
