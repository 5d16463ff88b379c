import pg from "pg";
import type { Cast } from "./database.ts";
import { CEILING_SQL, type Scenario } from "./scenarios.ts";

/**
 * EXPLAIN (ANALYZE, BUFFERS) of each read scenario's SQL, run as the
 * scenario's role with its claims, then rolled back: which scans the plan
 * uses under row-level security, how many buffers it touches, how long it takes.
 */
export interface PlanSummary {
  scenario: string;
  indexScans: string[];
  seqScans: string[];
  sharedBuffers: number;
  executionMs: number;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}

export async function explainScenarios(authenticatorUrl: string, scenarios: Scenario[], cast: Cast): Promise<PlanSummary[]> {
  const client = new pg.Client({ connectionString: authenticatorUrl });
  await client.connect();
  const summaries: PlanSummary[] = [];
  try {
    for (const scenario of scenarios.filter((entry) => entry.explain)) {
      await client.query("begin");
      await client.query("select set_config('role', $1, true), set_config('jwt.claims.user_id', $2, true)", [
        scenario.role,
        scenario.actor(cast),
      ]);
      const { rows } = await client.query(`explain (analyze, buffers, format json) ${CEILING_SQL[scenario.name]}`, scenario.ceiling(cast)());
      await client.query("rollback");
      const plan = rows[0]["QUERY PLAN"][0];
      const nodes = flatten(plan.Plan as PlanNode);
      summaries.push({
        scenario: scenario.name,
        indexScans: [...new Set(nodes.filter((node) => node["Index Name"]).map((node) => node["Index Name"]!))],
        seqScans: [...new Set(nodes.filter((node) => node["Node Type"] === "Seq Scan").map((node) => node["Relation Name"]!))],
        sharedBuffers: (plan.Plan["Shared Hit Blocks"] ?? 0) + (plan.Plan["Shared Read Blocks"] ?? 0),
        executionMs: Math.round(plan["Execution Time"] * 100) / 100,
      });
    }
  } finally {
    await client.end();
  }
  return summaries;
}
