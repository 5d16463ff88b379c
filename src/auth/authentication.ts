import type pg from "pg";
import type { JwtConfig } from "../config/app-config.ts";
import { DEFAULT_SESSION_MAX_AGE_DAYS } from "../config/environment.ts";
import type { Logger } from "../observability/logger.ts";
import { inTransactionWithSettings } from "../database/request-transaction.ts";
import { webRoleOf } from "../database/web-roles.ts";
import { signAccessToken, type AccessClaims } from "./access-tokens.ts";
import { loggableEmail, MAX_TYPED_LENGTH, storableText } from "./account-input.ts";
import { authError, rethrowAsAuthError } from "./auth-errors.ts";
import { clientKey } from "./client-concurrency.ts";
import * as store from "./auth-store.ts";
import { MAX_PASSWORD_LENGTH, passwordWeakness } from "./password-policy.ts";
import { HashQueueFullError, hashPassword, needsRehash, recomputeHash } from "./passwords.ts";
import { digestRefreshToken, isWellFormedRefreshToken, newRefreshToken } from "./refresh-tokens.ts";
import { digestMailToken, isWellFormedMailToken } from "./mail-tokens.ts";

/**
 * The authentication flows behind the GraphQL mutations. Passwords are
 * hashed here; every rule about accounts, attempts, limits and sessions is a
 * SQL function (see auth-store.ts), called on the API's own pool connection.
 *
 * Order of every flow that hashes: the SQL limit is checked and the attempt
 * counted first, then the hashing (queued fairly per client address,
 * passwords.ts), then the SQL decision. The client address may be unknown
 * (undefined): SQL then counts all unknown addresses as one.
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

/**
 * Who asks: the verified access-token claims (absent when signed out) and the
 * client address (undefined when unknown). Every flow takes
 * `(deps, input, request)`, so the GraphQL layer calls them all alike.
 */
export interface AuthRequest {
  auth?: AccessClaims | undefined;
  ip?: string | undefined;
}

/** Seconds a client whose hashing queue is full should wait: a few jobs of about 0.2 s each. */
const HASH_QUEUE_RETRY_SECONDS = 1;

function issue(deps: AuthenticationDependencies, refreshToken: string, session: store.Session): IssuedSession {
  const access = signAccessToken(deps.jwt, {
    userId: session.userId,
    role: webRoleOf(session.userRole),
    sessionId: session.sessionId,
  });
  return {
    accessToken: access.token,
    refreshToken,
    accessTokenExpiresAt: access.expiresAt.toISOString(),
    userRecord: session.userRecord,
  };
}

function requireStrongPassword(password: string, email: string): void {
  const weakness = passwordWeakness(password, email);
  if (weakness) throw authError("WEAK_PASSWORD", weakness);
}

/** Runs hashing work; a client whose queue is full is told to come back. */
async function hashing<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HashQueueFullError) {
      throw authError("RATE_LIMITED", undefined, { retryAfterSeconds: HASH_QUEUE_RETRY_SECONDS });
    }
    throw error;
  }
}

