import type pg from "pg";
import type { TaskList } from "graphile-worker";
import type { Logger } from "../observability/logger.ts";
import type { AttachmentStorage } from "./attachment-storage.ts";
import type { StorageConfig } from "./storage-config.ts";
import { createAttachmentStorage } from "./storage-driver.ts";

/**
 * The attachments' clean-up job (`attachment_cleanup`, every 15 minutes, on
 * the worker's owner connection): pending uploads nobody completed are
 * rejected and rejected rows past their retention deleted
 * (app_private.prune_attachments), and their files removed; then every
 * stored file without a pending or ready row (a failed removal, a row
 * deleted by hand) is removed once it is an hour old.
 */
export const ATTACHMENT_CRONTAB = "*/15 * * * * attachment_cleanup ?max=1\n";

/** A file younger than this is left alone even without a row (its row may not be committed yet). */
export const ORPHAN_GRACE_MS = 60 * 60 * 1000;

const LIST_BATCH = 500;

type Queryable = Pick<pg.ClientBase, "query">;

export interface CleanUpOutcome {
  /** Files of rows just rejected or deleted. */
  pruned: number;
  /** Files with no pending or ready row. */
  orphans: number;
}

async function removeOrphans(client: Queryable, storage: AttachmentStorage, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const { rows } = await client.query<{ key: string }>("select app_private.attachment_keys_in_use($1) as key", [keys]);
  const kept = new Set(rows.map((row) => row.key));
  const orphans = keys.filter((key) => !kept.has(key));
  for (const key of orphans) await storage.remove(key);
  return orphans.length;
}

export async function cleanUpAttachments(
  client: Queryable,
  storage: AttachmentStorage,
  now = Date.now(),
): Promise<CleanUpOutcome | undefined> {
  const { rows: present } = await client.query<{ attachments: boolean }>(
    "select to_regprocedure('app_private.prune_attachments()') is not null as attachments",
  );
  if (!present[0]?.attachments) return undefined;
  const { rows } = await client.query<{ key: string }>("select app_private.prune_attachments() as key");
  for (const { key } of rows) await storage.remove(key);
  let orphans = 0;
  let batch: string[] = [];
  for await (const object of storage.list()) {
    if (now - object.modifiedAt.getTime() < ORPHAN_GRACE_MS) continue;
    batch.push(object.key);
    if (batch.length >= LIST_BATCH) {
      orphans += await removeOrphans(client, storage, batch);
      batch = [];
    }
  }
  orphans += await removeOrphans(client, storage, batch);
  return { pruned: rows.length, orphans };
}

/** The worker's attachment tasks (job-worker.ts adds them to its task list). */
export function attachmentTasks(config: StorageConfig, logger: Logger): TaskList {
  const storage = createAttachmentStorage(config);
  return {
    attachment_cleanup: async (_payload, helpers) => {
      await helpers.withPgClient(async (client) => {
        const outcome = await cleanUpAttachments(client, storage);
        logger.debug({ scope: "attachments", ...outcome }, "attachment clean-up done");
      });
    },
  };
}
