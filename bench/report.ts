import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { LoadResult } from "./load.ts";
import type { PlanSummary, ScenarioPlans } from "./plans.ts";

/**
 * The benchmark's figures as Markdown and JSON under bench/results/:
 * `latest.*` is the last run whatever its scale, `<scale>.*` the last run at
 * that scale (the large run is compared with `small.json`).
 */
export interface Measurement {
  scenario: string;
  title: string;
  connections: number;
  graphql: LoadResult;
  ceiling: LoadResult;
  /** Highest resident memory of the API process sampled during this GraphQL run. */
  apiPeakRssMiB: number;
  /** The kernel's high-water mark (VmHWM) of the API process at the end of the run: the peak since it started. */
  apiHighWaterMiB: number;
  /** The same GraphQL load through a variant of the API (variants.ts). */
  variants?: { name: string; graphql: LoadResult }[];
}

export interface Report {
  startedAt: string;
  finishedAt: string;
  machine: {
    cores: number;
    node: string;
    postgres: string;
    postgraphile: string;
    /** 1-minute load average before and after the run: other work on the machine skews the figures. */
    loadAverage: { before: number; after: number };
  };
  scale: string;
  tickets: number;
  durationSeconds: number;
  poolSize: number;
  logLevel: string;
  measurements: Measurement[];
  /** Webhook deliveries to a local receiver (variants.ts, measureWebhookDeliveries). */
  webhooks?: { deliveries: number; seconds: number; perSecond: number; concurrency: number };
  plans: ScenarioPlans[];
  notes: string[];
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Server + database CPU ms per request, e.g. "0.91 + 0.40". */
function cpuCell(result: LoadResult): string {
  if (!result.cpu) return "-";
  const { serverMsPerRequest, databaseMsPerRequest } = result.cpu;
  return databaseMsPerRequest === undefined
    ? `${serverMsPerRequest}`
    : `${serverMsPerRequest} + ${databaseMsPerRequest}`;
}

const cpuTotal = (result: LoadResult) =>
  result.cpu ? result.cpu.serverMsPerRequest + (result.cpu.databaseMsPerRequest ?? 0) : 0;

const ratio = (measurement: Measurement) =>
  measurement.ceiling.requestsPerSecond > 0
    ? round(measurement.graphql.requestsPerSecond / measurement.ceiling.requestsPerSecond)
    : 0;

function loginPerCore(report: Report): string[] {
  const logins = report.measurements.filter((m) => m.scenario === "login");
  if (logins.length === 0) return [];
  const best = logins.reduce((a, b) => (b.graphql.requestsPerSecond > a.graphql.requestsPerSecond ? b : a));
  return [
    "",
    `Login (argon2id, hashed in the API process): at best ${best.graphql.requestsPerSecond} logins/s through GraphQL at ${best.connections} connection(s), ` +
      `${round(best.graphql.requestsPerSecond / report.machine.cores, 1)} logins/s per core (${report.machine.cores} cores shared with PostgreSQL and the load generator).`,
  ];
}

/** Each variant against the API as served: served ÷ variant in requests per second (1.00 = no cost). */
function variantComparison(report: Report): string[] {
  const rows = report.measurements.flatMap((m) =>
    (m.variants ?? []).map((v) => {
      const served = m.graphql.requestsPerSecond;
      const other = v.graphql.requestsPerSecond;
      const cpu = cpuTotal(v.graphql) > 0 ? round(cpuTotal(m.graphql) / cpuTotal(v.graphql)) : "-";
      return `| ${m.title} | ${m.connections} | ${v.name} | ${served} | ${m.graphql.p50} | ${other} | ${v.graphql.p50} | ${other > 0 ? round(served / other) : 0} | ${cpuCell(m.graphql)} | ${cpuCell(v.graphql)} | ${cpu} | ${v.graphql.failures} |`;
    }),
  );
  if (rows.length === 0) return [];
  return [
    "",
    "As served against variants of the API (limits off: without document checks, statement timeouts and request deadline; " +
      "no event log: without recording the event; webhook queued: with one endpoint for every ticket event, each write queuing a delivery job). " +
      "CPU per request (server process + PostgreSQL) moves far less than requests per second when other work shares the machine; a CPU ratio of 1.05 means the served API spends 5 % more per request than the variant:",
    "",
    "| scenario | conns | variant | served req/s | p50 ms | variant req/s | p50 ms | served ÷ variant (req/s) | CPU ms/req served | CPU ms/req variant | served ÷ variant (CPU/req) | variant failures |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ];
}

function webhookLine(report: Report): string[] {
  const w = report.webhooks;
  if (!w) return [];
  return [
    "",
    `Webhooks: ${w.deliveries} deliveries (signed, one per comment) to a receiver on 127.0.0.1 in ${w.seconds} s: ${w.perSecond} deliveries/s with one worker at concurrency ${w.concurrency}.`,
  ];
}

function planRow(scenario: string, source: string, plan: PlanSummary, roundTrips?: number): string {
  return `| ${scenario} | ${source} | ${plan.indexScans.join(", ") || "-"} | ${plan.seqScans.join(", ") || "-"} | ${plan.sharedBuffers} | ${plan.planningMs} | ${plan.executionMs} | ${roundTrips ?? 4} |`;
}

/** Latency and plans at this scale against the last run at the small scale (10k tickets): same scenario and concurrency. */
function scaleComparison(report: Report, baseline: Report | undefined): string[] {
  if (!baseline || baseline.scale === report.scale) return [];
  const ratioOf = (value: number, reference: number) => (reference > 0 ? round(value / reference) : 0);
  const rows = report.measurements.flatMap((m) => {
    const base = baseline.measurements.find((b) => b.scenario === m.scenario && b.connections === m.connections);
    if (!base) return [];
    return [
      `| ${m.title} | ${m.connections} | ${base.graphql.p50} | ${m.graphql.p50} | ${ratioOf(m.graphql.p50, base.graphql.p50)} | ${base.graphql.p99} | ${m.graphql.p99} | ${ratioOf(m.graphql.p99, base.graphql.p99)} |`,
    ];
  });
  const plans = report.plans.flatMap((p) => {
    const base = baseline.plans.find((b) => b.scenario === p.scenario);
    if (!base?.graphql || !p.graphql) return [];
    return [
      `| ${p.scenario} | ${base.graphql.executionMs} | ${p.graphql.executionMs} | ${ratioOf(p.graphql.executionMs, base.graphql.executionMs)} | ${base.graphql.sharedBuffers} | ${p.graphql.sharedBuffers} |`,
    ];
  });
  return [
    "",
    `### ${report.scale} (${report.tickets} tickets) against ${baseline.scale} (${baseline.tickets} tickets, run of ${baseline.startedAt})`,
    "",
    `| scenario | conns | GraphQL p50 ms, ${baseline.scale} | p50 ms, ${report.scale} | p50 ratio | p99 ms, ${baseline.scale} | p99 ms, ${report.scale} | p99 ratio |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `| generated SQL | execution ms, ${baseline.scale} | execution ms, ${report.scale} | ratio | buffers, ${baseline.scale} | buffers, ${report.scale} |`,
    "|---|---:|---:|---:|---:|---:|",
    ...plans,
  ];
}

export function markdown(report: Report, baseline?: Report): string {
  const m = report.machine;
  const lines = [
    `Scale **${report.scale}** (${report.tickets} tickets), ${report.durationSeconds} s per run, ${m.cores} cores, Node ${m.node}, PostgreSQL ${m.postgres}, ` +
      `PostGraphile ${m.postgraphile}, pool ${report.poolSize}, log level ${report.logLevel}; load average ${m.loadAverage.before} before, ${m.loadAverage.after} after (${report.startedAt}).`,
    "",
    "| scenario | conns | GraphQL req/s | p50 ms | p99 ms | ceiling req/s | p50 ms | p99 ms | ratio | CPU ms/req, server + PostgreSQL: GraphQL | ceiling | API RSS MiB (run peak / since start) | failures (gql/ceiling) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...report.measurements.map(
      (x) =>
        `| ${x.title} | ${x.connections} | ${x.graphql.requestsPerSecond} | ${x.graphql.p50} | ${x.graphql.p99} | ${x.ceiling.requestsPerSecond} | ${x.ceiling.p50} | ${x.ceiling.p99} | ${ratio(x)} | ${cpuCell(x.graphql)} | ${cpuCell(x.ceiling)} | ${x.apiPeakRssMiB} / ${x.apiHighWaterMiB} | ${x.graphql.failures}/${x.ceiling.failures} |`,
    ),
    ...loginPerCore(report),
    ...variantComparison(report),
    ...webhookLine(report),
    "",
    "Plans, as the scenario's role with its claims (row-level security on), warm cache:",
    "",
    "| scenario | SQL | index scans | seq scans | shared buffers | planning ms | execution ms | statements per request |",
    "|---|---|---|---|---:|---:|---:|---:|",
    ...report.plans.flatMap((p) => [
      planRow(p.scenario, p.graphql || !p.scenario.includes(":") ? "ceiling" : "inner query", p.ceiling),
      ...(p.graphql ? [planRow(p.scenario, "PostGraphile", p.graphql, p.graphqlRoundTrips)] : []),
    ]),
    ...scaleComparison(report, baseline),
    ...(report.notes.length > 0 ? ["", ...report.notes.map((note) => `- ${note}`)] : []),
  ];
  return `${lines.join("\n")}\n`;
}

export async function writeReport(report: Report, directory: string): Promise<string> {
  await mkdir(directory, { recursive: true });
  const baseline = await readFile(path.join(directory, "small.json"), "utf8").then(
    (text) => JSON.parse(text) as Report,
    () => undefined,
  );
  const text = markdown(report, baseline);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  for (const name of ["latest", report.scale]) {
    await writeFile(path.join(directory, `${name}.md`), text);
    await writeFile(path.join(directory, `${name}.json`), json);
  }
  return text;
}
