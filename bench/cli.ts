import "../src/cli/graphile-env.ts";
import { randomBytes } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { withClient } from "../src/database/cluster-setup.ts";
import { signAccessToken } from "../src/auth/access-tokens.ts";
import { runCli } from "../src/cli/run-cli.ts";
import { ConfigurationError } from "../src/config/environment.ts";
import { ROLE } from "../src/database/web-roles.ts";
import { createLogger } from "../src/observability/logger.ts";
import { castFor, prepareDatabase, type Cast } from "./database.ts";
import { runLoad, type LoadResult } from "./load.ts";
import { captureFile, captureRequests, type CapturedRequest } from "./generated-sql.ts";
import { explainScenarios } from "./plans.ts";
import { progressReporter } from "./progress.ts";
import { freePort } from "../src/net/free-port.ts";
import {
  cpuMillis,
  postmasterPid,
  residentHighWaterMiB,
  sampleMemory,
  serverCpuMillis,
  startApi,
  startCeiling,
  type ServerProcess,
} from "./processes.ts";
import { writeReport, type Measurement, type Report } from "./report.ts";
import { BENCH_PASSWORD, SCALES, type ScaleName } from "./scale.ts";
import { SCENARIOS, type Scenario } from "./scenarios.ts";
import { measureWebhookDeliveries, variantsFor, type Variant, type VariantContext } from "./variants.ts";

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
      "seed-only": { type: "boolean", default: false },
      "api-node-args": { type: "string", default: "" },
      results: { type: "string", default: "bench/results" },
      compare: { type: "string", default: "limits,events,sla" },
      "webhook-deliveries": { type: "string", default: "2000" },
      strict: { type: "boolean", default: false },
    },
  });
  if (!(values.scale! in SCALES))
    throw new ConfigurationError(`--scale must be one of ${Object.keys(SCALES).join(", ")}`);
  const wanted = values.scenarios?.split(",");
  return {
    scale: values.scale as ScaleName,
    duration: Number(values.duration),
    connections: values.connections!.split(",").map(Number),
    scenarios: [...SCENARIOS, LOGIN].filter((scenario) => !wanted || wanted.includes(scenario.name)),
    poolSize: Number(values["pool-size"]),
    logLevel: values["log-level"]!,
    reseed: values.reseed!,
    seedOnly: values["seed-only"]!,
    apiNodeArgs: values["api-node-args"]!.split(" ").filter(Boolean),
    resultsDir: values.results!,
    variants: variantsFor(values.compare!.split(",").filter(Boolean)),
    webhookDeliveries: Number(values["webhook-deliveries"]),
    strict: values.strict!,
  };
}

/** Login is argon2-bound; it has no SQL of its own to explain. */
const LOGIN: Scenario = {
  name: "login",
  title: "login (argon2id)",
  role: ROLE.customer,
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
      ? {
          query:
            "mutation Login($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { accessToken } }",
          variables: { email, password: BENCH_PASSWORD },
        }
      : { email, password: BENCH_PASSWORD };
    return { body: JSON.stringify(body), headers: { "x-forwarded-for": forwarded } };
  };
}

function tokenOf(scenario: Scenario, userId: string): string {
  return `Bearer ${signAccessToken(JWT, { userId, role: scenario.role }).token}`;
}

/** Each request's own Authorization header, when the scenario's requests come from many users. */
function authorizations(scenario: Scenario, cast: Cast): () => Record<string, string> {
  const tokens = scenario.actors?.(cast).map((userId) => tokenOf(scenario, userId)) ?? [];
  let n = 0;
  return (): Record<string, string> => (tokens.length === 0 ? {} : { authorization: tokens[n++ % tokens.length]! });
}

function requestsFor(scenario: Scenario, cast: Cast, graphql: boolean) {
  if (scenario.name === "login") return loginRequests(cast, graphql);
  const headers = authorizations(scenario, cast);
  if (graphql) {
    const next = scenario.graphql(cast);
    return () => ({ body: JSON.stringify(next()), headers: headers() });
  }
  const next = scenario.ceiling(cast);
  return () => ({ body: JSON.stringify({ params: next() }), headers: headers() });
}

