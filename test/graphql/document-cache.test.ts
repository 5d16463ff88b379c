import { readFileSync } from "node:fs";
import { buildSchema, specifiedRules } from "postgraphile/graphql";
import { describe, expect, it } from "vitest";
import { BYTES_PER_DOCUMENT, BYTES_PER_FIELD, makeCachedParseAndValidate, WeightedLru } from "../../src/graphql/document-cache.ts";

/** The document cache is bounded by the estimated memory of its entries, not their count. */
const schema = buildSchema(readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"));

describe("weighted LRU", () => {
  it("evicts the least recently used entries until the total weight is within the budget", () => {
    const lru = new WeightedLru<string, number>(100);
    lru.set("a", 1, 40);
    lru.set("b", 2, 40);
    expect(lru.get("a")).toBe(1);
    lru.set("c", 3, 40);
    expect(lru.get("b")).toBeUndefined();
    expect([lru.get("a"), lru.get("c")]).toEqual([1, 3]);
    expect(lru.weight).toBe(80);
  });

  it("does not keep an entry heavier than the whole budget", () => {
    const lru = new WeightedLru<string, number>(100);
    lru.set("small", 1, 10);
    lru.set("huge", 2, 101);
    expect(lru.get("huge")).toBeUndefined();
    expect(lru.get("small")).toBe(1);
  });
});

describe("cached parse and validate", () => {
  it("answers a repeated document from the cache and weighs documents by their fields", () => {
    const budget = 4 * (BYTES_PER_DOCUMENT + 3 * BYTES_PER_FIELD);
    const { parseAndValidate, cache } = makeCachedParseAndValidate(schema, () => specifiedRules, {
      budgetBytes: budget,
      maxTokens: 1_000,
      defaultPageSize: 20,
    });
    const first = parseAndValidate("{ currentUserId }");
    expect(first.document).toBeDefined();
    expect(parseAndValidate("{ currentUserId }")).toBe(first);
    for (let index = 0; index < 50; index++) parseAndValidate(`query Q${index} { a: currentUserId b: currentUserId c: currentUserId }`);
    // 50 documents were parsed; only what fits the budget stays.
    expect(cache.size).toBeLessThanOrEqual(4);
    expect(cache.weight).toBeLessThanOrEqual(budget);
  });

  it("caches validation errors too, and parse errors as errors", () => {
    const { parseAndValidate } = makeCachedParseAndValidate(schema, () => specifiedRules, {
      budgetBytes: 1_000_000,
      maxTokens: 1_000,
      defaultPageSize: 20,
    });
    expect(parseAndValidate("{ nope }").errors?.[0]?.message).toContain("nope");
    expect(parseAndValidate("{ nope").errors?.[0]?.message).toContain("Syntax Error");
  });
});
