import { Buffer } from "node:buffer";
import { SafeError } from "postgraphile/grafast";
import { GraphQLError, parse, Source, type DocumentNode, type GraphQLSchema } from "postgraphile/graphql";
import type { LogSampler } from "../observability/log-sampler.ts";
import { WeightedLru } from "./document-cache.ts";
import { measureDocument } from "./query-cost.ts";
import { projectPlugin } from "./project-plugin.ts";

/**
 * Bounds on GraphQL documents, checked for every request (HTTP and
 * websocket) before grafserv parses and validates the document and before
 * grafast plans it:
 *
 * 1. size: the document's bytes (`maxDocumentBytes`), before anything else;
 * 2. tokens: graphql-js stops parsing after `maxTokens` tokens;
 * 3. shape: fields after expanding fragments (`maxFields`, aliases count),
 *    nesting (`maxDepth`), introspection lists nested in themselves;
 * 4. the executed operation, with its variables: page sizes (`first`/`last`
 *    at most `maxPageSize`, refused rather than clamped; `offset` at most
 *    `maxOffset`), cost (fields times
 *    the pages above them, connections without `first`/`last` counting
 *    `defaultPageSize`) and mutation fields per request.
 *
 * Steps 3 and 4 are one linear pass over the syntax tree (query-cost.ts), so
 * documents that would make graphql-js validation superlinear (thousands of
 * aliases, fragments doubling each other) are refused before it runs. Only
 * documents within these bounds are parsed, validated, planned and cached,
 * and the caches are bounded by estimated memory (document-cache.ts).
 * docs/security.md lists the limits.
 */
export interface DocumentLimits {
  maxDocumentBytes: number;
  maxTokens: number;
  maxDepth: number;
  maxFields: number;
  maxCost: number;
  defaultPageSize: number;
  maxPageSize: number;
  /** Rows a connection may skip with `offset` (beyond, cursors page through). */
  maxOffset: number;
  maxMutationFields: number;
  /** Estimated memory of cached documents and their plans (document-cache.ts). */
  documentCacheBytes: number;
}

export const DEFAULT_DOCUMENT_LIMITS: Readonly<DocumentLimits> = Object.freeze({
  maxDocumentBytes: 32_768,
  maxTokens: 1_000,
  maxDepth: 20,
  maxFields: 500,
  maxCost: 25_000,
  defaultPageSize: 20,
  maxPageSize: 100,
  maxOffset: 10_000,
  maxMutationFields: 10,
  documentCacheBytes: 16 * 1024 * 1024,
});

/** Grafast's own count bound on its plan cache, should document-cache.ts not replace it. */
const PLAN_CACHE_FALLBACK_LENGTH = 100;

export const QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX";
export const PAGE_TOO_LARGE = "PAGE_TOO_LARGE";
export const GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED";

// graphql-js spells it "more that" (sic); both are accepted.
const TOO_MANY_TOKENS = /Document contains more th(?:at|an) \d+ tokens/;

function refusal(code: string, message: string): SafeError {
  return new SafeError(message, { statusCode: 400, code });
}

/**
 * Syntax trees of documents that passed the size and token checks, by their
 * text, so a document a client sends again is not parsed again (parsing is
 * most of what the checks cost). Weighed at 20 bytes per character of text.
 */
export type ParsedDocuments = WeightedLru<string, DocumentNode>;
const PARSED_BYTES_PER_CHARACTER = 20;

