import { describe, expect, it } from "vitest";
import { appConfigFrom } from "../../src/config/app-config.ts";
import { ConfigurationError, parseEnvironment } from "../../src/config/environment.ts";
import { DEFAULT_DOCUMENT_LIMITS } from "../../src/graphql/document-limits.ts";

/** The GraphQL document limits as environment variables: defaults, overrides, refusals naming the variable. */
const resolved = { databaseUrl: "postgres://api@localhost/ticketing", jwtSecret: "x".repeat(32) };

describe("document limit variables", () => {
  it("default to the documented limits, with introspection on and no trusted documents", () => {
    const config = appConfigFrom(parseEnvironment({}), resolved);
    expect(config.documentLimits).toEqual(DEFAULT_DOCUMENT_LIMITS);
    expect(config.introspection).toBe(true);
    expect(config.trustedDocuments).toBeUndefined();
  });

  it("override each limit", () => {
    const config = appConfigFrom(
      parseEnvironment({
        GRAPHQL_MAX_DOCUMENT_BYTES: "65536",
        GRAPHQL_MAX_TOKENS: "2000",
        GRAPHQL_MAX_DEPTH: "12",
        GRAPHQL_MAX_FIELDS: "300",
        GRAPHQL_MAX_COST: "10000",
        GRAPHQL_DEFAULT_PAGE_SIZE: "10",
        GRAPHQL_MAX_PAGE_SIZE: "50",
        GRAPHQL_MAX_OFFSET: "500",
        GRAPHQL_MAX_MUTATIONS: "3",
        GRAPHQL_DOCUMENT_CACHE_MB: "64",
        GRAPHQL_INTROSPECTION: "false",
        TRUSTED_DOCUMENTS: "/srv/persisted-documents.json",
      }),
      resolved,
    );
    expect(config.documentLimits).toEqual({
      maxDocumentBytes: 65_536,
      maxTokens: 2_000,
      maxDepth: 12,
      maxFields: 300,
      maxCost: 10_000,
      defaultPageSize: 10,
      maxPageSize: 50,
      maxOffset: 500,
      maxMutationFields: 3,
      documentCacheBytes: 64 * 1024 * 1024,
    });
    expect(config.introspection).toBe(false);
    expect(config.trustedDocuments).toBe("/srv/persisted-documents.json");
  });

  it.each([
    [{ GRAPHQL_MAX_DOCUMENT_BYTES: "2000000" }, "GRAPHQL_MAX_DOCUMENT_BYTES"],
    [{ GRAPHQL_MAX_PAGE_SIZE: "0" }, "GRAPHQL_MAX_PAGE_SIZE"],
    [{ GRAPHQL_MAX_COST: "lots" }, "GRAPHQL_MAX_COST"],
    [{ GRAPHQL_MAX_OFFSET: "-1" }, "GRAPHQL_MAX_OFFSET"],
    [{ GRAPHQL_INTROSPECTION: "maybe" }, "GRAPHQL_INTROSPECTION"],
    [{ GRAPHQL_DEFAULT_PAGE_SIZE: "200", GRAPHQL_MAX_PAGE_SIZE: "100" }, "GRAPHQL_DEFAULT_PAGE_SIZE"],
  ])("refuses %o in one line naming %s", (environment, variable) => {
    let message = "";
    try {
      parseEnvironment(environment);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      message = (error as Error).message;
    }
    expect(message).toMatch(new RegExp(`^Invalid configuration: ${variable}\\b`));
    expect(message).not.toContain("\n");
  });
});
