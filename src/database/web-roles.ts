import type { AccessClaims } from "../auth/access-tokens.ts";

/**
 * The database roles a request acts as, and the settings that switch a
 * transaction to one of them. The API (graphql/preset.ts), the demo data,
 * the bench and the test harness all take these, so a request looks the
 * same to the policies wherever it comes from.
 */
export const ROLE = {
  anonymous: "ticketing_anonymous",
  customer: "ticketing_customer",
  agent: "ticketing_agent",
  admin: "ticketing_admin",
} as const;

/** The role of requests without a verified token. */
export const ANONYMOUS_ROLE = ROLE.anonymous;

/** The roles a signed-in user's token may name (users.role `customer` → `ticketing_customer`, …). */
export const WEB_ROLES = [ROLE.customer, ROLE.agent, ROLE.admin] as const;
export type WebRole = (typeof WEB_ROLES)[number];

export function isWebRole(value: unknown): value is WebRole {
  return typeof value === "string" && (WEB_ROLES as readonly string[]).includes(value);
}

/** A user's role as the users table stores it. */
export type UserRole = Exclude<keyof typeof ROLE, "anonymous">;

/** The web role a user of `role` acts as. */
export function webRoleOf(role: UserRole): WebRole {
  return ROLE[role];
}

/** `statement_timeout` of request transactions, by kind of caller, in milliseconds. */
export interface StatementTimeouts {
  anonymousMs: number;
  signedInMs: number;
}

export const DEFAULT_STATEMENT_TIMEOUTS: StatementTimeouts = { anonymousMs: 3_000, signedInMs: 8_000 };

/**
 * Settings applied with `set_config(..., true)` at the start of each
 * request's transaction: the web role to switch to, the claims policies
 * read, and the statement timeout of the caller's kind. A role's own
 * `ALTER ROLE … SET statement_timeout` would not apply after `SET ROLE`, so
 * the timeout is set here, in every transaction. Only verified claims reach
 * this point (see http/request-auth.ts).
 */
export function pgSettingsFor(
  auth: AccessClaims | undefined,
  timeouts: StatementTimeouts = DEFAULT_STATEMENT_TIMEOUTS,
): Record<string, string> {
  if (!auth) return { role: ANONYMOUS_ROLE, statement_timeout: String(timeouts.anonymousMs) };
  return {
    role: auth.role,
    "jwt.claims.user_id": auth.userId,
    "jwt.claims.role": auth.role,
    statement_timeout: String(timeouts.signedInMs),
  };
}
