import { readFile } from "node:fs/promises";
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "../src/database/embedded-postgres.ts";

/**
 * The soak's own PostgreSQL: an embedded server in a temporary data
 * directory, which the fault injector may shut down (fast = SIGINT to the
 * postmaster, immediate = SIGQUIT, i.e. crash recovery on the next start)
 * and start again on the same directory and port.
 */
export type ShutdownMode = "fast" | "immediate";

export class SoakCluster {
  private handle: EmbeddedPostgresHandle | undefined;
  readonly dataDir: string;
  readonly port: number;
  readonly password: string;

  constructor(options: { dataDir: string; port: number; password: string }) {
    this.dataDir = path.join(options.dataDir, "postgres");
    this.port = options.port;
    this.password = options.password;
  }

  get rootUrl(): string {
    return `postgres://postgres:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/postgres`;
  }

  get running(): boolean {
    return this.handle !== undefined;
  }

  /** Exit hooks each start registers to stop its server; dropped once that server is gone. */
  private exitHooks: ((code: number) => void)[] = [];

  async start(): Promise<void> {
    const before = new Set(process.listeners("exit"));
    this.handle = await startEmbeddedPostgres({
      dataDir: this.dataDir,
      port: this.port,
      password: this.password,
      persistent: true,
    });
    this.exitHooks = process.listeners("exit").filter((listener) => !before.has(listener));
  }

  /** The postmaster's pid, from postmaster.pid (its first line). */
  private async postmasterPid(): Promise<number | undefined> {
    const text = await readFile(path.join(this.dataDir, "postmaster.pid"), "utf8").catch(() => undefined);
    const pid = Number(text?.split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** Signals the postmaster and waits (at most 30 s) until it is gone. */
  async shutdown(mode: ShutdownMode): Promise<void> {
    const pid = await this.postmasterPid();
    this.handle = undefined;
    for (const hook of this.exitHooks) process.removeListener("exit", hook);
    this.exitHooks = [];
    if (pid === undefined) return;
    try {
      process.kill(pid, mode === "fast" ? "SIGINT" : "SIGQUIT");
    } catch {
      return;
    }
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
    if (isAlive(pid)) throw new Error(`postmaster ${pid} did not stop after ${mode} shutdown`);
  }

  /** Stops the server for good (fast shutdown); safe to call more than once. */
  async stop(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle) {
      await Promise.race([handle.stop(), new Promise((resolve) => setTimeout(resolve, 15_000))]);
    }
    // Whatever happened before, no postmaster outlives the run.
    const pid = await this.postmasterPid();
    if (pid !== undefined && isAlive(pid)) {
      process.kill(pid, "SIGQUIT");
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
