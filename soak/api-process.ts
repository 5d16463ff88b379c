import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The API under test as a child process (`node src/cli/start.ts`), so the
 * fault injector can SIGKILL it and start it again. Its logs go to a file.
 * An exit the soak did not ask for is recorded: a crash is a finding.
 */
const START_SCRIPT = fileURLToPath(new URL("../src/cli/start.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface UnexpectedExit {
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ApiProcess {
  private child: ChildProcess | undefined;
  private expectingExit = false;
  private readonly log: WriteStream;
  readonly unexpectedExits: UnexpectedExit[] = [];
  readonly baseUrl: string;

  private readonly options: { port: number; env: Record<string, string>; logFile: string; clock: () => number };

  constructor(options: { port: number; env: Record<string, string>; logFile: string; clock: () => number }) {
    this.options = options;
    this.baseUrl = `http://127.0.0.1:${options.port}`;
    this.log = createWriteStream(options.logFile, { flags: "a" });
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Spawns the API and waits (at most 60 s) until /readyz answers 200. */
  async start(): Promise<void> {
    this.expectingExit = false;
    const child = spawn(process.execPath, [START_SCRIPT], {
      cwd: ROOT,
      env: { ...process.env, ...this.options.env, PORT: String(this.options.port), HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.log.write(`\n--- API process exited (code ${code}, signal ${signal}) ---\n`);
      if (!this.expectingExit) this.unexpectedExits.push({ at: this.options.clock(), code, signal });
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (!this.child) throw new Error("the API process exited during start-up; see its log");
      if (await this.ready()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("the API did not become ready within 60 s");
  }

  async ready(): Promise<boolean> {
    try {
      const response = await fetch(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** Kills the process with `signal` and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }

  /** Graceful stop (SIGTERM, then SIGKILL after 15 s) and closes the log. */
  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    await new Promise((resolve) => this.log.end(resolve));
  }
}
