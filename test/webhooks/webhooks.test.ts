import http from "node:http";
import type pg from "pg";
import { freePort } from "../../src/net/free-port.ts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { JobWorker } from "../../src/worker/job-worker.ts";
import { actorOf, commentAs, ticketIn, type FixtureUser } from "../support/fixtures.ts";
import { actAs } from "../support/test-database.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import {
  registerEndpoint,
  startWebhookStage,
  stopWebhookStage,
  verifyStandardWebhook,
  type Receiver,
} from "./webhook-helpers.ts";

/**
 * Webhooks end to end: events written by real changes, queued in their
 * transaction, delivered by the real worker to a real receiver on
 * 127.0.0.1, signed as Standard Webhooks says.
 */
const database = useTestDatabase();
const testApi = useTestApi(database);
let receiver: Receiver;
let worker: JobWorker;
let admin: FixtureUser;
let agent: FixtureUser;
let customer: FixtureUser;

interface DeliveryRow {
  id: string;
  status: string;
  attempts: number;
  response_code: number | null;
  latency_ms: number | null;
  event_type: string;
}

async function deliveriesOf(endpointId: string): Promise<DeliveryRow[]> {
  const { rows } = await database.current.owner.query<DeliveryRow>(
    "select id, status, attempts, response_code, latency_ms, event_type from app_public.webhook_deliveries where endpoint_id = $1 order by created_at",
    [endpointId],
  );
  return rows;
}

beforeAll(async () => {
  ({ admin, agent, customer, receiver, worker } = await startWebhookStage(database.current, 4));
});

afterAll(() => stopWebhookStage({ worker, receiver }));

