import type pg from "pg";
import type { UserRole } from "../database/web-roles.ts";

/**
 * Typed calls of the app_private authentication functions
 * (migration 000006, authentication, and migrations/committed/000014-authentication-limits-counted-before-hashing-a-narrowed-auth.sql). They run on the API's own
 * connection role, outside any per-request role switch: only that role may
 * execute them. Users come back as JSON objects keyed by column name, the
 * form the generated User codec encodes.
 */
type Queryable = Pick<pg.Pool, "query">;

/** An app_public.users row as `to_json` renders it. */
export type UserRow = Record<string, unknown>;

export type { UserRole };

/** A reserved password check: the attempt to decide, and what recomputing the stored hash needs. */
export interface PasswordCheck {
  attemptId: string;
  /** `$argon2id$v=…$m=…,p=…,t=…$<salt>`; null when no account (the check is made anyway, and fails). */
  passwordSalt: string | null;
  hashLength: number | null;
}

export interface Session {
  sessionId: string;
  userId: string;
  userRole: UserRole;
  refreshExpiresAt: Date;
  userRecord: UserRow;
}

export type LoginOutcome = "success" | "invalid_credentials" | "locked";
export type RotationOutcome = { outcome: "rotated"; session: Session } | { outcome: "reused" | "invalid" };

interface SessionRow {
  session_id: string;
  user_id: string;
  user_role: UserRole;
  refresh_expires_at: Date;
  user_record: UserRow;
}

const SESSION_COLUMNS =
  "session_id, (user_record).id as user_id, user_role, refresh_expires_at, to_json(user_record) as user_record";

function toSession(row: SessionRow): Session {
  return {
    sessionId: row.session_id,
    userId: row.user_id,
    userRole: row.user_role,
    refreshExpiresAt: row.refresh_expires_at,
    userRecord: row.user_record,
  };
}

async function single<T extends pg.QueryResultRow>(
  db: Queryable,
  sql: string,
  values: unknown[],
): Promise<T | undefined> {
  const { rows } = await db.query<T>(sql, values);
  return rows[0];
}

interface PasswordCheckRow {
  attempt_id: string;
  password_salt: string | null;
  hash_length: number | null;
}

function toPasswordCheck(row: PasswordCheckRow): PasswordCheck {
  return { attemptId: row.attempt_id, passwordSalt: row.password_salt, hashLength: row.hash_length };
}

/** Checks the address and email limits and reserves the attempt, before any hashing (TKRAT when refused). */
export async function beginLogin(db: Queryable, email: string, ip: string | undefined): Promise<PasswordCheck> {
  const row = await single<PasswordCheckRow>(
    db,
    "select attempt_id, password_salt, hash_length from app_private.begin_login($1, $2)",
    [email, ip ?? null],
  );
  if (!row) throw new Error("begin_login returned no row");
  return toPasswordCheck(row);
}

/** Reserves a check of the user's current password (changePassword), before any hashing. */
export async function beginPasswordCheck(
  db: Queryable,
  userId: string,
  ip: string | undefined,
): Promise<PasswordCheck & { email: string }> {
  const row = await single<PasswordCheckRow & { email: string }>(
    db,
    "select attempt_id, email, password_salt, hash_length from app_private.begin_password_check($1, $2)",
    [userId, ip ?? null],
  );
  if (!row) throw new Error("begin_password_check returned no row");
  return { ...toPasswordCheck(row), email: row.email };
}

/** Decides a reserved attempt from the hash computed with the stored salt; `upgradedHash` replaces an outdated hash on success. */
export async function finishLogin(
  db: Queryable,
  attemptId: string,
  presentedHash: string,
  upgradedHash?: string,
): Promise<LoginOutcome> {
  const row = await single<{ outcome: LoginOutcome }>(db, "select app_private.finish_login($1, $2, $3) as outcome", [
    attemptId,
    presentedHash,
    upgradedHash ?? null,
  ]);
  if (!row) throw new Error("finish_login returned no row");
  return row.outcome;
}

/** Counts a registration from the address before any hashing (TKRAT when refused). */
export async function reserveRegistration(db: Queryable, ip: string | undefined): Promise<void> {
  await db.query("select app_private.reserve_registration($1)", [ip ?? null]);
}

/** Stores the new hash; the password check `attemptId` must have succeeded in the same transaction. */
export async function changePassword(
  db: Queryable,
  attemptId: string,
  newHash: string,
  keepSessionId: string | undefined,
): Promise<UserRow> {
  const row = await single<{ user_record: UserRow }>(
    db,
    "select to_json(app_private.change_password($1, $2, $3)) as user_record",
    [attemptId, newHash, keepSessionId ?? null],
  );
  if (!row) throw new Error("change_password returned no row");
  return row.user_record;
}

/** Opens a session for the successful login `attemptId`, decided in the same transaction. */
export async function startSession(db: Queryable, attemptId: string, tokenDigest: Buffer): Promise<Session> {
  const row = await single<SessionRow>(db, `select ${SESSION_COLUMNS} from app_private.start_session($1, $2)`, [
    attemptId,
    tokenDigest,
  ]);
  if (!row) throw new Error("start_session returned no row");
  return toSession(row);
}

