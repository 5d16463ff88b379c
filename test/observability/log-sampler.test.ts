import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createLogSampler } from "../../src/observability/log-sampler.ts";

/** A flood of the same warning writes a few lines per window and one summary, not one line each. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: "warn" }, stream), lines };
}

describe("log sampler", () => {
  it("writes at most perWindow lines per kind, then reports how many it suppressed", async () => {
    const { logger, lines } = capturingLogger();
    let now = 0;
    const sampler = createLogSampler(logger, { perWindow: 3, windowMs: 60_000, now: () => now });
    for (let index = 0; index < 10_000; index++) sampler.warn("QUERY_TOO_COMPLEX", { index }, "refused");
    sampler.warn("PAGE_TOO_LARGE", {}, "refused");
    now = 60_000;
    sampler.warn("QUERY_TOO_COMPLEX", {}, "refused");
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.filter((line) => line.kind === "QUERY_TOO_COMPLEX" && line.msg === "refused")).toHaveLength(4);
    expect(lines.filter((line) => line.kind === "PAGE_TOO_LARGE")).toHaveLength(1);
    expect(lines.find((line) => line.msg === "similar warnings suppressed")).toMatchObject({ suppressed: 9_997 });
    expect(JSON.stringify(lines).length).toBeLessThan(2_000);
  });
});