describe("registering endpoints", () => {
  it("admins register an endpoint over GraphQL and see its secret once, never again", async () => {
    const created = await graphql(
      testApi.current.request,
      `mutation($url: String!) {
        createWebhookEndpoint(input: { url: $url, eventKinds: ["ticket.created"], includeInternal: false }) {
          created { secret webhookEndpoint { rowId url eventKinds isActive } }
        }
      }`,
      { url: receiver.url("/graphql-registered") },
      bearer(admin.id, "ticketing_admin"),
    );
    expect(created.body.errors).toBeUndefined();
    const result = created.body.data.createWebhookEndpoint.created;
    expect(result.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(result.webhookEndpoint).toMatchObject({
      url: receiver.url("/graphql-registered"),
      eventKinds: ["ticket.created"],
      isActive: true,
    });
    // The schema has no field that reads it back.
    const again = await graphql(
      testApi.current.request,
      "query { webhookEndpoints { nodes { rowId secret } } }",
      {},
      bearer(admin.id, "ticketing_admin"),
    );
    expect(again.body.errors?.[0]?.message).toMatch(/secret/);
    // Rotation gives a new one.
    const rotated = await graphql(
      testApi.current.request,
      "mutation($id: UUID!) { rotateWebhookSecret(input: { webhookEndpointId: $id }) { rotated { secret webhookEndpoint { secretRotatedAt } } } }",
      { id: result.webhookEndpoint.rowId },
      bearer(admin.id, "ticketing_admin"),
    );
    expect(rotated.body.errors).toBeUndefined();
    expect(rotated.body.data.rotateWebhookSecret.rotated.secret).not.toBe(result.secret);
    expect(rotated.body.data.rotateWebhookSecret.rotated.webhookEndpoint.secretRotatedAt).not.toBeNull();
  });

  it("refuses bad input with a clear code, naming no table or constraint", async () => {
    for (const input of [
      { url: "not a url", eventKinds: ["ticket.created"] },
      { url: "https://hooks.example.com/x", eventKinds: ["ticket.exploded"] },
      { url: "https://hooks.example.com/x", eventKinds: [] },
    ]) {
      const response = await graphql(
        testApi.current.request,
        "mutation($url: String!, $kinds: [String]!) { createWebhookEndpoint(input: { url: $url, eventKinds: $kinds }) { created { secret } } }",
        { url: input.url, kinds: input.eventKinds },
        bearer(admin.id, "ticketing_admin"),
      );
      expect(response.body.errors?.[0]?.extensions?.code).toBe("INVALID_INPUT");
      expect(JSON.stringify(response.body.errors)).not.toMatch(/webhook_endpoints|constraint/);
    }
    const missing = await graphql(
      testApi.current.request,
      'mutation { rotateWebhookSecret(input: { webhookEndpointId: "00000000-0000-7000-8000-000000000000" }) { rotated { secret } } }',
      {},
      bearer(admin.id, "ticketing_admin"),
    );
    expect(missing.body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("non-admins can neither see nor create endpoints or deliveries", async () => {
    await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/hidden"), ["ticket.updated"]);
    for (const user of [agent, customer]) {
      const seen = await graphql(
        testApi.current.request,
        "query { webhookEndpoints { nodes { rowId } } webhookDeliveries { nodes { rowId } } }",
        {},
        bearer(user.id, user.tokenRole),
      );
      const create = await graphql(
        testApi.current.request,
        `mutation { createWebhookEndpoint(input: { url: "http://127.0.0.1:1/x", eventKinds: ["ticket.created"] }) { created { secret } } }`,
        {},
        bearer(user.id, user.tokenRole),
      );
      expect(seen.body.data?.webhookEndpoints?.nodes ?? []).toEqual([]);
      expect(seen.body.data?.webhookDeliveries?.nodes ?? []).toEqual([]);
      expect(create.body.data?.createWebhookEndpoint ?? null).toBeNull();
      expect(create.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
    // Through SQL as well: the owner's rows are there, the secret column is no one's.
    const { rows } = await database.current.owner.query("select count(*)::int as n from app_public.webhook_endpoints");
    expect(rows[0].n).toBeGreaterThan(0);
    const secretRead = await actAs(database.current.authenticator, actorOf(admin), (client) =>
      client.query("select secret from app_public.webhook_endpoints").then(
        () => "read",
        (error: { code?: string }) => error.code,
      ),
    );
    expect(secretRead).toBe("42501");
  });
});

describe("delivering", () => {
  it("signs each delivery as Standard Webhooks says, with the payload a staff reader sees (no internal notes)", async () => {
    const endpoint = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/signed"), [
      "ticket.commented",
    ]);
    const internal = await registerEndpoint(
      database.current.authenticator,
      admin.id,
      receiver.url("/internal"),
      ["ticket.commented"],
      true,
    );
    const ticket = await ticketIn(database.current.owner, customer.id, "in_progress", agent.id);
    await commentAs(database.current.authenticator, customer, ticket, "A public reply");
    await commentAs(database.current.authenticator, agent, ticket, "A private note", true);

    await vi.waitFor(
      async () => expect(receiver.received.filter((r) => r.path === "/internal").length === 2).toBe(true),
      { timeout: 20_000, interval: 200 },
    );
    await vi.waitFor(async () => expect(receiver.received.some((r) => r.path === "/signed")).toBe(true), {
      timeout: 20_000,
      interval: 200,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const signed = receiver.received.filter((r) => r.path === "/signed");
    expect(signed).toHaveLength(1);
    const request = signed[0]!;
    expect(verifyStandardWebhook(endpoint.secret, request.headers, request.body)).toBe(true);
    // A changed body, or another endpoint's secret, does not verify.
    expect(verifyStandardWebhook(endpoint.secret, request.headers, `${request.body} `)).toBe(false);
    expect(verifyStandardWebhook(internal.secret, request.headers, request.body)).toBe(false);
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({
      type: "ticket.commented",
      data: { ticket: { id: ticket }, comment: { body: "A public reply", isInternal: false } },
    });
    expect(request.body).not.toContain("A private note");

    const internalBodies = receiver.received
      .filter((r) => r.path === "/internal")
      .map((r) => JSON.parse(r.body).data.comment.body);
    expect(internalBodies.sort()).toEqual(["A private note", "A public reply"]);
    for (const r of receiver.received.filter((r) => r.path === "/internal")) {
      expect(verifyStandardWebhook(internal.secret, r.headers, r.body)).toBe(true);
    }
  });

  it("a receiver failing 3 times then succeeding gets exactly one success per event, the attempts logged", async () => {
    receiver.behave("/flaky", (_request, seen) => (seen <= 3 ? 503 : 200));
    const endpoint = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/flaky"), [
      "ticket.commented",
    ]);
    const ticket = await ticketIn(database.current.owner, customer.id, "in_progress", agent.id);
    await commentAs(database.current.authenticator, customer, ticket, "First");
    await commentAs(database.current.authenticator, customer, ticket, "Second");

    await vi.waitFor(
      async () => expect((await deliveriesOf(endpoint.id)).every((d) => d.status === "succeeded")).toBe(true),
      { timeout: 25_000, interval: 200 },
    );
    const deliveries = await deliveriesOf(endpoint.id);
    expect(deliveries).toHaveLength(2);
    for (const delivery of deliveries) {
      expect(delivery).toMatchObject({ status: "succeeded", attempts: 4, response_code: 200 });
      expect(delivery.latency_ms).toBeGreaterThanOrEqual(0);
      const arrivals = receiver.received.filter((r) => r.path === "/flaky" && r.headers["webhook-id"] === delivery.id);
      expect(arrivals.map((r) => r.answered)).toEqual([503, 503, 503, 200]);
    }
    // Admins read the same log over GraphQL.
    const log = await graphql(
      testApi.current.request,
      "query($id: UUID!) { webhookDeliveries(condition: { endpointId: $id }) { nodes { status attempts responseCode latencyMs } } }",
      { id: endpoint.id },
      bearer(admin.id, "ticketing_admin"),
    );
    expect(log.body.data.webhookDeliveries.nodes).toHaveLength(2);
    expect(log.body.data.webhookDeliveries.nodes[0]).toMatchObject({
      status: "succeeded",
      attempts: 4,
      responseCode: 200,
    });
  });

  it("follows no redirect and reads at most a capped response body", async () => {
    receiver.behave("/redirect", () => 302);
    const big = Buffer.alloc(8 * 1024 * 1024, "x");
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(big);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    try {
      const redirecting = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/redirect"), [
        "ticket.commented",
      ]);
      const talkative = await registerEndpoint(
        database.current.authenticator,
        admin.id,
        `http://127.0.0.1:${port}/big`,
        ["ticket.commented"],
      );
      const ticket = await ticketIn(database.current.owner, customer.id, "in_progress", agent.id);
      await commentAs(database.current.authenticator, customer, ticket, "Where to?");
      await vi.waitFor(async () => expect((await deliveriesOf(talkative.id))[0]?.status === "succeeded").toBe(true), {
        timeout: 20_000,
        interval: 200,
      });
      await vi.waitFor(async () => expect(((await deliveriesOf(redirecting.id))[0]?.attempts ?? 0) >= 1).toBe(true), {
        timeout: 20_000,
        interval: 200,
      });
      const [redirected] = await deliveriesOf(redirecting.id);
      expect(redirected).toMatchObject({ response_code: 302 });
      expect(redirected!.status).not.toBe("succeeded");
      // The worker never went where the redirect pointed.
      expect(receiver.received.filter((r) => r.path === "/redirect")).not.toEqual([]);
      expect(receiver.received.filter((r) => r.path === "/redirect-target")).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("an admin redelivers a delivery: same webhook-id, one more attempt", async () => {
    const endpoint = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/again"), [
      "ticket.commented",
    ]);
    const ticket = await ticketIn(database.current.owner, customer.id, "in_progress", agent.id);
    await commentAs(database.current.authenticator, customer, ticket, "Once");
    await vi.waitFor(async () => expect((await deliveriesOf(endpoint.id))[0]?.status === "succeeded").toBe(true), {
      timeout: 20_000,
      interval: 200,
    });
    const [delivery] = await deliveriesOf(endpoint.id);
    const redelivered = await graphql(
      testApi.current.request,
      "mutation($id: UUID!) { redeliverWebhook(input: { deliveryId: $id }) { webhookDelivery { status } } }",
      { id: delivery!.id },
      bearer(admin.id, "ticketing_admin"),
    );
    expect(redelivered.body.errors).toBeUndefined();
    expect(redelivered.body.data.redeliverWebhook.webhookDelivery.status).toBe("pending");
    await vi.waitFor(
      async () =>
        expect(receiver.received.filter((r) => r.headers["webhook-id"] === delivery!.id).length === 2).toBe(true),
      { timeout: 20_000, interval: 200 },
    );
    await vi.waitFor(async () => expect((await deliveriesOf(endpoint.id))[0]?.attempts === 2).toBe(true), {
      timeout: 10_000,
      interval: 200,
    });
    const refused = await graphql(
      testApi.current.request,
      "mutation($id: UUID!) { redeliverWebhook(input: { deliveryId: $id }) { webhookDelivery { status } } }",
      { id: delivery!.id },
      bearer(agent.id, "ticketing_agent"),
    );
    expect(refused.body.errors?.[0]?.extensions?.code).toBeDefined();
  });

  it("a receiver that never answers is disabled after the limit, with an audit entry saying so", async () => {
    receiver.behave("/silent", () => "hang");
    const endpoint = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/silent"), [
      "ticket.commented",
    ]);
    const ticket = await ticketIn(database.current.owner, customer.id, "in_progress", agent.id);
    await commentAs(database.current.authenticator, customer, ticket, "Anyone there?");

    await vi.waitFor(
      async () => {
        const { rows } = await database.current.owner.query(
          "select is_active from app_public.webhook_endpoints where id = $1",
          [endpoint.id],
        );
        expect(rows[0].is_active === false).toBe(true);
      },
      { timeout: 50_000, interval: 200 },
    );
    const [delivery] = await deliveriesOf(endpoint.id);
    // The limit is 8 consecutive failures (the test policy): then no more attempts.
    expect(delivery).toMatchObject({ status: "failed", attempts: 8, response_code: null });
    const { rows: audit } = await database.current.owner.query(
      "select new_data from app_private.audit_log where table_name = 'app_public.webhook_endpoints' and record_id = $1",
      [endpoint.id],
    );
    expect(audit).toHaveLength(1);
    expect(audit[0].new_data).toMatchObject({ is_active: false });
    // A later event is not delivered to it.
    await commentAs(database.current.authenticator, customer, ticket, "Still there?");
    expect(await deliveriesOf(endpoint.id)).toHaveLength(1);
  }, 70_000);

  it("a rolled-back change queues nothing", async () => {
    const endpoint = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/rollback"), [
      "ticket.commented",
    ]);
    const ticket = await ticketIn(database.current.owner, customer.id, "in_progress", agent.id);
    const counts = async (client: Pick<pg.ClientBase, "query">) => {
      const { rows } = await client.query<{ deliveries: number; jobs: number }>(
        `select (select count(*)::int from app_public.webhook_deliveries where endpoint_id = $1) as deliveries,
                (select count(*)::int from graphile_worker._private_jobs where payload->>'deliveryId' in (select id::text from app_public.webhook_deliveries where endpoint_id = $1)) as jobs`,
        [endpoint.id],
      );
      return rows[0]!;
    };
    // A comment made in a transaction that rolls back (the owner looks inside it).
    const client = await database.current.owner.connect();
    try {
      await client.query("begin");
      await client.query(
        "insert into app_public.ticket_comments (ticket_id, author_id, body) values ($1, $2, 'Never committed')",
        [ticket, customer.id],
      );
      expect(await counts(client)).toEqual({ deliveries: 1, jobs: 1 });
      await client.query("rollback");
    } finally {
      client.release();
    }
    expect(await counts(database.current.owner)).toEqual({ deliveries: 0, jobs: 0 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(receiver.received.filter((r) => r.path === "/rollback")).toEqual([]);
  });
});
