import http from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { checkWebhookUrl, guardedLookup, isInternalAddress } from "../../src/worker/outbound-address.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { activeUser, commentAs, ticketIn } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { registerEndpoint, startReceiver, useFastWebhookPolicy, type Receiver } from "./webhook-helpers.ts";

/** SSRF: webhooks never reach the service's own network unless a host is allowed by name. */
describe("internal addresses", () => {
  it.each([
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
  ])("%s is internal", (address) => {
    expect(isInternalAddress(address)).toBe(true);
  });

  it.each(["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])("%s is not", (address) => {
    expect(isInternalAddress(address)).toBe(false);
  });

  it("refuses http in production, credentials in URLs and literal internal addresses unless allowed", () => {
    const none = new Set<string>();
    expect(() =>
      checkWebhookUrl(new URL("http://hooks.example.com/x"), { httpsOnly: true, allowedHosts: none }),
    ).toThrow(/https/);
    expect(() =>
      checkWebhookUrl(new URL("ftp://hooks.example.com/x"), { httpsOnly: false, allowedHosts: none }),
    ).toThrow(/https/);
    expect(() =>
      checkWebhookUrl(new URL("https://u:p@hooks.example.com/x"), { httpsOnly: true, allowedHosts: none }),
    ).toThrow(/credentials/);
    expect(() =>
      checkWebhookUrl(new URL("https://169.254.169.254/latest"), { httpsOnly: true, allowedHosts: none }),
    ).toThrow(/refused/);
    expect(() => checkWebhookUrl(new URL("https://[::1]/x"), { httpsOnly: true, allowedHosts: none })).toThrow(
      /refused/,
    );
    expect(() =>
      checkWebhookUrl(new URL("http://127.0.0.1:9/x"), { httpsOnly: false, allowedHosts: new Set(["127.0.0.1"]) }),
    ).not.toThrow();
    expect(() =>
      checkWebhookUrl(new URL("https://hooks.example.com/x"), { httpsOnly: true, allowedHosts: none }),
    ).not.toThrow();
  });

  it("refuses a name that resolves to an internal address at connection time", async () => {
    const lookup = guardedLookup(new Set());
    const error = await new Promise<Error | null>((resolve) =>
      lookup("localhost", { family: 0 }, (err) => resolve(err as Error | null)),
    );
    expect(error?.message).toMatch(/refused address for localhost/);
    const allowed = await new Promise<Error | null>((resolve) =>
      guardedLookup(new Set(["localhost"]))("localhost", { family: 0 }, (err) => resolve(err as Error | null)),
    );
    expect(allowed).toBeNull();
  });
});

describe("a worker without allowed hosts", () => {
  const database = useTestDatabase();
  let receiver: Receiver;
  let worker: JobWorker;

  beforeAll(async () => {
    await useFastWebhookPolicy(database.current.owner);
    receiver = await startReceiver();
    worker = await startJobWorker(
      {
        ownerUrl: database.current.urls.owner,
        concurrency: 2,
        webhooks: { httpsOnly: false, allowedHosts: new Set(), timeoutMs: 2_000 },
      },
      createLogger("silent"),
    );
  });

  afterAll(async () => {
    await worker?.stop();
    await receiver?.close();
  });

  it("never connects to 127.0.0.1 or localhost: every attempt is logged as refused", async () => {
    const owner = database.current.owner;
    const admin = await activeUser(owner, "SSRF Admin", "admin");
    const customer = await activeUser(owner, "SSRF Customer", "customer");
    const byAddress = await registerEndpoint(database.current.authenticator, admin.id, receiver.url("/literal"), [
      "ticket.commented",
    ]);
    const byName = await registerEndpoint(
      database.current.authenticator,
      admin.id,
      receiver.url("/named").replace("127.0.0.1", "localhost"),
      ["ticket.commented"],
    );
    const ticket = await ticketIn(owner, customer.id, "open");
    await commentAs(database.current.authenticator, customer, ticket, "Probe");
    await vi.waitFor(
      async () => {
        const { rows } = await owner.query<{ last_error: string | null }>(
          "select last_error from app_public.webhook_deliveries where endpoint_id in ($1, $2) and attempts >= 2",
          [byAddress.id, byName.id],
        );
        expect(rows.length === 2 && rows.every((row) => /refused address/.test(row.last_error ?? ""))).toBe(true);
      },
      { timeout: 20_000, interval: 200 },
    );
    expect(receiver.received).toEqual([]);
  });
});

it("the receiver helper itself answers on 127.0.0.1 (so the refusal above is the worker's doing)", async () => {
  const receiver = await startReceiver();
  try {
    const status = await new Promise<number>((resolve, reject) =>
      http
        .request(receiver.url("/ping"), { method: "POST" }, (res) => resolve(res.statusCode ?? 0))
        .on("error", reject)
        .end("{}"),
    );
    expect(status).toBe(204);
  } finally {
    await receiver.close();
  }
});
