import { mkdir, readFile, writeFile } from "node:fs/promises";
import type { LoadResult } from "./load.ts";
import type { PlanSummary } from "./plans.ts";

/** The benchmark's figures as a Markdown table and a JSON file under bench/results/. */
export interface Measurement {
  scenario: string;
  title: string;
  connections: number;
  graphql: LoadResult;
  ceiling: LoadResult;
  apiPeakRssMiB: number;
}

export interface Report {
  startedAt: string;
  machine: { cores: number; node: string; postgres: string; postgraphile: string };
  scale: string;
  durationSeconds: number;
  measurements: Measurement[];
  plans: PlanSummary[];
  notes: string[];
}

const ratio = (measurement: Measurement) =>
  measurement.ceiling.requestsPerSecond > 0
    ? Math.round((measurement.graphql.requestsPerSecond / measurement.ceiling.requestsPerSecond) * 100) / 100
    : 0;

/** Latency at this scale against a run at the small scale (10k tickets), same scenario and concurrency. */
function scaleComparison(report: Report, baseline: Report | undefined): string[] {
  if (!baseline || baseline.scale === report.scale) return [];
  const rows = report.measurements.flatMap((m) => {
    const base = baseline.measurements.find((b) => b.scenario === m.scenario && b.connections === m.connections);
    if (!base || base.graphql.p50 === 0) return [];
    const ratioOf = (value: number, reference: number) => (reference > 0 ? Math.round((value / reference) * 100) / 100 : 0);
    return [`| ${m.title} | ${m.connections} | ${base.graphql.p50} | ${m.graphql.p50} | ${ratioOf(m.graphql.p50, base.graphql.p50)} | ${ratioOf(m.graphql.p99, base.graphql.p99)} |`];
  });
  if (rows.length === 0) return [];
  return [
    "",
    `GraphQL latency at ${report.scale} against ${baseline.scale} (${baseline.startedAt}):`,
    "",
    `| scenario | conns | p50 ms at ${baseline.scale} | p50 ms at ${report.scale} | p50 ratio | p99 ratio |`,
    "|---|---:|---:|---:|---:|---:|",
    ...rows,
  ];
}

export function markdown(report: Report, baseline?: Report): string {
  const lines = [
    `Scale **${report.scale}**, ${report.durationSeconds} s per run, ${report.machine.cores} cores, Node ${report.machine.node}, PostgreSQL ${report.machine.postgres}, PostGraphile ${report.machine.postgraphile} (${report.startedAt}).`,
    "",
    "| scenario | conns | GraphQL req/s | p50 ms | p99 ms | ceiling req/s | p50 ms | p99 ms | ratio | API peak RSS MiB | failures (gql/ceiling) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...report.measurements.map(
      (m) =>
        `| ${m.title} | ${m.connections} | ${m.graphql.requestsPerSecond} | ${m.graphql.p50} | ${m.graphql.p99} | ${m.ceiling.requestsPerSecond} | ${m.ceiling.p50} | ${m.ceiling.p99} | ${ratio(m)} | ${m.apiPeakRssMiB} | ${m.graphql.failures}/${m.ceiling.failures} |`,
    ),
    "",
    "| plan (as the scenario's role, under RLS) | index scans | seq scans | shared buffers | execution ms |",
    "|---|---|---|---:|---:|",
    ...report.plans.map(
      (p) => `| ${p.scenario} | ${p.indexScans.join(", ") || "-"} | ${p.seqScans.join(", ") || "-"} | ${p.sharedBuffers} | ${p.executionMs} |`,
    ),
    ...scaleComparison(report, baseline),
    ...(report.notes.length > 0 ? ["", ...report.notes.map((note) => `- ${note}`)] : []),
  ];
  return `${lines.join("\n")}\n`;
}

export async function writeReport(report: Report): Promise<string> {
  await mkdir("bench/results", { recursive: true });
  const baseline = await readFile("bench/results/small.json", "utf8").then(
    (text) => JSON.parse(text) as Report,
    () => undefined,
  );
  const text = markdown(report, baseline);
  await writeFile(`bench/results/${report.scale}.md`, text);
  await writeFile(`bench/results/${report.scale}.json`, `${JSON.stringify(report, null, 2)}\n`);
  return text;
}
