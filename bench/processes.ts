import { fork, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { withClient } from "../src/database/cluster-setup.ts";
import { imageGlibcTunables, startScriptNodeFlags } from "./deployed-settings.ts";

/**
 * The two servers under test run as child processes of the benchmark, so
 * the load generator never shares their event loop; their resident memory
 * is sampled from /proc while load runs.
 */
export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  stop(): Promise<void>;
}

function statusKilobytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

const residentKilobytes = (pid: number) => statusKilobytes(pid, "VmRSS");

/** The kernel's high-water mark of the process's resident memory since it started, in MiB. */
export function residentHighWaterMiB(pid: number): number {
  return Math.round(statusKilobytes(pid, "VmHWM") / 1024);
}

/** Samples a process's resident memory until stopped; returns the peak in MiB. */
export function sampleMemory(pid: number): () => number {
  let peak = residentKilobytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, residentKilobytes(pid));
    } catch {
      clearInterval(timer);
    }
  }, 100);
  return () => {
    clearInterval(timer);
    return Math.round(peak / 1024);
  };
}

/** Linux's clock tick (USER_HZ), the unit of CPU times in /proc: 100 per second on every mainstream build. */
const TICKS_PER_SECOND = 100;

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system) a process has used, in ms; with
 * `reapedChildren`, also that of its children that have exited (cutime and
 * cstime). On a machine shared with other work, CPU per request moves far
 * less than requests per second.
 */
export function cpuMillis(pid: number, reapedChildren = false): number {
  const fields = statFields(pid);
  if (!fields) return 0;
  // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
  const ticks =
    Number(fields[11]) + Number(fields[12]) + (reapedChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/**
 * CPU time of a whole PostgreSQL server, in ms: the postmaster, the
 * backends and workers it has reaped, and those still running.
 */
export function serverCpuMillis(postmasterPid: number): number {
  let total = cpuMillis(postmasterPid, true);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields && Number(fields[1]) === postmasterPid) total += cpuMillis(Number(entry));
  }
  return total;
}

/** The PostgreSQL server's process id, when it runs on this machine (its postmaster.pid is readable). */
export async function postmasterPid(rootUrl: string): Promise<number | undefined> {
  const { rows } = await withClient(rootUrl, (client) =>
    client.query<{ dir: string }>("select current_setting('data_directory') as dir"),
  );
  try {
    const pid = Number(readFileSync(`${rows[0]!.dir}/postmaster.pid`, "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
}

async function waitFor(url: string, child: ChildProcess, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await fetch(url).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} not ready after ${seconds} s`);
}

export async function startApi(options: {
  databaseUrl: string;
  jwtSecret: string;
  port: number;
  poolSize: number;
  logLevel: string;
  /** Record every statement sent to PostgreSQL in this file (see capture-sql-hook.ts). */
  captureFile?: string;
  /** More Node flags for the API, e.g. `--cpu-prof` to profile it. */
  nodeArgs?: string[];
  /** Serve /metrics behind this Bearer token (production serves it nowhere without one). */
  metricsToken?: string;
  /** The script to run: `npm start`'s by default, bench/api-without-limits.ts to compare. */
  entry?: string;
}): Promise<ServerProcess> {
  const hook = options.captureFile ? ["--import", "./bench/capture-sql-hook.ts"] : [];
  const child = spawn(
    process.execPath,
    [...startScriptNodeFlags(), ...(options.nodeArgs ?? []), ...hook, options.entry ?? "src/cli/start.ts"],
    {
      env: {
        ...(options.captureFile ? { BENCH_CAPTURE_SQL: options.captureFile } : {}),
        PATH: process.env.PATH,
        ...imageGlibcTunables(),
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        PORT: String(options.port),
        DATABASE_URL: options.databaseUrl,
        JWT_SECRET: options.jwtSecret,
        JWT_ACCESS_TOKEN_SECONDS: "3600",
        DATABASE_POOL_SIZE: String(options.poolSize),
        LOG_LEVEL: options.logLevel,
        // Login load comes from one machine; each request names its client in X-Forwarded-For.
        TRUST_PROXY: "loopback",
        ...(options.metricsToken ? { METRICS_TOKEN: options.metricsToken } : {}),
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const stop = stopper(child);
  await waitFor(`${baseUrl}/readyz`, child, 60).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { child, baseUrl, stop };
}

export async function startCeiling(options: {
  databaseUrl: string;
  jwtSecret: string;
  port: number;
  poolSize: number;
}): Promise<ServerProcess> {
  const child = fork("bench/ceiling-server.ts", {
    env: {
      PATH: process.env.PATH,
      ...imageGlibcTunables(),
      PORT: String(options.port),
      DATABASE_URL: options.databaseUrl,
      JWT_SECRET: options.jwtSecret,
      POOL_SIZE: String(options.poolSize),
    },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`ceiling server exited with ${code}`)));
  });
  return { child, baseUrl: `http://127.0.0.1:${options.port}`, stop: stopper(child) };
}
