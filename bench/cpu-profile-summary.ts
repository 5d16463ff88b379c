/**
 * Where the API's CPU time went, from V8 CPU profiles (`.cpuprofile`, written
 * by `--cpu-prof`, see docs/performance.md "Where a request's time goes"):
 * self time summed by package (node_modules/<package>), by project folder
 * (src/<folder>), by Node's own modules and by V8's pseudo-nodes (garbage
 * collector, idle, program), and the functions with the most self time.
 *
 *   node bench/cpu-profile-summary.ts /tmp/prof/*.cpuprofile [--after S] [--requests N] [--top 25]
 *
 * --after S counts only what was sampled S seconds or more after the
 * profile began (leaving out start-up: module loading, schema build). With
 * --requests (how many requests the profiled process served meanwhile),
 * times are also given per request.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
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

/** Self time in microseconds per node id, of the samples taken `afterMicros` or later after the profile began. */
function selfTimes(profile: CpuProfile, afterMicros: number): Map<number, number> {
  const times = new Map<number, number>();
  let at = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (at >= afterMicros) times.set(id, (times.get(id) ?? 0) + delta);
  });
  return times;
}

/** Places that only do work for their callers: Node's modules, V8's builtins, unknown scripts. */
const SERVANTS = new Set(["node: (Node's own modules)", "(V8 builtins and native code)", "other"]);

export interface Summary {
  total: number;
  busy: number;
  /** Self time per place. */
  places: Map<string, number>;
  /** Self time per place, Node's and V8's work counted for the nearest package or project folder that called it. */
  owners: Map<string, number>;
  /** Self time per function. */
  functions: Map<string, number>;
}

export function summarize(profiles: CpuProfile[], afterMicros = 0): Summary {
  const places = new Map<string, number>();
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parents = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
    const ownerOf = (id: number, place: string): string => {
      for (let at = parents.get(id); SERVANTS.has(place) && at !== undefined; at = parents.get(at)) {
        const caller = byId.get(at)!.callFrame;
        const callerPlace = placeOf(caller.url, caller.functionName);
        if (!SERVANTS.has(callerPlace) && !callerPlace.startsWith("(")) return callerPlace;
      }
      return place;
    };
    for (const [id, micros] of selfTimes(profile, afterMicros)) {
      const frame = byId.get(id)!.callFrame;
      const place = placeOf(frame.url, frame.functionName);
      places.set(place, (places.get(place) ?? 0) + micros);
      const owner = ownerOf(id, place);
      owners.set(owner, (owners.get(owner) ?? 0) + micros);
      const name = `${frame.functionName || "(anonymous)"} ${place}${frame.url ? `:${frame.url.split("/").pop()}:${frame.lineNumber + 1}` : ""}`;
      functions.set(name, (functions.get(name) ?? 0) + micros);
      total += micros;
    }
  }
  const busy = total - (places.get("(idle)") ?? 0);
  return { total, busy, places, owners, functions };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      after: { type: "string", default: "0" },
      requests: { type: "string" },
      top: { type: "string", default: "25" },
    },
  });
  if (positionals.length === 0)
    throw new Error("usage: node bench/cpu-profile-summary.ts <file.cpuprofile>... [--requests N] [--top N]");
  const profiles = positionals.map((file) => JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
  const { total, busy, places, owners, functions } = summarize(profiles, Number(values.after) * 1_000_000);
  const requests = values.requests ? Number(values.requests) : undefined;
  const ms = (micros: number) => (micros / 1000).toFixed(0);
  const perRequest = (micros: number) => (requests ? ` | ${(micros / 1000 / requests).toFixed(3)}` : "");
  const share = (micros: number) => `${((100 * micros) / busy).toFixed(1)} %`;
  console.log(
    `profiled ${ms(total)} ms, of which busy (not idle) ${ms(busy)} ms${requests ? `, ${requests} requests` : ""}\n`,
  );
  const table = (title: string, rows: Map<string, number>) => {
    console.log(`| ${title} | ms | share of busy${requests ? " | ms per request" : ""} |`);
    console.log(`|---|---:|---:|${requests ? "---:|" : ""}`);
    for (const [place, micros] of [...rows].filter(([place]) => place !== "(idle)").sort((a, b) => b[1] - a[1])) {
      console.log(`| ${place} | ${ms(micros)} | ${share(micros)}${perRequest(micros)} |`);
    }
  };
  table("where (self time)", places);
  console.log("");
  table("who asked for it (self time; Node's and V8's work counted for the package that called it)", owners);
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
