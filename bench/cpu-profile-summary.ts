/**
 * Where the API's CPU time went, from V8 CPU profiles (`.cpuprofile`, written
 * by `--cpu-prof`, see docs/performance.md "Where a request's time goes"):
 * self time summed by package (node_modules/<package>), by project folder
 * (src/<folder>), by Node's own modules and by V8's pseudo-nodes (garbage
 * collector, idle, program), and the functions with the most self time.
 *
 *   node bench/cpu-profile-summary.ts /tmp/prof/*.cpuprofile [--requests N] [--top 25]
 *
 * With --requests (how many requests the profiled process served), times are
 * also given per request.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The place a function belongs to, from its script's URL. */
export function placeOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(V8 builtins and native code)";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const parts = url.slice(modules + "/node_modules/".length).split("/");
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith("node:")) return "node: (Node's own modules)";
  const source = url.match(/\/(src|bench)\/([^/]+)\//);
  if (source) return `project ${source[1]}/${source[2]}`;
  return "other";
}

/** Self time in microseconds per node id. */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const times = new Map<number, number>();
  profile.samples.forEach((id, index) => times.set(id, (times.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  return times;
}

export function summarize(profiles: CpuProfile[]): { total: number; busy: number; places: Map<string, number>; functions: Map<string, number> } {
  const places = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    for (const [id, micros] of selfTimes(profile)) {
      const frame = byId.get(id)!.callFrame;
      const place = placeOf(frame.url, frame.functionName);
      places.set(place, (places.get(place) ?? 0) + micros);
      const name = `${frame.functionName || "(anonymous)"} ${place}${frame.url ? `:${frame.url.split("/").pop()}:${frame.lineNumber + 1}` : ""}`;
      functions.set(name, (functions.get(name) ?? 0) + micros);
      total += micros;
    }
  }
  const busy = total - (places.get("(idle)") ?? 0);
  return { total, busy, places, functions };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { requests: { type: "string" }, top: { type: "string", default: "25" } },
  });
  if (positionals.length === 0) throw new Error("usage: node bench/cpu-profile-summary.ts <file.cpuprofile>... [--requests N] [--top N]");
  const profiles = positionals.map((file) => JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
  const { total, busy, places, functions } = summarize(profiles);
  const requests = values.requests ? Number(values.requests) : undefined;
  const ms = (micros: number) => (micros / 1000).toFixed(0);
  const perRequest = (micros: number) => (requests ? ` | ${(micros / 1000 / requests).toFixed(3)}` : "");
  const share = (micros: number) => `${((100 * micros) / busy).toFixed(1)} %`;
  console.log(`profiled ${ms(total)} ms, of which busy (not idle) ${ms(busy)} ms${requests ? `, ${requests} requests` : ""}\n`);
  console.log(`| where (self time) | ms | share of busy${requests ? " | ms per request" : ""} |`);
  console.log(`|---|---:|---:|${requests ? "---:|" : ""}`);
  for (const [place, micros] of [...places].filter(([place]) => place !== "(idle)").sort((a, b) => b[1] - a[1])) {
    console.log(`| ${place} | ${ms(micros)} | ${share(micros)}${perRequest(micros)} |`);
  }
  console.log(`\n| function (self time) | ms | share of busy |`);
  console.log("|---|---:|---:|");
  for (const [name, micros] of [...functions]
    .filter(([name]) => !name.startsWith("(idle)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(values.top))) {
    console.log(`| ${name.replaceAll("|", "\\|")} | ${ms(micros)} | ${share(micros)} |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
