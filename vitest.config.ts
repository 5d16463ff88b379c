import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // One copy of graphql: mixing its CJS and ESM builds breaks instanceof checks.
    alias: { graphql: "graphql/index.js" },
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/test-environment.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { shuffle: false },
  },
});
