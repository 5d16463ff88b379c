import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { runCli } from "../support/cli-process.ts";
import { activeUser, commentAs, ticketIn } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { registerEndpoint, startReceiver, useFastWebhookPolicy, type Receiver } from "./webhook-helpers.ts";

/**
 * At-least-once across a crash: `npm run worker` (a real process) is killed
 * with SIGKILL while its delivery waits for the receiver; the delivery is
 * still pending in the log, and the next worker to start sends it again.
 */
const database = useTestDatabase();
let receiver: Receiver;
let restarted: JobWorker | undefined;

beforeAll(async () => {
  await useFastWebhookPolicy(database.current.owner);
  receiver = await startReceiver();
});

afterAll(async () => {
  await restarted?.stop();
  await receiver?.close();
});

it("a worker killed mid-delivery loses nothing: the next worker redelivers it", { timeout: 90_000 }, async () => {
  const owner = database.current.owner;
  const admin = await activeUser(owner, "Crash Admin", "admin");
  const customer = await activeUser(owner, "Crash Customer", "customer");
  // The first arrival is never answered; later ones are.
  receiver.behave("/crash", (_request, seen) => (seen === 1 ? "hang" : 200));
  const endpoint = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/crash"), [
    "ticket.commented",
  ]);

  const worker = runCli("worker", [], {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    DATABASE_OWNER_URL: database.current.urls.owner,
    WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
    WEBHOOK_TIMEOUT_MS: "60000",
    // The ticket's receipt mail is not what this test is about; nothing lands in the project's .data.
    MAIL_DISABLED: "true",
  });
  try {
    await worker.waitFor("job worker running", 60);
    const ticket = await ticketIn(owner, customer.id, "open");
    await commentAs(database.current.authenticator, customer, ticket, "Sent while the worker dies");
    await vi.waitFor(async () => expect(receiver.received.some((r) => r.path === "/crash")).toBe(true), {
      timeout: 20_000,
      interval: 200,
    });
  } finally {
    process.kill(-worker.child.pid!, "SIGKILL");
    await worker.exited;
  }
  const { rows: pending } = await owner.query(
    "select id, status, attempts from app_public.webhook_deliveries where endpoint_id = $1",
    [endpoint.id],
  );
  expect(pending).toMatchObject([{ status: "pending", attempts: 0 }]);

  // Past the stall limit (2 s in the test policy), a new worker starts.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  restarted = await startJobWorker(
    {
      ownerUrl: database.current.urls.owner,
      concurrency: 2,
      webhooks: { httpsOnly: false, allowedHosts: new Set(["127.0.0.1"]), timeoutMs: 5_000 },
    },
    createLogger("silent"),
  );
  await vi.waitFor(
    async () => {
      const { rows } = await owner.query("select status from app_public.webhook_deliveries where endpoint_id = $1", [
        endpoint.id,
      ]);
      expect(rows[0]?.status === "succeeded").toBe(true);
    },
    { timeout: 30_000, interval: 200 },
  );
  const arrivals = receiver.received.filter((r) => r.path === "/crash");
  expect(arrivals).toHaveLength(2);
  expect(arrivals[1]!.headers["webhook-id"]).toBe(arrivals[0]!.headers["webhook-id"]);
  expect(arrivals[1]!.body).toBe(arrivals[0]!.body);
});

it("npm run worker stops cleanly on Ctrl-C", { timeout: 60_000 }, async () => {
  const worker = runCli("worker", [], {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    DATABASE_OWNER_URL: database.current.urls.owner,
    MAIL_DISABLED: "true",
  });
  await worker.waitFor("job worker running", 45);
  worker.interrupt();
  expect(await worker.exited).toBe(0);
  expect(worker.stderr()).toContain("job worker stopped");
});