export async function rotateRefreshToken(
  db: Queryable,
  rotation: { digest: Buffer; newDigest: Buffer; ip: string | undefined; sessionMaxAgeDays: number },
): Promise<RotationOutcome> {
  const row = await single<SessionRow & { outcome: "rotated" | "reused" | "invalid" }>(
    db,
    `select outcome, ${SESSION_COLUMNS} from app_private.rotate_refresh_token($1, $2, $3, make_interval(days => $4))`,
    [rotation.digest, rotation.newDigest, rotation.ip ?? null, rotation.sessionMaxAgeDays],
  );
  if (!row) throw new Error("rotate_refresh_token returned no row");
  return row.outcome === "rotated" ? { outcome: "rotated", session: toSession(row) } : { outcome: row.outcome };
}

export async function revokeRefreshToken(db: Queryable, digest: Buffer): Promise<boolean> {
  const row = await single<{ revoked: boolean }>(db, "select app_private.revoke_refresh_token($1) as revoked", [
    digest,
  ]);
  return row?.revoked === true;
}

export async function isActingAdmin(db: Queryable, actor: { userId: string; role: string }): Promise<boolean> {
  const row = await single<{ admin: boolean }>(db, "select app_private.is_acting_admin($1, $2) as admin", [
    actor.userId,
    actor.role,
  ]);
  return row?.admin === true;
}

/** The actor's session (`sessionId`, their token's sid) must be live; tokens made outside a login have none and are refused. */
export async function adminCreateUser(
  db: Queryable,
  actor: { userId: string; role: string; sessionId?: string | undefined },
  account: { email: string; displayName: string; role: UserRole; passwordHash: string },
): Promise<UserRow> {
  const row = await single<{ user_record: UserRow }>(
    db,
    "select to_json(app_private.admin_create_user($1, $2, $3, $4, $5, $6, $7)) as user_record",
    [
      actor.userId,
      actor.role,
      actor.sessionId ?? null,
      account.email,
      account.displayName,
      account.role,
      account.passwordHash,
    ],
  );
  if (!row) throw new Error("admin_create_user returned no row");
  return row.user_record;
}

/** Owner connection only (the user:create command). */
export async function createUserAccount(
  db: Queryable,
  account: { email: string; displayName: string; role: UserRole; passwordHash: string },
): Promise<{ id: string }> {
  const row = await single<{ id: string }>(
    db,
    "select u.id from app_private.create_user_account($1, $2, $3, $4) as u",
    [account.email, account.displayName, account.role, account.passwordHash],
  );
  if (!row) throw new Error("create_user_account returned no row");
  return { id: row.id };
}

/** requestPasswordReset: counted per address (TKRAT), and a link mailed only when the account exists and is under its limit. */
export async function requestPasswordReset(db: Queryable, email: string, ip: string | undefined): Promise<void> {
  await db.query("select app_private.request_password_reset($1, $2)", [email, ip ?? null]);
}

/** Step 1 of resetPassword, before hashing: the link's account email (TKTOK for a bad link, TKRAT beyond the limit). */
export async function beginPasswordReset(db: Queryable, tokenDigest: Buffer, ip: string | undefined): Promise<string> {
  const row = await single<{ email: string }>(db, "select email from app_private.begin_password_reset($1, $2)", [
    tokenDigest,
    ip ?? null,
  ]);
  if (!row) throw new Error("begin_password_reset returned no row");
  return row.email;
}

/** Step 2 of resetPassword: stores the hash, ends every session, voids the link (TKTOK when it is no longer valid). */
export async function resetPassword(db: Queryable, tokenDigest: Buffer, newHash: string): Promise<UserRow> {
  const row = await single<{ user_record: UserRow }>(
    db,
    "select to_json(app_private.reset_password($1, $2)) as user_record",
    [tokenDigest, newHash],
  );
  if (!row) throw new Error("reset_password returned no row");
  return row.user_record;
}

/** register: a new unverified customer and a verification mail, or a mail to the owner of a taken email; nothing tells which. */
export async function registerAccount(
  db: Queryable,
  account: { email: string; displayName: string; passwordHash: string },
): Promise<void> {
  await db.query("select app_private.register_account($1, $2, $3)", [
    account.email,
    account.displayName,
    account.passwordHash,
  ]);
}

/** verifyEmail: proves the address of a verification link and opens a session (TKTOK for a bad link). */
export async function verifyEmail(
  db: Queryable,
  link: { tokenDigest: Buffer; sessionTokenDigest: Buffer; ip: string | undefined },
): Promise<Session> {
  const row = await single<SessionRow>(db, `select ${SESSION_COLUMNS} from app_private.verify_email($1, $2, $3)`, [
    link.tokenDigest,
    link.sessionTokenDigest,
    link.ip ?? null,
  ]);
  if (!row) throw new Error("verify_email returned no row");
  return toSession(row);
}

/** requestEmailChange, after the current password was proven in this transaction: a link to the new address. */
export async function requestEmailChange(db: Queryable, attemptId: string, newEmail: string): Promise<void> {
  await db.query("select app_private.request_email_change($1, $2)", [attemptId, newEmail]);
}
