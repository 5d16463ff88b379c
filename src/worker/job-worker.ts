import pg from "pg";
import { run, type Runner, type Task } from "graphile-worker";
import { maintain } from "../database/maintenance.ts";
import type { Logger } from "../observability/logger.ts";
import { ATTACHMENT_CRONTAB, attachmentTasks } from "../storage/attachment-tasks.ts";
import { defaultStorageConfig, type StorageConfig } from "../storage/storage-config.ts";
import { workerLogger } from "./job-queue-schema.ts";
import { deliverWebhookTask, type WebhookSettings } from "./webhook-delivery.ts";
import type { MailConfig } from "../mail/mail-config.ts";
import { sendMailTask } from "../mail/mail-delivery.ts";
import { createMailSender } from "../mail/mail-transport.ts";

/**
 * The graphile-worker runner: webhook deliveries (`deliver_webhook`, queued
 * from SQL), scheduled housekeeping (`housekeeping`, from the crontab
 * below: partitions, expired security rows, old deliveries, stalled
 * deliveries) and the SLA clock (`sla_clock`, every minute: breaches and
 * at-risk clocks that happen with no write become SLA events). It connects as the database owner, like migrations and
 * `db:maintain`. It runs inside `npm start` (WORKER_IN_PROCESS) or alone
 * (`npm run worker`); any number may run against one database: jobs are
 * taken with row locks, and a cron item runs once per tick across workers.
 */
export interface WorkerConfig {
  ownerUrl: string;
  /** Jobs run at once by this worker (WORKER_CONCURRENCY). */
  concurrency: number;
  webhooks: WebhookSettings;
  /** Attachment storage, for the clean-up job (storage/attachment-tasks.ts); unset: the local default. */
  storage?: StorageConfig;
  /** Outbound mail (docs/email.md); absent: this worker leaves send_mail jobs to others. */
  mail?: MailConfig;
  /**
   * How often the worker looks for jobs that became due (retries after their
   * backoff, scheduled runs); new jobs arrive at once by LISTEN/NOTIFY.
   * Default 1 s; tests of retries shorten it.
   */
  pollIntervalMs?: number;
}

export interface JobWorker {
  /** Stops taking jobs and waits for those running. */
  stop(): Promise<void>;
}

export const HOUSEKEEPING_CRONTAB = "*/10 * * * * housekeeping ?max=1\n";
/** Every minute: SLA clocks that passed their due time (or came at risk) with no write are recorded. */
export const SLA_CLOCK_CRONTAB = "* * * * * sla_clock ?max=1\n";

/** The SLA events of clocks that passed a due time unattended; a database without them has nothing to do. */
export async function recordSlaEvents(client: Pick<pg.ClientBase, "query">): Promise<number | undefined> {
  const { rows: present } = await client.query<{ sla: boolean }>(
    "select to_regprocedure('app_private.record_sla_events(uuid[])') is not null as sla",
  );
  if (!present[0]?.sla) return undefined;
  const { rows } = await client.query<{ recorded: number }>("select app_private.record_sla_events() as recorded");
  return rows[0]?.recorded;
}

const slaClockTask =
  (logger: Logger): Task =>
  async (_payload, helpers) => {
    await helpers.withPgClient(async (client) => {
      const recorded = await recordSlaEvents(client);
      logger.debug({ scope: "sla_clock", recorded }, "SLA clocks checked");
    });
  };

/**
 * Stalled deliveries queued again, finished ones past retention pruned; a
 * database migrated to an older release has no webhooks, and nothing to do.
 */
async function maintainDeliveries(
  client: Pick<pg.ClientBase, "query">,
): Promise<{ pruned: number; requeued: number; mails?: number } | undefined> {
  const { rows: present } = await client.query<{ webhooks: boolean; mail: boolean }>(
    `select to_regprocedure('app_private.requeue_stalled_webhook_deliveries()') is not null as webhooks,
            to_regprocedure('app_private.prune_outbound_mails()') is not null as mail`,
  );
  if (!present[0]?.webhooks) return undefined;
  const { rows } = await client.query<{ pruned: number; requeued: number }>(
    `select app_private.prune_webhook_deliveries() as pruned,
            app_private.requeue_stalled_webhook_deliveries() as requeued`,
  );
  const deliveries = rows[0];
  if (!deliveries || !present[0]?.mail) return deliveries;
  // Mail (docs/email.md): finished mails, expired links and old inbound log rows pruned.
  const { rows: mail } = await client.query<{ mails: number }>(
    "select app_private.prune_outbound_mails() + app_private.prune_email_tokens() + app_private.prune_inbound_emails() as mails",
  );
  return { ...deliveries, mails: mail[0]?.mails ?? 0 };
}

/** Partitions, expired rows and old deliveries pruned, stalled deliveries queued again. */
const housekeepingTask =
  (logger: Logger): Task =>
  async (_payload, helpers) => {
    await helpers.withPgClient(async (client) => {
      const pruned = await maintain(client);
      const deliveries = await maintainDeliveries(client);
      logger.debug({ scope: "housekeeping", pruned, deliveries }, "housekeeping done");
    });
  };

export async function startJobWorker(config: WorkerConfig, logger: Logger): Promise<JobWorker> {
  const pool = new pg.Pool({
    connectionString: config.ownerUrl,
    max: config.concurrency + 2,
    application_name: "ticketing-worker",
  });
  pool.on("error", (error) => logger.warn({ scope: "worker", err: error }, "idle worker connection lost"));
  let runner: Runner;
  const mailSender = config.mail ? createMailSender(config.mail.transport) : undefined;
  try {
    // Deliveries left pending by a worker that died mid-attempt go first.
    await maintainDeliveries(pool);
    runner = await run({
      pgPool: pool,
      concurrency: config.concurrency,
      noHandleSignals: true,
      pollInterval: config.pollIntervalMs ?? 1_000,
      logger: workerLogger(logger),
      crontab: HOUSEKEEPING_CRONTAB + SLA_CLOCK_CRONTAB + ATTACHMENT_CRONTAB,
      taskList: {
        deliver_webhook: deliverWebhookTask(config.webhooks),
        housekeeping: housekeepingTask(logger),
        sla_clock: slaClockTask(logger),
        ...attachmentTasks(config.storage ?? defaultStorageConfig(), logger),
        ...(config.mail && mailSender ? { send_mail: sendMailTask(config.mail, mailSender) } : {}),
      },
    });
  } catch (error) {
    mailSender?.close();
    await pool.end();
    throw error;
  }
  logger.info({ scope: "worker", concurrency: config.concurrency }, "job worker running");
  return {
    async stop() {
      await runner.stop();
      mailSender?.close();
      await pool.end();
    },
  };
}
