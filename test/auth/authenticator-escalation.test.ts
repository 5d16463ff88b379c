import { describe, expect, it } from "vitest";
import { recomputeHash } from "../../src/auth/passwords.ts";
import { newRefreshToken } from "../../src/auth/refresh-tokens.ts";
import { graphql, useTestApi } from "../support/test-api.ts";
import { sqlState, useTestDatabase } from "../support/test-database.ts";
import {
  CREATE_USER,
  LOGOUT,
  PASSWORD,
  createAccount,
  errorCode,
  forgetAuthLimits,
  login,
  signIn,
} from "./auth-helpers.ts";

/**
 * The API's database credential (DATABASE_URL, ticketing_authenticator) used
 * directly, as by someone who stole it: it may call the authentication
 * functions, but none of them returns a password hash, opens a session
 * without the password, or clears a lockout without a real success.
 */
const database = useTestDatabase();
const api = useTestApi(database);
const DIGEST = () => newRefreshToken().digest;

async function storedHash(userId: string): Promise<string> {
  const { rows } = await database.current.owner.query<{ password_hash: string }>(
    "select password_hash from app_private.user_accounts where user_id = $1",
    [userId],
  );
  return rows[0]!.password_hash;
}

describe("the authenticator cannot read a password hash", () => {
  it("by email or by id: only the salt and parameters come back", async () => {
    const { authenticator } = database.current;
    const adminId = await createAccount(database.current.owner, { email: "root@example.com", role: "admin" });
    const hash = await storedHash(adminId);
    const secretPart = hash.slice(hash.lastIndexOf("$") + 1);

    const byEmail = await authenticator.query("select * from app_private.begin_login('root@example.com', '192.0.2.1')");
    const byId = await authenticator.query("select * from app_private.begin_password_check($1, '192.0.2.1')", [
      adminId,
    ]);
    for (const row of [byEmail.rows[0], byId.rows[0]]) {
      expect(row.password_salt).toBe(hash.slice(0, hash.lastIndexOf("$")));
      expect(JSON.stringify(row)).not.toContain(secretPart);
    }
    // The old lookups are gone.
    expect(
      await sqlState(() => authenticator.query("select * from app_private.find_user_account($1)", [adminId])),
    ).toBe("42883");
    expect(
      await sqlState(() => authenticator.query("select * from app_private.find_login_account('root@example.com')")),
    ).toBe("42883");
    expect(await sqlState(() => authenticator.query("select * from app_private.user_accounts"))).toBe("42501");
  });

  it("no function it may call returns anything named like a hash", async () => {
    const { rows } = await database.current.owner.query<{ name: string }>(
      `select p.proname || '.' || a.name as name
       from pg_catalog.pg_proc as p
       join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
       cross join lateral unnest(p.proargnames, p.proargmodes) as a(name, mode)
       where n.nspname = 'app_private'
         and has_function_privilege('ticketing_authenticator', p.oid, 'execute')
         and a.mode in ('o', 't', 'b')
         and a.name like '%hash%'
         and a.name <> 'hash_length'`,
    );
    expect(rows).toEqual([]);
  });
});

