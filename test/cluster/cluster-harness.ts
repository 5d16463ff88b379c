import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { vi } from "vitest";
import { withClient } from "../../src/database/cluster-setup.ts";
import { buildUrl, type DatabaseUrls } from "../../src/database/connection-urls.ts";
import { provision, databaseUrls } from "../../src/database/provision.ts";
import { freePort } from "../../src/net/free-port.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { PROJECT_DIR, runCli, type CliProcess } from "../support/cli-process.ts";

/**
 * The whole deployment on 127.0.0.1, with real processes: a PostgreSQL
 * primary and a streaming replica (the machine's PostgreSQL 15 binaries,
 * since the embedded server ships no pg_basebackup), PgBouncer in
 * transaction mode in front of the primary, API instances (`src/cli/start.ts`)
 * that reach PostgreSQL through PgBouncer and LISTEN on a direct connection,
 * and a job worker (`src/cli/worker.ts`) on the owner's direct connection.
 */
export const PG_BIN = process.env.CLUSTER_PG_BIN ?? "/usr/lib/postgresql/15/bin";
export const PGBOUNCER = process.env.CLUSTER_PGBOUNCER ?? "pgbouncer";
export const CLUSTER_PASSWORD = "ticketing-cluster-password";
export const JWT_SECRET = "cluster-test-secret-that-is-at-least-32-bytes";
const DATABASE = "ticketing";

const run = promisify(execFile);

/** PostgreSQL and PgBouncer refuse to run as root: as root they run as the `postgres` system user. */
async function serviceUser(): Promise<{ uid?: number; gid?: number }> {
  if (userInfo().uid !== 0) return {};
  const id = async (flag: string) => Number((await run("id", [flag, "postgres"])).stdout.trim());
  return { uid: await id("-u"), gid: await id("-g") };
}

async function ownedByService(file: string): Promise<void> {
  const user = await serviceUser();
  if (user.uid !== undefined && user.gid !== undefined) await chown(file, user.uid, user.gid);
}

async function asService(command: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(command, args, {
    ...(await serviceUser()),
    env: { ...process.env, ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** Whether something accepts TCP connections on the port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Resolves once something accepts TCP connections on the port. */
async function untilListening(port: number, seconds = 30): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await accepts(port))) throw new Error(`nothing listens on port ${port}`);
    },
    { timeout: seconds * 1000, interval: 100 },
  );
}

export interface PostgresServer {
  dir: string;
  port: number;
  rootUrl: string;
  stop(): Promise<void>;
}

async function startServer(dir: string, port: number): Promise<PostgresServer> {
  const options = [
    "-c listen_addresses=127.0.0.1",
    `-c port=${port}`,
    `-c unix_socket_directories=${dir}`,
    "-c max_connections=200",
  ];
  await asService(path.join(PG_BIN, "pg_ctl"), [
    "start",
    "-w",
    "-t",
    "120",
    "-s",
    "-D",
    dir,
    "-l",
    `${dir}.log`,
    "-o",
    options.join(" "),
  ]);
  return {
    dir,
    port,
    rootUrl: buildUrl({ user: "postgres", password: CLUSTER_PASSWORD, host: "127.0.0.1", port, database: "postgres" }),
    stop: async () => {
      await asService(path.join(PG_BIN, "pg_ctl"), ["stop", "-w", "-s", "-m", "fast", "-D", dir]).catch(
        () => undefined,
      );
    },
  };
}

/** initdb with SCRAM for TCP (replication included, as initdb's pg_hba.conf allows it from 127.0.0.1), then start. */
export async function startPrimary(root: string): Promise<PostgresServer> {
  if (!existsSync(path.join(PG_BIN, "pg_basebackup"))) {
    throw new Error(
      `No PostgreSQL server binaries in ${PG_BIN} (set CLUSTER_PG_BIN; Debian: apt-get install postgresql)`,
    );
  }
  const dir = path.join(root, "primary");
  const passwordFile = path.join(root, "password");
  await writeFile(passwordFile, `${CLUSTER_PASSWORD}\n`, { mode: 0o600 });
  await ownedByService(passwordFile);
  await asService(path.join(PG_BIN, "initdb"), [
    "-D",
    dir,
    "-U",
    "postgres",
    `--pwfile=${passwordFile}`,
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "--encoding=UTF8",
    "--locale=C.UTF-8",
  ]);
  return startServer(dir, await freePort());
}

/** `pg_basebackup -R` of the primary, started as a streaming standby on a port of its own. */
export async function startReplica(root: string, primary: PostgresServer): Promise<PostgresServer> {
  const dir = path.join(root, "replica");
  await asService(
    path.join(PG_BIN, "pg_basebackup"),
    ["-D", dir, "-R", "-X", "stream", "-c", "fast", "-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres"],
    { PGPASSWORD: CLUSTER_PASSWORD },
  );
  return startServer(dir, await freePort());
}

/**
 * The shipped deploy/pgbouncer/pgbouncer.ini (transaction pooling for the
 * API's login; statement_timeout not passed on at login but set per server
 * connection), pointed at this machine's primary and ports.
 */
