import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { createAnalystLogin, dropAnalystLogin, type AnalystLogin } from "../../src/database/analyst-roles.ts";
import type { TestDatabase } from "../support/test-database.ts";

/**
 * A real analyst login on the file's database, made with the same code as
 * `npm run analyst:create`. Roles are cluster-wide and the cluster is shared by
 * every test file, so names are random and the login is dropped afterwards.
 */
export function uniqueAnalystName(): string {
  return `t_${randomBytes(5).toString("hex")}`;
}

export async function createLogin(database: TestDatabase, name = uniqueAnalystName()): Promise<AnalystLogin> {
  const root = await database.root.connect();
  try {
    return await createAnalystLogin(root, { name, databaseUrl: database.urls.owner });
  } finally {
    root.release();
  }
}

export async function dropLogin(database: TestDatabase, role: string): Promise<boolean> {
  const root = await database.root.connect();
  try {
    return await dropAnalystLogin(root, { name: role.replace(/^analyst_/, "") });
  } finally {
    root.release();
  }
}

export interface AnalystSession {
  login: AnalystLogin;
  client: pg.Client;
}

/** Registers a login and one open session for the file (after its database); read `.current` inside tests. */
export function useAnalystSession(database: { readonly current: TestDatabase }) {
  let session: AnalystSession | undefined;
  beforeAll(async () => {
    const login = await createLogin(database.current);
    const client = new pg.Client({ connectionString: login.connectionString });
    await client.connect();
    session = { login, client };
  });
  afterAll(async () => {
    if (!session) return;
    await session.client.end();
    await dropLogin(database.current, session.login.role);
  });
  return {
    get current(): AnalystSession {
      if (!session) throw new Error("analyst session not started yet");
      return session;
    },
  };
}
