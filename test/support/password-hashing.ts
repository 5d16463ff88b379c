import { afterAll, beforeAll, vi } from "vitest";

/**
 * The suite hashes passwords with cheap parameters (PASSWORD_HASHING=fast in
 * vitest.config.ts). A test file about hashing itself — its parameters, equal
 * work for unknown and known accounts, the fair queue, limits under a burst of
 * real hashes — calls this to run with the production parameters instead.
 */
export function useStandardPasswordHashing(): void {
  beforeAll(() => {
    vi.stubEnv("PASSWORD_HASHING", "standard");
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
}
