import pg from "pg";
import { inRequestTransaction, inTransactionWithSettings } from "../src/database/request-transaction.ts";
import type { Cast } from "./database.ts";
import type { CapturedRequest, Statement } from "./generated-sql.ts";
import { ROLE } from "../src/database/web-roles.ts";
import { CEILING_SQL, type Scenario } from "./scenarios.ts";

/**
 * EXPLAIN (ANALYZE, BUFFERS) of each read scenario's SQL — the ceiling's
 * hand-written query and the query PostGraphile generated — run as the
 * scenario's role with its claims, then rolled back: which scans the plan
 * uses under row-level security, how many buffers it touches, how long it
 * takes. Each is run twice and the second run reported, so the figures are
 * of a warm cache, like the load runs.
 */
export interface PlanSummary {
  indexScans: string[];
  seqScans: string[];
  /** Shared buffers hit or read by the whole plan (the queries inside functions it calls included). */
  sharedBuffers: number;
  planningMs: number;
  executionMs: number;
}

export interface ScenarioPlans {
  scenario: string;
  ceiling: PlanSummary;
  graphql?: PlanSummary;
  /** Statements PostGraphile sent for one request, begin/settings/commit included. */
  graphqlRoundTrips?: number;
  graphqlSql?: string;
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

/** Monthly partitions read alike are named once: `ticket_status_history_p*_ticket_id_changed_at_idx (x25)`. */
function compact(names: string[]): string[] {
  const counts = new Map<string, number>();
  for (const name of names) {
    const key = name.replace(/_p\d{6}(?=_|$)/, "_p*");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([name, count]) => (count > 1 ? `${name} (x${count})` : name));
}

/**
 * An agent's search_tickets matches inside a security definer helper,
 * search_matches_in_sight (migration 000043): its index scans do not show in
 * the caller's plan, so the helper's matching query is explained on its own,
 * as the owner it runs as, with the scenario's agent in place of the
 * caller's claims ($2).
 */
const SEARCH_MATCHING_SQL = `select tk.id, ts_rank(tk.search, q) from app_public.tickets as tk, websearch_to_tsquery('english', $1) as q
   where tk.search @@ q and (tk.status = 'open' or tk.agent_id = $2)
  union all
  select c.ticket_id, ts_rank(c.search, q) * 0.5 from app_private.searchable_comments as c, websearch_to_tsquery('english', $1) as q
   where c.search @@ q and (c.ticket_open = 1::smallint or c.ticket_agent_id = $2)`;

async function explain(
  client: pg.Client,
  scenario: Scenario | undefined,
  cast: Cast,
  statement: Statement,
): Promise<PlanSummary> {
  let plan: { Plan: PlanNode; "Planning Time": number; "Execution Time": number } | undefined;
  const explainOnce = async (c: pg.ClientBase) =>
    (await c.query(`explain (analyze, buffers, format json) ${statement.text}`, statement.values)).rows[0][
      "QUERY PLAN"
    ][0];
  // The second of two runs is kept: the first warms the caches.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    plan = scenario
      ? await inRequestTransaction(client, { role: scenario.role, userId: scenario.actor(cast) }, explainOnce, {
          ending: "rollback",
        })
      : await inTransactionWithSettings(client, {}, explainOnce, "rollback");
  }
  const nodes = flatten(plan!.Plan);
  return {
    indexScans: compact([...new Set(nodes.filter((node) => node["Index Name"]).map((node) => node["Index Name"]!))]),
    seqScans: compact([
      ...new Set(nodes.filter((node) => node["Node Type"] === "Seq Scan").map((node) => node["Relation Name"]!)),
    ]),
    sharedBuffers: (plan!.Plan["Shared Hit Blocks"] ?? 0) + (plan!.Plan["Shared Read Blocks"] ?? 0),
    planningMs: Math.round(plan!["Planning Time"] * 100) / 100,
    executionMs: Math.round(plan!["Execution Time"] * 100) / 100,
  };
}

/** The statement that does a request's work: the longest one (PostGraphile sends one per request here). */
function mainStatement(captured: CapturedRequest | undefined): Statement | undefined {
  return captured?.statements.reduce<Statement | undefined>(
    (longest, statement) => (!longest || statement.text.length > longest.text.length ? statement : longest),
    undefined,
  );
}

export async function explainScenarios(
  urls: { authenticator: string; owner: string },
  scenarios: Scenario[],
  cast: Cast,
  generated: Record<string, CapturedRequest>,
): Promise<ScenarioPlans[]> {
  const client = new pg.Client({ connectionString: urls.authenticator });
  await client.connect();
  const plans: ScenarioPlans[] = [];
  try {
    for (const scenario of scenarios.filter((entry) => entry.explain)) {
      const ceiling = await explain(client, scenario, cast, {
        text: CEILING_SQL[scenario.name]!,
        values: scenario.ceiling(cast)(),
      });
      const statement = mainStatement(generated[scenario.name]);
      plans.push({
        scenario: scenario.name,
        ceiling,
        ...(statement
          ? {
              graphql: await explain(client, scenario, cast, statement),
              graphqlRoundTrips: generated[scenario.name]!.roundTrips,
              graphqlSql: statement.text,
            }
          : {}),
      });
    }
    const search = scenarios.find((entry) => entry.name === "search");
    if (search) {
      // A customer's search reads their own readable tickets whatever the word:
      // the scenario's word and a word found nowhere should cost the same.
      const asCustomer: Scenario = { ...search, role: ROLE.customer, actor: (c) => c.customer.id };
      for (const [label, word] of [
        ["the same word", search.ceiling(cast)()[0]],
        ["an absent word", "qzxvbnq"],
      ] as const) {
        plans.push({
          scenario: `search as the busiest customer, ${label}`,
          ceiling: await explain(client, asCustomer, cast, { text: CEILING_SQL.search!, values: [word] }),
        });
      }
      const owner = new pg.Client({ connectionString: urls.owner });
      await owner.connect();
      try {
        plans.push({
          scenario: "search: matching in search_matches_in_sight (as its owner, for the agent)",
          ceiling: await explain(owner, undefined, cast, {
            text: SEARCH_MATCHING_SQL,
            values: [...search.ceiling(cast)(), cast.agent],
          }),
        });
      } finally {
        await owner.end();
      }
    }
  } finally {
    await client.end();
  }
  return plans;
}
