import "../src/cli/graphile-env.ts";
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import pg from "pg";
import { signAccessToken } from "../src/auth/access-tokens.ts";
import { runCli } from "../src/cli/run-cli.ts";
import { ConfigurationError } from "../src/config/environment.ts";
import { createLogger } from "../src/observability/logger.ts";
import { castFor, prepareDatabase, type Cast } from "./database.ts";
import { runLoad, type LoadResult } from "./load.ts";
import { explainScenarios } from "./plans.ts";
import { sampleMemory, startApi, startCeiling, type ServerProcess } from "./processes.ts";
import { writeReport, type Measurement, type Report } from "./report.ts";
import { BENCH_PASSWORD, SCALES, type ScaleName } from "./scale.ts";
import { SCENARIOS, type Scenario } from "./scenarios.ts";

/**
 * `npm run bench`: seeds (or reuses) a data set, starts the API and the
 * raw-SQL ceiling server as child processes, loads each scenario at each
 * concurrency through both, explains the SQL under RLS, and reports.
 */
const JWT_SECRET = randomBytes(32).toString("base64url");
const JWT = { secret: JWT_SECRET, issuer: "ticketing-api", audience: "ticketing-clients", accessTokenSeconds: 3600 };

function options() {
  const { values } = parseArgs({
    options: {
      scale: { type: "string", default: "large" },
      duration: { type: "string", default: "10" },
      connections: { type: "string", default: "1,8,32" },
      scenarios: { type: "string" },
      "pool-size": { type: "string", default: "20" },
      "log-level": { type: "string", default: "info" },
      reseed: { type: "boolean", default: false },
    },
  });
  if (!(values.scale! in SCALES)) throw new ConfigurationError("--scale must be small, medium or large");
  const wanted = values.scenarios?.split(",");
  return {
    scale: values.scale as ScaleName,
    duration: Number(values.duration),
    connections: values.connections!.split(",").map(Number),
    scenarios: [...SCENARIOS, LOGIN].filter((scenario) => !wanted || wanted.includes(scenario.name)),
    poolSize: Number(values["pool-size"]),
    logLevel: values["log-level"]!,
    reseed: values.reseed!,
  };
}

/** Login is argon2-bound; it has no SQL of its own to explain. */
const LOGIN: Scenario = {
  name: "login",
  title: "login (argon2id)",
  role: "ticketing_customer",
  actor: (cast) => cast.customer.id,
  graphql: () => () => ({ query: "", variables: {} }),
  ceiling: () => () => [],
  explain: false,
};

function loginRequests(cast: Cast, graphql: boolean) {
  let n = 0;
  return () => {
    n += 1;
    const email = cast.loginEmails[n % cast.loginEmails.length]!;
    const forwarded = `198.51.${100 + (n % 2)}.${n % 250}`;
    const body = graphql
      ? { query: "mutation Login($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { accessToken } }", variables: { email, password: BENCH_PASSWORD } }
      : { email, password: BENCH_PASSWORD };
    return { body: JSON.stringify(body), headers: { "x-forwarded-for": forwarded } };
  };
}

function requestsFor(scenario: Scenario, cast: Cast, graphql: boolean) {
  if (scenario.name === "login") return loginRequests(cast, graphql);
  if (graphql) {
    const next = scenario.graphql(cast);
    return () => ({ body: JSON.stringify(next()) });
  }
  const next = scenario.ceiling(cast);
  return () => ({ body: JSON.stringify({ params: next() }) });
}

/** One request first: a run only counts if the answer has no errors. */
async function firstAnswerError(url: string, headers: Record<string, string>, request: { body: string; headers?: Record<string, string> }) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers, ...request.headers }, body: request.body });
  const json = (await response.json()) as { errors?: unknown; error?: unknown };
  return json.errors || json.error ? JSON.stringify(json.errors ?? json.error).slice(0, 300) : undefined;
}

async function refreshMovable(cast: Cast, rootUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: rootUrl });
  await client.connect();
  const { rows } = await client.query("select id, status from app_public.tickets where id = any($1)", [cast.movableTickets.map((t) => t.id)]);
  await client.end();
  cast.movableTickets = rows;
}

/**
 * take_next_ticket consumes the open pool; each run gets a pool large enough
 * for its duration, filed through the normal triggers, so both sides claim
 * real tickets rather than hitting an empty queue.
 */
