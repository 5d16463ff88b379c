import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import nodemailer, { type SendMailOptions } from "nodemailer";
import type { MailTransportSetting } from "./mail-config.ts";

/** A message as nodemailer takes it. */
export type OutgoingMail = SendMailOptions & { messageId: string };

export interface MailSender {
  /** Resolves when the transport accepted the message; "discarded" when mail is disabled. */
  send(message: OutgoingMail): Promise<"sent" | "discarded">;
  close(): void;
}

/** Bounds of one SMTP attempt: a server that does not answer is a failed attempt, retried later. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

function outboxFileName(message: OutgoingMail): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const id = message.messageId.replace(/[^A-Za-z0-9.-]+/g, "_").replace(/^_|_$/g, "");
  return `${stamp}-${id}.eml`;
}

export function createMailSender(setting: MailTransportSetting): MailSender {
  if (setting.kind === "disabled") {
    return { send: async () => "discarded", close() {} };
  }
  if (setting.kind === "outbox") {
    const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
    return {
      async send(message) {
        const info = await builder.sendMail(message);
        // Only the outbox itself is private: a recursive mkdir would give its
        // parents (the data directory, where the embedded server's files live) the same mode.
        await mkdir(path.dirname(setting.directory), { recursive: true });
        await mkdir(setting.directory, { recursive: true, mode: 0o700 });
        await writeFile(path.join(setting.directory, outboxFileName(message)), info.message as Buffer, { mode: 0o600 });
        return "sent";
      },
      close: () => builder.close(),
    };
  }
  const transport = nodemailer.createTransport({ url: setting.url, ...SMTP_TIMEOUTS });
  return {
    async send(message) {
      await transport.sendMail(message);
      return "sent";
    },
    close: () => transport.close(),
  };
}
