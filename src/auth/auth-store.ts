import type pg from "pg";

/**
 * Typed calls of the app_private authentication functions
 * (migration 000006, authentication). They run on the API's own
 * connection role, outside any per-request role switch: only that role may
 * execute them. Users come back as JSON objects keyed by column name, the
 * form the generated User codec encodes.
 */
type Queryable = Pick<pg.Pool, "query">;

/** An app_public.users row as `to_json` renders it. */
export type UserRow = Record<string, unknown>;

export type UserRole = "customer" | "agent" | "admin";

export interface LoginAccount {
  userId: string;
  passwordHash: string;
}

export interface UserAccount {
  email: string;
  passwordHash: string;
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

/**
 * Runs `work` in one transaction on one pooled connection, for flows whose
 * steps must succeed or fail together. A connection that broke is discarded.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (db: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("begin");
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

async function single<T extends pg.QueryResultRow>(db: Queryable, sql: string, values: unknown[]): Promise<T | undefined> {
  const { rows } = await db.query<T>(sql, values);
  return rows[0];
}

export async function findLoginAccount(db: Queryable, email: string): Promise<LoginAccount | undefined> {
  const row = await single<{ user_id: string; password_hash: string }>(
    db,
    "select user_id, password_hash from app_private.find_login_account($1)",
    [email],
  );
  return row && { userId: row.user_id, passwordHash: row.password_hash };
}

export async function findUserAccount(db: Queryable, userId: string): Promise<UserAccount | undefined> {
  const row = await single<{ email: string; password_hash: string }>(
    db,
    "select email, password_hash from app_private.find_user_account($1)",
    [userId],
  );
  return row && { email: row.email, passwordHash: row.password_hash };
}

export async function loginRateLimited(db: Queryable, email: string, ip: string | undefined): Promise<boolean> {
  const row = await single<{ limited: boolean }>(db, "select app_private.login_rate_limited($1, $2) as limited", [
    email,
    ip ?? null,
  ]);
  return row?.limited === true;
}

export async function recordLoginAttempt(
  db: Queryable,
  attempt: { email: string; userId: string | undefined; ip: string | undefined; passwordOk: boolean },
): Promise<LoginOutcome> {
  const row = await single<{ outcome: LoginOutcome }>(
    db,
    "select app_private.record_login_attempt($1, $2, $3, $4) as outcome",
    [attempt.email, attempt.userId ?? null, attempt.ip ?? null, attempt.passwordOk],
  );
  if (!row) throw new Error("record_login_attempt returned no row");
  return row.outcome;
}

export async function rehashPassword(db: Queryable, userId: string, oldHash: string, newHash: string): Promise<void> {
  await db.query("select app_private.rehash_password($1, $2, $3)", [userId, oldHash, newHash]);
}

export async function changePassword(
  db: Queryable,
  userId: string,
  newHash: string,
  keepSessionId: string | undefined,
): Promise<UserRow> {
  const row = await single<{ user_record: UserRow }>(
    db,
    "select to_json(app_private.change_password($1, $2, $3)) as user_record",
    [userId, newHash, keepSessionId ?? null],
  );
  if (!row) throw new Error("change_password returned no row");
  return row.user_record;
}

export async function startSession(db: Queryable, userId: string, tokenDigest: Buffer): Promise<Session> {
  const row = await single<SessionRow>(db, `select ${SESSION_COLUMNS} from app_private.start_session($1, $2)`, [
    userId,
    tokenDigest,
  ]);
  if (!row) throw new Error("start_session returned no row");
  return toSession(row);
}

export async function rotateRefreshToken(db: Queryable, digest: Buffer, newDigest: Buffer): Promise<RotationOutcome> {
  const row = await single<SessionRow & { outcome: "rotated" | "reused" | "invalid" }>(
    db,
    `select outcome, ${SESSION_COLUMNS} from app_private.rotate_refresh_token($1, $2)`,
    [digest, newDigest],
  );
  if (!row) throw new Error("rotate_refresh_token returned no row");
  return row.outcome === "rotated" ? { outcome: "rotated", session: toSession(row) } : { outcome: row.outcome };
}

export async function revokeRefreshToken(db: Queryable, digest: Buffer): Promise<boolean> {
  const row = await single<{ revoked: boolean }>(db, "select app_private.revoke_refresh_token($1) as revoked", [digest]);
  return row?.revoked === true;
}

/** Returns the new user's id and record. */
export async function registerCustomer(
  db: Queryable,
  account: { email: string; displayName: string; passwordHash: string },
): Promise<{ userId: string; userRecord: UserRow }> {
  const row = await single<{ id: string; user_record: UserRow }>(
    db,
    "select u.id, to_json(u) as user_record from app_private.register_customer($1, $2, $3) as u",
    [account.email, account.displayName, account.passwordHash],
  );
  if (!row) throw new Error("register_customer returned no row");
  return { userId: row.id, userRecord: row.user_record };
}

export async function isActingAdmin(db: Queryable, actor: { userId: string; role: string }): Promise<boolean> {
  const row = await single<{ admin: boolean }>(db, "select app_private.is_acting_admin($1, $2) as admin", [
    actor.userId,
    actor.role,
  ]);
  return row?.admin === true;
}

export async function adminCreateUser(
  db: Queryable,
  actor: { userId: string; role: string },
  account: { email: string; displayName: string; role: UserRole; passwordHash: string },
): Promise<UserRow> {
  const row = await single<{ user_record: UserRow }>(
    db,
    "select to_json(app_private.admin_create_user($1, $2, $3, $4, $5, $6)) as user_record",
    [actor.userId, actor.role, account.email, account.displayName, account.role, account.passwordHash],
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
