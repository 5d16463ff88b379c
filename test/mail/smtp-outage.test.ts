import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { mailsTo, startSmtpSink, testMailConfig, useFastMailPolicy, type SmtpSink } from "./mail-helpers.ts";

/**
 * An SMTP server that refuses every message for a while delays mail, never
 * loses it: each failed attempt is recorded and retried with backoff
 * (mail_policy), and once the server accepts again the mail arrives once.
 */
const database = useTestDatabase();
let sink: SmtpSink;
let worker: JobWorker;

beforeAll(async () => {
  await useFastMailPolicy(database.current.owner);
  sink = await startSmtpSink();
  worker = await startJobWorker(
    {
      ownerUrl: database.current.urls.owner,
      concurrency: 2,
      webhooks: { httpsOnly: false, allowedHosts: new Set(), timeoutMs: 1_000 },
      mail: testMailConfig(sink),
    },
    createLogger("silent"),
  );
});

afterAll(async () => {
  await worker?.stop();
  await sink?.close();
});

it("retries through an outage and delivers exactly once afterwards", async () => {
  const owner = database.current.owner;
  sink.setDown(true);
  const { rows } = await owner.query<{ id: string }>(
    `select app_private.queue_mail('password_reset', 'outage@example.com', null, null,
       jsonb_build_object('displayName', 'Otto', 'token', repeat('ab', 32), 'minutes', 30)) as id`,
  );
  const mailId = rows[0]!.id;
  // At least three refused attempts, each recorded, the mail still pending.
  await vi.waitFor(
    async () => {
      const { rows: state } = await owner.query(
        "select status, attempts, last_error from app_private.outbound_mails where id = $1",
        [mailId],
      );
      if (state[0].attempts < 3) throw new Error(`attempts so far: ${state[0].attempts}`);
      expect(state[0].status).toBe("pending");
      expect(state[0].last_error).toMatch(/451|unavailable/i);
    },
    { timeout: 30_000, interval: 100 },
  );
  expect(sink.refusedCount()).toBeGreaterThanOrEqual(3);
  expect(sink.received).toHaveLength(0);

  sink.setDown(false);
  const [mail] = await mailsTo(sink, "outage@example.com");
  expect(mail!.parsed.text).toContain(`token=${"ab".repeat(32)}`);
  // Recorded as sent, and no attempt left queued: one delivery, no duplicate
  // later. The task records the attempt in its own transaction; the worker
  // removes the finished job just after, so both are awaited.
  await vi.waitFor(
    async () => {
      const { rows: state } = await owner.query("select status, params from app_private.outbound_mails where id = $1", [
        mailId,
      ]);
      expect(state[0]).toEqual({ status: "sent", params: {} });
      const { rows: jobs } = await owner.query(
        "select count(*)::integer as n from graphile_worker.jobs where key = $1",
        [`mail:${mailId}`],
      );
      expect(jobs[0].n).toBe(0);
    },
    { timeout: 30_000, interval: 100 },
  );
  expect(sink.received.filter((m) => m.envelopeTo.includes("outage@example.com"))).toHaveLength(1);
});
