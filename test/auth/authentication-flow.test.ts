import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { graphql, useTestApi } from "../support/test-api.ts";
import {
  CHANGE_PASSWORD,
  CREATE_USER,
  CURRENT_USER,
  DEACTIVATE_USER,
  LOGOUT,
  PASSWORD,
  REGISTER,
  VERIFY_EMAIL,
  verificationToken,
  SET_USER_ROLE,
  createAccount,
  errorCode,
  login,
  refresh,
  signIn,
} from "./auth-helpers.ts";

const database = useTestDatabase();
const api = useTestApi(database);
const request = () => api.current.request;

describe("the whole flow over HTTP", () => {
  let accessToken = "";
  let refreshToken = "";
  let userId = "";

  it("registers an unverified customer who cannot sign in until the mailed link is followed", async () => {
    const response = await graphql(request(), REGISTER, {
      input: { email: "ada@example.com", password: PASSWORD, displayName: "Ada Lovelace" },
    });
    expect(response.body).toEqual({ data: { register: { success: true } } });
    // An unverified account fails like an unknown email.
    expect(errorCode(await login(request(), "ada@example.com"))).toBe("INVALID_CREDENTIALS");
  });

  it("verifyEmail proves the address and signs the customer in; the link works once", async () => {
    const before = Date.now();
    const token = await verificationToken(database.current.owner, "ada@example.com");
    const response = await graphql(request(), VERIFY_EMAIL, { input: { token } });
    expect(response.body.errors).toBeUndefined();
    const session = response.body.data.verifyEmail;
    expect(session.user).toMatchObject({ displayName: "Ada Lovelace", role: "customer", isActive: true });
    expect(session.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // 15 minutes from issue, in whole seconds.
    const expiresAt = Date.parse(session.accessTokenExpiresAt);
    expect(expiresAt).toBeGreaterThan(before + 15 * 60_000 - 1_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    ({ accessToken, refreshToken } = session);
    userId = session.user.rowId;
    expect(errorCode(await graphql(request(), VERIFY_EMAIL, { input: { token } }))).toBe("INVALID_TOKEN");
  });

  it("stores only an argon2id hash and a SHA-256 digest", async () => {
    const { rows } = await database.current.owner.query(
      `select a.password_hash, t.token_digest
       from app_private.user_accounts as a
       join app_private.refresh_tokens as t using (user_id)
       where a.user_id = $1`,
      [userId],
    );
    // argon2id with the parameters in force (the suite's fast ones; test/auth/passwords.test.ts checks production's).
    expect(rows[0].password_hash).toMatch(
      /^\$argon2id\$v=19\$m=\d+,p=\d+,t=\d+\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
    );
    expect(rows[0].token_digest).toHaveLength(32);
    expect(rows[0].password_hash).not.toContain(PASSWORD);
  });

  it("serves currentUser to the access token", async () => {
    const response = await graphql(request(), CURRENT_USER, {}, `Bearer ${accessToken}`);
    expect(response.body).toEqual({
      data: { currentUser: { rowId: userId, role: "customer", email: "ada@example.com" } },
    });
  });

  it("logs in with the email in any case", async () => {
    const session = await signIn(request(), "ADA@Example.com");
    expect(session.userId).toBe(userId);
  });

  it("rotates the refresh token", async () => {
    const response = await refresh(request(), refreshToken);
    expect(response.body.errors).toBeUndefined();
    const next = response.body.data.refreshSession;
    expect(next.refreshToken).not.toBe(refreshToken);
    expect(next.user.rowId).toBe(userId);
    const me = await graphql(request(), CURRENT_USER, {}, `Bearer ${next.accessToken}`);
    expect(me.body.data.currentUser.rowId).toBe(userId);
    refreshToken = next.refreshToken;
  });

  it("logs out: the session's refresh token stops working", async () => {
    const response = await graphql(request(), LOGOUT, { input: { refreshToken } });
    expect(response.body).toEqual({ data: { logout: { success: true } } });
    expect(errorCode(await refresh(request(), refreshToken))).toBe("INVALID_TOKEN");
    // Idempotent.
    expect((await graphql(request(), LOGOUT, { input: { refreshToken } })).body.data.logout.success).toBe(true);
  });

  it("answers registering a taken email (in any case) as any registration, and mails the owner instead", async () => {
    const response = await graphql(request(), REGISTER, {
      input: { email: "Ada@EXAMPLE.com", password: "another-fine-passphrase", displayName: "Impostor" },
    });
    expect(response.body).toEqual({ data: { register: { success: true } } });
    const { rows } = await database.current.owner.query(
      "select kind, user_id from app_private.outbound_mails where to_address = 'ada@example.com' order by created_at",
    );
    expect(rows.map((row) => row.kind)).toEqual(["email_verification", "registration_attempt"]);
    expect(rows[1].user_id).toBe(userId);
    // Nothing changed: the owner's password still works, the impostor's does not.
    expect((await signIn(request(), "ada@example.com")).userId).toBe(userId);
    expect(errorCode(await login(request(), "ada@example.com", "another-fine-passphrase"))).toBe("INVALID_CREDENTIALS");
  });

  it("holds a taken email's registration to the same input rules as a free one's", async () => {
    const response = await graphql(request(), REGISTER, {
      input: { email: "ada@example.com", password: PASSWORD, displayName: "   " },
    });
    expect(errorCode(response)).toBe("INVALID_INPUT");
  });

  it.each([
    ["short", "tiny-pass"],
    ["common", "password123456"],
    ["common, padded", "Qwertyuiop!!2026"],
    ["containing the email", "my-name-is-grace-hopper"],
    ["longer than 256 characters", "x".repeat(257)],
  ])("refuses a %s password with WEAK_PASSWORD", async (_label, password) => {
    const response = await graphql(request(), REGISTER, {
      input: { email: "grace-hopper@example.com", password, displayName: "Grace" },
    });
    expect(errorCode(response)).toBe("WEAK_PASSWORD");
    expect(response.body.data.register).toBeNull();
  });

  it.each([
    ["an email without @", { email: "not-an-email", displayName: "X" }],
    ["an empty display name", { email: "x@example.com", displayName: "   " }],
    ["a display name over 100 characters", { email: "x@example.com", displayName: "n".repeat(101) }],
  ])("refuses %s with INVALID_INPUT", async (_label, input) => {
    const response = await graphql(request(), REGISTER, { input: { ...input, password: PASSWORD } });
    expect(errorCode(response)).toBe("INVALID_INPUT");
  });
});

describe("changePassword", () => {
  it("needs the current password and a strong new one, and ends the other sessions", async () => {
    await createAccount(database.current.owner, { email: "carol@example.com", role: "customer" });
    const here = await signIn(request(), "carol@example.com");
    const elsewhere = await signIn(request(), "carol@example.com");
    const change = (currentPassword: string, newPassword: string, bearer = here.bearer) =>
      graphql(request(), CHANGE_PASSWORD, { input: { currentPassword, newPassword } }, bearer);

    expect(errorCode(await change("wrong-password-entirely", "a-brand-new-passphrase"))).toBe("INVALID_CREDENTIALS");
    expect(errorCode(await change(PASSWORD, "password123456"))).toBe("WEAK_PASSWORD");
    const changed = await change(PASSWORD, "a-brand-new-passphrase");
    expect(changed.body.errors).toBeUndefined();
    expect(changed.body.data.changePassword.user.rowId).toBe(here.userId);

    expect(errorCode(await login(request(), "carol@example.com"))).toBe("INVALID_CREDENTIALS");
    await signIn(request(), "carol@example.com", "a-brand-new-passphrase");
    expect(errorCode(await refresh(request(), elsewhere.refreshToken))).toBe("INVALID_TOKEN");
    expect((await refresh(request(), here.refreshToken)).body.data.refreshSession.user.rowId).toBe(here.userId);
  });

  it("is refused to an anonymous visitor", async () => {
    const response = await graphql(request(), CHANGE_PASSWORD, {
      input: { currentPassword: PASSWORD, newPassword: "a-brand-new-passphrase" },
    });
    expect(errorCode(response)).toBe("UNAUTHENTICATED");
  });
});

describe("admin user management", () => {
  let admin = { bearer: "", userId: "" };
  let agentId = "";

  it("lets an admin create users of any role", async () => {
    await createAccount(database.current.owner, { email: "root@example.com", role: "admin" });
    admin = await signIn(request(), "root@example.com");
    const response = await graphql(
      request(),
      CREATE_USER,
      { input: { email: "alan@example.com", displayName: "Alan", role: "agent", password: "enigma-bombe-colossus" } },
      admin.bearer,
    );
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data.createUser.user).toMatchObject({
      displayName: "Alan",
      role: "agent",
      email: "alan@example.com",
      isActive: true,
    });
    agentId = response.body.data.createUser.user.rowId;
    const agent = await signIn(request(), "alan@example.com", "enigma-bombe-colossus");
    expect((await graphql(request(), CURRENT_USER, {}, agent.bearer)).body.data.currentUser.role).toBe("agent");
  });

  it("refuses createUser, setUserRole and deactivateUser to non-admins", async () => {
    const agent = await signIn(request(), "alan@example.com", "enigma-bombe-colossus");
    const create = await graphql(
      request(),
      CREATE_USER,
      { input: { email: "eve@example.com", displayName: "Eve", role: "admin", password: "enigma-bombe-colossus" } },
      agent.bearer,
    );
    expect(errorCode(create)).toBe("FORBIDDEN");
    expect(
      errorCode(
        await graphql(request(), CREATE_USER, {
          input: { email: "eve@example.com", displayName: "Eve", role: "admin", password: "enigma-bombe-colossus" },
        }),
      ),
    ).toBe("UNAUTHENTICATED");
    const promote = await graphql(
      request(),
      SET_USER_ROLE,
      { input: { userId: agentId, role: "admin" } },
      agent.bearer,
    );
    expect(errorCode(promote)).toBe("FORBIDDEN");
    const deactivate = await graphql(request(), DEACTIVATE_USER, { input: { userId: admin.userId } }, agent.bearer);
    expect(errorCode(deactivate)).toBe("FORBIDDEN");
    const anonymous = await graphql(request(), DEACTIVATE_USER, { input: { userId: admin.userId } });
    expect(errorCode(anonymous)).toBe("FORBIDDEN");
    const { rows } = await database.current.owner.query("select role, is_active from app_public.users where id = $1", [
      admin.userId,
    ]);
    expect(rows[0]).toEqual({ role: "admin", is_active: true });
  });

  it("refuses createUser with a taken email or a weak password", async () => {
    const input = {
      email: "ALAN@example.com",
      displayName: "Alan 2",
      role: "agent",
      password: "enigma-bombe-colossus",
    };
    expect(errorCode(await graphql(request(), CREATE_USER, { input }, admin.bearer))).toBe("EMAIL_TAKEN");
    const weak = { ...input, email: "new@example.com", password: "letmein123456" };
    expect(errorCode(await graphql(request(), CREATE_USER, { input: weak }, admin.bearer))).toBe("WEAK_PASSWORD");
  });

  it("changes a role and ends the user's sessions", async () => {
    const agent = await signIn(request(), "alan@example.com", "enigma-bombe-colossus");
    const response = await graphql(
      request(),
      SET_USER_ROLE,
      { input: { userId: agentId, role: "customer" } },
      admin.bearer,
    );
    expect(response.body).toEqual({ data: { setUserRole: { user: { rowId: agentId, role: "customer" } } } });
    expect(errorCode(await refresh(request(), agent.refreshToken))).toBe("INVALID_TOKEN");
    // A new login gets a token for the new role.
    const again = await signIn(request(), "alan@example.com", "enigma-bombe-colossus");
    expect((await graphql(request(), CURRENT_USER, {}, again.bearer)).body.data.currentUser.role).toBe("customer");
  });

  it("deactivates a user: no login, no refresh", async () => {
    const agent = await signIn(request(), "alan@example.com", "enigma-bombe-colossus");
    const response = await graphql(request(), DEACTIVATE_USER, { input: { userId: agentId } }, admin.bearer);
    expect(response.body).toEqual({ data: { deactivateUser: { user: { rowId: agentId, isActive: false } } } });
    expect(errorCode(await refresh(request(), agent.refreshToken))).toBe("INVALID_TOKEN");
    expect(errorCode(await login(request(), "alan@example.com", "enigma-bombe-colossus"))).toBe("INVALID_CREDENTIALS");
  });

  it("answers NOT_FOUND for an unknown user id", async () => {
    const unknown = "01900000-0000-7000-8000-000000000000";
    const response = await graphql(request(), DEACTIVATE_USER, { input: { userId: unknown } }, admin.bearer);
    expect(errorCode(response)).toBe("NOT_FOUND");
  });

  it("never leaves the helpdesk without an active admin", async () => {
    const demoteSelf = await graphql(
      request(),
      SET_USER_ROLE,
      { input: { userId: admin.userId, role: "agent" } },
      admin.bearer,
    );
    expect(errorCode(demoteSelf)).toBe("INVALID_INPUT");
    const deactivateSelf = await graphql(request(), DEACTIVATE_USER, { input: { userId: admin.userId } }, admin.bearer);
    expect(errorCode(deactivateSelf)).toBe("INVALID_INPUT");

    const second = await createAccount(database.current.owner, { email: "root2@example.com", role: "admin" });
    const demoted = await graphql(request(), SET_USER_ROLE, { input: { userId: second, role: "agent" } }, admin.bearer);
    expect(demoted.body.data.setUserRole.user.role).toBe("agent");
  });
});
