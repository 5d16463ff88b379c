import { describe, expect, it } from "vitest";
import { hashesInFlight, hashPassword, MAX_CONCURRENT_HASHES, verifyPassword } from "../../src/auth/passwords.ts";

/**
 * A burst of logins queues for argon2 instead of taking every libuv thread,
 * which new database connections need for their SCRAM authentication.
 */
describe("argon2 concurrency", () => {
  it(`runs at most ${MAX_CONCURRENT_HASHES} hashes or verifications at once, and all of them complete`, async () => {
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, hashesInFlight());
    }, 5);
    try {
      const hashes = await Promise.all(Array.from({ length: 5 }, (_, i) => hashPassword(`burst-password-${i}-long-enough`)));
      const verified = await Promise.all(hashes.map((hash, i) => verifyPassword(hash, `burst-password-${i}-long-enough`)));
      expect(verified).toEqual([true, true, true, true, true]);
    } finally {
      clearInterval(sampler);
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(MAX_CONCURRENT_HASHES);
    expect(hashesInFlight()).toBe(0);
  });
});
