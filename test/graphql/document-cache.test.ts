import { readFileSync } from "node:fs";
import { buildSchema, specifiedRules } from "postgraphile/graphql";
import { describe, expect, it } from "vitest";
import {
  BYTES_PER_DOCUMENT,
  BYTES_PER_FIELD,
  makeCachedParseAndValidate,
  WeightedLru,
} from "../../src/graphql/document-cache.ts";
import { checkDocument, DEFAULT_DOCUMENT_LIMITS, type ParsedDocuments } from "../../src/graphql/document-limits.ts";

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
    for (let index = 0; index < 50; index++)
      parseAndValidate(`query Q${index} { a: currentUserId b: currentUserId c: currentUserId }`);
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

describe("parsed documents of the limit checks", () => {
  const query = "query Mine { tickets(first: 20) { nodes { rowId subject } } }";

  it("parses a document once and checks it again from its tree, with each request's variables", () => {
    const parsed: ParsedDocuments = new WeightedLru(1024 * 1024);
    checkDocument(schema, DEFAULT_DOCUMENT_LIMITS, { query }, parsed);
    const tree = parsed.get(query);
    expect(tree).toBeDefined();
    checkDocument(schema, DEFAULT_DOCUMENT_LIMITS, { query }, parsed);
    expect(parsed.get(query)).toBe(tree);
    expect(parsed.size).toBe(1);
    // The tree is shared; the page sizes of each request still count.
    const byVariable = "query Page($n: Int) { tickets(first: $n) { nodes { rowId } } }";
    checkDocument(schema, DEFAULT_DOCUMENT_LIMITS, { query: byVariable, variableValues: { n: 5 } }, parsed);
    expect(() =>
      checkDocument(schema, DEFAULT_DOCUMENT_LIMITS, { query: byVariable, variableValues: { n: 5_000 } }, parsed),
    ).toThrow(/at most 100/);
  });

  it("keeps no tree of a refused document", () => {
    const parsed: ParsedDocuments = new WeightedLru(1024 * 1024);
    const tooLong = `{ ${"__typename ".repeat(DEFAULT_DOCUMENT_LIMITS.maxTokens + 1)}}`;
    expect(() => checkDocument(schema, DEFAULT_DOCUMENT_LIMITS, { query: tooLong }, parsed)).toThrow(/tokens/);
    expect(() => checkDocument(schema, DEFAULT_DOCUMENT_LIMITS, { query: "{ tickets(" }, parsed)).toThrow();
    expect(parsed.size).toBe(0);
  });
});
