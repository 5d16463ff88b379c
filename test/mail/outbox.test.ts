import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { createMailSender } from "../../src/mail/mail-transport.ts";

/**
 * The development outbox keeps mails private (the folder 0700, each file
 * 0600) without making the data directory above it private too: the
 * embedded PostgreSQL, running as its own system user, must still reach its
 * files there.
 */
let root: string;

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

it("makes only the outbox private, not the data directory above it", async () => {
  root = await mkdtemp(path.join(tmpdir(), "ticketing-outbox-"));
  const dataDir = path.join(root, ".data");
  const outbox = path.join(dataDir, "mail");
  const sender = createMailSender({ kind: "outbox", directory: outbox });
  try {
    expect(
      await sender.send({
        messageId: "<hello@localhost>",
        from: "helpdesk@localhost",
        to: "casey@example.com",
        subject: "Hello",
        text: "Hi",
      } as Parameters<typeof sender.send>[0]),
    ).toBe("sent");
  } finally {
    sender.close();
  }
  expect((await stat(dataDir)).mode & 0o777).toBe(0o755 & ~process.umask());
  expect((await stat(outbox)).mode & 0o777).toBe(0o700);
});