/** Throws the coded refusal for a request body's document, or returns when it is within the limits. */
export function checkDocument(
  schema: GraphQLSchema,
  limits: DocumentLimits,
  body: { query?: unknown; operationName?: unknown; variableValues?: unknown },
  parsed?: ParsedDocuments,
): void {
  const { query } = body;
  // Not a string: grafserv answers that itself.
  if (typeof query !== "string") return;
  const bytes = query.length > limits.maxDocumentBytes ? Buffer.byteLength(query, "utf8") : 0;
  if (bytes > limits.maxDocumentBytes) {
    throw refusal(QUERY_TOO_COMPLEX, `The document is ${bytes} bytes; at most ${limits.maxDocumentBytes} are allowed`);
  }
  let document: DocumentNode | undefined = parsed?.get(query);
  try {
    if (!document) {
      document = parse(new Source(query, "GraphQL request"), { maxTokens: limits.maxTokens, noLocation: true });
      parsed?.set(query, document, PARSED_BYTES_PER_CHARACTER * query.length);
    }
  } catch (error) {
    if (error instanceof GraphQLError && TOO_MANY_TOKENS.test(error.message)) {
      throw refusal(QUERY_TOO_COMPLEX, `The document has more than ${limits.maxTokens} tokens`);
    }
    if (error instanceof GraphQLError) throw refusal(GRAPHQL_PARSE_FAILED, error.message);
    throw error;
  }
  const operationName = typeof body.operationName === "string" ? body.operationName : undefined;
  const variables = body.variableValues && typeof body.variableValues === "object" ? body.variableValues : undefined;
  const measure = measureDocument(schema, document, operationName, variables as Record<string, unknown> | undefined, {
    defaultPageSize: limits.defaultPageSize,
  });
  const whole = measure.document;
  if (whole.fields > limits.maxFields) {
    throw refusal(
      QUERY_TOO_COMPLEX,
      `The document selects ${formatCount(whole.fields)} fields once fragments are expanded; at most ${limits.maxFields} are allowed`,
    );
  }
  if (whole.depth > limits.maxDepth) {
    throw refusal(
      QUERY_TOO_COMPLEX,
      `The document nests fields ${whole.depth} levels deep; at most ${limits.maxDepth} are allowed`,
    );
  }
  if (whole.introspectionCycle) {
    throw refusal(
      QUERY_TOO_COMPLEX,
      `Introspection field '${whole.introspectionCycle}' may not be nested inside itself`,
    );
  }
  const operation = measure.operation;
  if (!operation) return;
  if (operation.largestPage && operation.largestPage.size > limits.maxPageSize) {
    const { field, size } = operation.largestPage;
    throw refusal(
      PAGE_TOO_LARGE,
      `'${field}' asks for ${formatCount(size)} rows; a page holds at most ${limits.maxPageSize} (use first/last and cursors)`,
    );
  }
  if (operation.largestOffset && operation.largestOffset.size > limits.maxOffset) {
    const { field, size } = operation.largestOffset;
    throw refusal(
      PAGE_TOO_LARGE,
      `'${field}' skips ${formatCount(size)} rows with offset; at most ${limits.maxOffset} may be skipped (page on with cursors: after/before)`,
    );
  }
  if (operation.cost > limits.maxCost) {
    throw refusal(
      QUERY_TOO_COMPLEX,
      `The query could return ${formatCount(operation.cost)} values (fields times the pages above them); at most ${limits.maxCost} are allowed. Ask for smaller pages or fewer nested lists`,
    );
  }
  if (operation.type === "mutation" && operation.rootFields > limits.maxMutationFields) {
    throw refusal(
      QUERY_TOO_COMPLEX,
      `The request runs ${operation.rootFields} mutations; at most ${limits.maxMutationFields} are allowed per request`,
    );
  }
}

function formatCount(value: number): string {
  return Number.isFinite(value) && value < 1e15 ? String(Math.round(value)) : "more than 10^15";
}

export interface DocumentLimitsOptions {
  limits: DocumentLimits;
  sampler: LogSampler;
}

/** How long a request waits for the schema at start-up before it is answered 503, as grafserv does. */
const SCHEMA_WAIT_MS = 15_000;

/** The limits as a PostGraphile plugin: the checks on every request, and grafast's plan cache bounded. */
export function documentLimitsPlugin({ limits, sampler }: DocumentLimitsOptions): GraphileConfig.Plugin {
  // The schema the checks measure against, kept when PostGraphile builds it. Requests that
  // arrive before it exists wait for it: none may skip the checks.
  let schema: GraphQLSchema | undefined;
  // A quarter of the document cache's budget: trees without their plans.
  const parsed: ParsedDocuments = new WeightedLru(Math.floor(limits.documentCacheBytes / 4));
  let schemaBuilt: (built: GraphQLSchema) => void = () => undefined;
  const firstSchema = new Promise<GraphQLSchema>((resolve) => (schemaBuilt = resolve));
  async function currentSchema(): Promise<GraphQLSchema> {
    if (schema) return schema;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), SCHEMA_WAIT_MS)));
    const built = await Promise.race([firstSchema, timeout]);
    clearTimeout(timer);
    if (!built)
      throw new SafeError("The API is starting; please retry", { statusCode: 503, code: "SERVICE_UNAVAILABLE" });
    return built;
  }
  return projectPlugin("DocumentLimits", {
    schema: {
      hooks: {
        GraphQLSchema(spec) {
          return {
            ...spec,
            extensions: {
              ...spec.extensions,
              grafast: {
                ...spec.extensions?.grafast,
                operationsCacheMaxLength: PLAN_CACHE_FALLBACK_LENGTH,
                // Plans of one operation differ by the variables it branches on; a few suffice.
                operationOperationPlansCacheMaxLength: 10,
              },
            },
          };
        },
        finalize(built) {
          schema = built;
          schemaBuilt(built);
          return built;
        },
      },
    },
    grafserv: {
      middleware: {
        async processGraphQLRequestBody(next, event) {
          // Other middleware first (trusted documents put the real document in place).
          await next();
          const measuredAgainst = await currentSchema();
          try {
            checkDocument(measuredAgainst, limits, event.body, parsed);
          } catch (error) {
            if (error instanceof SafeError) {
              sampler.warn(
                String(error.extensions?.code),
                { reason: error.message, transport: event.graphqlWsContext ? "websocket" : "http" },
                "GraphQL document refused",
              );
            }
            throw error;
          }
        },
      },
    },
  });
}
