import type pg from "pg";
import type { JwtConfig } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";
import { signAccessToken, type AccessClaims, type WebRole } from "./access-tokens.ts";
import { isValidEmail, loggableEmail, normaliseEmail, requireDisplayName, requireEmail } from "./account-input.ts";
import { authError, rethrowAsAuthError } from "./auth-errors.ts";
import * as store from "./auth-store.ts";
import { MAX_PASSWORD_LENGTH, passwordWeakness } from "./password-policy.ts";
import { getDummyHash, hashPassword, needsRehash, verifyPassword } from "./passwords.ts";
import { digestRefreshToken, isWellFormedRefreshToken, newRefreshToken } from "./refresh-tokens.ts";

/**
 * The authentication flows behind the GraphQL mutations. Passwords are
 * checked here; every rule about accounts, attempts and sessions is a SQL
 * function (see auth-store.ts), called on the API's own pool connection.
 */
export interface AuthenticationDependencies {
  pool: pg.Pool;
  jwt: JwtConfig;
  logger: Logger;
}

/** A new or refreshed session as the client receives it, with the user's row. */
export interface IssuedSession {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: string;
  userRecord: store.UserRow;
}

function webRole(role: store.UserRole): WebRole {
  return `ticketing_${role}`;
}

function issue(deps: AuthenticationDependencies, refreshToken: string, session: store.Session): IssuedSession {
  const access = signAccessToken(deps.jwt, {
    userId: session.userId,
    role: webRole(session.userRole),
    sessionId: session.sessionId,
  });
  return {
    accessToken: access.token,
    refreshToken,
    accessTokenExpiresAt: access.expiresAt.toISOString(),
    userRecord: session.userRecord,
  };
}

async function openSession(deps: AuthenticationDependencies, userId: string): Promise<IssuedSession> {
  const refresh = newRefreshToken();
  const session = await store.startSession(deps.pool, userId, refresh.digest);
  return issue(deps, refresh.token, session);
}

function requireStrongPassword(password: string, email: string): void {
  const weakness = passwordWeakness(password, email);
  if (weakness) throw authError("WEAK_PASSWORD", weakness);
}

/** Upgrades a hash made with older parameters; a failure only delays the upgrade. */
async function upgradeHash(deps: AuthenticationDependencies, account: store.LoginAccount, password: string): Promise<void> {
  if (!needsRehash(account.passwordHash)) return;
  try {
    await store.rehashPassword(deps.pool, account.userId, account.passwordHash, await hashPassword(password));
  } catch (error) {
    deps.logger.warn({ err: error, userId: account.userId }, "password rehash failed");
  }
}

export interface RegisterArguments {
  email: string;
  password: string;
  displayName: string;
}

export interface LoginArguments {
  email: string;
  password: string;
}

export interface ChangePasswordArguments {
  currentPassword: string;
  newPassword: string;
}

export interface CreateUserArguments {
  email: string;
  displayName: string;
  role: store.UserRole;
  password: string;
}

export async function register(deps: AuthenticationDependencies, input: RegisterArguments): Promise<IssuedSession> {
  const email = requireEmail(input.email);
  const displayName = requireDisplayName(input.displayName);
  requireStrongPassword(input.password, email);
  const passwordHash = await hashPassword(input.password);
  // The account and its first session commit together: an account created
  // without the session the client was promised would turn the client's
  // retry into EMAIL_TAKEN.
  const refresh = newRefreshToken();
  const session = await store.inTransaction(deps.pool, async (db) => {
    const created = await store.registerCustomer(db, { email, displayName, passwordHash }).catch(rethrowAsAuthError);
    return store.startSession(db, created.userId, refresh.digest);
  });
  return issue(deps, refresh.token, session);
}

