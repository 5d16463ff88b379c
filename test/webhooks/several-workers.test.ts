import http from "node:http";
import { afterAll, expect, it, vi } from "vitest";
import { freePort } from "../../src/net/free-port.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { activeUser, ticketIn } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { registerEndpoint } from "./webhook-helpers.ts";

/**
 * Several workers on one database (`npm run worker` on many machines, or
 * one beside `npm start`): they share the deliveries, and each delivery is
 * sent once. A receiver that holds every request until released shows all
 * workers busy at the same time; after the release, every event arrives
 * exactly once. (Delivery rates are measured by `npm run bench`.)
 */
const database = useTestDatabase();
const workers: JobWorker[] = [];
let server: http.Server | undefined;
const held: http.ServerResponse[] = [];
let released = false;

function release(): void {
  released = true;
  for (const res of held.splice(0)) res.writeHead(204).end();
}

afterAll(async () => {
  release();
  await Promise.all(workers.map((worker) => worker.stop()));
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

const WORKERS = 3;
const CONCURRENCY = 2;
const EVENTS = 60;

it("three workers share the deliveries at once and send each exactly once", { timeout: 90_000 }, async () => {
  const owner = database.current.owner;
  const admin = await activeUser(owner, "Workers Admin", "admin");
  const customer = await activeUser(owner, "Workers Customer", "customer");
  const ticket = await ticketIn(owner, customer.id, "open");

  const ids: string[] = [];
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      ids.push(String(req.headers["webhook-id"]));
      if (released) res.writeHead(204).end();
      else held.push(res);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
  const endpoint = await registerEndpoint(database.current.authenticator, admin.id, `http://127.0.0.1:${port}/hook`, [
    "ticket.commented",
  ]);

  await owner.query(
    `insert into app_public.ticket_comments (ticket_id, author_id, body)
     select $1, $2, 'Comment ' || n from generate_series(1, $3::int) as n`,
    [ticket, customer.id, EVENTS],
  );
  for (let n = 0; n < WORKERS; n++) {
    workers.push(
      await startJobWorker(
        {
          ownerUrl: database.current.urls.owner,
          concurrency: CONCURRENCY,
          webhooks: { httpsOnly: false, allowedHosts: new Set(["127.0.0.1"]), timeoutMs: 60_000 },
        },
        createLogger("silent"),
      ),
    );
  }

  // Each worker runs at most CONCURRENCY jobs: this many held requests means every worker has some.
  await vi.waitFor(() => expect(held.length).toBe(WORKERS * CONCURRENCY), { timeout: 30_000, interval: 50 });
  // Every job in flight is locked by its own worker slot, none by two.
  const { rows: locks } = await owner.query<{ jobs: number; lockers: number }>(
    "select count(*)::int as jobs, count(distinct locked_by)::int as lockers from graphile_worker._private_jobs where locked_by is not null",
  );
  expect(locks[0]).toEqual({ jobs: WORKERS * CONCURRENCY, lockers: WORKERS * CONCURRENCY });
  expect(held.length).toBe(WORKERS * CONCURRENCY);

  release();
  await vi.waitFor(
    async () => {
      const { rows } = await owner.query<{ n: number }>(
        "select count(*)::int as n from app_public.webhook_deliveries where endpoint_id = $1 and status = 'succeeded'",
        [endpoint.id],
      );
      expect(rows[0]!.n).toBe(EVENTS);
    },
    { timeout: 60_000, interval: 200 },
  );
  expect(ids).toHaveLength(EVENTS);
  expect(new Set(ids).size).toBe(EVENTS);
  const { rows: attempts } = await owner.query<{ attempts: number; n: number }>(
    "select attempts, count(*)::int as n from app_public.webhook_deliveries where endpoint_id = $1 group by attempts",
    [endpoint.id],
  );
  expect(attempts).toEqual([{ attempts: 1, n: EVENTS }]);
});
