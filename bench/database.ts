import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { withClient } from "../src/database/cluster-setup.ts";
import { withDatabase, type DatabaseUrls } from "../src/database/connection-urls.ts";
import { startEmbeddedPostgres } from "../src/database/embedded-postgres.ts";
import { databaseUrls, provision } from "../src/database/provision.ts";
import type { Logger } from "../src/observability/logger.ts";
import { SCALES, type ScaleName } from "./scale.ts";
import { readSeedMarker, seed, SEED_VERSION, type Progress } from "./seed.ts";

/**
 * The benchmark's database: the embedded PostgreSQL under .data/bench (kept
 * between runs, one database per scale; BENCH_DATA_DIR and
 * BENCH_POSTGRES_PORT move it), or the server of BENCH_DATABASE_URL (a
 * superuser connection). Migrated like the test suite's template (committed
 * migrations, then migrations/current), so work in progress is measured too.
 * A database whose seed marker names this scale and seed version is reused.
 */
const PASSWORD = "bench-roles-password";

export interface BenchDatabase {
  urls: DatabaseUrls;
  /** Superuser connection to the bench database itself. */
  rootOfDatabase: string;
  serverVersion: string;
  stop(): Promise<void>;
}

async function startServer(): Promise<{ rootUrl: string; stop: () => Promise<void> }> {
  if (process.env.BENCH_DATABASE_URL) return { rootUrl: process.env.BENCH_DATABASE_URL, stop: async () => undefined };
  const dataDir = path.resolve(process.env.BENCH_DATA_DIR ?? ".data/bench");
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dataDir, "postgres"),
    port: Number(process.env.BENCH_POSTGRES_PORT ?? 54339),
    password: PASSWORD,
    persistent: true,
    // A server sized for the machine, as an operator would: the data set's hot
    // part in shared buffers, and checkpoints spaced out for the bulk load.
    extraFlags: [
      "-c",
      "shared_buffers=2GB",
      "-c",
      "effective_cache_size=12GB",
      "-c",
      "max_connections=300",
      "-c",
      "work_mem=16MB",
      "-c",
      "max_wal_size=8GB",
      "-c",
      "checkpoint_timeout=30min",
    ],
  });
  return { rootUrl: server.rootUrl, stop: () => server.stop() };
}

async function seedState(url: string, tickets: number): Promise<"seeded" | "empty" | "other"> {
  return withClient(url, async (client) => {
    const marker = await readSeedMarker(client);
    if (marker?.version === SEED_VERSION && marker.tickets === tickets) return "seeded";
    const { rows } = await client.query(
      "select exists (select 1 from app_public.tickets) or exists (select 1 from app_public.users) as any",
    );
    return rows[0].any ? "other" : "empty";
  });
}

export async function prepareDatabase(options: {
  scale: ScaleName;
  reseed: boolean;
  logger: Logger;
  progress: Progress;
}): Promise<BenchDatabase> {
  const server = await startServer();
  const name = `ticketing_bench_${options.scale}`;
  const urls = databaseUrls(server.rootUrl, name, { owner: PASSWORD, authenticator: PASSWORD });
  const rootOfDatabase = withDatabase(server.rootUrl, name);
  const scale = SCALES[options.scale];
  if (options.reseed) {
    await withClient(server.rootUrl, (client) =>
      client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`),
    );
  }
  // No database yet reads as empty.
  let state = await seedState(rootOfDatabase, scale.tickets).catch(() => "empty" as const);
  if (state === "other") {
    // Another seed version, or a load that did not finish: start again.
    options.progress(`${name} holds another data set; seeding it again`);
    await withClient(server.rootUrl, (client) =>
      client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`),
    );
    state = "empty";
  }
  await provision(urls, { logger: options.logger, current: true });
  if (state === "empty") {
    const started = Date.now();
    await withClient(rootOfDatabase, (client) => seed(client, scale, options.progress));
    options.progress(`seeded ${name} in ${Math.round((Date.now() - started) / 1000)} s`);
  } else {
    options.progress(`reusing ${name} (${scale.tickets} tickets, seed version ${SEED_VERSION})`);
    // Migrations may have changed indexes or functions since: fresh statistics.
    await withClient(rootOfDatabase, (client) => client.query("analyze"));
  }
  const serverVersion = await withClient(
    rootOfDatabase,
    async (client) => (await client.query("show server_version")).rows[0].server_version,
  );
  return { urls, rootOfDatabase, serverVersion, stop: server.stop };
}

