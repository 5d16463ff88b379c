import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTACHMENT_CRONTAB, cleanUpAttachments } from "../../src/storage/attachment-tasks.ts";
import { createAttachmentStorage } from "../../src/storage/storage-driver.ts";
import { activeUser, makeTicket } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * The scheduled clean-up: abandoned pending uploads are rejected and their
 * files removed, old rejected rows deleted, and files without a pending or
 * ready row removed once they are an hour old; ready files stay.
 */
const database = useTestDatabase();
const directory = mkdtempSync(path.join(tmpdir(), "ticketing-cleanup-"));
const storage = createAttachmentStorage({ driver: "local", directory });
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const KEYS = {
  ready: "a".repeat(32),
  fresh: "b".repeat(32),
  abandoned: "c".repeat(32),
  oldRejected: "d".repeat(32),
  orphan: "e".repeat(32),
  newOrphan: "f".repeat(32),
};
const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);

async function row(ticketId: string, uploaderId: string, key: string, state: string, createdAt: string) {
  await database.current.owner.query(
    `insert into app_public.attachments (ticket_id, uploader_id, file_name, content_type, size, sha256, storage_key, state,
                                         rejection_reason, created_at, completed_at)
     values ($1, $2, 'f.txt', 'text/plain', 1, repeat('a', 64), $3, $4::app_public.attachment_state,
             case when $4 = 'rejected' then 'test' end, now() - $5::interval,
             case when $4 <> 'pending' then now() - $5::interval end)`,
    [ticketId, uploaderId, key, state, createdAt],
  );
}

beforeAll(async () => {
  const owner = database.current.owner;
  const customer = await activeUser(owner, "Cleanup Customer", "customer");
  const ticket = (await makeTicket(owner, customer.id, "open")).id as string;
  await row(ticket, customer.id, KEYS.ready, "ready", "3 hours");
  await row(ticket, customer.id, KEYS.fresh, "pending", "5 minutes");
  await row(ticket, customer.id, KEYS.abandoned, "pending", "2 hours");
  await row(ticket, customer.id, KEYS.oldRejected, "rejected", "8 days");
  for (const key of Object.values(KEYS)) {
    writeFileSync(path.join(directory, key), "x");
    if (key !== KEYS.newOrphan && key !== KEYS.fresh) utimesSync(path.join(directory, key), twoHoursAgo, twoHoursAgo);
  }
});

describe("attachment clean-up", () => {
  it("is scheduled on the worker", () => {
    expect(ATTACHMENT_CRONTAB).toMatch(/^\*\/15 \* \* \* \* attachment_cleanup /);
  });

  it("removes abandoned, rejected and orphan files, keeps ready, fresh and young ones", async () => {
    const client = await database.current.owner.connect();
    try {
      expect(await cleanUpAttachments(client, storage)).toEqual({ pruned: 2, orphans: 1 });
    } finally {
      client.release();
    }
    const remaining: string[] = [];
    for await (const object of storage.list()) remaining.push(object.key);
    expect(remaining.sort()).toEqual([KEYS.ready, KEYS.fresh, KEYS.newOrphan].sort());
    const { rows } = await database.current.owner.query<{ storage_key: string; state: string }>(
      "select storage_key, state::text from app_public.attachments order by storage_key",
    );
    expect(rows).toEqual([
      { storage_key: KEYS.ready, state: "ready" },
      { storage_key: KEYS.fresh, state: "pending" },
      { storage_key: KEYS.abandoned, state: "rejected" },
    ]);
  });
});
