import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type pg from "pg";
import { freePort } from "../../src/net/free-port.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { activeUser, type FixtureUser } from "../support/fixtures.ts";
import type { TestDatabase } from "../support/test-database.ts";

/**
 * A real webhook receiver on 127.0.0.1 and a Standard Webhooks verifier
 * written from the specification (not from the sender's code).
 */
export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  answered: number | "none";
}

export type Behaviour = (request: Received, seen: number) => number | "hang";

export interface Receiver {
  url(path: string): string;
  received: Received[];
  /** How each path answers: a status, or "hang" (never answers). Default 204. */
  behave(path: string, behaviour: Behaviour): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const behaviours = new Map<string, Behaviour>();
  const seenById = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const entry: Received = {
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        answered: "none",
      };
      received.push(entry);
      const key = `${entry.path} ${String(req.headers["webhook-id"])}`;
      const seen = (seenById.get(key) ?? 0) + 1;
      seenById.set(key, seen);
      const outcome = (behaviours.get(entry.path) ?? (() => 204))(entry, seen);
      if (outcome === "hang") {
        hanging.add(res);
        return;
      }
      entry.answered = outcome;
      // A redirect points somewhere a sender that followed it would be seen at.
      res.writeHead(outcome, outcome >= 300 && outcome < 400 ? { location: "/redirect-target" } : {}).end("ok");
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    behave: (path, behaviour) => behaviours.set(path, behaviour),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Standard Webhooks verification: signature over `${id}.${timestamp}.${body}`, timestamp within 5 minutes. */
export function verifyStandardWebhook(secret: string, headers: http.IncomingHttpHeaders, body: string): boolean {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") return false;
  if (!secret.startsWith("whsec_")) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    if (version !== "v1" || !signature) return false;
    const given = Buffer.from(signature, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * The delivery policy made fast for tests (the documented way to change it:
 * replace app_private.webhook_policy()): retries after 0.2 s doubling up to
 * 0.5 s, 10 attempts, an endpoint disabled after 8 consecutive failures, a
 * pending delivery stalled after 2 s.
 */
export async function useFastWebhookPolicy(owner: pg.Pool): Promise<void> {
  await owner.query(`
    create or replace function app_private.webhook_policy(
      out max_attempts integer, out first_retry interval, out max_retry interval,
      out failures_before_disable integer, out delivery_retention interval, out stalled_after interval)
    language sql immutable set search_path = pg_catalog, pg_temp
    as $$ select 10, interval '200 milliseconds', interval '500 milliseconds', 8, interval '30 days', interval '2 seconds' $$`);
}

/** Registers an endpoint through the real function as an admin (committed); returns its id and secret. */
export async function registerEndpoint(
  authenticator: pg.Pool,
  adminId: string,
  url: string,
  eventKinds: string[],
  includeInternal = false,
): Promise<{ id: string; secret: string }> {
  const client = await authenticator.connect();
  try {
    await client.query("begin");
    await client.query(
      "select set_config('role', 'ticketing_admin', true), set_config('jwt.claims.user_id', $1, true)",
      [adminId],
    );
    const { rows } = await client.query<{ id: string; secret: string }>(
      "select (r).webhook_endpoint_id as id, (r).secret from app_public.create_webhook_endpoint($1, $2, $3) as r",
      [url, eventKinds, includeInternal],
    );
    await client.query("commit");
    return rows[0]!;
  } finally {
    client.release();
  }
}

/** What a webhook test file works with: its cast, a receiver and a worker delivering to it. */
export interface WebhookStage {
  admin: FixtureUser;
  agent: FixtureUser;
  customer: FixtureUser;
  receiver: Receiver;
  worker: JobWorker;
}

/**
 * An admin, an agent and a customer, a receiver on 127.0.0.1 and a job worker
 * that may deliver to it (plain http, 127.0.0.1 allowed, 1 s timeout), with
 * the fast retry policy. Stop it with stopWebhookStage.
 */
export async function startWebhookStage(database: TestDatabase, concurrency: number): Promise<WebhookStage> {
  const owner = database.owner;
  await useFastWebhookPolicy(owner);
  const admin = await activeUser(owner, "Hook Admin", "admin");
  const agent = await activeUser(owner, "Hook Agent", "agent");
  const customer = await activeUser(owner, "Hook Customer", "customer");
  const receiver = await startReceiver();
  const worker = await startJobWorker(
    {
      ownerUrl: database.urls.owner,
      concurrency,
      webhooks: { httpsOnly: false, allowedHosts: new Set(["127.0.0.1"]), timeoutMs: 1_000 },
      // Retries come after 0.2-0.5 s (the fast policy): look for them often.
      pollIntervalMs: 100,
    },
    createLogger("silent"),
  );
  return { admin, agent, customer, receiver, worker };
}

export async function stopWebhookStage(stage: Partial<Pick<WebhookStage, "receiver" | "worker">>): Promise<void> {
  await stage.worker?.stop();
  await stage.receiver?.close();
}
