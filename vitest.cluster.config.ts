import { defineConfig } from "vitest/config";

/**
 * `npm run cluster:test`: the deployment on this machine (test/cluster/),
 * apart from `npm test` because it starts its own PostgreSQL primary and
 * replica, PgBouncer and API processes (about a minute).
 */
export default defineConfig({
  resolve: {
    alias: { graphql: "graphql/index.js" },
  },
  test: {
    include: ["test/cluster/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    sequence: { shuffle: false },
  },
});
