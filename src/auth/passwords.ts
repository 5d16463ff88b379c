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
 * hash holds 64 MiB. The parameters are stored in each PHC hash, so raising
 * them here makes `needsRehash` true and the hash is upgraded at the user's
 * next login.
 *
 * Logins never read a stored hash: the database gives the hash's salt and
 * parameters (`$argon2id$v=19$m=…,p=…,t=…$<salt>`), `recomputeHash` hashes the
 * typed password with them, and the database compares the result with what it
 * stores (migrations/committed/000014-authentication-limits-counted-before-hashing-a-narrowed-auth.sql).
 */
export const HASH_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 65_536,
  timeCost: 3,
  parallelism: 1,
} as const;

/**
 * PASSWORD_HASHING=fast, for the test suite only: 1 MiB and one pass, about
 * a millisecond per hash, so the many tests that sign users in do not spend
 * most of their time hashing. The tests of hashing itself (parameters,
 * timing, the fair queue, rate limits under a burst) run with the standard
 * parameters. Refused in production, by the environment check at start-up
 * and again here.
 */
export const FAST_HASH_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 1_024,
  timeCost: 1,
  parallelism: 1,
} as const;

/** The parameters new hashes are made with now. */
export function currentHashOptions(): typeof HASH_OPTIONS | typeof FAST_HASH_OPTIONS {
  const fast = process.env.PASSWORD_HASHING === "fast" && process.env.NODE_ENV !== "production";
  return fast ? FAST_HASH_OPTIONS : HASH_OPTIONS;
}

const ARGON2_VERSION = 19;
const HASH_LENGTH = 32;
const SALT_LENGTH = 16;

/** NFKC, as NIST SP 800-63B advises, so the same password typed on two keyboards hashes alike. */
function normalise(password: string): string {
  return password.normalize("NFKC");
}

/**
 * At most this many argon2 jobs run at once; the others queue. Each job
 * holds one of libuv's four threads for about 180 ms, and so does the
 * PBKDF2 of every new database connection's SCRAM authentication: a burst
 * of logins must not hold all four, or new pooled connections time out.
 */
export const MAX_CONCURRENT_HASHES = 2;

/**
 * Jobs waiting for a slot are queued per client (address) and the queues are
 * served in turn, one job each, so one client's burst cannot delay another
 * client by more than one job per queued client. A client with this many jobs
 * waiting is refused at once (HashQueueFullError): its burst costs it, not
 * the others.
 */
export const MAX_QUEUED_PER_CLIENT = 4;

export class HashQueueFullError extends Error {
  override name = "HashQueueFullError";
}

/** Whose job it is: the client address, or this for local callers (CLI, seeding). */
export const LOCAL_CLIENT = "local";

let hashesActive = 0;
let hashesStarted = 0;
/** Waiting jobs by client; Map order is the round-robin order. */
const waiting = new Map<string, Array<() => void>>();

function queuedJobs(): number {
  let total = 0;
  for (const queue of waiting.values()) total += queue.length;
  return total;
}

/** Hands the freed slot to the next client in turn (which then goes to the back of the line). */
function releaseSlot(): void {
  const first = waiting.entries().next();
  if (first.done) {
    hashesActive -= 1;
    return;
  }
  const [client, queue] = first.value;
  const resolve = queue.shift();
  waiting.delete(client);
  if (queue.length > 0) waiting.set(client, queue);
  resolve?.();
}

async function withHashSlot<T>(client: string, work: () => Promise<T>): Promise<T> {
  if (hashesActive < MAX_CONCURRENT_HASHES && waiting.size === 0) {
    hashesActive += 1;
  } else {
    const queue = waiting.get(client) ?? [];
    if (queue.length >= MAX_QUEUED_PER_CLIENT)
      throw new HashQueueFullError("Too many password checks queued for this client");
    waiting.set(client, queue);
    // The slot is handed over by releaseSlot: hashesActive already counts it.
    await new Promise<void>((resolve) => queue.push(resolve));
  }
  hashesStarted += 1;
  try {
    return await work();
  } finally {
    releaseSlot();
  }
}

