import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { JobWorker } from "../../src/worker/job-worker.ts";
import { attachmentBy, commentAs, ticketIn, type FixtureUser } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import {
  registerEndpoint,
  startWebhookStage,
  stopWebhookStage,
  verifyStandardWebhook,
  type Receiver,
} from "./webhook-helpers.ts";

/**
 * attachment.created end to end: an attachment made ready by the real state
 * change is queued in that transaction and delivered by the real worker to a
 * real receiver on 127.0.0.1, signed; a file of an internal note only to an
 * endpoint with includeInternal.
 */
const database = useTestDatabase();
let receiver: Receiver;
let worker: JobWorker;
let admin: FixtureUser;
let agent: FixtureUser;
let customer: FixtureUser;

beforeAll(async () => {
  ({ admin, agent, customer, receiver, worker } = await startWebhookStage(database.current, 2));
});

afterAll(() => stopWebhookStage({ worker, receiver }));

const bodiesAt = (path: string) => receiver.received.filter((r) => r.path === path);

describe("attachment.created", () => {
  it("is delivered signed, with the file's metadata and no URL; an internal note's file only with includeInternal", async () => {
    const authenticator = database.current.authenticator;
    const plain = await registerEndpoint(authenticator, admin.id, receiver.url("/files"), ["attachment.created"]);
    const internal = await registerEndpoint(
      authenticator,
      admin.id,
      receiver.url("/files-internal"),
      ["attachment.created"],
      true,
    );
    // Another kind only: hears nothing of attachments.
    const commentsOnly = await registerEndpoint(
      authenticator,
      admin.id,
      receiver.url("/comments-only"),
      ["ticket.commented"],
      true,
    );
    const ticket = await ticketIn(database.current.owner, customer.id, "in_progress", agent.id);
    const reply = await commentAs(authenticator, customer, ticket, "Photo of the error");
    const note = await commentAs(authenticator, agent, ticket, "Internal diagnosis", true);

    const publicFile = await attachmentBy(
      authenticator,
      { id: customer.id, role: "customer" },
      ticket,
      "error.png",
      reply,
    );
    const internalFile = await attachmentBy(
      authenticator,
      { id: agent.id, role: "agent" },
      ticket,
      "diagnosis.png",
      note,
    );
    // Neither pending nor rejected files are announced.
    await attachmentBy(authenticator, { id: customer.id, role: "customer" }, ticket, "unsent.png", null, "pending");
    await attachmentBy(authenticator, { id: customer.id, role: "customer" }, ticket, "broken.png", null, "rejected");

    await vi.waitFor(() => expect(bodiesAt("/files-internal")).toHaveLength(2), { timeout: 20_000, interval: 200 });
    await vi.waitFor(() => expect(bodiesAt("/files")).toHaveLength(1), { timeout: 20_000, interval: 200 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    expect(bodiesAt("/files")).toHaveLength(1);
    const request = bodiesAt("/files")[0]!;
    expect(verifyStandardWebhook(plain.secret, request.headers, request.body)).toBe(true);
    expect(verifyStandardWebhook(internal.secret, request.headers, request.body)).toBe(false);
    const body = JSON.parse(request.body);
    expect(body.type).toBe("attachment.created");
    expect(body.data.ticket).toMatchObject({ id: ticket, customerId: customer.id });
    expect(body.data.attachment).toEqual({
      id: publicFile,
      commentId: reply,
      isInternal: false,
      fileName: "error.png",
      contentType: "image/png",
      size: 68,
      sha256: "ab".repeat(32),
      uploaderId: customer.id,
      createdAt: expect.any(String),
    });
    expect(request.body).not.toMatch(/storage|\/files\/|sig=|X-Amz|https?:/i);

    const internalBodies = bodiesAt("/files-internal").map((r) => {
      expect(verifyStandardWebhook(internal.secret, r.headers, r.body)).toBe(true);
      return JSON.parse(r.body).data.attachment as { id: string; isInternal: boolean };
    });
    expect(internalBodies.map((a) => [a.id, a.isInternal]).sort()).toEqual(
      [
        [publicFile, false],
        [internalFile, true],
      ].sort(),
    );
    const { rows } = await database.current.owner.query<{ event_type: string }>(
      "select event_type from app_public.webhook_deliveries where endpoint_id = $1",
      [commentsOnly.id],
    );
    expect(rows.map((row) => row.event_type)).toEqual(["ticket.commented", "ticket.commented"]);
  });
});
