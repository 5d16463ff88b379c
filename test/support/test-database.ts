import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, inject } from "vitest";
import { createDatabase, withClient } from "../../src/database/cluster-setup.ts";
import type { DatabaseUrls } from "../../src/database/connection-urls.ts";
import { inTransactionWithSettings } from "../../src/database/request-transaction.ts";
import { ANONYMOUS_ROLE, isWebRole, pgSettingsFor, type WebRole } from "../../src/database/web-roles.ts";
import { clusterUrls } from "./cluster.ts";

/**
 * Each test file gets its own database, cloned from the migrated template
 * in milliseconds, so files run in parallel and never see each other's rows.
 */
export interface TestDatabase {
  name: string;
  urls: DatabaseUrls;
  /** Connected as ticketing_owner: arranges fixtures, bypassing RLS as the owner does. */
  owner: pg.Pool;
  /** Connected as ticketing_authenticator: what the API uses; switch roles with `actAs`. */
  authenticator: pg.Pool;
  /** Connected as the server's superuser. */
  root: pg.Pool;
}

/**
 * Someone acting in SQL: a web role and, unless anonymous, the user id the
 * JWT would carry. Without a role, the connection's own role with the user
 * id as the audit claim (the owner acting for an admin).
 */
export interface Actor {
  role?: typeof ANONYMOUS_ROLE | WebRole | string;
  userId?: string;
}

export const ANONYMOUS: Actor = { role: ANONYMOUS_ROLE };

export async function createTestDatabase(): Promise<TestDatabase> {
  const cluster = inject("cluster");
  const name = `ticketing_test_${process.ppid}_${randomBytes(4).toString("hex")}`;
  await withClient(cluster.rootUrl, async (root) => {
    await root.query(
      `create database ${root.escapeIdentifier(name)} template ${root.escapeIdentifier(cluster.templateDatabase)} owner ticketing_owner`,
    );
    await createDatabase(root, name);
  });
  const urls = clusterUrls(cluster, name);
  const rootUrl = new URL(cluster.rootUrl);
  rootUrl.pathname = `/${name}`;
  return {
    name,
    urls,
    owner: testPool(urls.owner, 3),
    authenticator: testPool(urls.authenticator, 5),
    root: testPool(rootUrl.toString(), 2),
  };
}

/**
 * `pool.end()` resolves before its idle connections have closed, so the
 * `drop database … with (force)` that follows may terminate one of them
 * (57P01); the pool then emits "error", which must not become an
 * uncaught exception. Any other idle-connection error still surfaces.
 * A test that opens a pool of its own on its database uses this too.
 */
export function testPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on("error", (error: Error & { code?: string }) => {
    if (error.code !== "57P01") throw error;
  });
  return pool;
}

export async function dropTestDatabase(database: TestDatabase): Promise<void> {
  await Promise.all([database.owner.end(), database.authenticator.end(), database.root.end()]);
  await withClient(inject("cluster").rootUrl, (root) =>
    root.query(`drop database if exists ${root.escapeIdentifier(database.name)} with (force)`),
  );
}

/** Registers the file's database with beforeAll/afterAll; read `.current` inside tests. */
export function useTestDatabase(): { readonly current: TestDatabase } {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    if (database) await dropTestDatabase(database);
  });
  return {
    get current(): TestDatabase {
      if (!database) throw new Error("test database not created yet");
      return database;
    },
  };
}

/**
 * The settings the API would apply for the actor (pgSettingsFor); a role the
 * API never takes (an analyst, on the root connection) is set alone.
 */
export function actorSettings(actor: Actor): Record<string, string> {
  if (!actor.role) return actor.userId ? { "jwt.claims.user_id": actor.userId } : {};
  if (actor.role === ANONYMOUS_ROLE) return pgSettingsFor(undefined);
  if (isWebRole(actor.role)) return pgSettingsFor({ role: actor.role, userId: actor.userId ?? "" });
  return { role: actor.role };
}

/**
 * Runs `work` in a transaction as the actor, exactly as the API would
 * (inRequestTransaction's settings), then rolls back so each check starts
 * from the same data. Returns what `work` returned, or rethrows.
 */
export function actAs<T>(pool: pg.Pool, actor: Actor, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  return inTransactionWithSettings(pool, actorSettings(actor), work, "rollback");
}

/** Like actAs, but commits: for arranging state through the real rules. */
export function commitAs<T>(pool: pg.Pool, actor: Actor, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  return inTransactionWithSettings(pool, actorSettings(actor), work, "commit");
}

/** The SQLSTATE of the error `work` raises, or "ok" when it succeeds. */
export async function sqlState(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
    return "ok";
  } catch (error) {
    return (error as { code?: string }).code ?? "unknown";
  }
}
