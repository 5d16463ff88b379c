import { appendFileSync } from "node:fs";
import pg from "pg";

/**
 * Loaded with `--import` into an API child started only to see what
 * PostGraphile sends: every statement a pg client runs (text and values) is
 * appended as one JSON line to the file named by BENCH_CAPTURE_SQL. Never
 * part of a measured run.
 */
const file = process.env.BENCH_CAPTURE_SQL;

if (file) {
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function query(this: unknown, ...args: unknown[]) {
    const [config, values] = args as [string | { text?: string; values?: unknown[] } | undefined, unknown];
    const text = typeof config === "string" ? config : config?.text;
    const given = typeof config === "string" ? values : (config?.values ?? values);
    if (text) appendFileSync(file, `${JSON.stringify({ text, values: Array.isArray(given) ? given : [] })}\n`);
    return original.apply(this, args);
  };
}
