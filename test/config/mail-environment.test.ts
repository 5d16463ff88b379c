import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigurationError, parseEnvironment } from "../../src/config/environment.ts";
import { mailConfigFrom } from "../../src/mail/mail-config.ts";
import { createMailSender } from "../../src/mail/mail-transport.ts";
import { readOutbox } from "../../src/mail/outbox.ts";
import { workerConfigFrom } from "../../src/worker/worker-config.ts";

/** Mail variables (docs/email.md): a development default with no set-up, an explicit choice in production. */
function mailRefusal(source: NodeJS.ProcessEnv): string {
  try {
    mailConfigFrom(parseEnvironment(source));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error("configuration was accepted");
}

describe("mail configuration", () => {
  it("outside production, with nothing set, writes mail to the local outbox under DATA_DIR", () => {
    const config = mailConfigFrom(parseEnvironment({ DATA_DIR: "/srv/data" }));
    expect(config).toEqual({
      transport: { kind: "outbox", directory: "/srv/data/mail" },
      from: "Helpdesk <helpdesk@localhost>",
      envelopeFrom: "helpdesk@localhost",
      replyDomain: "localhost",
      appUrl: "http://127.0.0.1:5678",
    });
  });

  it("uses SMTP_URL, MAIL_FROM, MAIL_REPLY_DOMAIN and APP_URL when set", () => {
    const config = mailConfigFrom(
      parseEnvironment({
        SMTP_URL: "smtps://user:pass@smtp.example.com:465",
        MAIL_FROM: "Support <support@example.com>",
        APP_URL: "https://help.example.com/",
      }),
    );
    expect(config).toEqual({
      transport: { kind: "smtp", url: "smtps://user:pass@smtp.example.com:465" },
      from: "Support <support@example.com>",
      envelopeFrom: "support@example.com",
      replyDomain: "example.com",
      appUrl: "https://help.example.com",
    });
    expect(mailConfigFrom(parseEnvironment({ MAIL_REPLY_DOMAIN: "reply.example.com" })).replyDomain).toBe(
      "reply.example.com",
    );
  });

  it("in production, needs SMTP_URL (with MAIL_FROM and APP_URL) or MAIL_DISABLED=true, with one line naming the variable", () => {
    expect(mailRefusal({ NODE_ENV: "production" })).toBe(
      "Invalid configuration: SMTP_URL is required in production (or MAIL_DISABLED=true)",
    );
    expect(mailRefusal({ NODE_ENV: "production", SMTP_URL: "smtp://relay:25" })).toMatch(
      /^Invalid configuration: MAIL_FROM /,
    );
    expect(mailRefusal({ NODE_ENV: "production", SMTP_URL: "smtp://relay:25", MAIL_FROM: "a@example.com" })).toMatch(
      /^Invalid configuration: APP_URL /,
    );
    expect(mailConfigFrom(parseEnvironment({ NODE_ENV: "production", MAIL_DISABLED: "true" })).transport).toEqual({
      kind: "disabled",
    });
    expect(() => workerConfigFrom(parseEnvironment({ NODE_ENV: "production" }), "postgres://o@h/d")).toThrow(
      "SMTP_URL",
    );
  });

  it("refuses malformed values, naming the variable", () => {
    expect(() => parseEnvironment({ SMTP_URL: "http://smtp.example.com" })).toThrow(
      /^Invalid configuration: SMTP_URL /,
    );
    expect(() => parseEnvironment({ MAIL_FROM: "no address" })).toThrow(/^Invalid configuration: MAIL_FROM /);
    expect(() => parseEnvironment({ MAIL_DISABLED: "maybe" })).toThrow(/^Invalid configuration: MAIL_DISABLED /);
    expect(() => parseEnvironment({ INBOUND_EMAIL_SECRET: "short" })).toThrow(
      /^Invalid configuration: INBOUND_EMAIL_SECRET /,
    );
  });
});

describe("the local outbox", () => {
  it("keeps each mail as an .eml file that mail:list reads back with its links", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), "outbox-"));
    try {
      const sender = createMailSender({ kind: "outbox", directory: path.join(directory, "mail") });
      const outcome = await sender.send({
        messageId: "<mail.1@localhost>",
        from: "Helpdesk <helpdesk@localhost>",
        to: "newcomer@example.com",
        subject: "Reset your password",
        text: "Open http://127.0.0.1:5678/reset-password?token=abc to continue.",
      });
      sender.close();
      expect(outcome).toBe("sent");
      const [entry, ...rest] = await readOutbox(path.join(directory, "mail"));
      expect(rest).toEqual([]);
      expect(entry).toMatchObject({
        to: "newcomer@example.com",
        subject: "Reset your password",
        links: ["http://127.0.0.1:5678/reset-password?token=abc"],
      });
      expect(await readOutbox(path.join(directory, "absent"))).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("a disabled transport discards", async () => {
    expect(await createMailSender({ kind: "disabled" }).send({ messageId: "<x@y>", to: "a@example.com" })).toBe(
      "discarded",
    );
  });
});
