import { describe, expect, it } from "vitest";
import { makeSchema } from "postgraphile";
import { lexicographicSortSchema, printSchema } from "postgraphile/graphql";
import { createPreset } from "../../src/graphql/preset.ts";
import { graphqlPlugins } from "../../src/graphql/plugins.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { TEST_JWT } from "../support/test-api.ts";

/**
 * The GraphQL schema is committed as schema.graphql so every API change shows
 * up in review. This test fails when the database and the file disagree;
 * `npm run schema:update` rewrites the file.
 */
const database = useTestDatabase();

describe("GraphQL schema", () => {
  it("matches the committed schema.graphql", async () => {
    const logger = createLogger("silent");
    const pool = database.current.authenticator;
    const preset = createPreset({
      pool,
      logger,
      metrics: createMetrics(),
      graphiql: false,
      plugins: graphqlPlugins({ pool, jwt: TEST_JWT, logger }),
    });
    const { schema } = await makeSchema(preset);
    const sdl = printSchema(lexicographicSortSchema(schema));
    // Secrets of app_private never surface, whatever a migration adds.
    expect(sdl).not.toMatch(/passwordHash|tokenDigest|loginAttempt|userAccount|failedLoginCount|lockedUntil/i);
    await expect(`${sdl}\n`).toMatchFileSnapshot("../../schema.graphql");
  });
});
