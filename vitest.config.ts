import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";
import { imageGlibcTunables } from "./bench/deployed-settings.ts";

/**
 * Files that judge time under load: floods of one in-process API (2,000
 * concurrent probes, 5,000 subscriptions, slow clients), latency of a
 * bystander, equal cost of a wrong password and an unknown user. They run
 * after the rest, two at a time, so that the machine they measure on is the
 * one they were written for.
 */
const TIMING_JUDGED = ["test/abuse/**/*.test.ts", "test/auth/attacks.test.ts", "test/auth/rate-limits.test.ts"];

export default defineConfig({
  resolve: {
    // One copy of graphql: mixing its CJS and ESM builds breaks instanceof checks.
    alias: { graphql: "graphql/index.js" },
  },
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/test-environment.ts"],
    // Cheap argon2 parameters (src/auth/passwords.ts): most tests sign users in
    // and need no real hashing cost. Tests of hashing itself opt back in
    // (test/support/password-hashing.ts). Child processes get their own env.
    // Node's compile cache for the commands the tests start as child
    // processes (test/support/cli-process.ts passes it on): each would
    // otherwise compile PostGraphile and the rest again.
    env: {
      PASSWORD_HASHING: "fast",
      NODE_COMPILE_CACHE: fileURLToPath(new URL("node_modules/.cache/node-compile-cache", import.meta.url)),
      // The production image's malloc settings (the Dockerfile's
      // GLIBC_TUNABLES): the 64 MiB of each real argon2 hash, and the
      // workers' own heaps, in huge pages instead of one page fault per
      // 4 KiB. glibc reads them when a process starts: the workers get them
      // here, the commands the tests start through cli-process.ts. About
      // 8 % of the suite's CPU time on machines where page faults are dear
      // (docs/test-suite.md).
      ...imageGlibcTunables(),
    },
    pool: "forks",
    // A worker runs its files one after another in one process instead of a
    // fresh process per file: each file re-imported PostGraphile, pg and the
    // rest, about 2.8 s of a worker's time per file. Every file makes its own
    // database, servers and pools and closes them; a file that changes the
    // environment restores it (vi.unstubAllEnvs in password-hashing.ts).
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { shuffle: false },
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: ["test/**/*.test.ts"],
          // The deployment test starts its own servers: `npm run cluster:test` (vitest.cluster.config.ts).
          exclude: [...configDefaults.exclude, "test/cluster/**", ...TIMING_JUDGED],
          // Four workers on two cores: the long tests wait on real time in
          // part (retries, timeouts, child processes), and it takes four files
          // at once to keep both cores busy (docs/test-suite.md).
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "timing",
          include: TIMING_JUDGED,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
