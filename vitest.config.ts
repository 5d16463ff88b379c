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
    // One worker per core. 4 workers ran the suite faster on 2 cores (most
    // long tests wait on real time), but the abuse tests that flood the API
    // (2,000 concurrent probes in one process) then passed their 10 s header
    // deadline on a busy machine: their timing is judged, so they get the
    // machine they were written for.
    maxWorkers: 2,
    // A worker runs its files one after another in one process instead of a
    // fresh process per file: each file re-imported PostGraphile, pg and the
    // rest, about 2.8 s of a worker's time per file. Every file makes its own
    // database, servers and pools and closes them; a file that changes the
    // environment restores it (vi.unstubAllEnvs in password-hashing.ts).
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { shuffle: false },
  },
});
