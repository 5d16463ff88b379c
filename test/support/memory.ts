import v8 from "node:v8";
import vm from "node:vm";

/**
 * Memory of the test process (which runs the API under test): resident set
 * size, and the heap still in use after a full garbage collection. RSS
 * follows the garbage collector's timing (it stays at its peak for a while),
 * so it varies from run to run by tens of MiB; the heap retained after a
 * collection shows what an attack really left behind.
 */
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

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
