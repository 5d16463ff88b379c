import { randomBytes } from "node:crypto";
import argon2 from "argon2";

/**
 * Password hashing: argon2id in the Node tier, on libuv's thread pool (the
 * `argon2` binding is asynchronous), so neither the event loop nor the
 * database spends CPU on it.
 *
 * Parameters: 64 MiB, 3 passes, 1 lane (RFC 9106's memory-constrained
 * recommendation), stronger than OWASP's minimum (19 MiB, t=2, p=1).
 * Measured on the 2-core development machine: about 180 ms per hash and
 * 160 ms per verify, versus 29 ms for the OWASP minimum. Each concurrent
 * hash holds 64 MiB; libuv's default pool of 4 threads bounds that at 256 MiB.
 * The parameters are stored in each PHC hash, so raising them here makes
 * `needsRehash` true and the hash is upgraded at the user's next login.
 */
export const HASH_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 65_536,
  timeCost: 3,
  parallelism: 1,
} as const;

/** NFKC, as NIST SP 800-63B advises, so the same password typed on two keyboards hashes alike. */
function normalise(password: string): string {
  return password.normalize("NFKC");
}

/**
 * At most this many argon2 jobs run at once; the others queue here. Each job
 * holds one of libuv's four threads for about 180 ms, and so does the
 * PBKDF2 of every new database connection's SCRAM authentication: a burst
 * of logins (everyone signing in after an outage) must not hold all four,
 * or new pooled connections time out and the API answers 503.
 */
export const MAX_CONCURRENT_HASHES = 2;

let hashesActive = 0;
const hashQueue: (() => void)[] = [];

async function withHashSlot<T>(work: () => Promise<T>): Promise<T> {
  while (hashesActive >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => hashQueue.push(resolve));
  hashesActive += 1;
  try {
    return await work();
  } finally {
    hashesActive -= 1;
    hashQueue.shift()?.();
  }
}

/** argon2 jobs running right now (for tests and metrics). */
export function hashesInFlight(): number {
  return hashesActive;
}

export function hashPassword(password: string): Promise<string> {
  return withHashSlot(() => argon2.hash(normalise(password), HASH_OPTIONS));
}

/** False for a wrong password and for a malformed stored hash alike. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await withHashSlot(() => argon2.verify(hash, normalise(password)));
  } catch {
    return false;
  }
}

export function needsRehash(hash: string): boolean {
  try {
    return argon2.needsRehash(hash, HASH_OPTIONS);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random password with the current parameters, made once per
 * process. Unknown emails are verified against it, so they cost the same time
 * as a wrong password for a real account.
 */
export function getDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(32).toString("base64url"));
  return dummyHash;
}
