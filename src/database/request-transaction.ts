import pg from "pg";
import type { AccessClaims } from "../auth/access-tokens.ts";
import { pgSettingsFor, type StatementTimeouts } from "./web-roles.ts";

/**
 * Acting as a web role outside the API: one transaction with the settings a
 * GraphQL request of the same caller gets (pgSettingsFor: role, claims,
 * statement timeout), so the demo data, the bench and the tests go through
 * exactly the policies and functions the API does.
 */

export interface RequestTransactionOptions {
  /** `commit` (the default, as a request does) or `rollback` (look, keep nothing). */
  ending?: "commit" | "rollback";
  /** The statement timeouts the API was configured with; the API's defaults otherwise. */
  timeouts?: StatementTimeouts;
}

/** Every setting with `set_config(name, value, true)`: local to the open transaction. */
export async function applySettings(client: pg.ClientBase, settings: Record<string, string>): Promise<void> {
  if (Object.keys(settings).length === 0) return;
  await client.query("select set_config(name, value, true) from json_each_text($1::json) as s(name, value)", [
    JSON.stringify(settings),
  ]);
}

/** `begin`, then the settings: a transaction left open for the caller to end. */
export async function beginWithSettings(client: pg.ClientBase, settings: Record<string, string>): Promise<void> {
  await client.query("begin");
  await applySettings(client, settings);
}

/**
 * Runs `work` in one transaction with `settings` (a pool lends a client for
 * it; a client is used as is), then commits or rolls back as `ending` says.
 * A failure rolls back and rethrows. With no settings it is a plain
 * transaction on the connection's own role (authentication, administration).
 */
export async function inTransactionWithSettings<T>(
  db: pg.Pool | pg.ClientBase,
  settings: Record<string, string>,
  work: (client: pg.ClientBase) => Promise<T>,
  ending: "commit" | "rollback" = "commit",
): Promise<T> {
  const client = db instanceof pg.Pool ? await db.connect() : db;
  let broken: Error | undefined;
  try {
    await beginWithSettings(client, settings);
    const result = await work(client);
    await client.query(ending);
    return result;
  } catch (error) {
    await client.query("rollback").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    // A client that cannot even roll back goes back to the pool as broken, so it is discarded.
    if (client !== db) (client as pg.PoolClient).release(broken);
  }
}

/** Runs `work` as the caller `claims` names (anonymous when undefined), as a GraphQL request would. */
export function inRequestTransaction<T>(
  db: pg.Pool | pg.ClientBase,
  claims: AccessClaims | undefined,
  work: (client: pg.ClientBase) => Promise<T>,
  options: RequestTransactionOptions = {},
): Promise<T> {
  return inTransactionWithSettings(db, pgSettingsFor(claims, options.timeouts), work, options.ending);
}
