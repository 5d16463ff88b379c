import type { FaultWindow } from "./faults.ts";
import type { Sample } from "./traffic.ts";

/**
 * The run's figures: per time bucket, requests, error rate and latency
 * percentiles; the SVG chart draws error rate and latency over time with
 * every fault window shaded. Hand-written SVG, no dependencies.
 */
export interface Bucket {
  /** Bucket start, seconds since the run began. */
  t: number;
  requests: number;
  errors: number;
  errorRate: number;
  p50: number;
  p95: number;
}

export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

const isError = (sample: Sample) =>
  sample.outcome === "server_error" || sample.outcome === "unavailable" || sample.outcome === "network";

export function buckets(samples: readonly Sample[], durationMs: number): { sizeMs: number; buckets: Bucket[] } {
  const sizeMs = Math.max(1_000, Math.round(durationMs / 120 / 1_000) * 1_000);
  const count = Math.max(1, Math.ceil(durationMs / sizeMs));
  const groups = Array.from({ length: count }, () => [] as Sample[]);
  for (const sample of samples) {
    const index = Math.min(count - 1, Math.max(0, Math.floor(sample.start / sizeMs)));
    groups[index]!.push(sample);
  }
  return {
    sizeMs,
    buckets: groups.map((group, index) => {
      const latencies = group.map((sample) => sample.end - sample.start).sort((a, b) => a - b);
      const errors = group.filter(isError).length;
      return {
        t: (index * sizeMs) / 1_000,
        requests: group.length,
        errors,
        errorRate: group.length === 0 ? 0 : errors / group.length,
        p50: percentile(latencies, 0.5),
        p95: percentile(latencies, 0.95),
      };
    }),
  };
}

export function latencySummary(samples: readonly Sample[]) {
  const latencies = samples.map((sample) => sample.end - sample.start).sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    max: latencies[latencies.length - 1] ?? 0,
  };
}

export function outcomeCounts(samples: readonly Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sample of samples) counts[sample.outcome] = (counts[sample.outcome] ?? 0) + 1;
  return counts;
}

/** Answers that were not ok, by operation and outcome/code, e.g. "transitionTicket rejected INVALID_TRANSITION". */
export function notOkCounts(samples: readonly Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sample of samples) {
    if (sample.outcome === "ok") continue;
    const key = `${sample.op} ${sample.outcome} ${sample.code ?? sample.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
}

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const FAULT_COLOURS: Record<string, string> = {
  "connection-burst": "#f4d03f",
  "lock-hold": "#a9cce3",
  "postgres-fast-restart": "#f5b7b1",
  "postgres-immediate-restart": "#e6b0aa",
  "api-sigkill": "#d7bde2",
};

export function svgChart(data: {
  buckets: Bucket[];
  sizeMs: number;
  windows: readonly FaultWindow[];
  durationMs: number;
  title: string;
}): string {
  const width = 960;
  const left = 60;
  const right = 20;
  const plotWidth = width - left - right;
  const panelHeight = 150;
  const errorTop = 50;
  const latencyTop = errorTop + panelHeight + 50;
  const height = latencyTop + panelHeight + 70;
  const seconds = data.durationMs / 1_000;
  const x = (t: number) => left + (Math.min(t, seconds) / seconds) * plotWidth;
  const maxLatency = Math.max(50, ...data.buckets.map((bucket) => bucket.p95));
  const latencyCeiling = Math.ceil(maxLatency / 100) * 100;
  const yError = (rate: number) => errorTop + panelHeight - rate * panelHeight;
  const yLatency = (ms: number) => latencyTop + panelHeight - (ms / latencyCeiling) * panelHeight;
  const mid = (bucket: Bucket) => bucket.t + data.sizeMs / 2_000;
  const line = (points: [number, number][], colour: string) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ")}"/>`;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">${escapeXml(data.title)}</text>`);
  for (const [top, label] of [
    [errorTop, "error rate (5xx, 503, no answer)"],
    [latencyTop, "latency, ms (p50 blue, p95 red)"],
  ] as const) {
    parts.push(`<rect x="${left}" y="${top}" width="${plotWidth}" height="${panelHeight}" fill="none" stroke="#999"/>`);
    parts.push(`<text x="${left}" y="${top - 6}">${label}</text>`);
  }
  for (const window of data.windows) {
    const start = x(window.start / 1_000);
    const end = x((window.recoveredAt ?? data.durationMs) / 1_000);
    const colour = FAULT_COLOURS[window.kind] ?? "#ddd";
    for (const top of [errorTop, latencyTop]) {
      parts.push(
        `<rect x="${start.toFixed(1)}" y="${top}" width="${Math.max(1, end - start).toFixed(1)}" height="${panelHeight}" fill="${colour}" fill-opacity="0.55"><title>${escapeXml(window.kind)}</title></rect>`,
      );
    }
  }
  for (const fraction of [0, 0.5, 1]) {
    parts.push(
      `<text x="${left - 6}" y="${yError(fraction) + 4}" text-anchor="end">${Math.round(fraction * 100)}%</text>`,
    );
    parts.push(
      `<text x="${left - 6}" y="${yLatency(fraction * latencyCeiling) + 4}" text-anchor="end">${Math.round(fraction * latencyCeiling)}</text>`,
    );
  }
  const ticks = 10;
  for (let i = 0; i <= ticks; i++) {
    const t = (seconds * i) / ticks;
    parts.push(
      `<text x="${x(t).toFixed(1)}" y="${latencyTop + panelHeight + 16}" text-anchor="middle">${Math.round(t)}s</text>`,
    );
  }
  const active = data.buckets.filter((bucket) => bucket.requests > 0);
  parts.push(
    line(
      active.map((bucket) => [x(mid(bucket)), yError(bucket.errorRate)]),
      "#c0392b",
    ),
  );
  parts.push(
    line(
      active.map((bucket) => [x(mid(bucket)), yLatency(bucket.p50)]),
      "#2471a3",
    ),
  );
  parts.push(
    line(
      active.map((bucket) => [x(mid(bucket)), yLatency(bucket.p95)]),
      "#c0392b",
    ),
  );
  let legendX = left;
  for (const [kind, colour] of Object.entries(FAULT_COLOURS)) {
    parts.push(`<rect x="${legendX}" y="${height - 24}" width="12" height="12" fill="${colour}"/>`);
    parts.push(`<text x="${legendX + 16}" y="${height - 14}">${kind}</text>`);
    legendX += 20 + kind.length * 6.5;
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
