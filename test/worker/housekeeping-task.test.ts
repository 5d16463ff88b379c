import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { HOUSEKEEPING_CRONTAB, startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * Housekeeping is a task of the job worker: its crontab schedules it every
 * ten minutes; here it is queued by hand (as the cron would) and must prune
 * what db:maintain prunes, plus finished deliveries past their retention.
 */
const database = useTestDatabase();
let worker: JobWorker;

beforeAll(async () => {
  worker = await startJobWorker(
    {
      ownerUrl: database.current.urls.owner,
      concurrency: 1,
      webhooks: { httpsOnly: true, allowedHosts: new Set(), timeoutMs: 1_000 },
    },
    createLogger("silent"),
  );
});

afterAll(async () => {
  await worker?.stop();
});

it("is on the crontab every ten minutes", () => {
  expect(HOUSEKEEPING_CRONTAB).toMatch(/^\*\/10 \* \* \* \* housekeeping /);
});

it("prunes expired login attempts and old finished deliveries when run", async () => {
  const owner = database.current.owner;
  await owner.query(
    `insert into app_private.login_attempts (email, ip, success, reason, attempted_at)
     select 'old@example.com', '203.0.113.7', false, 'rate_limited', now() - interval '30 days' from generate_series(1, 50)`,
  );
  const { rows: endpoints } = await owner.query<{ id: string }>(
    `insert into app_public.webhook_endpoints (url, event_kinds, is_active, secret)
     values ('https://hooks.example.com/old', '{ticket.created}', false, app_public.new_webhook_secret()) returning id`,
  );
  await owner.query(
    `insert into app_public.webhook_deliveries (endpoint_id, event_id, event_type, payload, status, created_at)
     values ($1, 1, 'ticket.created', '{}', 'succeeded', now() - interval '90 days'),
            ($1, 2, 'ticket.created', '{}', 'succeeded', now())`,
    [endpoints[0]!.id],
  );
  await owner.query("select graphile_worker.add_job('housekeeping', '{}'::json)");
  await vi.waitFor(
    async () => {
      const { rows } = await owner.query<{ attempts: number; deliveries: number }>(
        `select (select count(*)::int from app_private.login_attempts where email = 'old@example.com') as attempts,
              (select count(*)::int from app_public.webhook_deliveries) as deliveries`,
      );
      expect(rows[0]!.attempts === 0 && rows[0]!.deliveries === 1).toBe(true);
    },
    { timeout: 20_000, interval: 200 },
  );
});
