import pg from "pg";
import type { ApiProcess } from "./api-process.ts";
import type { SoakCluster } from "./cluster.ts";
import * as op from "./operations.ts";
import type { Traffic } from "./traffic.ts";

/**
 * The faults injected during a run, at fixed offsets so a run is
 * reproducible. Each becomes a window: from injection until the API is
 * ready again (/readyz 200 and a database-backed GraphQL query answered),
 * which is how long the API took to recover by itself.
 */
export type FaultKind =
  | "connection-burst"
  | "lock-hold"
  | "postgres-fast-restart"
  | "api-sigkill"
  | "postgres-immediate-restart";

export interface FaultWindow {
  kind: FaultKind;
  /** Run clock, milliseconds. */
  start: number;
  /** When the injection itself was over (server back up, lock released, burst done). */
  actionEnd: number;
  /** When the API answered again; undefined if it never did within the limit. */
  recoveredAt?: number;
  /** recoveredAt - actionEnd. */
  recoveryMs?: number;
  /** Total time /readyz was not 200 inside the window. */
  notReadyMs: number;
  detail: string;
}

export interface FaultContext {
  traffic: Traffic;
  cluster: SoakCluster;
  api: ApiProcess;
  ownerUrl: string;
  poolSize: number;
  /** A Bearer token for probes and the burst (an admin's). */
  probeToken: string;
}

/** One cycle of faults, as fractions of the cycle; cycles repeat across the run. */
export const FAULT_CYCLE: readonly { at: number; kind: FaultKind }[] = [
  { at: 0.12, kind: "connection-burst" },
  { at: 0.25, kind: "lock-hold" },
  { at: 0.4, kind: "postgres-fast-restart" },
  { at: 0.57, kind: "api-sigkill" },
  { at: 0.76, kind: "postgres-immediate-restart" },
];

export const RECOVERY_LIMIT_MS = 60_000;
const POSTGRES_DOWN_MS = 1_500;
const BURST_MS = 4_000;
const LOCK_SECONDS = 3;

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

export function schedule(durationMs: number, cycles: number): { at: number; kind: FaultKind }[] {
  const cycleMs = durationMs / cycles;
  return Array.from({ length: cycles }, (_, cycle) =>
    FAULT_CYCLE.map((fault) => ({ at: Math.round(cycle * cycleMs + fault.at * cycleMs), kind: fault.kind })),
  ).flat();
}

async function connectionBurst(context: FaultContext): Promise<string> {
  // Far more concurrent heavy reads than pooled connections, for a few seconds.
  const workers = context.poolSize * 6;
  const until = context.traffic.now() + BURST_MS;
  let sent = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, index) => {
      while (context.traffic.now() < until) {
        sent += 1;
        await context.traffic.graphql(
          "burst:heavyList",
          op.HEAVY_LIST,
          {},
          { ip: `10.250.0.${index % 250}`, token: context.probeToken },
        );
      }
    }),
  );
  return `${workers} concurrent heavy reads for ${BURST_MS} ms against a pool of ${context.poolSize} (${sent} requests)`;
}

async function lockHold(context: FaultContext): Promise<string> {
  const owner = new pg.Client({ connectionString: context.ownerUrl });
  owner.on("error", () => undefined);
  await owner.connect();
  try {
    await owner.query("begin");
    await owner.query("lock table app_public.tickets in share row exclusive mode");
    await owner.query(`select pg_sleep(${LOCK_SECONDS})`);
    await owner.query("commit");
  } finally {
    await owner.end().catch(() => undefined);
  }
  return `owner held SHARE ROW EXCLUSIVE on app_public.tickets for ${LOCK_SECONDS} s (writes to tickets wait)`;
}

async function postgresRestart(context: FaultContext, mode: "fast" | "immediate"): Promise<string> {
  await context.cluster.shutdown(mode);
  await sleep(POSTGRES_DOWN_MS);
  await context.cluster.start();
  return `${mode} shutdown (${mode === "fast" ? "SIGINT" : "SIGQUIT"} to the postmaster), down ${POSTGRES_DOWN_MS} ms, started again on the same data directory`;
}

async function apiKill(context: FaultContext): Promise<string> {
  await context.api.kill("SIGKILL");
  const started = Date.now();
  await context.api.start();
  return `SIGKILL, restarted by the soak (start-up to ready: ${Date.now() - started} ms)`;
}

export function inject(kind: FaultKind, context: FaultContext): Promise<string> {
  switch (kind) {
    case "connection-burst":
      return connectionBurst(context);
    case "lock-hold":
      return lockHold(context);
    case "postgres-fast-restart":
      return postgresRestart(context, "fast");
    case "postgres-immediate-restart":
      return postgresRestart(context, "immediate");
    case "api-sigkill":
      return apiKill(context);
  }
}

/** /readyz is 200 and a query that needs the database is answered. */
export async function answering(context: FaultContext): Promise<boolean> {
  if (!(await context.api.ready())) return false;
  try {
    const response = await fetch(`${context.api.baseUrl}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${context.probeToken}` },
      body: JSON.stringify({ query: op.CURRENT_USER }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await response.json()) as { data?: { currentUser?: unknown }; errors?: unknown };
    return response.status === 200 && !body.errors && body.data?.currentUser != null;
  } catch {
    return false;
  }
}

/** Waits until the API answers again; returns the run-clock time it did, or undefined. */
export async function awaitRecovery(context: FaultContext, limitMs = RECOVERY_LIMIT_MS): Promise<number | undefined> {
  const deadline = context.traffic.now() + limitMs;
  while (context.traffic.now() < deadline) {
    if (await answering(context)) return context.traffic.now();
    await sleep(100);
  }
  return undefined;
}
