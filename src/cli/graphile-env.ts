/**
 * Grafast reads GRAPHILE_ENV when it is first imported; entry points import
 * this module first so development builds get its extra checks and
 * production builds stay quiet.
 */
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === "production" ? "production" : "development";

/**
 * PostGraphile (@dataplan/pg) names its prepared statements unless
 * DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE is 0, read when it is first
 * imported. DATABASE_PREPARED_STATEMENTS=false (a transaction-mode pooler
 * without prepared statement support, docs/deploy.md) turns them off.
 */
if (["false", "0"].includes(process.env.DATABASE_PREPARED_STATEMENTS ?? "")) {
  process.env.DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE = "0";
}