export async function login(
  deps: AuthenticationDependencies,
  input: LoginArguments,
  ip: string | undefined,
): Promise<IssuedSession> {
  const email = loggableEmail(normaliseEmail(input.email));
  // No stored password can be this long or match such an email: refused before any work.
  if (email.length > 1_000 || input.password.length > MAX_PASSWORD_LENGTH * 2) throw authError("INVALID_CREDENTIALS");
  if (await store.loginRateLimited(deps.pool, email, ip)) throw authError("RATE_LIMITED");
  const account = isValidEmail(email) ? await store.findLoginAccount(deps.pool, email) : undefined;
  // Unknown emails are checked against a dummy hash: same work, same time.
  const matches = await verifyPassword(account?.passwordHash ?? (await getDummyHash()), input.password);
  const outcome = await store.recordLoginAttempt(deps.pool, {
    email,
    userId: account?.userId,
    ip,
    passwordOk: matches && account !== undefined,
  });
  if (outcome === "locked") throw authError("ACCOUNT_LOCKED");
  if (outcome !== "success" || !account) throw authError("INVALID_CREDENTIALS");
  await upgradeHash(deps, account, input.password);
  return openSession(deps, account.userId);
}

export async function refreshSession(
  deps: AuthenticationDependencies,
  input: { refreshToken: string },
): Promise<IssuedSession> {
  if (!isWellFormedRefreshToken(input.refreshToken)) throw authError("INVALID_TOKEN");
  const next = newRefreshToken();
  const result = await store.rotateRefreshToken(deps.pool, digestRefreshToken(input.refreshToken), next.digest);
  if (result.outcome === "reused") throw authError("TOKEN_REUSED");
  if (result.outcome !== "rotated") throw authError("INVALID_TOKEN");
  return issue(deps, next.token, result.session);
}

/** Ends the token's session. Unknown or already-ended sessions are not an error: logout is idempotent. */
export async function logout(deps: AuthenticationDependencies, input: { refreshToken: string }): Promise<boolean> {
  if (!isWellFormedRefreshToken(input.refreshToken)) throw authError("INVALID_TOKEN");
  await store.revokeRefreshToken(deps.pool, digestRefreshToken(input.refreshToken));
  return true;
}

function requireSignedIn(auth: AccessClaims | undefined): AccessClaims {
  if (!auth) throw authError("UNAUTHENTICATED");
  return auth;
}

/** Returns the user record. Other sessions of the user end; the caller's stays. */
export async function changePassword(
  deps: AuthenticationDependencies,
  auth: AccessClaims | undefined,
  input: ChangePasswordArguments,
  ip: string | undefined,
): Promise<store.UserRow> {
  const caller = requireSignedIn(auth);
  const account = await store.findUserAccount(deps.pool, caller.userId);
  if (!account) throw authError("FORBIDDEN");
  requireStrongPassword(input.newPassword, account.email);
  if (await store.loginRateLimited(deps.pool, account.email, ip)) throw authError("RATE_LIMITED");
  const matches =
    input.currentPassword.length <= MAX_PASSWORD_LENGTH * 2 && (await verifyPassword(account.passwordHash, input.currentPassword));
  // Counted like a login, so a stolen access token cannot brute-force the password.
  const outcome = await store.recordLoginAttempt(deps.pool, {
    email: account.email,
    userId: caller.userId,
    ip,
    passwordOk: matches,
  });
  if (outcome === "locked") throw authError("ACCOUNT_LOCKED");
  if (outcome !== "success") throw authError("INVALID_CREDENTIALS");
  const newHash = await hashPassword(input.newPassword);
  return store.changePassword(deps.pool, caller.userId, newHash, caller.sessionId).catch(rethrowAsAuthError);
}

/** Admin only; returns the new user's record. */
export async function createUser(
  deps: AuthenticationDependencies,
  auth: AccessClaims | undefined,
  input: CreateUserArguments,
): Promise<store.UserRow> {
  const caller = requireSignedIn(auth);
  // Refused before any validation or hashing; admin_create_user checks again atomically.
  if (!(await store.isActingAdmin(deps.pool, caller))) throw authError("FORBIDDEN");
  const email = requireEmail(input.email);
  const displayName = requireDisplayName(input.displayName);
  requireStrongPassword(input.password, email);
  const passwordHash = await hashPassword(input.password);
  return store
    .adminCreateUser(deps.pool, caller, { email, displayName, role: input.role, passwordHash })
    .catch(rethrowAsAuthError);
}
