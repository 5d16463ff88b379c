import http from "node:http";
import type pg from "pg";
import { withClient } from "../src/database/cluster-setup.ts";
import { createLogger } from "../src/observability/logger.ts";
import { startJobWorker } from "../src/worker/job-worker.ts";
import type { Cast } from "./database.ts";
import type { ServerProcess } from "./processes.ts";
import type { Scenario } from "./scenarios.ts";
import { WRITE_SCENARIOS } from "./scenarios.ts";

/**
 * What a scenario's GraphQL figure is compared with besides the raw-SQL
 * ceiling (`--compare limits,events`): the same load through the API
 * without a part of its work, or with more of it.
 *
 * - `limits off`: the read scenarios through bench/api-without-limits.ts
 *   (no document checks, statement timeouts or request deadline), to show
 *   what the limits cost (goal: within 5 %).
 * - `no event log`: the write scenarios with the triggers that record
 *   ticket and comment events disabled (no event row, no NOTIFY, nothing
 *   queued): the write as it was before the event log (goal: within 15 %).
 * - `no notification mail`: the write scenarios with the event log but
 *   without the trigger that turns its events into notification mails (a
 *   mail row and a send_mail job, docs/email.md): against `no event log`,
 *   the cost of the event log alone.
 * - `no SLA work`: the write scenarios with the triggers that recompute a
 *   ticket's SLA due times on a status change and record its SLA events
 *   disabled: a transition as it was before business-hours SLAs (goal:
 *   within 15 %, docs/business-hours.md). The bench's transitions pause and
 *   resume (in progress and waiting on the customer), the SLA's worst case.
 * - `webhook queued`: the write scenarios with one active webhook endpoint
 *   for every ticket event, so each write also records a delivery with its
 *   payload and queues a graphile-worker job (no worker runs; the jobs and
 *   deliveries are removed afterwards).
 *
 * The API as served (event log on, no endpoint, limits on) is the figure in
 * the main table; a variant's ratio is served ÷ variant.
 */
export type VariantName = "limits off" | "no event log" | "no notification mail" | "no SLA work" | "webhook queued";

export interface VariantContext {
  rootUrl: string;
  /** The API without its limits, when `--compare limits` started it. */
  apiWithoutLimits?: ServerProcess;
}

export interface Variant {
  name: VariantName;
  /** Which `--compare` group turns it on. */
  group: "limits" | "events" | "sla";
  applies(scenario: Scenario): boolean;
  /** The API to load, after changing the database if the variant needs it; returns the undo. */
  setUp(context: VariantContext, api: ServerProcess): Promise<{ api: ServerProcess; undo(): Promise<void> }>;
}

/** The triggers that record a ticket's and a comment's events (migration 000008, rewritten by 000018). */
const EVENT_TRIGGERS = [
  ["app_public.tickets", "_950_notify_update"],
  ["app_public.ticket_comments", "_400_notify"],
] as const;

/** The trigger that queues notification mails from events (migration 000025). */
const MAIL_TRIGGER = ["app_private.realtime_events", "_400_queue_mail"] as const;

/**
 * The triggers that do a status change's SLA work (migration 000024, their
 * functions rewritten by 000029): due times recomputed, SLA events recorded.
 * The at-risk trigger stays: it runs only when a due time changes.
 */
/** The one that records a status change's SLA events (bench:sla also turns it off alone). */
export const SLA_EVENTS_TRIGGER = ["app_public.tickets", "_700_record_sla_events"] as const;
export const SLA_TRIGGERS = [["app_public.tickets", "_250_sla_due_times_update"], SLA_EVENTS_TRIGGER] as const;

/** Disables these triggers for a variant's run; returns what enables them again. */
export async function withoutTriggers(
  rootUrl: string,
  triggers: readonly (readonly [string, string])[],
): Promise<() => Promise<void>> {
  const toggle = (action: "disable" | "enable") =>
    withClient(rootUrl, async (client) => {
      for (const [table, trigger] of triggers) await client.query(`alter table ${table} ${action} trigger ${trigger}`);
    });
  await toggle("disable");
  return () => toggle("enable");
}

const TICKET_EVENT_KINDS = [
  "ticket.created",
  "ticket.status_changed",
  "ticket.assigned",
  "ticket.commented",
  "ticket.updated",
];

/** Registers an endpoint as the database owner would (create_webhook_endpoint); returns its id. */
export async function createEndpoint(client: pg.ClientBase, url: string, kinds: string[]): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    "select (r).webhook_endpoint_id as id from app_public.create_webhook_endpoint($1, $2) as r",
    [url, kinds],
  );
  return rows[0]!.id;
}