/** Ids the scenarios act with: a busy customer, agents with work, tickets to read and move. */
export interface Cast {
  customer: { id: string; email: string };
  /** The manager of the organization with the most tickets, and that organization. */
  manager: { id: string; organizationId: string };
  agent: string;
  /** Tickets in work with their agent, every agent's: replies come from many users. */
  replyTickets: { id: string; agentId: string }[];
  takeAgent: string;
  detailTicket: string;
  /** The customer's newest ticket with attachments. */
  attachmentTicket: string;
  movableTickets: { id: string; status: string }[];
  loginEmails: string[];
  searchWord: string;
}

export async function castFor(rootOfDatabase: string): Promise<Cast> {
  const client = new pg.Client({ connectionString: rootOfDatabase });
  await client.connect();
  try {
    const one = async (sql: string, values: unknown[] = []) => (await client.query(sql, values)).rows[0];
    const customer = await one(
      // The busiest customer of the seeded data (not the one whose tickets refill the take-next pool).
      `select t.customer_id as id, a.email from app_public.tickets as t
         join app_private.user_accounts as a on a.user_id = t.customer_id
        where t.subject not like 'Queued request%'
        group by t.customer_id, a.email order by count(*) desc, t.customer_id limit 1`,
    );
    const manager = await one(
      `select m.user_id as id, m.organization_id as "organizationId"
         from app_public.organization_memberships as m
        where m.role = 'manager' and m.removed_at is null
          and m.organization_id = (select organization_id from app_public.tickets where organization_id is not null
                                    group by organization_id order by count(*) desc, organization_id limit 1)
        order by m.user_id limit 1`,
    );
    const agent = (
      await one(
        "select agent_id as id from app_public.tickets where status = 'in_progress' group by agent_id order by count(*) desc limit 1",
      )
    ).id;
    const takeAgent = (
      await one(
        "select u.id from app_public.users as u where role = 'agent' and u.id <> $1 order by display_name limit 1",
        [agent],
      )
    ).id;
    const detailTicket = (
      await one(
        "select id from app_public.tickets where customer_id = $1 and status = 'closed' order by created_at desc limit 1",
        [customer.id],
      )
    ).id;
    const attachmentTicket = (
      await one(
        `select t.id from app_public.tickets as t
        where t.customer_id = $1 and exists (select from app_public.attachments as a where a.ticket_id = t.id)
        order by t.created_at desc limit 1`,
        [customer.id],
      )
    ).id;
    const movable = await client.query(
      "select id, status from app_public.tickets where agent_id = $1 and status in ('in_progress', 'waiting_on_customer') order by id limit 2000",
      [agent],
    );
    const logins = await client.query("select email from app_private.user_accounts order by email limit 500");
    const replyTickets = await client.query(
      `select id, agent_id as "agentId" from app_public.tickets
        where status in ('in_progress', 'waiting_on_customer') and agent_id is not null order by id limit 4000`,
    );
    return {
      customer,
      manager,
      agent,
      replyTickets: replyTickets.rows,
      takeAgent,
      detailTicket,
      attachmentTicket,
      movableTickets: movable.rows,
      loginEmails: logins.rows.map((row) => row.email),
      // A part number: selective, like what users really search for.
      searchWord: "p1234",
    };
  } finally {
    await client.end();
  }
}
