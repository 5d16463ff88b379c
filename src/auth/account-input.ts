/**
 * What the API does with typed emails and display names before SQL, which
 * holds the rules themselves (NFKC normalisation, invisible characters,
 * lengths: migrations/committed/000014-authentication-limits-counted-before-hashing-a-narrowed-auth.sql), as constraints
 * every path meets.
 */

/**
 * No valid email or name is anywhere near this long: longer input is refused
 * before any database or hashing work (a cost bound, not the rule).
 */
export const MAX_TYPED_LENGTH = 2_000;

/** PostgreSQL text cannot hold NUL; what was typed is still logged, recognisably (and then refused). */
export function loggableEmail(value: string): string {
  return value.replaceAll("\u0000", "\uFFFD");
}

/** Text PostgreSQL can hold: NUL replaced, so the constraints refuse it instead of the driver failing. */
export function storableText(value: string): string {
  return value.replaceAll("\u0000", "\uFFFD");
}
