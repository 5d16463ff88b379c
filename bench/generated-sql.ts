import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ServerProcess } from "./processes.ts";

/**
 * What PostGraphile sends to PostgreSQL for one request of each scenario,
 * read from an API child started with the statement hook
 * (capture-sql-hook.ts). The transaction around it (begin, the settings,
 * commit) is left out; what remains is the scenario's query as generated,
 * which plans.ts explains next to the ceiling's hand-written SQL.
 */
export interface Statement {
  text: string;
  values: unknown[];
}

export interface CapturedRequest {
  /** Every statement of the request, the transaction's own included. */
  roundTrips: number;
  /** The statements that do the scenario's work. */
  statements: Statement[];
}

const WRAPPER = /^\s*(begin|commit|rollback)\b|set_config\(/i;

export function captureFile(): string {
  return path.join(tmpdir(), `bench-sql-${process.pid}.ndjson`);
}

export async function captureRequests(
  api: ServerProcess,
  file: string,
  requests: { name: string; body: string; headers: Record<string, string> }[],
): Promise<Record<string, CapturedRequest>> {
  const send = (request: { body: string; headers: Record<string, string> }) =>
    fetch(`${api.baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...request.headers },
      body: request.body,
    }).then((response) => response.text());
  const captured: Record<string, CapturedRequest> = {};
  try {
    for (const request of requests) {
      // Once to warm up (schema introspection, prepared statements), once to record.
      await send(request);
      await writeFile(file, "");
      await send(request);
      const lines = (await readFile(file, "utf8")).split("\n").filter(Boolean);
      const all = lines.map((line) => JSON.parse(line) as Statement);
      captured[request.name] = {
        roundTrips: all.length,
        statements: all.filter((statement) => !WRAPPER.test(statement.text)),
      };
    }
  } finally {
    await rm(file, { force: true });
  }
  return captured;
}
