import pg from "pg";
import { startThrowawayPostgres } from "../src/database/embedded-postgres.ts";
import { withDatabase } from "../src/database/connection-urls.ts";
import { databaseUrls, provision } from "../src/database/provision.ts";
import { inTransactionWithSettings } from "../src/database/request-transaction.ts";
import { pgSettingsFor } from "../src/database/web-roles.ts";
import { createLogger } from "../src/observability/logger.ts";
import { postmasterPid, serverCpuMillis } from "./processes.ts";
import { SLA_EVENTS_TRIGGER, SLA_TRIGGERS, withoutTriggers } from "./variants.ts";

/**
 * SLA on business hours, measured (`npm run bench:sla`): on a throw-away
 * embedded PostgreSQL migrated with the work in progress, every policy on a
 * Europe/Berlin 9-17 calendar with holidays,
 *
 * 1. status transitions per second through transition_ticket as the agent
 *    (one connection, one request transaction each, like the API), every
 *    ticket paused (waiting on the customer) and resumed again, the worst
 *    case for the SLA (a resume recomputes from the history), with the SLA
 *    work of a status change (due-time recomputation, SLA events) and
 *    without it (those two triggers disabled: what a status change cost
 *    before), in alternating rounds; and the usual step, in progress to
 *    resolved, on fresh tickets, the same way;
 * 2. the set-based recomputation of SLA_BENCH_TICKETS (default 100 000) open
 *    tickets after a calendar edit (one holiday added), timed.
 *
 * Each side of 1 also reports the PostgreSQL server's CPU per transition,
 * which a shared machine disturbs far less than the rates.
 */
const PASSWORD = "sla-bench-password";
const TRANSITIONS = Number(process.env.SLA_BENCH_TRANSITIONS ?? 1000);
const ROUNDS = Number(process.env.SLA_BENCH_ROUNDS ?? 3);
const OPEN_TICKETS = Number(process.env.SLA_BENCH_TICKETS ?? 100_000);

/** Each round's with/without ratio, and their median. */
function roundRatios(withSla: number[], without: number[]): string {
  const ratios = withSla.map((value, i) => value / (without[i] as number));
  const sorted = [...ratios].sort((a, b) => a - b);
  return `${ratios.map((r) => r.toFixed(2)).join(", ")} (median ${(sorted[Math.floor(sorted.length / 2)] as number).toFixed(3)})`;
}

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

async function main(): Promise<void> {
  const server = await startThrowawayPostgres({
    prefix: "sla-bench-",
    password: PASSWORD,
    extraFlags: ["-c", "shared_buffers=512MB", "-c", "max_wal_size=4GB", "-c", "synchronous_commit=on"],
  });
  try {
    const name = "ticketing_sla_bench";
    const urls = databaseUrls(server.rootUrl, name, { owner: PASSWORD, authenticator: PASSWORD });
    await provision(urls, { logger: createLogger("warn"), current: true });
    const rootOfDatabase = withDatabase(server.rootUrl, name);
    const root = new pg.Pool({ connectionString: rootOfDatabase, max: 2 });
    const api = new pg.Pool({ connectionString: urls.authenticator, max: 1 });
    try {
      await measure(root, rootOfDatabase, api, await postmasterPid(server.rootUrl));
    } finally {
      await root.end();
      await api.end();
    }
  } finally {
    await server.stop();
  }
}

/**
 * A run's rate and the PostgreSQL server's CPU per transition (all its
 * processes, from /proc): on a shared machine the CPU moves far less than the
 * rate, so both sides are compared by it too.
 */
interface Run {
  perSecond: number;
  cpuMs: number;
}

async function timed(count: number, postmaster: number | undefined, work: () => Promise<void>): Promise<Run> {
  const cpuBefore = postmaster ? serverCpuMillis(postmaster) : 0;
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    perSecond: count / seconds,
    cpuMs: postmaster ? (serverCpuMillis(postmaster) - cpuBefore) / count : Number.NaN,
  };
}

/** "with ÷ without" of the CPU per transition, inverted, so 1.00 means no cost and 0.85 the goal's edge. */
function cpuRatio(withSla: Run[], without: Run[]): string {
  const total = (runs: Run[]) => runs.reduce((sum, run) => sum + run.cpuMs, 0) / runs.length;
  return `PostgreSQL CPU ms per transition: ${total(withSla).toFixed(3)} with, ${total(without).toFixed(3)} without; without ÷ with ${(total(without) / total(withSla)).toFixed(3)}`;
}