describe("the authenticator cannot open a session without the password", () => {
  it("a reserved attempt with a made-up hash fails, and start_session refuses it", async () => {
    const { authenticator } = database.current;
    const client = await authenticator.connect();
    try {
      await client.query("begin");
      const { rows } = await client.query("select * from app_private.begin_login('root@example.com', '192.0.2.2')");
      const attempt = rows[0].attempt_id as string;
      const salt = rows[0].password_salt as string;
      const claimed = await client.query("select app_private.finish_login($1, $2) as outcome", [
        attempt,
        `${salt}$${"A".repeat(43)}`,
      ]);
      expect(claimed.rows[0].outcome).toBe("invalid_credentials");
      expect(
        await sqlState(() => client.query("select * from app_private.start_session($1, $2)", [attempt, DIGEST()])),
      ).toBe("TKFBD");
      await client.query("rollback");
    } finally {
      client.release();
    }
  });

  it("nor from someone else's real success: not in its transaction, and used once", async () => {
    const { authenticator, owner } = database.current;
    await forgetAuthLimits(owner);
    await signIn(api.current.request, "root@example.com");
    const { rows } = await owner.query(
      "select id from app_private.login_attempts where reason = 'success' and purpose = 'login' order by attempted_at desc limit 1",
    );
    const used = rows[0].id as string;
    expect(
      await sqlState(() => authenticator.query("select * from app_private.start_session($1, $2)", [used, DIGEST()])),
    ).toBe("TKFBD");

    // A success decided in another transaction (committed, not yet used) does not open one either.
    const reserved = await authenticator.query(
      "select * from app_private.begin_login('root@example.com', '192.0.2.3')",
    );
    const { attempt_id: attemptId, password_salt: salt, hash_length: hashLength } = reserved.rows[0];
    const presented = await recomputeHash(salt, hashLength, PASSWORD, "test");
    const decided = await authenticator.query("select app_private.finish_login($1, $2) as outcome", [
      attemptId,
      presented,
    ]);
    expect(decided.rows[0].outcome).toBe("success");
    expect(
      await sqlState(() =>
        authenticator.query("select * from app_private.start_session($1, $2)", [attemptId, DIGEST()]),
      ),
    ).toBe("TKFBD");
    // Nor a random id.
    expect(
      await sqlState(() =>
        authenticator.query("select * from app_private.start_session($1, $2)", [
          "01900000-0000-7000-8000-0000000000ff",
          DIGEST(),
        ]),
      ),
    ).toBe("TKFBD");
  });

  it("so refreshSession has nothing to turn into an admin token; register makes unverified customers only", async () => {
    const { authenticator, owner } = database.current;
    await authenticator.query("select app_private.register_account('mallory@example.com', 'Mallory', $1)", [
      "$argon2id$v=19$m=65536,p=1,t=3$c2FsdHNhbHRzYWx0$aGFzaA",
    ]);
    const { rows } = await owner.query(
      `select u.role, a.email_verified_at,
              (select count(*)::integer from app_private.refresh_tokens as t where t.user_id = u.id) as sessions
       from app_private.user_accounts as a join app_public.users as u on u.id = a.user_id where a.email = 'mallory@example.com'`,
    );
    expect(rows).toEqual([{ role: "customer", email_verified_at: null, sessions: 0 }]);
    // Its session comes only from the mailed link, which the connection role never sees.
    const refreshToken = newRefreshToken();
    expect(
      await sqlState(() =>
        authenticator.query("select * from app_private.verify_email($1, $2, '192.0.2.4')", [
          refreshToken.digest,
          refreshToken.digest,
        ]),
      ),
    ).toBe("TKTOK");
  });

  it("and changing a password needs the current one proven in the same transaction", async () => {
    const { authenticator } = database.current;
    const adminId = await adminIdOf("root@example.com");
    const before = await storedHash(adminId);
    const reserved = await authenticator.query("select * from app_private.begin_password_check($1, '192.0.2.5')", [
      adminId,
    ]);
    expect(
      await sqlState(() =>
        authenticator.query("select app_private.change_password($1, 'x', null)", [reserved.rows[0].attempt_id]),
      ),
    ).toBe("TKFBD");
    expect(await storedHash(adminId)).toBe(before);
  });
});

async function adminIdOf(email: string): Promise<string> {
  const { rows } = await database.current.owner.query(
    "select user_id from app_private.user_accounts where email = $1",
    [email],
  );
  return rows[0].user_id as string;
}