export function pgbouncerIni(options: { port: number; primaryPort: number; dir: string }): string {
  let ini = readFileSync(path.join(PROJECT_DIR, "deploy", "pgbouncer", "pgbouncer.ini"), "utf8");
  const replace = (from: RegExp, to: string) => {
    if (!from.test(ini)) throw new Error(`deploy/pgbouncer/pgbouncer.ini has no ${from}`);
    ini = ini.replace(from, to);
  };
  replace(/host=primary port=5432/, `host=127.0.0.1 port=${options.primaryPort}`);
  replace(/^listen_addr = .*$/m, "listen_addr = 127.0.0.1");
  replace(/^listen_port = .*$/m, `listen_port = ${options.port}`);
  replace(/^auth_file = .*$/m, `auth_file = ${path.join(options.dir, "userlist.txt")}`);
  return `${ini}logfile = ${path.join(options.dir, "pgbouncer.log")}\npidfile = ${path.join(options.dir, "pgbouncer.pid")}\n`;
}

export interface Pgbouncer {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startPgbouncer(root: string, primary: PostgresServer): Promise<Pgbouncer> {
  const dir = path.join(root, "pgbouncer");
  await mkdir(dir);
  await ownedByService(dir);
  const port = await freePort();
  const ini = path.join(dir, "pgbouncer.ini");
  await writeFile(ini, pgbouncerIni({ port, primaryPort: primary.port, dir }));
  await writeFile(path.join(dir, "userlist.txt"), `"ticketing_authenticator" "${CLUSTER_PASSWORD}"\n`, { mode: 0o600 });
  await ownedByService(path.join(dir, "userlist.txt"));
  const child = spawn(PGBOUNCER, [ini], { ...(await serviceUser()), stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const failed = new Promise<never>((_resolve, reject) => {
    child.once("error", (error) =>
      reject(new Error(`${PGBOUNCER} did not start (Debian: apt-get install pgbouncer): ${error.message}`)),
    );
    child.once("exit", (code) =>
      reject(new Error(`${PGBOUNCER} exited with ${code}; see ${path.join(dir, "pgbouncer.log")}`)),
    );
  });
  failed.catch(() => undefined);
  await Promise.race([untilListening(port), failed]);
  return {
    port,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        await exited;
      }
    },
  };
}

export interface ApiInstance {
  name: string;
  port: number;
  cli: CliProcess;
  url: string;
}

/** `npm start` as production runs it: through PgBouncer, LISTEN direct, no in-process worker. */
export async function startApi(
  name: string,
  urls: { pooled: string; direct: string },
  overrides: Record<string, string> = {},
): Promise<ApiInstance> {
  const port = await freePort();
  const cli = runCli("start", [], {
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    DATABASE_URL: urls.pooled,
    DATABASE_LISTEN_URL: urls.direct,
    DATABASE_PREPARED_STATEMENTS: "false",
    DATABASE_POOL_SIZE: "10",
    JWT_SECRET,
    WORKER_IN_PROCESS: "false",
    HOUSEKEEPING_INTERVAL_MINUTES: "0",
    TRUST_PROXY: "loopback",
    LOG_LEVEL: "warn",
    ...overrides,
  });
  await cli.waitFor("/graphql", 120);
  return { name, port, cli, url: `http://127.0.0.1:${port}` };
}

export async function startWorker(ownerUrl: string): Promise<CliProcess> {
  // Straight to PostgreSQL: graphile-worker LISTENs for new jobs, which a transaction-mode pooler cannot carry.
  // Not production, which refuses http:// webhook URLs: the test's receiver is plain HTTP on 127.0.0.1.
  const cli = runCli("worker", [], {
    NODE_ENV: "test",
    DATABASE_OWNER_URL: ownerUrl,
    LOG_LEVEL: "info",
    WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
  });
  await cli.waitFor("job worker running", 120);
  return cli;
}

export interface Cluster {
  root: string;
  primary: PostgresServer;
  replica: PostgresServer;
  pgbouncer: Pgbouncer;
  /** Direct to the primary. */
  urls: DatabaseUrls;
  /** The API's login through PgBouncer. */
  pooledUrl: string;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const root = await mkdtemp(path.join(tmpdir(), "ticketing-cluster-"));
  await chmod(root, 0o755);
  await ownedByService(root);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  try {
    const primary = await startPrimary(root);
    stops.push(primary.stop);
    const urls = databaseUrls(primary.rootUrl, DATABASE, { owner: CLUSTER_PASSWORD, authenticator: CLUSTER_PASSWORD });
    await provision(urls, { logger: createLogger("warn"), current: true });
    const replica = await startReplica(root, primary);
    stops.push(replica.stop);
    const pgbouncer = await startPgbouncer(root, primary);
    stops.push(pgbouncer.stop);
    const pooledUrl = buildUrl({
      user: "ticketing_authenticator",
      password: CLUSTER_PASSWORD,
      host: "127.0.0.1",
      port: pgbouncer.port,
      database: DATABASE,
    });
    return { root, primary, replica, pgbouncer, urls, pooledUrl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until the replica has replayed everything the primary had written when called. */
export async function replicaCaughtUp(cluster: Cluster, seconds = 60): Promise<void> {
  const target = await withClient(cluster.primary.rootUrl, async (client) => {
    const { rows } = await client.query<{ lsn: string }>("select pg_current_wal_lsn()::text as lsn");
    return rows[0]!.lsn;
  });
  await withClient(cluster.replica.rootUrl, async (client) => {
    await vi.waitFor(
      async () => {
        const { rows } = await client.query<{ done: boolean }>(
          "select pg_last_wal_replay_lsn() >= $1::pg_lsn as done",
          [target],
        );
        if (!rows[0]!.done) throw new Error(`the replica has not replayed ${target}`);
      },
      { timeout: seconds * 1000, interval: 50 },
    );
  });
}