async function measure(
  root: pg.Pool,
  rootOfDatabase: string,
  api: pg.Pool,
  postmaster: number | undefined,
): Promise<void> {
  const one = async (sql: string, values: unknown[] = []) => (await root.query(sql, values)).rows[0];
  const user = async (name: string, role: string) =>
    (await one("insert into app_public.users (display_name, role) values ($1, $2) returning id", [name, role]))
      .id as string;
  const customer = await user("Bench Customer", "customer");
  const agent = await user("Bench Agent", "agent");
  const berlin = (
    await one(
      "insert into app_public.business_calendars (name, time_zone) values ('Berlin', 'Europe/Berlin') returning id",
    )
  ).id;
  const version = (
    await one(
      "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ($1, '-infinity') returning id",
      [berlin],
    )
  ).id;
  await root.query(
    "insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at) select $1, d, '09:00', '17:00' from generate_series(1, 5) as d",
    [version],
  );
  await root.query(
    `insert into app_public.business_calendar_holidays (calendar_id, holiday_date, name)
     values ($1, '2026-12-25', 'Christmas'), ($1, '2026-12-26', 'Boxing Day'), ($1, '2027-01-01', 'New Year')`,
    [berlin],
  );
  await root.query("update app_public.sla_policies set calendar_id = $1", [berlin]);

  // 1. Transitions.
  const { rows: tickets } = await root.query<{ id: string }>(
    `insert into app_public.tickets (subject, customer_id, agent_id, status, priority)
     select 'Transition ' || g, $1, $2, 'in_progress', (array['low', 'normal', 'high', 'urgent'])[1 + g % 4]::app_public.ticket_priority
       from generate_series(1, $3) as g
     returning id`,
    [customer, agent, TRANSITIONS],
  );
  const settings = pgSettingsFor({ role: "ticketing_agent", userId: agent });
  let toWaiting = true;
  const run = (): Promise<Run> => {
    const target = toWaiting ? "waiting_on_customer" : "in_progress";
    toWaiting = !toWaiting;
    return timed(tickets.length, postmaster, async () => {
      for (const { id } of tickets) {
        await inTransactionWithSettings(
          api,
          settings,
          (client) => client.query("select 1 from app_public.transition_ticket($1, $2)", [id, target]),
          "commit",
        );
      }
    });
  };
  const offDuring =
    (triggers: readonly (readonly [string, string])[]) =>
    async (work: () => Promise<Run>): Promise<Run> => {
      const undo = await withoutTriggers(rootOfDatabase, triggers);
      try {
        return await work();
      } finally {
        await undo();
      }
    };
  // "Without": the same run with the SLA triggers off (as the API bench's no SLA work variant).
  const withoutSla = offDuring(SLA_TRIGGERS);
  // A measurement is a pause and a resume of every ticket (there and back).
  const pair = async (): Promise<Run> => {
    const there = await run();
    const back = await run();
    return { perSecond: 2 / (1 / there.perSecond + 1 / back.perSecond), cpuMs: (there.cpuMs + back.cpuMs) / 2 };
  };
  const withSla: Run[] = [];
  const without: Run[] = [];
  await pair(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    withSla.push(await pair());
    without.push(await withoutSla(pair));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  const rates = (runs: Run[]) => runs.map((run) => run.perSecond);
  log(
    `transitions/s with SLA recomputation: ${rates(withSla)
      .map((v) => v.toFixed(0))
      .join(", ")} (median ${median(rates(withSla)).toFixed(0)})`,
  );
  log(
    `transitions/s without (before):       ${rates(without)
      .map((v) => v.toFixed(0))
      .join(", ")} (median ${median(rates(without)).toFixed(0)})`,
  );
  log(`ratio: ${(median(rates(withSla)) / median(rates(without))).toFixed(3)}`);
  log(`ratio per round (adjacent in time, so load drift cancels): ${roundRatios(rates(withSla), rates(without))}`);
  log(cpuRatio(withSla, without));

  // 1b. The usual step of a ticket's life: in progress to resolved (the clock
  //     stops; no calendar work), on fresh tickets each round.
  const resolveRun = async (): Promise<Run> => {
    const { rows: fresh } = await root.query<{ id: string }>(
      `insert into app_public.tickets (subject, customer_id, agent_id, status, priority)
       select 'Resolve ' || g, $1, $2, 'in_progress', (array['low', 'normal', 'high', 'urgent'])[1 + g % 4]::app_public.ticket_priority
         from generate_series(1, $3) as g
       returning id`,
      [customer, agent, TRANSITIONS],
    );
    return timed(fresh.length, postmaster, async () => {
      for (const { id } of fresh) {
        await inTransactionWithSettings(
          api,
          settings,
          (client) => client.query("select 1 from app_public.transition_ticket($1, 'resolved')", [id]),
          "commit",
        );
      }
    });
  };
  // A third side splits the SLA work of a resolution: its due-time trigger
  // on, the recording of its met (or breached) events off.
  const withoutEvents = offDuring([SLA_EVENTS_TRIGGER]);
  const resolveWith: Run[] = [];
  const resolveWithout: Run[] = [];
  const resolveNoEvents: Run[] = [];
  await resolveRun(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    resolveWith.push(await resolveRun());
    resolveWithout.push(await withoutSla(resolveRun));
    resolveNoEvents.push(await withoutEvents(resolveRun));
  }
  log(
    `resolutions/s with SLA work: ${rates(resolveWith)
      .map((v) => v.toFixed(0))
      .join(", ")} (median ${median(rates(resolveWith)).toFixed(0)})`,
  );
  log(
    `resolutions/s without (before): ${rates(resolveWithout)
      .map((v) => v.toFixed(0))
      .join(", ")} (median ${median(rates(resolveWithout)).toFixed(0)})`,
  );
  log(`ratio: ${(median(rates(resolveWith)) / median(rates(resolveWithout))).toFixed(3)}`);
  log(
    `ratio per round (adjacent in time, so load drift cancels): ${roundRatios(rates(resolveWith), rates(resolveWithout))}`,
  );
  log(cpuRatio(resolveWith, resolveWithout));
  log(
    `resolutions/s with the due-time work but no SLA events: ${rates(resolveNoEvents)
      .map((v) => v.toFixed(0))
      .join(", ")} (median ${median(rates(resolveNoEvents)).toFixed(0)})`,
  );
  log(
    `ratio to without: ${(median(rates(resolveNoEvents)) / median(rates(resolveWithout))).toFixed(3)}; per round: ${roundRatios(rates(resolveNoEvents), rates(resolveWithout))}`,
  );
  log(cpuRatio(resolveNoEvents, resolveWithout));

  // 2. Recompute OPEN_TICKETS open tickets after a calendar edit.
  await root.query("alter table app_public.tickets disable trigger _250_sla_due_times_insert");
  let started = process.hrtime.bigint();
  await root.query(
    `insert into app_public.tickets (subject, customer_id, status, priority, created_at, updated_at)
     select 'Open ' || g, $1, 'open', (array['low', 'normal', 'high', 'urgent'])[1 + g % 4]::app_public.ticket_priority,
            now() - make_interval(mins => g % 20000), now() - make_interval(mins => g % 20000)
       from generate_series(1, $2) as g`,
    [customer, OPEN_TICKETS],
  );
  await root.query("alter table app_public.tickets enable trigger _250_sla_due_times_insert");
  await root.query("analyze");
  log(
    `inserted ${OPEN_TICKETS} open tickets (due times not yet computed) in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`,
  );
  started = process.hrtime.bigint();
  const changed = (await one("select app_private.recompute_sla_due_times() as changed")).changed;
  const first = Number(process.hrtime.bigint() - started) / 1e9;
  log(`first computation of their due times: ${changed} tickets in ${first.toFixed(1)} s`);
  started = process.hrtime.bigint();
  await root.query(
    "insert into app_public.business_calendar_holidays (calendar_id, holiday_date, name) values ($1, current_date + 1, 'Bench closure')",
    [berlin],
  );
  const edit = Number(process.hrtime.bigint() - started) / 1e9;
  const open = (
    await one(
      "select count(*)::int as n from app_public.tickets where status in ('open', 'in_progress', 'waiting_on_customer')",
    )
  ).n;
  log(
    `calendar edit (one holiday) recomputing ${open} unfinished tickets: ${edit.toFixed(1)} s (${((edit / open) * 1e6).toFixed(0)} µs per ticket)`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
