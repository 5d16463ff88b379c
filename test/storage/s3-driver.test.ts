import { describe, expect, it } from "vitest";
import { cleanUpAttachments, ORPHAN_GRACE_MS } from "../../src/storage/attachment-tasks.ts";
import { createAttachmentStorage } from "../../src/storage/storage-driver.ts";
import { useS3Server } from "../support/s3-server.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { attachmentSuite } from "./attachment-suite.ts";

/**
 * The attachment suite on the S3 driver, against a real S3-protocol server
 * on 127.0.0.1 (@20minutes/s3rver, which checks AWS Signature V4: an altered
 * or expired presigned URL is refused as S3 refuses it).
 */
const database = useTestDatabase();
const config = useS3Server("ticketing-attachments");

attachmentSuite(database, config);

describe("the clean-up job on S3", () => {
  it("lists the bucket's attachment objects and removes those without a pending or ready row", async () => {
    const storage = createAttachmentStorage(config());
    const orphan = "9".repeat(32);
    const target = await storage.uploadTarget({ key: orphan, size: 3, contentType: "text/plain" });
    expect((await fetch(target.url, { method: "PUT", headers: target.headers, body: "old" })).status).toBe(200);
    const listed = async () => {
      const keys: string[] = [];
      for await (const object of storage.list()) keys.push(object.key);
      return keys;
    };
    expect(await listed()).toContain(orphan);
    const client = await database.current.owner.connect();
    try {
      // Judged as if an hour had passed: the object is past the grace period.
      const outcome = await cleanUpAttachments(client, storage, Date.now() + ORPHAN_GRACE_MS + 60_000);
      expect(outcome?.orphans).toBeGreaterThanOrEqual(1);
    } finally {
      client.release();
    }
    expect(await listed()).not.toContain(orphan);
    // Ready attachments of the suite above keep their objects.
    const { rows } = await database.current.owner.query<{ storage_key: string }>(
      "select storage_key from app_public.attachments where state = 'ready'",
    );
    const remaining = await listed();
    for (const { storage_key } of rows) expect(remaining).toContain(storage_key);
  });
});
