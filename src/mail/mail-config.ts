import path from "node:path";
import { ConfigurationError, type Environment } from "../config/environment.ts";

/**
 * Where mail goes and what it says about itself (docs/email.md):
 * - `smtp`: SMTP_URL (smtp:// or smtps://, credentials in the URL);
 * - `outbox`: outside production with no SMTP_URL, each mail is written to
 *   DATA_DIR/mail/<time>-<id>.eml and listed by `npm run mail:list`;
 * - `disabled`: MAIL_DISABLED=true; mails are recorded as discarded.
 * Production needs SMTP_URL or MAIL_DISABLED=true: a deployment that would
 * silently write password-reset links to its disk refuses to start.
 */
export type MailTransportSetting =
  | { kind: "smtp"; url: string }
  | { kind: "outbox"; directory: string }
  | { kind: "disabled" };

export interface MailConfig {
  transport: MailTransportSetting;
  /** The From header (MAIL_FROM). */
  from: string;
  /** The envelope sender (bounces go there): the address part of MAIL_FROM. */
  envelopeFrom: string;
  /** Domain of Message-IDs and of the per-ticket reply addresses (MAIL_REPLY_DOMAIN). */
  replyDomain: string;
  /** Base of the links in mails: the portal's pages /reset-password and /verify-email (APP_URL). */
  appUrl: string;
}

const DEVELOPMENT_FROM = "Helpdesk <helpdesk@localhost>";

/** The domain of an address such as `Name <user@example.com>` or `user@example.com`. */
export function domainOf(address: string): string | undefined {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(address);
  return match?.[1]?.toLowerCase();
}

export function outboxDirectory(dataDir: string): string {
  return path.resolve(dataDir, "mail");
}

/** MAIL_REPLY_DOMAIN, or the domain of MAIL_FROM. */
export function replyDomainFrom(environment: Environment): string {
  const replyDomain = environment.MAIL_REPLY_DOMAIN ?? domainOf(environment.MAIL_FROM ?? DEVELOPMENT_FROM);
  if (!replyDomain)
    throw new ConfigurationError("Invalid configuration: MAIL_REPLY_DOMAIN is required (MAIL_FROM has no domain)");
  return replyDomain.toLowerCase();
}

/** POST /inbound/email (docs/email.md): on only when INBOUND_EMAIL_SECRET is set. */
export interface InboundSettings {
  secret: string;
  maxBytes: number;
  unknownSender: "reject" | "create";
  replyDomain: string;
}

export function inboundSettingsFrom(environment: Environment): InboundSettings | undefined {
  if (!environment.INBOUND_EMAIL_SECRET) return undefined;
  return {
    secret: environment.INBOUND_EMAIL_SECRET,
    maxBytes: environment.INBOUND_EMAIL_MAX_BYTES,
    unknownSender: environment.INBOUND_UNKNOWN_SENDER,
    replyDomain: replyDomainFrom(environment),
  };
}

export function mailConfigFrom(environment: Environment): MailConfig {
  const production = environment.NODE_ENV === "production";
  let transport: MailTransportSetting;
  if (environment.MAIL_DISABLED) transport = { kind: "disabled" };
  else if (environment.SMTP_URL) transport = { kind: "smtp", url: environment.SMTP_URL };
  else if (production) {
    throw new ConfigurationError("Invalid configuration: SMTP_URL is required in production (or MAIL_DISABLED=true)");
  } else transport = { kind: "outbox", directory: outboxDirectory(environment.DATA_DIR) };
  if (production && transport.kind === "smtp" && !environment.MAIL_FROM) {
    throw new ConfigurationError("Invalid configuration: MAIL_FROM is required in production when SMTP_URL is set");
  }
  if (production && transport.kind === "smtp" && !environment.APP_URL) {
    throw new ConfigurationError("Invalid configuration: APP_URL is required in production when SMTP_URL is set");
  }
  const from = environment.MAIL_FROM ?? DEVELOPMENT_FROM;
  const replyDomain = replyDomainFrom(environment);
  return {
    transport,
    from,
    envelopeFrom: /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from.trim(),
    replyDomain,
    appUrl: (environment.APP_URL ?? `http://127.0.0.1:${environment.PORT}`).replace(/\/+$/, ""),
  };
}