/** One request first: a run only counts if the answer has no errors. */
async function firstAnswerError(
  url: string,
  headers: Record<string, string>,
  request: { body: string; headers?: Record<string, string> },
) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers, ...request.headers },
    body: request.body,
  });
  const json = (await response.json()) as { errors?: unknown; error?: unknown };
  return json.errors || json.error ? JSON.stringify(json.errors ?? json.error).slice(0, 300) : undefined;
}

/** Enough tickets to move that no two requests in flight ever move the same one. */
const MOVABLE_TICKETS = 256;

/**
 * Before each transition run: requests still in flight from the previous
 * run settle, the agent gets enough tickets in work (taken from the open
 * pool through the normal triggers), and the statuses are read back, so
 * every request asks for a move that is allowed.
 */
async function refreshMovable(cast: Cast, rootUrl: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  await withClient(rootUrl, async (client) => {
    await client.query(
      `update app_public.tickets set agent_id = $1, status = 'in_progress'
        where id in (select id from app_public.tickets where status = 'open' and agent_id is null
                      order by created_at limit greatest(0, $2::int - (
                        select count(*) from app_public.tickets where agent_id = $1 and status in ('in_progress', 'waiting_on_customer'))))`,
      [cast.agent, MOVABLE_TICKETS],
    );
    const { rows } = await client.query(
      "select id, status from app_public.tickets where agent_id = $1 and status in ('in_progress', 'waiting_on_customer') order by id limit $2",
      [cast.agent, MOVABLE_TICKETS * 4],
    );
    cast.movableTickets = rows;
  });
}

/**
 * take_next_ticket consumes the open pool; each run needs a pool large
 * enough for its duration. Missing tickets are filed through the normal
 * triggers for one customer set aside for it (the last one seeded, whom no
 * other scenario reads), and after the run the tickets it took go back to
 * the pool, unassigned, as an admin would return them: the table stops
 * growing after the first top-up, and the seeded data stays as it was.
 */
const QUEUE_SUBJECT = "Queued request";

async function topUpOpenPool(rootUrl: string, duration: number): Promise<void> {
  await withClient(rootUrl, async (client) => {
    const wanted = 1_500 * duration;
    const { rows } = await client.query(
      "select count(*)::int as n from app_public.tickets where status = 'open' and agent_id is null",
    );
    const missing = wanted - rows[0].n;
    if (missing <= 0) return;
    await client.query(
      `insert into app_public.tickets (subject, customer_id, priority)
       select $2 || ' ' || n, (select id from app_public.users where role = 'customer' order by id desc limit 1),
              (array['low', 'normal', 'high', 'urgent'])[1 + n % 4]::app_public.ticket_priority
         from generate_series(1, $1::int) as n`,
      [missing, QUEUE_SUBJECT],
    );
    // At small scales the top-up more than doubles the table: analyze at
    // once, as autovacuum would shortly after such an import, so the run does
    // not measure plans made for the table before it.
    await client.query("analyze app_public.tickets");
  });
}

async function returnTakenTickets(rootUrl: string, agentId: string, since: Date): Promise<void> {
  await withClient(rootUrl, async (client) => {
    await client.query("select set_config('app.status_note', 'Returned to the queue after the benchmark', false)");
    await client.query(
      "update app_public.tickets set agent_id = null, status = 'open' where agent_id = $1 and status = 'in_progress' and updated_at >= $2",
      [agentId, since],
    );
  });
}

async function openPoolSize(rootUrl: string): Promise<number> {
  return withClient(rootUrl, async (client) => {
    const { rows } = await client.query(
      "select count(*)::int as n from app_public.tickets where status = 'open' and agent_id is null",
    );
    return rows[0].n as number;
  });
}

/** The comment scenario writes far more than an agent's hourly quota allows. */
const RAISED_COMMENT_QUOTA = 1_000_000;

