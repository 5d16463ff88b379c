import type pg from "pg";
import type supertest from "supertest";
import { createUserAccount, type UserRole } from "../../src/auth/auth-store.ts";
import { currentHashOptions, hashPassword } from "../../src/auth/passwords.ts";
import { graphql } from "../support/test-api.ts";

/** Shared helpers of the authentication tests. */
export const PASSWORD = "violet-harbour-lantern-42";

const SESSION_FIELDS = "accessToken refreshToken accessTokenExpiresAt user { rowId displayName role isActive }";

export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { success } }`;
export const VERIFY_EMAIL = `mutation VerifyEmail($input: VerifyEmailInput!) { verifyEmail(input: $input) { ${SESSION_FIELDS} } }`;
export const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) { ${SESSION_FIELDS} } }`;
export const REFRESH = `mutation Refresh($input: RefreshSessionInput!) { refreshSession(input: $input) { ${SESSION_FIELDS} } }`;
export const LOGOUT = `mutation Logout($input: LogoutInput!) { logout(input: $input) { success } }`;
export const CHANGE_PASSWORD = `mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) { user { rowId } }
}`;
export const CREATE_USER = `mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) { user { rowId displayName role email isActive } }
}`;
export const SET_USER_ROLE = `mutation SetUserRole($input: SetUserRoleInput!) {
  setUserRole(input: $input) { user { rowId role } }
}`;
export const DEACTIVATE_USER = `mutation DeactivateUser($input: DeactivateUserInput!) {
  deactivateUser(input: $input) { user { rowId isActive } }
}`;
export const CURRENT_USER = "{ currentUser { rowId role email } }";

const hashes = new Map<string, Promise<string>>();

/**
 * Creates an active user directly (as the owner), with a password hash made
 * once per password and hashing parameters (a file may switch them, see
 * test/support/password-hashing.ts; a hash with other parameters would be
 * upgraded at login, an extra hash).
 */
export async function createAccount(
  owner: pg.Pool,
  account: { email: string; role: UserRole; displayName?: string; password?: string },
): Promise<string> {
  const password = account.password ?? PASSWORD;
  const key = `${currentHashOptions().memoryCost}:${password}`;
  if (!hashes.has(key)) hashes.set(key, hashPassword(password));
  const passwordHash = await hashes.get(key)!;
  const { id } = await createUserAccount(owner, {
    email: account.email,
    role: account.role,
    displayName: account.displayName ?? account.email.split("@")[0]!,
    passwordHash,
  });
  return id;
}

export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
  bearer: string;
  userId: string;
}

export function login(request: supertest.Agent, email: string, password = PASSWORD) {
  return graphql(request, LOGIN, { input: { email, password } });
}

/** Logs in and returns the tokens, failing loudly when login fails. */
export async function signIn(request: supertest.Agent, email: string, password = PASSWORD): Promise<SessionTokens> {
  const response = await login(request, email, password);
  const session = response.body.data?.login;
  if (!session) throw new Error(`login failed: ${JSON.stringify(response.body)}`);
  return {
    accessToken: session.accessToken,
    refreshToken: session.refreshToken,
    bearer: `Bearer ${session.accessToken}`,
    userId: session.user.rowId,
  };
}

export function refresh(request: supertest.Agent, refreshToken: string) {
  return graphql(request, REFRESH, { input: { refreshToken } });
}

/** The `extensions.code` of the first error of a GraphQL response. */
export function errorCode(response: {
  body: { errors?: Array<{ extensions?: { code?: string } }> };
}): string | undefined {
  return response.body.errors?.[0]?.extensions?.code;
}

/** Moves the authentication clock (app_private.auth_now) forward; no sleeping. */
export async function advanceClock(owner: pg.Pool, interval: string): Promise<void> {
  await owner.query("update app_private.auth_clock set offset_by = offset_by + $1::interval", [interval]);
}

/** Forgets login attempts, so one test's failures do not count against the next. */
export async function forgetLoginAttempts(owner: pg.Pool): Promise<void> {
  await owner.query("delete from app_private.login_attempts");
}

/** Forgets what the per-address limits counted (registrations, refreshes, password changes) and every login attempt. */
export async function forgetAuthLimits(owner: pg.Pool): Promise<void> {
  await owner.query("delete from app_private.address_events");
  await owner.query("delete from app_private.login_attempts");
}

/** Sets one limit of app_private.address_rate_limits; returns a function that restores it. */
export async function setAddressLimit(owner: pg.Pool, action: string, maxCount: number): Promise<() => Promise<void>> {
  const { rows } = await owner.query<{ max_count: number }>(
    "select max_count from app_private.address_rate_limits where action = $1",
    [action],
  );
  await owner.query("update app_private.address_rate_limits set max_count = $2 where action = $1", [action, maxCount]);
  return async () => {
    await owner.query("update app_private.address_rate_limits set max_count = $2 where action = $1", [
      action,
      rows[0]!.max_count,
    ]);
  };
}

/**
 * The token of the newest verification link queued for `email`, read from
 * the outbox as the owner (no worker runs in these tests, so the mail's
 * parameters are still there).
 */
export async function verificationToken(owner: pg.Pool, email: string): Promise<string> {
  const { rows } = await owner.query<{ token: string }>(
    `select params ->> 'token' as token from app_private.outbound_mails
     where kind = 'email_verification' and to_address = lower($1) order by created_at desc limit 1`,
    [email],
  );
  if (!rows[0]?.token) throw new Error(`no verification mail for ${email}`);
  return rows[0].token;
}

/** register, then verifyEmail with the mailed token: the response of verifyEmail (a new session). */
export async function registerAndVerify(
  request: supertest.Agent,
  owner: pg.Pool,
  input: { email: string; password: string; displayName: string },
) {
  const registered = await graphql(request, REGISTER, { input });
  if (registered.body.errors) return registered;
  return graphql(request, VERIFY_EMAIL, { input: { token: await verificationToken(owner, input.email) } });
}
