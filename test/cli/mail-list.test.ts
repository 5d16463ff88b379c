import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { createMailSender } from "../../src/mail/mail-transport.ts";
import { runCli } from "../support/cli-process.ts";

/** `npm run mail:list`: the development outbox, newest first, with the links a newcomer clicks. */
it("lists the outbox's mails with their links, and says so when there are none", async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), "mail-list-"));
  try {
    const empty = runCli("mail-list", [], { DATA_DIR: dataDir });
    expect(await empty.exited).toBe(0);
    expect(empty.stdout()).toBe(`No mail in ${path.join(dataDir, "mail")}\n`);

    const sender = createMailSender({ kind: "outbox", directory: path.join(dataDir, "mail") });
    await sender.send({
      messageId: "<mail.1@localhost>",
      from: "Helpdesk <helpdesk@localhost>",
      to: "carol@example.com",
      subject: "Reset your password",
      text: "Open http://127.0.0.1:5678/reset-password?token=abc within 30 minutes.",
    });
    sender.close();
    const listed = runCli("mail-list", ["--full"], { DATA_DIR: dataDir });
    expect(await listed.exited).toBe(0);
    expect(listed.stdout()).toContain(
      "carol@example.com\n  Reset your password\n  http://127.0.0.1:5678/reset-password?token=abc\n",
    );
    expect(listed.stdout()).toContain("  | Open http://127.0.0.1:5678/reset-password?token=abc within 30 minutes.");
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
