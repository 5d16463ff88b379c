import { randomBytes } from "node:crypto";
import pg from "pg";
import { createUserAccount, type UserRole } from "../src/auth/auth-store.ts";
import { hashPassword } from "../src/auth/passwords.ts";
import type { DatabaseUrls } from "../src/database/connection-urls.ts";
import { databaseUrls, provision, type RolePasswords } from "../src/database/provision.ts";
import type { Logger } from "../src/observability/logger.ts";

/**
 * Prepares the soak's database as an operator would (roles, database,
 * committed migrations) and creates the staff accounts directly as the
 * owner, all with one password hashed once: argon2 is paid for at login,
 * not here. Customers sign themselves up over the API.
 */
export const SOAK_PASSWORD = "soak-lantern-harbour-2718";
export const SOAK_DATABASE = "ticketing_soak";

export interface Cast {
  customers: number;
  agents: number;
  admins: number;
}

export interface StaffAccount {
  userId: string;
  email: string;
  role: UserRole;
}

export function castFor(users: number): Cast {
  const admins = Math.max(1, Math.round(users * 0.1));
  const agents = Math.max(2, Math.round(users * 0.3));
  return { admins, agents, customers: Math.max(1, users - admins - agents) };
}

/** The soak database's URLs on the soak server (the root URL's host and port). */
export function soakUrls(rootUrl: string, passwords: RolePasswords): DatabaseUrls {
  return databaseUrls(rootUrl, SOAK_DATABASE, passwords);
}

export function randomSecret(): string {
  return randomBytes(24).toString("base64url");
}

export async function prepareDatabase(urls: DatabaseUrls, logger: Logger): Promise<void> {
  await provision(urls, { logger });
  await liftWriteQuotas(urls.owner);
}

/**
 * The soak's users file tickets and comments several times a second, far
 * beyond any person and so beyond the write quotas (docs/security.md); its
 * own database lifts them, once the schema has them.
 */
async function liftWriteQuotas(ownerUrl: string): Promise<void> {
  const owner = new pg.Client({ connectionString: ownerUrl });
  await owner.connect();
  try {
    await owner.query(
      `do $$
       begin
         if to_regclass('app_public.write_quotas') is not null then
           update app_public.write_quotas set max_count = 1000000;
         end if;
       end
       $$`,
    );
  } finally {
    await owner.end();
  }
}

export async function createStaff(ownerUrl: string, cast: Cast): Promise<StaffAccount[]> {
  const passwordHash = await hashPassword(SOAK_PASSWORD);
  const owner = new pg.Client({ connectionString: ownerUrl });
  await owner.connect();
  try {
    const staff: StaffAccount[] = [];
    const make = async (role: UserRole, count: number) => {
      for (let i = 1; i <= count; i++) {
        const email = `${role}${i}@soak.example.com`;
        const { id } = await createUserAccount(owner, { email, displayName: `Soak ${role} ${i}`, role, passwordHash });
        staff.push({ userId: id, email, role });
      }
    };
    await make("admin", cast.admins);
    await make("agent", cast.agents);
    return staff;
  } finally {
    await owner.end();
  }
}
