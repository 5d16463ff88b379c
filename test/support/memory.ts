import v8 from "node:v8";
import vm from "node:vm";

/**
 * Memory of the test process (which runs the API under test): resident set
 * size and the heap still in use, each read after a last-resort garbage
 * collection. Without it RSS follows the collector's timing (it stays at its
 * peak for a while) and varied from run to run by tens of MiB; the retained
 * heap shows what an attack really left behind.
 */
v8.setFlagsFromString("--expose-gc");
const collect = vm.runInNewContext("gc") as (options?: { type: "major"; flavor: "last-resort" }) => void;
/**
 * A last-resort collection (V8's CollectAllAvailableGarbage): besides the
 * garbage it also gives back what the collector keeps for later (the young
 * generation grown under load, pooled pages), so RSS after it is closer to
 * what is really held.
 */
const gc = () => collect({ type: "major", flavor: "last-resort" });

export const MIB = 1024 * 1024;

export interface MemorySample {
  rss: number;
  retainedHeap: number;
}

export function sampleMemory(): MemorySample {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, retainedHeap: heapUsed };
}

/** Growth from `before` to now, in MiB. */
export function memoryGrowth(before: MemorySample): { rssMiB: number; retainedMiB: number } {
  const now = sampleMemory();
  return { rssMiB: (now.rss - before.rss) / MIB, retainedMiB: (now.retainedHeap - before.retainedHeap) / MIB };
}