async function topUpOpenPool(rootUrl: string, duration: number): Promise<void> {
  const client = new pg.Client({ connectionString: rootUrl });
  await client.connect();
  try {
    const wanted = 1_500 * duration;
    const { rows } = await client.query("select count(*)::int as n from app_public.tickets where status = 'open' and agent_id is null");
    const missing = wanted - rows[0].n;
    if (missing <= 0) return;
    await client.query(
      `insert into app_public.tickets (subject, customer_id, priority)
       select 'Queued request ' || n, (select id from app_public.users where role = 'customer' order by id limit 1),
              (array['low', 'normal', 'high', 'urgent'])[1 + n % 4]::app_public.ticket_priority
         from generate_series(1, $1::int) as n`,
      [missing],
    );
  } finally {
    await client.end();
  }
}

async function measure(
  scenario: Scenario,
  connections: number,
  cast: Cast,
  servers: { api: ServerProcess; ceiling: ServerProcess },
  settings: { duration: number; rootUrl: string },
  notes: string[],
): Promise<Measurement> {
  const token = `Bearer ${signAccessToken(JWT, { userId: scenario.actor(cast), role: scenario.role }).token}`;
  const headers: Record<string, string> = scenario.name === "login" ? {} : { authorization: token };
  const run = async (graphql: boolean): Promise<LoadResult> => {
    if (scenario.name === "transition") await refreshMovable(cast, settings.rootUrl);
    if (scenario.name === "take_next") await topUpOpenPool(settings.rootUrl, settings.duration);
    const url = graphql ? `${servers.api.baseUrl}/graphql` : `${servers.ceiling.baseUrl}/${scenario.name}`;
    const next = requestsFor(scenario, cast, graphql);
    const problem = await firstAnswerError(url, headers, next());
    if (problem) notes.push(`${scenario.name} (${graphql ? "GraphQL" : "ceiling"}): first answer had an error: ${problem}`);
    return runLoad({ url, connections, durationSeconds: settings.duration, headers, next });
  };
  const peak = sampleMemory(servers.api.child.pid!);
  const graphql = await run(true);
  const apiPeakRssMiB = peak();
  const ceiling = await run(false);
  return { scenario: scenario.name, title: scenario.title, connections, graphql, ceiling, apiPeakRssMiB };
}

await runCli(async () => {
  const settings = options();
  const logger = createLogger("warn");
  const progress = (step: string) => process.stderr.write(`[bench ${settings.scale}] ${step}\n`);
  const database = await prepareDatabase({ scale: settings.scale, reseed: settings.reseed, logger, progress });
  const servers: Partial<Record<"api" | "ceiling", ServerProcess>> = {};
  try {
    const cast = await castFor(database.rootOfDatabase);
    progress("starting the API and the ceiling server");
    servers.api = await startApi({ databaseUrl: database.urls.authenticator, jwtSecret: JWT_SECRET, port: 5801, poolSize: settings.poolSize, logLevel: settings.logLevel });
    servers.ceiling = await startCeiling({ databaseUrl: database.urls.authenticator, jwtSecret: JWT_SECRET, port: 5802, poolSize: settings.poolSize });
    const measurements: Measurement[] = [];
    const notes: string[] = [];
    for (const scenario of settings.scenarios) {
      for (const connections of settings.connections) {
        progress(`${scenario.name} at ${connections} connection(s)`);
        measurements.push(await measure(scenario, connections, cast, servers as Required<typeof servers>, { duration: settings.duration, rootUrl: database.rootOfDatabase }, notes));
      }
    }
    progress("explaining plans");
    const plans = await explainScenarios(database.urls.authenticator, settings.scenarios, cast);
    const report: Report = {
      startedAt: new Date().toISOString(),
      machine: {
        cores: availableParallelism(),
        node: process.version,
        postgres: database.serverVersion,
        postgraphile: JSON.parse(readFileSync("node_modules/postgraphile/package.json", "utf8")).version,
      },
      scale: settings.scale,
      durationSeconds: settings.duration,
      measurements,
      plans,
      notes,
    };
    process.stdout.write(await writeReport(report));
  } finally {
    await servers.api?.stop();
    await servers.ceiling?.stop();
    await database.stop();
  }
});
