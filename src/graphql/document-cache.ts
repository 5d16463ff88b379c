import {
  GraphQLError,
  parse,
  Source,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationRule,
} from "postgraphile/graphql";
import { measureDocument } from "./query-cost.ts";
import { projectPlugin } from "./project-plugin.ts";

/**
 * The parsed-document cache and the operation-plan cache, bounded by the
 * memory their entries are estimated to hold rather than by their count.
 *
 * Grafserv keeps the last 500 parsed documents and grafast the plans of the
 * last 500 operations, each counted as one however large it is: a few dozen
 * documents at the limits (hundreds of fields each) held tens of megabytes
 * of plans. Here:
 *
 * - parsed and validated documents are kept in one LRU whose entries weigh
 *   what they are estimated to hold: the source text, a plan's fixed part,
 *   and per field selected (fragments expanded) the syntax tree and the
 *   plan grafast builds for it. Entries are evicted, least recently used first, until
 *   the total is within `budgetBytes`;
 * - grafast's plan cache becomes a WeakMap keyed by the operations of those
 *   documents, so a plan lives exactly as long as its document is cached
 *   (or a request still uses it).
 *
 * Grafast creates its plan cache on first use under a symbol it does not
 * export, so the WeakMap takes its place when that symbol first appears;
 * if a future grafast stores it differently, its own count-bounded LRU
 * (`operationsCacheMaxLength`, document-limits.ts) still applies.
 */
// Measured: a plan for `{ __typename }` retains about 35 KiB, and each further field about 6 KiB.
export const BYTES_PER_DOCUMENT = 32 * 1024;
export const BYTES_PER_FIELD = 8 * 1024;
const PLAN_CACHE_SYMBOL = "cacheByOperation";

export type ParseAndValidateResult =
  | { document: DocumentNode; errors?: undefined }
  | { errors: readonly GraphQLError[]; document?: undefined };

export interface DocumentCacheOptions {
  budgetBytes: number;
  maxTokens: number;
  defaultPageSize: number;
}

/** A least-recently-used map whose entries have weights; the total stays within the budget. */
export class WeightedLru<K, V> {
  private readonly entries = new Map<K, { value: V; weight: number }>();
  private total = 0;
  private readonly budget: number;

  constructor(budget: number) {
    this.budget = budget;
  }

  get size(): number {
    return this.entries.size;
  }

  get weight(): number {
    return this.total;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V, weight: number): void {
    const existing = this.entries.get(key);
    if (existing) {
      this.total -= existing.weight;
      this.entries.delete(key);
    }
    if (weight > this.budget) return;
    this.entries.set(key, { value, weight });
    this.total += weight;
    for (const [oldest, entry] of this.entries) {
      if (this.total <= this.budget) break;
      this.entries.delete(oldest);
      this.total -= entry.weight;
    }
  }
}

/** What a cached document is estimated to hold, in bytes. */
function weigh(schema: GraphQLSchema, query: string, result: ParseAndValidateResult, defaultPageSize: number): number {
  const source = 2 * query.length;
  if (!result.document) return source + 1_024;
  const { fields } = measureDocument(schema, result.document, undefined, undefined, { defaultPageSize }).document;
  return source + BYTES_PER_DOCUMENT + fields * BYTES_PER_FIELD;
}

/** Replaces grafast's count-bounded plan cache with one that lives as long as the cached documents. */
function installPlanCache(schema: GraphQLSchema): boolean {
  const grafast = schema.extensions.grafast as Record<symbol, unknown> | undefined;
  if (!grafast) return false;
  const symbol = Object.getOwnPropertySymbols(grafast).find((candidate) => candidate.description === PLAN_CACHE_SYMBOL);
  if (!symbol) return false;
  const plans = new WeakMap<object, unknown>();
  grafast[symbol] = {
    get: (operation: object) => plans.get(operation),
    set: (operation: object, plan: unknown) => void plans.set(operation, plan),
  };
  return true;
}

export type ParseAndValidate = (query: string) => ParseAndValidateResult;

/** Grafserv's parseAndValidate, with the weighted cache. */
export function makeCachedParseAndValidate(
  schema: GraphQLSchema,
  rules: () => readonly ValidationRule[],
  options: DocumentCacheOptions,
): { parseAndValidate: ParseAndValidate; cache: WeightedLru<string, ParseAndValidateResult> } {
  const cache = new WeightedLru<string, ParseAndValidateResult>(options.budgetBytes);
  let planCacheInstalled = false;
  function parseAndValidate(query: string): ParseAndValidateResult {
    // Grafast makes its plan cache at the first plan, after the first parse.
    if (!planCacheInstalled) planCacheInstalled = installPlanCache(schema);
    const cached = cache.get(query);
    if (cached) return cached;
    let result: ParseAndValidateResult;
    try {
      const document = parse(new Source(query, "GraphQL HTTP Request"), { maxTokens: options.maxTokens });
      const errors = validate(schema, document, rules());
      result = errors.length > 0 ? { errors } : { document };
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      result = { errors: [error] };
    }
    cache.set(query, result, weigh(schema, query, result, options.defaultPageSize));
    return result;
  }
  return { parseAndValidate, cache };
}

/** The cache as a grafserv plugin: the execution config's parseAndValidate is replaced by the cached one. */
export function documentCachePlugin(options: DocumentCacheOptions): GraphileConfig.Plugin {
  return projectPlugin("DocumentCache", {
    grafserv: {
      middleware: {
        setPreset(next, event) {
          const original = event.getExecutionConfig;
          const bySchema = new WeakMap<GraphQLSchema, ParseAndValidate>();
          // The rules as the whole setPreset chain left them (validation-rules-plugin.ts).
          const rules = () => event.validationRules;
          const withCache = <T extends { schema: GraphQLSchema }>(config: T): T => {
            let parseAndValidate = bySchema.get(config.schema);
            if (!parseAndValidate) {
              parseAndValidate = makeCachedParseAndValidate(config.schema, rules, options).parseAndValidate;
              bySchema.set(config.schema, parseAndValidate);
            }
            return { ...config, parseAndValidate };
          };
          event.getExecutionConfig = function getExecutionConfig(context) {
            const config = original.call(this, context);
            return "then" in config ? config.then(withCache) : withCache(config);
          };
          return next();
        },
      },
    },
  });
}