/** Raises the agents' comment quota for the run; returns the undo. */
async function raiseCommentQuota(rootUrl: string): Promise<() => Promise<void>> {
  const withRoot = (sql: string, values: unknown[]) =>
    withClient(rootUrl, async (client) => (await client.query(sql, values)).rows);
  const [before] = await withRoot(
    "select max_count, per_interval::text from app_public.write_quotas where role = 'agent' and kind = 'comment'",
    [],
  );
  await withRoot(
    "update app_public.write_quotas set max_count = $1, per_interval = interval '1 minute' where role = 'agent' and kind = 'comment'",
    [RAISED_COMMENT_QUOTA],
  );
  return async () => {
    if (before)
      await withRoot(
        "update app_public.write_quotas set max_count = $1, per_interval = $2::interval where role = 'agent' and kind = 'comment'",
        [before.max_count, before.per_interval],
      );
  };
}

/**
 * The quota check reads the writer's counted writes within the window: at
 * benchmark rates that is thousands of rows more each run. Every run of the
 * comment scenario starts from none, as the first of a real agent's hour would.
 */
async function forgetCountedWrites(rootUrl: string): Promise<void> {
  await withClient(rootUrl, (client) => client.query("delete from app_private.write_events"));
}

/** The worker's default (WORKER_CONCURRENCY) for the delivery rate. */
const WEBHOOK_WORKER_CONCURRENCY = 4;

const WARM_UP_SECONDS = 2;

/**
 * What makes a run wrong rather than slow: failed requests on any side, a
 * first answer with an error. `--strict` (CI's smoke run) exits non-zero on
 * any of them; timings are never judged.
 */
function failuresOf(report: Report): string[] {
  const failed = report.measurements.flatMap((m) => [
    ...(m.graphql.failures > 0 ? [`${m.scenario} GraphQL: ${m.graphql.failures} failed`] : []),
    ...(m.ceiling.failures > 0 ? [`${m.scenario} ceiling: ${m.ceiling.failures} failed`] : []),
    ...(m.variants ?? [])
      .filter((v) => v.graphql.failures > 0)
      .map((v) => `${m.scenario} ${v.name}: ${v.graphql.failures} failed`),
  ]);
  return [...failed, ...report.notes.filter((note) => note.includes("had an error"))];
}
const warmedUp = new Set<string>();

