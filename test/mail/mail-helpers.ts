import { simpleParser, type ParsedMail } from "mailparser";
import type pg from "pg";
import { SMTPServer } from "smtp-server";
import { vi } from "vitest";
import type { MailConfig } from "../../src/mail/mail-config.ts";
import { freePort } from "../../src/net/free-port.ts";

/** A real SMTP server on 127.0.0.1 (the smtp-server package) that keeps every message it accepts. */
export interface ReceivedMail {
  raw: Buffer;
  parsed: ParsedMail;
  envelopeTo: string[];
}

export interface SmtpSink {
  url: string;
  port: number;
  received: ReceivedMail[];
  /** While down, every message is refused with a temporary failure (451), as a server in trouble answers. */
  setDown(down: boolean): void;
  refusedCount(): number;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  let down = false;
  let refused = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        if (down) {
          refused += 1;
          const error = Object.assign(new Error("Service temporarily unavailable"), { responseCode: 451 });
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            received.push({ raw, parsed, envelopeTo: session.envelope.rcptTo.map((r) => r.address) });
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    received,
    setDown: (value) => {
      down = value;
    },
    refusedCount: () => refused,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export function testMailConfig(sink: SmtpSink): MailConfig {
  return {
    transport: { kind: "smtp", url: sink.url },
    from: "Helpdesk <help@support.example.test>",
    envelopeFrom: "help@support.example.test",
    replyDomain: "support.example.test",
    appUrl: "https://portal.example.test",
  };
}

/** Retries within a second instead of minutes. */
export async function useFastMailPolicy(owner: pg.Pool): Promise<void> {
  await owner.query(`
    create or replace function app_private.mail_policy(
      out max_attempts integer, out first_retry interval, out max_retry interval, out retention interval)
    language sql immutable set search_path = pg_catalog, pg_temp
    as $$ select 15, interval '200 milliseconds', interval '1 second', interval '30 days' $$`);
}

/** Waits (polling, no time assertion) until `count` mails to `address` arrived; returns them all. */
export async function mailsTo(sink: SmtpSink, address: string, count = 1): Promise<ReceivedMail[]> {
  return vi.waitFor(
    () => {
      const mails = sink.received.filter((mail) => mail.envelopeTo.includes(address));
      if (mails.length < count) throw new Error(`${mails.length} of ${count} mails to ${address} so far`);
      return mails;
    },
    { timeout: 30_000, interval: 50 },
  );
}

/** The statuses of the outbox rows, for "nothing left pending" checks. */
export async function waitForOutboxSettled(owner: pg.Pool): Promise<void> {
  await vi.waitFor(
    async () => {
      const { rows } = await owner.query<{ n: number }>(
        "select count(*)::integer as n from app_private.outbound_mails where status = 'pending'",
      );
      if ((rows[0]?.n ?? 0) > 0) throw new Error("mail still pending");
    },
    { timeout: 30_000, interval: 100 },
  );
}

/** The first link in a mail's text whose path is `path`, and its token parameter. */
export function linkToken(mail: ReceivedMail, path: string): string {
  const match = new RegExp(`https://portal\\.example\\.test${path}\\?token=([0-9a-f]+)`).exec(mail.parsed.text ?? "");
  if (!match?.[1]) throw new Error(`no ${path} link in: ${mail.parsed.text}`);
  return match[1];
}