describe("the authenticator cannot clear a lockout", () => {
  it("only the right password, after the lock has passed, clears it", async () => {
    const { authenticator, owner } = database.current;
    await forgetAuthLimits(owner);
    const userId = await createAccount(owner, { email: "locked-out@example.com", role: "customer" });
    for (let i = 1; i <= 5; i += 1) {
      expect(errorCode(await login(api.current.request, "locked-out@example.com", `wrong-guess-${i}-pw`))).toBe(
        "INVALID_CREDENTIALS",
      );
    }
    const lockedUntil = async () =>
      (await owner.query("select locked_until from app_private.user_accounts where user_id = $1", [userId])).rows[0]
        .locked_until;
    const lock = await lockedUntil();
    expect(lock).not.toBeNull();

    // A "fake success": any claim the authenticator can make without the password.
    const reserved = await authenticator.query(
      "select * from app_private.begin_login('locked-out@example.com', '192.0.2.6')",
    );
    const outcome = await authenticator.query("select app_private.finish_login($1, $2) as outcome", [
      reserved.rows[0].attempt_id,
      "success",
    ]);
    expect(outcome.rows[0].outcome).toBe("invalid_credentials");
    expect(await lockedUntil()).toEqual(lock);
    expect(
      await sqlState(() =>
        authenticator.query("select app_private.record_login_attempt('locked-out@example.com', $1, null, true)", [
          userId,
        ]),
      ),
    ).toBe("42883");
    expect(errorCode(await login(api.current.request, "locked-out@example.com"))).toBe("ACCOUNT_LOCKED");
  });
});

describe("session starts are recorded", () => {
  it("each login and registration names the session it started, with the address", async () => {
    const { owner } = database.current;
    await forgetAuthLimits(owner);
    const session = await signIn(api.current.request, "root@example.com");
    const { rows } = await owner.query(
      `select l.purpose, l.reason, host(l.ip) as ip, l.session_id is not null as has_session, l.consumed_at is not null as consumed,
              exists (select 1 from app_private.refresh_tokens t where t.family_id = l.session_id and t.user_id = $1) as session_matches
       from app_private.login_attempts as l where l.user_id = $1`,
      [session.userId],
    );
    expect(rows).toEqual([
      {
        purpose: "login",
        reason: "success",
        ip: expect.any(String),
        has_session: true,
        consumed: true,
        session_matches: true,
      },
    ]);
  });
});

describe("the authenticator cannot create an admin by naming one", () => {
  it("admin_create_user needs a live session of the acting admin, which only their token carries", async () => {
    const { authenticator, owner } = database.current;
    await forgetAuthLimits(owner);
    const adminId = await adminIdOf("root@example.com");
    const create = (sessionId: string | null) =>
      sqlState(() =>
        authenticator.query(
          "select app_private.admin_create_user($1, 'ticketing_admin', $2, 'backdoor@example.com', 'Backdoor', 'admin', 'x')",
          [adminId, sessionId],
        ),
      );
    expect(await create(null)).toBe("TKFBD");
    expect(await create("01900000-0000-7000-8000-0000000000ee")).toBe("TKFBD");
    // Through the API, with the admin's real token (control), it works; after logout it does not.
    const session = await signIn(api.current.request, "root@example.com");
    const input = {
      email: "made-by-admin@example.com",
      displayName: "Made",
      role: "agent",
      password: "enigma-bombe-colossus",
    };
    const created = await graphql(api.current.request, CREATE_USER, { input }, session.bearer);
    expect(created.body.errors).toBeUndefined();
    await graphql(api.current.request, LOGOUT, { input: { refreshToken: session.refreshToken } });
    const afterLogout = await graphql(
      api.current.request,
      CREATE_USER,
      { input: { ...input, email: "made-after-logout@example.com" } },
      session.bearer,
    );
    expect(errorCode(afterLogout)).toBe("FORBIDDEN");
    const { rowCount } = await owner.query(
      "select 1 from app_private.user_accounts where email = 'backdoor@example.com'",
    );
    expect(rowCount).toBe(0);
  });
});
