import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // One copy of graphql: mixing its CJS and ESM builds breaks instanceof checks.
    alias: { graphql: "graphql/index.js" },
  },
  test: {
    include: ["test/**/*.test.ts"],
    // The deployment test starts its own servers: `npm run cluster:test` (vitest.cluster.config.ts).
    exclude: [...configDefaults.exclude, "test/cluster/**"],
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/test-environment.ts"],
    // Cheap argon2 parameters (src/auth/passwords.ts): most tests sign users in
    // and need no real hashing cost. Tests of hashing itself opt back in
    // (test/support/password-hashing.ts). Child processes get their own env.
    env: { PASSWORD_HASHING: "fast" },
    pool: "forks",
    // Twice the 2 cores this suite is measured on: most long tests wait on
    // real time (retries, timeouts, sockets), so 2 workers left the machine
    // about half idle. On 2 cores: 255 s with 2 workers, 205 s with 4, 195 s
    // with 6 (PostgreSQL 18, 125 files); fsync off changed nothing.
    maxWorkers: 4,
    // A worker runs its files one after another in one process instead of a
    // fresh process per file: each file re-imported PostGraphile, pg and the
    // rest, about 2.8 s of a worker's time per file (474 s of tests in 208 s
    // on 4 workers). 205 s -> 166 s. Every file makes its own database,
    // servers and pools and closes them; a file that changes the environment
    // restores it (vi.unstubAllEnvs in password-hashing.ts).
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { shuffle: false },
  },
});
