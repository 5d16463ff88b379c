import { readFileSync } from "node:fs";

/**
 * What a new password must satisfy (NIST SP 800-63B style: length and a
 * block list, no composition rules): 12 to 256 characters, not a common
 * password or a common password padded with digits and punctuation, and
 * not containing the email's local part.
 */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

/** Local parts shorter than this are too likely to occur by chance to be refused. */
const MIN_LOCAL_PART_LENGTH = 3;
const PADDING = /^[\d\W_]+|[\d\W_]+$/gu;

const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  readFileSync(new URL("./common-passwords.txt", import.meta.url), "utf8")
    .split("\n")
    .map((line) => line.trim().toLowerCase())
    .filter((line) => line.length > 0 && !line.startsWith("#")),
);

/** Length in characters (code points), not UTF-16 units. */
export function passwordLength(password: string): number {
  let length = 0;
  for (const _ of password) length += 1;
  return length;
}

function isCommon(password: string): boolean {
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) return true;
  const stem = lower.replace(PADDING, "");
  return stem.length > 0 && COMMON_PASSWORDS.has(stem);
}

function containsEmail(password: string, email: string): boolean {
  const localPart = email.split("@")[0]?.toLowerCase() ?? "";
  return localPart.length >= MIN_LOCAL_PART_LENGTH && password.toLowerCase().includes(localPart);
}

/** The reason a password is refused, or undefined when it is acceptable. */
export function passwordWeakness(password: string, email: string): string | undefined {
  // Checked on UTF-16 length first so a huge input is refused without iterating it.
  if (password.length > MAX_PASSWORD_LENGTH * 2 || passwordLength(password) > MAX_PASSWORD_LENGTH) {
    return `Password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  if (passwordLength(password) < MIN_PASSWORD_LENGTH) {
    return `Password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (isCommon(password)) return "Password is too common";
  if (containsEmail(password, email)) return "Password must not contain the email address";
  return undefined;
}
