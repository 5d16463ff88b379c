import { writeSync } from "node:fs";
import v8 from "node:v8";

/**
 * Where the API's memory goes, for `docs/performance.md`: preloaded into the
 * API child with `--api-node-args="--import ./bench/memory-probe.ts"`, it
 * samples `process.memoryUsage()` and V8's heap spaces every 100 ms and, when
 * the process exits, prints to stderr the sample taken at the highest
 * resident memory and the peak of each figure on its own. "Native" is what
 * the resident set holds beyond V8's heap and the array buffers: code,
 * libuv and OpenSSL, argon2's working memory, malloc's free lists.
 */
interface Sample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, number>;
}

const MIB = 1024 * 1024;

function sample(): Sample {
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  const spaces: Record<string, number> = {};
  for (const space of v8.getHeapSpaceStatistics()) spaces[space.space_name] = space.space_size;
  return { rss, heapTotal, heapUsed, external, arrayBuffers, spaces };
}

let atPeak = sample();
const peaks = { ...atPeak, spaces: { ...atPeak.spaces } };
let ticks = 0;
const timer = setInterval(() => {
  const now = sample();
  // Every 5 s a line, so phases (start-up, reads, logins) can be told apart.
  if (++ticks % 50 === 0) writeSync(2, `memory-probe ${JSON.stringify(summary(now))}\n`);
  if (now.rss > atPeak.rss) atPeak = now;
  for (const key of ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"] as const)
    peaks[key] = Math.max(peaks[key], now[key]);
  for (const [name, size] of Object.entries(now.spaces)) peaks.spaces[name] = Math.max(peaks.spaces[name] ?? 0, size);
}, 100);
timer.unref();

const mib = (bytes: number) => Math.round(bytes / MIB);
function summary(of: Sample) {
  return {
    rss: mib(of.rss),
    heapTotal: mib(of.heapTotal),
    heapUsed: mib(of.heapUsed),
    external: mib(of.external),
    arrayBuffers: mib(of.arrayBuffers),
    nativeRemainder: mib(of.rss - of.heapTotal - of.external),
    spaces: Object.fromEntries(Object.entries(of.spaces).map(([name, size]) => [name, mib(size)])),
  };
}

process.on("exit", () => {
  const limit = mib(v8.getHeapStatistics().heap_size_limit);
  writeSync(
    2,
    `memory-probe ${JSON.stringify({ heapSizeLimit: limit, atPeakRss: summary(atPeak), peaks: summary(peaks) })}\n`,
  );
});
