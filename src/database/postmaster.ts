import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * A PostgreSQL server seen from its data directory: the postmaster writes
 * `postmaster.pid` (pid, data directory, start time, port, socket directory,
 * listen address, shared memory key, status) while it runs and removes it
 * when it exits. Commands use it to find a server another command (or a
 * crashed one) left running on the same directory, and to stop it.
 */
export interface Postmaster {
  pid: number;
  port: number;
  /** `starting`, `ready`, `stopping` or `standby`. */
  status: string;
}

const POLL_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The server recorded in the data directory's lock file, whether or not it still runs. */
export function readPostmaster(databaseDir: string): Postmaster | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(databaseDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  // The file is written in steps while the server starts: no port yet is "starting".
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, port: Number.isInteger(port) ? port : 0, status: (lines[7] ?? "starting").trim() || "starting" };
}

/** Whether a process runs under this pid (a zombie, exited but not yet reaped, does not count). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    // Linux: the third field of /proc/PID/stat is the state; Z is a zombie.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}

/** The live postmaster of the data directory, if any (a lock file left by a dead one is ignored). */
export function livePostmaster(databaseDir: string): Postmaster | undefined {
  const postmaster = readPostmaster(databaseDir);
  return postmaster && isRunning(postmaster.pid) ? postmaster : undefined;
}

/**
 * The server running on the data directory once it accepts connections, or
 * undefined when none runs. A server still starting (or recovering after a
 * crash) is waited for; one shutting down is waited out.
 */
export async function runningPostmaster(databaseDir: string, timeoutMs = 60_000): Promise<Postmaster | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const postmaster = livePostmaster(databaseDir);
    if (!postmaster) return undefined;
    if (postmaster.status === "ready" && postmaster.port > 0) return postmaster;
    if (Date.now() > deadline) {
      throw new Error(
        `PostgreSQL (pid ${postmaster.pid}) on ${databaseDir} is still ${postmaster.status} after ${timeoutMs / 1000} s`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Waits until the postmaster has exited (its lock file gone or its process gone). */
async function exited(databaseDir: string, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (readPostmaster(databaseDir)?.pid !== pid || !isRunning(pid)) return true;
    await sleep(POLL_MS);
  }
  return false;
}

/**
 * Stops the server of the data directory: a smart shutdown first (no new
 * sessions; it ends when the remaining ones have disconnected, so nobody
 * sees "terminating connection"), then fast (sessions ended), then
 * immediate, each after its grace period.
 */
export async function stopPostmaster(databaseDir: string, smartGraceMs = 5_000): Promise<void> {
  const steps: [NodeJS.Signals, number][] = [
    ["SIGTERM", smartGraceMs],
    ["SIGINT", 30_000],
    ["SIGQUIT", 10_000],
  ];
  for (const [signal, graceMs] of steps) {
    const postmaster = livePostmaster(databaseDir);
    if (!postmaster) return;
    try {
      process.kill(postmaster.pid, signal);
    } catch {
      return;
    }
    if (await exited(databaseDir, postmaster.pid, graceMs)) return;
  }
  throw new Error(`PostgreSQL on ${databaseDir} did not stop`);
}
