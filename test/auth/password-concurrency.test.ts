import argon2 from "argon2";
import { describe, expect, it, vi } from "vitest";
import {
  HashQueueFullError,
  hashesInFlight,
  hashesQueued,
  hashPassword,
  MAX_CONCURRENT_HASHES,
  MAX_QUEUED_PER_CLIENT,
  verifyPassword,
} from "../../src/auth/passwords.ts";
import { useStandardPasswordHashing } from "../support/password-hashing.ts";

// Queueing is seen only while hashes take real time.
useStandardPasswordHashing();

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
      const hashes = await Promise.all(
        Array.from({ length: 5 }, (_, i) => hashPassword(`burst-password-${i}-long-enough`)),
      );
      const verified = await Promise.all(
        hashes.map((hash, i) => verifyPassword(hash, `burst-password-${i}-long-enough`)),
      );
      expect(verified).toEqual([true, true, true, true, true]);
    } finally {
      clearInterval(sampler);
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(MAX_CONCURRENT_HASHES);
    expect(hashesInFlight()).toBe(0);
  });
});

describe("argon2 queue fairness", () => {
  it("serves waiting clients in turn and bounds each client's queue", async () => {
    const finished: string[] = [];
    const job = (client: string, i: number) =>
      hashPassword(`fairness-password-${client}-${i}`, client).then(
        () => finished.push(client),
        (error: unknown) => {
          if (!(error instanceof HashQueueFullError)) throw error;
          finished.push(`${client}:refused`);
        },
      );
    // A burst of 12 from one client: 2 run, MAX_QUEUED_PER_CLIENT wait, the rest are refused at once.
    const burst = Array.from({ length: 12 }, (_, i) => job("burst", i));
    expect(hashesQueued()).toBe(MAX_QUEUED_PER_CLIENT);
    // Another client arriving after the burst waits for at most one of the burst's queued jobs.
    // Judged by the order in which hashes start (argon2.hash is called when a job gets its
    // slot), not by the order they finish, which depends on how the threads are scheduled.
    const hashing = vi.spyOn(argon2, "hash");
    const other = job("other", 0);
    await Promise.all([...burst, other]);
    const startOrder = hashing.mock.calls.map(([password]) => String(password).split("-")[2]);
    hashing.mockRestore();
    const refused = finished.filter((entry) => entry === "burst:refused").length;
    expect(refused).toBe(12 - MAX_CONCURRENT_HASHES - MAX_QUEUED_PER_CLIENT);
    const completed = finished.filter((entry) => !entry.endsWith(":refused"));
    // The two running burst jobs started before the spy; of the jobs that started after
    // them, at most one queued burst job comes before the other client's turn.
    expect(startOrder.indexOf("other")).toBeGreaterThanOrEqual(0);
    expect(startOrder.indexOf("other")).toBeLessThanOrEqual(1);
    expect(completed.filter((entry) => entry === "burst").length).toBe(MAX_CONCURRENT_HASHES + MAX_QUEUED_PER_CLIENT);
    expect(hashesInFlight()).toBe(0);
    expect(hashesQueued()).toBe(0);
  });
});