async function measure(
  scenario: Scenario,
  connections: number,
  cast: Cast,
  servers: { api: ServerProcess; ceiling: ServerProcess },
  settings: {
    duration: number;
    rootUrl: string;
    variants: Variant[];
    variantContext: VariantContext;
    postmasterPid: number | undefined;
  },
  notes: string[],
): Promise<Measurement> {
  const headers: Record<string, string> =
    scenario.name === "login" ? {} : { authorization: tokenOf(scenario, scenario.actor(cast)) };
  // Never longer than a measured run (a short smoke run stays short).
  const warmUp = Math.min(WARM_UP_SECONDS, settings.duration);
  const run = async (graphql: boolean, api = servers.api): Promise<LoadResult> => {
    if (MOVES_TICKETS.has(scenario.name)) await refreshMovable(cast, settings.rootUrl);
    if (scenario.name === "comment") await forgetCountedWrites(settings.rootUrl);
    if (scenario.name === "take_next") await topUpOpenPool(settings.rootUrl, settings.duration);
    const url = graphql ? `${api.baseUrl}/graphql` : `${servers.ceiling.baseUrl}/${scenario.name}`;
    const next = requestsFor(scenario, cast, graphql);
    const problem = await firstAnswerError(url, headers, next());
    if (problem)
      notes.push(`${scenario.name} (${graphql ? "GraphQL" : "ceiling"}): first answer had an error: ${problem}`);
    const since = new Date(Date.now() - 1_000);
    const server = graphql ? api : servers.ceiling;
    const cpuBefore = {
      server: cpuMillis(server.child.pid!),
      database: settings.postmasterPid ? serverCpuMillis(settings.postmasterPid) : 0,
    };
    const loaded = await runLoad({ url, connections, durationSeconds: settings.duration, headers, next });
    const perRequest = (ms: number) => (loaded.requests > 0 ? Math.round((ms / loaded.requests) * 1000) / 1000 : 0);
    const result: LoadResult = {
      ...loaded,
      cpu: {
        serverMsPerRequest: perRequest(cpuMillis(server.child.pid!) - cpuBefore.server),
        ...(settings.postmasterPid
          ? { databaseMsPerRequest: perRequest(serverCpuMillis(settings.postmasterPid) - cpuBefore.database) }
          : {}),
      },
    };
    if (scenario.name === "take_next") {
      if ((await openPoolSize(settings.rootUrl)) === 0) {
        notes.push(
          `take_next (${graphql ? "GraphQL" : "ceiling"}, ${connections} connections): the open pool ran empty; later requests returned null`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      await returnTakenTickets(settings.rootUrl, cast.takeAgent, since);
    }
    return result;
  };
  // The first load of a scenario also compiles its code paths (V8, grafast's
  // operation plan, prepared statements): that is not what is measured.
  if (!warmedUp.has(scenario.name)) {
    warmedUp.add(scenario.name);
    for (const graphql of [true, false]) {
      const url = graphql ? `${servers.api.baseUrl}/graphql` : `${servers.ceiling.baseUrl}/${scenario.name}`;
      if (MOVES_TICKETS.has(scenario.name)) await refreshMovable(cast, settings.rootUrl);
      if (scenario.name === "take_next") await topUpOpenPool(settings.rootUrl, warmUp);
      const since = new Date(Date.now() - 1_000);
      await runLoad({
        url,
        connections: 8,
        durationSeconds: warmUp,
        headers,
        next: requestsFor(scenario, cast, graphql),
      });
      if (scenario.name === "take_next") {
        await new Promise((resolve) => setTimeout(resolve, 500));
        await returnTakenTickets(settings.rootUrl, cast.takeAgent, since);
      }
    }
  }
  const peak = sampleMemory(servers.api.child.pid!);
  const graphql = await run(true);
  const apiPeakRssMiB = peak();
  const apiHighWaterMiB = residentHighWaterMiB(servers.api.child.pid!);
  const ceiling = await run(false);
  const variants: { name: string; graphql: LoadResult }[] = [];
  for (const variant of settings.variants.filter((v) => v.applies(scenario))) {
    const { api, undo } = await variant.setUp(settings.variantContext, servers.api);
    try {
      // Another API process compiles its code paths afresh.
      if (api !== servers.api && !warmedUp.has(`${scenario.name}/${variant.name}`)) {
        warmedUp.add(`${scenario.name}/${variant.name}`);
        await runLoad({
          url: `${api.baseUrl}/graphql`,
          connections: 8,
          durationSeconds: warmUp,
          headers,
          next: requestsFor(scenario, cast, true),
        });
      }
      variants.push({ name: variant.name, graphql: await run(true, api) });
    } finally {
      await undo();
    }
  }
  return {
    scenario: scenario.name,
    title: scenario.title,
    connections,
    graphql,
    ceiling,
    apiPeakRssMiB,
    apiHighWaterMiB,
    ...(variants.length > 0 ? { variants } : {}),
  };
}

/** Scenarios that act on the agent's tickets in work (refreshed before each run). */
const MOVES_TICKETS = new Set(["transition"]);

/** One request of each scenario through an API child that records its statements. */
async function generatedSql(
  settings: ReturnType<typeof options>,
  database: { urls: { authenticator: string } },
  cast: Cast,
): Promise<Record<string, CapturedRequest>> {
  const file = captureFile();
  const api = await startApi({
    databaseUrl: database.urls.authenticator,
    jwtSecret: JWT_SECRET,
    port: await freePort(),
    poolSize: 2,
    logLevel: "warn",
    captureFile: file,
  });
  try {
    const requests = settings.scenarios
      .filter((scenario) => scenario.explain)
      .map((scenario) => ({
        name: scenario.name,
        body: JSON.stringify(scenario.graphql(cast)()),
        headers: { authorization: tokenOf(scenario, scenario.actor(cast)) },
      }));
    return await captureRequests(api, file, requests);
  } finally {
    await api.stop();
  }
}

await runCli(async () => {
  const settings = options();
  const startedAt = new Date().toISOString();
  const loadBefore = Math.round(loadavg()[0]! * 100) / 100;
  const logger = createLogger("warn");
  const progress = progressReporter(`bench ${settings.scale}`);
  const database = await prepareDatabase({ scale: settings.scale, reseed: settings.reseed, logger, progress });
  if (settings.seedOnly) {
    await database.stop();
    return;
  }
  const servers: Partial<Record<"api" | "ceiling" | "withoutLimits", ServerProcess>> = {};
  const restoreQuota = await raiseCommentQuota(database.rootOfDatabase);
  try {
    const cast = await castFor(database.rootOfDatabase);
    progress("recording the SQL PostGraphile generates");
    const generated = await generatedSql(settings, database, cast);
    progress("starting the API and the ceiling server");
    servers.api = await startApi({
      databaseUrl: database.urls.authenticator,
      jwtSecret: JWT_SECRET,
      port: await freePort(),
      poolSize: settings.poolSize,
      logLevel: settings.logLevel,
      nodeArgs: settings.apiNodeArgs,
    });
    servers.ceiling = await startCeiling({
      databaseUrl: database.urls.authenticator,
      jwtSecret: JWT_SECRET,
      port: await freePort(),
      poolSize: settings.poolSize,
    });
    if (settings.variants.some((variant) => variant.name === "limits off")) {
      servers.withoutLimits = await startApi({
        databaseUrl: database.urls.authenticator,
        jwtSecret: JWT_SECRET,
        port: await freePort(),
        poolSize: settings.poolSize,
        logLevel: settings.logLevel,
        entry: "bench/api-without-limits.ts",
      });
    }
    const variantContext: VariantContext = {
      rootUrl: database.rootOfDatabase,
      ...(servers.withoutLimits ? { apiWithoutLimits: servers.withoutLimits } : {}),
    };
    const measurements: Measurement[] = [];
    const notes: string[] = [];
    const databasePid = await postmasterPid(database.rootOfDatabase);
    if (!databasePid)
      notes.push(
        "PostgreSQL runs elsewhere (its postmaster.pid is not readable here): CPU per request counts the server processes only.",
      );
    if (settings.scenarios.some((scenario) => scenario.name === "comment")) {
      notes.push(
        `comment: the agents' comment quota is raised to ${RAISED_COMMENT_QUOTA} a minute for the run (and restored), so the load is not refused; the quota check still runs.`,
      );
    }
    for (const scenario of settings.scenarios) {
      for (const connections of settings.connections) {
        progress(`${scenario.name} at ${connections} connection(s)`);
        measurements.push(
          await measure(
            scenario,
            connections,
            cast,
            servers as Required<typeof servers>,
            {
              duration: settings.duration,
              rootUrl: database.rootOfDatabase,
              variants: settings.variants,
              variantContext,
              postmasterPid: databasePid,
            },
            notes,
          ),
        );
      }
    }
    let webhooks: Report["webhooks"];
    if (settings.webhookDeliveries > 0 && settings.variants.some((variant) => variant.group === "events")) {
      progress(`delivering ${settings.webhookDeliveries} webhooks to a local receiver`);
      webhooks = await measureWebhookDeliveries({
        rootUrl: database.rootOfDatabase,
        ownerUrl: database.urls.owner,
        cast,
        count: settings.webhookDeliveries,
        concurrency: WEBHOOK_WORKER_CONCURRENCY,
      });
    }
    progress("explaining plans");
    const plans = await explainScenarios(database.urls, settings.scenarios, cast, generated);
    const report: Report = {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: {
        cores: availableParallelism(),
        node: process.version,
        postgres: database.serverVersion,
        postgraphile: JSON.parse(readFileSync("node_modules/postgraphile/package.json", "utf8")).version,
        loadAverage: { before: loadBefore, after: Math.round(loadavg()[0]! * 100) / 100 },
      },
      scale: settings.scale,
      tickets: SCALES[settings.scale].tickets,
      durationSeconds: settings.duration,
      poolSize: settings.poolSize,
      logLevel: settings.logLevel,
      measurements,
      ...(webhooks ? { webhooks } : {}),
      plans,
      notes,
    };
    process.stdout.write(await writeReport(report, settings.resultsDir));
    const problems = failuresOf(report);
    if (settings.strict && problems.length > 0)
      throw new Error(`the benchmark saw failures (--strict): ${problems.join("; ")}`);
  } finally {
    await servers.api?.stop();
    await servers.ceiling?.stop();
    await servers.withoutLimits?.stop();
    await restoreQuota();
    await database.stop();
  }
});