/** Typed text far longer than any valid value is refused before any work. */
function boundedText(value: string): string {
  if (value.length > MAX_TYPED_LENGTH) throw authError("INVALID_INPUT");
  return storableText(value);
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

/**
 * Answers the same whether or not the email is taken: a free one gets an
 * unverified customer and a verification link (verifyEmail signs it in), a
 * taken one a mail to its owner. The password is hashed in both cases.
 */
export async function register(
  deps: AuthenticationDependencies,
  input: RegisterArguments,
  { ip }: AuthRequest,
): Promise<boolean> {
  const email = boundedText(input.email);
  const displayName = boundedText(input.displayName);
  requireStrongPassword(input.password, email);
  // Counted before the hash, registrations of a taken email included.
  await store.reserveRegistration(deps.pool, ip).catch(rethrowAsAuthError);
  const passwordHash = await hashing(() => hashPassword(input.password, clientKey(ip)));
  await store.registerAccount(deps.pool, { email, displayName, passwordHash }).catch(rethrowAsAuthError);
  return true;
}

/** Proves the address of a verification link and signs the account in. */
export async function verifyEmail(
  deps: AuthenticationDependencies,
  input: { token: string },
  { ip }: AuthRequest,
): Promise<IssuedSession> {
  if (!isWellFormedMailToken(input.token)) invalidLink();
  const refresh = newRefreshToken();
  const session = await store
    .verifyEmail(deps.pool, { tokenDigest: digestMailToken(input.token), sessionTokenDigest: refresh.digest, ip })
    .catch(rethrowLinkError);
  return issue(deps, refresh.token, session);
}

export async function login(
  deps: AuthenticationDependencies,
  input: LoginArguments,
  { ip }: AuthRequest,
): Promise<IssuedSession> {
  const email = loggableEmail(input.email);
  // No stored password can be this long or match such an email: refused before any work.
  if (email.length > 1_000 || input.password.length > MAX_PASSWORD_LENGTH * 2) throw authError("INVALID_CREDENTIALS");
  const check = await store.beginLogin(deps.pool, email, ip).catch(rethrowAsAuthError);
  // Unknown emails are hashed with a random salt: same work, same time.
  const presented = await hashing(() =>
    recomputeHash(check.passwordSalt, check.hashLength, input.password, clientKey(ip)),
  );
  // Made before the decision, and only for accounts whose hash has outdated parameters.
  const upgraded =
    check.passwordSalt && needsRehash(check.passwordSalt)
      ? await hashing(() => hashPassword(input.password, clientKey(ip)))
      : undefined;
  const refresh = newRefreshToken();
  const result = await inTransactionWithSettings(deps.pool, {}, async (db) => {
    const outcome = await store.finishLogin(db, check.attemptId, presented, upgraded);
    // A refused attempt is committed too: it counts towards the lockout.
    if (outcome !== "success") return { outcome };
    return { outcome, session: await store.startSession(db, check.attemptId, refresh.digest) };
  });
  if (result.outcome === "locked") throw authError("ACCOUNT_LOCKED");
  if (!result.session) throw authError("INVALID_CREDENTIALS");
  return issue(deps, refresh.token, result.session);
}

export async function refreshSession(
  deps: AuthenticationDependencies,
  input: { refreshToken: string },
  { ip }: AuthRequest,
): Promise<IssuedSession> {
  if (!isWellFormedRefreshToken(input.refreshToken)) throw authError("INVALID_TOKEN");
  const next = newRefreshToken();
  const result = await store
    .rotateRefreshToken(deps.pool, {
      digest: digestRefreshToken(input.refreshToken),
      newDigest: next.digest,
      ip,
      sessionMaxAgeDays: deps.jwt.sessionMaxAgeDays ?? DEFAULT_SESSION_MAX_AGE_DAYS,
    })
    .catch(rethrowAsAuthError);
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

/** What a change guarded by the caller's current password does, step by step. */
interface PasswordGuardedChange<P, T> {
  /** After the attempt is counted, before any hashing: checks that need the account's email. */
  check?: (email: string) => void;
  /** Work of the change done before its transaction (hashing a new password). */
  prepare?: (client: string) => Promise<P>;
  /** The change itself, in the transaction that records the successful attempt. */
  apply: (db: pg.ClientBase, attemptId: string, prepared: P | undefined, caller: AccessClaims) => Promise<T>;
}

/**
 * Applies a change only when the signed-in caller proves their current
 * password. The proof is counted against the address's limit and reserved
 * like a login, before any hashing, so a stolen access token cannot
 * brute-force the password; a refused proof is committed and counts towards
 * the lockout.
 */
async function withCurrentPassword<P, T>(
  deps: AuthenticationDependencies,
  { auth, ip }: AuthRequest,
  currentPassword: string,
  change: PasswordGuardedChange<P, T>,
): Promise<T> {
  const caller = requireSignedIn(auth);
  if (currentPassword.length > MAX_PASSWORD_LENGTH * 2) throw authError("INVALID_CREDENTIALS");
  const check = await store.beginPasswordCheck(deps.pool, caller.userId, ip).catch(rethrowAsAuthError);
  change.check?.(check.email);
  const client = clientKey(ip);
  const presented = await hashing(() => recomputeHash(check.passwordSalt, check.hashLength, currentPassword, client));
  const prepare = change.prepare;
  const prepared = prepare ? await hashing(() => prepare(client)) : undefined;
  const result = await inTransactionWithSettings(deps.pool, {}, async (db) => {
    const outcome = await store.finishLogin(db, check.attemptId, presented);
    if (outcome !== "success") return { outcome };
    return { outcome, value: await change.apply(db, check.attemptId, prepared, caller) };
  });
  if (result.outcome === "locked") throw authError("ACCOUNT_LOCKED");
  if (result.outcome !== "success") throw authError("INVALID_CREDENTIALS");
  return result.value as T;
}

/** Returns the user record. Other sessions of the user end; the caller's stays. */
export async function changePassword(
  deps: AuthenticationDependencies,
  input: ChangePasswordArguments,
  request: AuthRequest,
): Promise<store.UserRow> {
  return withCurrentPassword(deps, request, input.currentPassword, {
    check: (email) => requireStrongPassword(input.newPassword, email),
    prepare: (client) => hashPassword(input.newPassword, client),
    apply: (db, attemptId, newHash, caller) =>
      store.changePassword(db, attemptId, newHash as string, caller.sessionId).catch(rethrowAsAuthError),
  });
}

/** Admin only; returns the new user's record. */
export async function createUser(
  deps: AuthenticationDependencies,
  input: CreateUserArguments,
  { auth, ip }: AuthRequest,
): Promise<store.UserRow> {
  const caller = requireSignedIn(auth);
  // Refused before any validation or hashing; admin_create_user checks again atomically.
  if (!(await store.isActingAdmin(deps.pool, caller))) throw authError("FORBIDDEN");
  const email = boundedText(input.email);
  const displayName = boundedText(input.displayName);
  requireStrongPassword(input.password, email);
  const passwordHash = await hashing(() => hashPassword(input.password, clientKey(ip)));
  return store
    .adminCreateUser(deps.pool, caller, { email, displayName, role: input.role, passwordHash })
    .catch(rethrowAsAuthError);
}

/** Mails a reset link when the email has an active account; answers the same either way. */
export async function requestPasswordReset(
  deps: AuthenticationDependencies,
  input: { email: string },
  { ip }: AuthRequest,
): Promise<boolean> {
  const email = loggableEmail(input.email);
  if (email.length > MAX_TYPED_LENGTH) throw authError("INVALID_INPUT");
  await store.requestPasswordReset(deps.pool, email, ip).catch(rethrowAsAuthError);
  return true;
}

function invalidLink(): never {
  throw authError("INVALID_TOKEN", "Invalid or expired link");
}

/** Sets a new password from a reset link; every session of the account ends. */
export async function resetPassword(
  deps: AuthenticationDependencies,
  input: { token: string; newPassword: string },
  { ip }: AuthRequest,
): Promise<store.UserRow> {
  if (!isWellFormedMailToken(input.token)) invalidLink();
  const digest = digestMailToken(input.token);
  const email = await store.beginPasswordReset(deps.pool, digest, ip).catch(rethrowLinkError);
  requireStrongPassword(input.newPassword, email);
  const newHash = await hashing(() => hashPassword(input.newPassword, clientKey(ip)));
  return store.resetPassword(deps.pool, digest, newHash).catch(rethrowLinkError);
}

/** A refused link answers INVALID_TOKEN with the link's message; other refusals as usual. */
function rethrowLinkError(error: unknown): never {
  if ((error as { code?: unknown } | null)?.code === "TKTOK") invalidLink();
  return rethrowAsAuthError(error);
}

/**
 * Mails a verification link to a new address after the current password is
 * proven (as changePassword does); the email changes when the link is followed.
 */
export async function requestEmailChange(
  deps: AuthenticationDependencies,
  input: { newEmail: string; currentPassword: string },
  request: AuthRequest,
): Promise<boolean> {
  const newEmail = boundedText(input.newEmail);
  return withCurrentPassword(deps, request, input.currentPassword, {
    apply: async (db, attemptId) => {
      await store.requestEmailChange(db, attemptId, newEmail).catch(rethrowAsAuthError);
      return true;
    },
  });
}
