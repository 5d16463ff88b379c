import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

/**
 * A project command run as a user runs it: a real child process (Node from
 * node_modules, as npm scripts run it) in a process group of its own, as a
 * terminal's foreground job is, so `interrupt()` delivers SIGINT to the whole
 * group exactly like Ctrl-C. Standard output and error are kept apart.
 */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once standard output or error contains `text`; rejects if the process exits first. */
  waitFor(text: string | RegExp, seconds?: number): Promise<void>;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Ctrl-C: SIGINT to the process group. */
  interrupt(): void;
}

/** This checkout. */
export const PROJECT_DIR = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The process settings vitest.config.ts gives the test run, passed on to
 * the commands the tests start; they are not inputs of the commands:
 * - NODE_COMPILE_CACHE, Node's on-disk cache of compiled modules, so that
 *   each child does not compile PostGraphile and the rest again;
 * - GLIBC_TUNABLES, the production image's malloc settings, which glibc
 *   reads only when a process starts.
 */
export function runtimeSettings(): { NODE_COMPILE_CACHE?: string; GLIBC_TUNABLES?: string } {
  const { NODE_COMPILE_CACHE, GLIBC_TUNABLES } = process.env;
  return {
    ...(NODE_COMPILE_CACHE ? { NODE_COMPILE_CACHE } : {}),
    ...(GLIBC_TUNABLES ? { GLIBC_TUNABLES } : {}),
  };
}

/**
 * How both `runCli` and `runCliSync` start `src/cli/<name>.ts`: this Node,
 * from the checkout, with exactly this environment plus PATH and the run's
 * process settings.
 */
function commandLine(name: string, args: string[], env: Record<string, string>, projectDir: string) {
  return {
    file: process.execPath,
    args: [path.join(projectDir, "src", "cli", `${name}.ts`), ...args],
    options: { cwd: projectDir, env: { PATH: process.env.PATH ?? "", ...runtimeSettings(), ...env } },
  };
}

/**
 * Starts `src/cli/<name>.ts` with exactly this environment (plus
 * `commandLine`'s), from this checkout or from `projectDir`, a copy of it.
 */
export function runCli(
  name: string,
  args: string[],
  env: Record<string, string>,
  stdin = "",
  projectDir = PROJECT_DIR,
): CliProcess {
  const command = commandLine(name, args, env, projectDir);
  const child = spawn(command.file, command.args, {
    ...command.options,
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  child.stdin!.end(stdin);
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    notify();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    notify();
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const output = () => `${stdout}\n${stderr}`;
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    interrupt: () => {
      // A command that is gone already cannot be interrupted: say why, with its output.
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `${name} had already exited (${child.exitCode ?? child.signalCode}) before Ctrl-C:\n${output()}`,
        );
      }
      process.kill(-child.pid!, "SIGINT");
    },
    waitFor(text, seconds = 90) {
      const found = () => (typeof text === "string" ? output().includes(text) : text.test(output()));
      return new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => found() && done();
        const timer = setTimeout(
          () => done(new Error(`${name}: no ${text} after ${seconds} s:\n${output()}`)),
          seconds * 1000,
        );
        listeners.add(check);
        void exited.then(
          (code) => found() || done(new Error(`${name} exited with ${code} before ${text}:\n${output()}`)),
        );
        check();
      });
    },
  };
}

/**
 * `runCli` for a command that ends by itself (a usage error, a one-shot
 * command): runs `src/cli/<name>.ts` to completion with exactly this
 * environment (plus `commandLine`'s) and gives its exit status and both
 * outputs.
 */
export function runCliSync(
  name: string,
  args: string[],
  env: Record<string, string>,
  timeoutSeconds = 30,
): SpawnSyncReturns<string> {
  const command = commandLine(name, args, env, PROJECT_DIR);
  return spawnSync(command.file, command.args, {
    ...command.options,
    encoding: "utf8",
    timeout: timeoutSeconds * 1000,
  });
}

/** PostgreSQL processes whose command line names this directory (the postmaster's `-D`). */
export function postgresProcessesFor(directory: string): string[] {
  const list = execFileSync("ps", ["-eo", "stat,args"], { encoding: "utf8" });
  return list
    .split("\n")
    .filter((line) => line.includes(directory) && line.includes("postgres") && !line.startsWith("Z"));
}

/**
 * Collects a started child's standard output and error together and resolves
 * once the output contains `marker` (e.g. `npm start`'s banner naming
 * /graphql); rejects if the child exits first or after `seconds`.
 */
export async function outputOnceReady(child: ChildProcess, marker: string, seconds = 60): Promise<() => string> {
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not started:\n${output}`)), seconds * 1000);
    child.stdout?.on("data", () => {
      if (output.includes(marker)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
  return () => output;
}

/**
 * `/readyz` answers 200 within `seconds`: a just-started server's first
 * readiness probe opens a new database connection, which on a loaded machine
 * can outlast the probe's 2 s timeout (503, then 200 on the next). Ready
 * means 200 within a few seconds of listening, not at the first probe.
 */
export async function expectReadySoon(base: string, seconds = 15): Promise<void> {
  await expect
    .poll(async () => (await fetch(`${base}/readyz`)).status, {
      timeout: seconds * 1000,
      interval: 250,
      message: `${base}/readyz`,
    })
    .toBe(200);
}
