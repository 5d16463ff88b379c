import { authError } from "./auth-errors.ts";

/**
 * Shape checks of emails and display names before they reach SQL. The
 * database constraints say the same; checking here gives a clean
 * INVALID_INPUT instead of a constraint error, and keeps huge strings away
 * from the database.
 */
export const MAX_EMAIL_LENGTH = 320;
const EMAIL_FORMAT = /^[^@\s\p{Cc}]+@[^@\s\p{Cc}]+$/u;
const CONTROL_CHARACTER = /\p{Cc}/u;
const MAX_DISPLAY_NAME_LENGTH = 100;

export function normaliseEmail(value: string): string {
  return value.trim();
}

/** PostgreSQL text cannot hold NUL; what was typed is still logged, recognisably. */
export function loggableEmail(value: string): string {
  return value.replaceAll("\u0000", "\uFFFD");
}

export function isValidEmail(email: string): boolean {
  return email.length <= MAX_EMAIL_LENGTH && EMAIL_FORMAT.test(email);
}

export function requireEmail(value: string): string {
  const email = normaliseEmail(value);
  if (!isValidEmail(email)) throw authError("INVALID_INPUT", "Invalid email address");
  return email;
}

export function requireDisplayName(value: string): string {
  const name = value.trim();
  if (name.length < 1 || name.length > MAX_DISPLAY_NAME_LENGTH || CONTROL_CHARACTER.test(name)) {
    throw authError("INVALID_INPUT", `Display name must be 1 to ${MAX_DISPLAY_NAME_LENGTH} printable characters`);
  }
  return name;
}