/** Removes an endpoint with its deliveries and any job still queued for them. */
export async function removeEndpoint(client: pg.ClientBase, endpointId: string): Promise<void> {
  await client.query(
    `select graphile_worker.remove_job('webhook_delivery:' || d.id::text)
       from app_public.webhook_deliveries as d where d.endpoint_id = $1`,
    [endpointId],
  );
  await client.query("delete from app_public.webhook_deliveries where endpoint_id = $1", [endpointId]);
  await client.query("delete from app_public.webhook_endpoints where id = $1", [endpointId]);
}

export const VARIANTS: Variant[] = [
  {
    name: "limits off",
    group: "limits",
    applies: (scenario) => scenario.explain,
    async setUp(context) {
      if (!context.apiWithoutLimits) throw new Error("the API without limits is not running");
      return { api: context.apiWithoutLimits, undo: async () => undefined };
    },
  },
  {
    name: "no event log",
    group: "events",
    applies: (scenario) => WRITE_SCENARIOS.has(scenario.name),
    async setUp(context, api) {
      return { api, undo: await withoutTriggers(context.rootUrl, EVENT_TRIGGERS) };
    },
  },
  {
    name: "no notification mail",
    group: "events",
    applies: (scenario) => WRITE_SCENARIOS.has(scenario.name),
    async setUp(context, api) {
      return { api, undo: await withoutTriggers(context.rootUrl, [MAIL_TRIGGER]) };
    },
  },
  {
    name: "no SLA work",
    group: "sla",
    applies: (scenario) => WRITE_SCENARIOS.has(scenario.name),
    async setUp(context, api) {
      return { api, undo: await withoutTriggers(context.rootUrl, SLA_TRIGGERS) };
    },
  },
  {
    name: "webhook queued",
    group: "events",
    applies: (scenario) => WRITE_SCENARIOS.has(scenario.name),
    async setUp(context, api) {
      // Never contacted: no worker runs while the variant is measured.
      const endpointId = await withClient(context.rootUrl, (client) =>
        createEndpoint(client, "https://webhooks.bench.invalid/hook", TICKET_EVENT_KINDS),
      );
      return { api, undo: () => withClient(context.rootUrl, (client) => removeEndpoint(client, endpointId)) };
    },
  },
];

export function variantsFor(groups: string[]): Variant[] {
  return VARIANTS.filter((variant) => groups.includes(variant.group));
}

/**
 * Webhook deliveries per second: `count` comments are written at once (as
 * the owner, one statement) with an endpoint for ticket.commented pointing
 * at a receiver on 127.0.0.1 that answers 204; then a job worker with
 * `concurrency` starts and the time until every delivery succeeded is taken.
 * Receiver and worker share the benchmark's process.
 */
export async function measureWebhookDeliveries(options: {
  rootUrl: string;
  ownerUrl: string;
  cast: Cast;
  count: number;
  concurrency: number;
}): Promise<{ deliveries: number; seconds: number; perSecond: number; concurrency: number }> {
  let received = 0;
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received += 1;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const port = (receiver.address() as { port: number }).port;
  const ticket = options.cast.replyTickets[0]!;
  const endpointId = await withClient(options.rootUrl, async (client) => {
    const id = await createEndpoint(client, `http://127.0.0.1:${port}/bench`, ["ticket.commented"]);
    await client.query(
      `insert into app_public.ticket_comments (ticket_id, author_id, body)
       select $1, $2, 'Webhook delivery ' || n from generate_series(1, $3::int) as n`,
      [ticket.id, ticket.agentId, options.count],
    );
    return id;
  });
  const started = performance.now();
  const worker = await startJobWorker(
    {
      ownerUrl: options.ownerUrl,
      concurrency: options.concurrency,
      webhooks: { httpsOnly: false, allowedHosts: new Set(["127.0.0.1"]), timeoutMs: 5_000 },
    },
    createLogger("silent"),
  );
  try {
    await withClient(options.rootUrl, async (client) => {
      for (;;) {
        const { rows } = await client.query<{ n: number }>(
          "select count(*)::int as n from app_public.webhook_deliveries where endpoint_id = $1 and status = 'succeeded'",
          [endpointId],
        );
        if (rows[0]!.n >= options.count) return;
        if (performance.now() - started > 300_000)
          throw new Error(`only ${rows[0]!.n} of ${options.count} deliveries succeeded in 300 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    const seconds = (performance.now() - started) / 1000;
    if (received < options.count) throw new Error(`the receiver saw ${received} of ${options.count} deliveries`);
    return {
      deliveries: options.count,
      seconds: Math.round(seconds * 10) / 10,
      perSecond: Math.round(options.count / seconds),
      concurrency: options.concurrency,
    };
  } finally {
    await worker.stop();
    receiver.close();
    await withClient(options.rootUrl, (client) => removeEndpoint(client, endpointId));
  }
}