/** argon2 jobs running right now and waiting (for tests and metrics). */
export function hashesInFlight(): number {
  return hashesActive;
}

export function hashesQueued(): number {
  return queuedJobs();
}

/** argon2 jobs started since the process began (for tests and metrics). */
export function hashesStartedTotal(): number {
  return hashesStarted;
}

export function hashPassword(password: string, client: string = LOCAL_CLIENT): Promise<string> {
  return withHashSlot(client, () => argon2.hash(normalise(password), currentHashOptions()));
}

/** False for a wrong password and for a malformed stored hash alike. (Local use: CLI checks and tests.) */
export async function verifyPassword(hash: string, password: string, client: string = LOCAL_CLIENT): Promise<boolean> {
  try {
    return await withHashSlot(client, () => argon2.verify(hash, normalise(password)));
  } catch (error) {
    if (error instanceof HashQueueFullError) throw error;
    return false;
  }
}

interface HashParameters {
  type: 0 | 1 | 2;
  version: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  salt: Buffer;
}

const TYPES: Record<string, 0 | 1 | 2> = { argon2d: 0, argon2i: 1, argon2id: 2 };
const PREFIX = /^\$(argon2(?:id|i|d))\$v=(\d+)\$([a-z]=\d+(?:,[a-z]=\d+)*)\$([A-Za-z0-9+/]+)$/;

/** The parameters and salt of a PHC argon2 prefix, or undefined when it is not one. */
function parsePrefix(prefix: string): HashParameters | undefined {
  const match = PREFIX.exec(prefix);
  if (!match) return undefined;
  const [, name, version, list, salt] = match;
  const values = Object.fromEntries(list!.split(",").map((pair) => [pair[0], Number(pair.slice(2))]));
  if (!values.m || !values.t || !values.p) return undefined;
  return {
    type: TYPES[name!]!,
    version: Number(version),
    memoryCost: values.m,
    timeCost: values.t,
    parallelism: values.p,
    salt: Buffer.from(salt!, "base64"),
  };
}

/**
 * The PHC string argon2 makes of `password` with the salt and parameters of
 * `prefix` (as the database returns them): equal to the stored hash exactly
 * when the password is right. Without a usable prefix (no such account) the
 * same work is done with a random salt and the current parameters, so an
 * unknown email costs what a wrong password costs.
 */
export function recomputeHash(
  prefix: string | null | undefined,
  hashLength: number | null | undefined,
  password: string,
  client: string,
): Promise<string> {
  const parameters = (prefix ? parsePrefix(prefix) : undefined) ?? {
    ...currentHashOptions(),
    version: ARGON2_VERSION,
    salt: randomBytes(SALT_LENGTH),
  };
  // Stored hashes were made by this module, but a hostile parameter set must not cost more than ours.
  if (parameters.memoryCost > HASH_OPTIONS.memoryCost * 4 || parameters.timeCost > HASH_OPTIONS.timeCost * 4) {
    return Promise.resolve("");
  }
  return withHashSlot(client, () =>
    argon2.hash(normalise(password), { ...parameters, hashLength: hashLength || HASH_LENGTH }),
  );
}

/** True when a hash (or its prefix) was made with other parameters than today's. */
export function needsRehash(hashOrPrefix: string): boolean {
  const parameters = parsePrefix(hashOrPrefix.split("$").slice(0, 5).join("$"));
  if (!parameters) return false;
  const current = currentHashOptions();
  return (
    parameters.type !== current.type ||
    parameters.version !== ARGON2_VERSION ||
    parameters.memoryCost !== current.memoryCost ||
    parameters.timeCost !== current.timeCost ||
    parameters.parallelism !== current.parallelism
  );
}
