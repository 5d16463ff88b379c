import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { activeUser, ticketIn } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { registerEndpoint, startReceiver, type Receiver } from "./webhook-helpers.ts";

/**
 * Figures for docs/webhooks.md, with generous bounds only (a loaded 2-core
 * machine must not fail them): what queuing deliveries costs a write, and
 * how many deliveries a worker sends per second to a local receiver.
 */
const database = useTestDatabase();
let receiver: Receiver;
let worker: JobWorker | undefined;

beforeAll(async () => {
  receiver = await startReceiver();
});

afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
});

const COMMENTS = 300;

async function timeComments(ticket: string, author: string): Promise<number> {
  const started = performance.now();
  for (let n = 0; n < COMMENTS; n++) {
    await database.current.owner.query("insert into app_public.ticket_comments (ticket_id, author_id, body) values ($1, $2, $3)", [
      ticket,
      author,
      `Comment ${n}`,
    ]);
  }
  return (performance.now() - started) / COMMENTS;
}

it("measures the write cost of queuing and the delivery rate", { timeout: 120_000 }, async () => {
  const owner = database.current.owner;
  const admin = await activeUser(owner, "Bench Admin", "admin");
  const customer = await activeUser(owner, "Bench Customer", "customer");
  const ticket = await ticketIn(owner, customer.id, "open");

  await timeComments(ticket, customer.id); // warm-up
  // Before webhooks: the event log without its queuing trigger.
  await owner.query("alter table app_private.realtime_events disable trigger _600_queue_webhooks");
  const before = await timeComments(ticket, customer.id);
  await owner.query("alter table app_private.realtime_events enable trigger _600_queue_webhooks");
  const withoutEndpoints = await timeComments(ticket, customer.id);
  const endpoint = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/bench"), ["ticket.commented"]);
  const withEndpoint = await timeComments(ticket, customer.id);

  const started = performance.now();
  worker = await startJobWorker(
    { ownerUrl: database.current.urls.owner, concurrency: 4, webhooks: { httpsOnly: false, allowedHosts: new Set(["127.0.0.1"]), timeoutMs: 5_000 } },
    createLogger("silent"),
  );
  await vi.waitFor(async () => {
    const { rows } = await owner.query<{ n: number }>(
      "select count(*)::int as n from app_public.webhook_deliveries where endpoint_id = $1 and status = 'succeeded'",
      [endpoint.id],
    );
    expect(rows[0]!.n === COMMENTS).toBe(true);
  }, { timeout: 90_000, interval: 200 });
  const seconds = (performance.now() - started) / 1000;
  expect(receiver.received.filter((r) => r.path === "/bench")).toHaveLength(COMMENTS);
  const perSecond = COMMENTS / seconds;
  console.log(
    `webhooks: comment insert ${before.toFixed(2)} ms before webhooks, ${withoutEndpoints.toFixed(2)} ms without endpoints, ${withEndpoint.toFixed(2)} ms with one matching endpoint; ` +
      `${COMMENTS} deliveries in ${seconds.toFixed(1)} s = ${perSecond.toFixed(0)}/s (concurrency 4, local receiver)`,
  );
  // Generous: queuing a delivery must not make a write several times slower.
  expect(withEndpoint).toBeLessThan(withoutEndpoints * 5 + 5);
});
