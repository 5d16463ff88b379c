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
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { shuffle: false },
  },
});
