import "./graphile-env.ts";
import { appConfigFrom, type AppConfig } from "../config/app-config.ts";
import { environmentFor } from "../config/command-inputs.ts";
import { loadLocalSecrets } from "../config/local-secrets.ts";
import type { LocalDatabase } from "../database/local-database.ts";
import type { ApiServer } from "../http/api-server.ts";
import { ConfigurationError, type Environment } from "../config/environment.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import type { JobWorker } from "../worker/job-worker.ts";
import { workerConfigFrom } from "../worker/worker-config.ts";
import { inboundSettingsFrom, mailConfigFrom } from "../mail/mail-config.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm start`: the API. Without DATABASE_URL (outside production) it first
 * brings up the embedded PostgreSQL (or uses the one already running on the
 * data directory), sets it up and migrates it.
 */
/** Where /metrics is answered (docs/security.md, "Time and connections"). */
function metricsLine(config: AppConfig, base: string, metricsPort: number | undefined): string | undefined {
  const protectedBy = config.metrics?.token === undefined ? "" : "  (Bearer METRICS_TOKEN)";
  if (metricsPort !== undefined)
    return `  Metrics   http://${config.metrics?.host ?? "127.0.0.1"}:${metricsPort}/metrics${protectedBy}`;
  if (config.metrics?.token !== undefined || !config.production) return `  Metrics   ${base}/metrics${protectedBy}`;
  return "  Metrics   not served (set METRICS_PORT or METRICS_TOKEN)";
}

function banner(
  config: AppConfig,
  port: number,
  metricsPort: number | undefined,
  local: LocalDatabase | undefined,
  mail: string | undefined,
  logins: string[],
): string {
  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  const base = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const lines = [
    "",
    `  GraphQL   ${base}/graphql`,
    config.graphiql ? `  GraphiQL  ${base}/graphiql` : undefined,
    `  Health    ${base}/healthz  ${base}/readyz`,
    metricsLine(config, base, metricsPort),
    local ? `  Database  embedded PostgreSQL 18, ${new URL(local.urls.owner).host}` : undefined,
    mail ? `  Mail      ${mail}` : undefined,
    "",
    ...logins,
  ];
  return `${lines.filter((line) => line !== undefined).join("\n")}\n`;
}

/** Where the in-process worker sends mail (docs/email.md). */
function mailLine(environment: Environment): string {
  const transport = mailConfigFrom(environment).transport;
  if (transport.kind === "outbox") return `local outbox ${transport.directory} (npm run mail:list)`;
  if (transport.kind === "disabled") return "disabled (MAIL_DISABLED)";
  return `SMTP ${new URL(transport.url).host}`;
}

/** The demo users of the embedded database, for the banner. */
async function demoLogins(password: string): Promise<string[]> {
  const { DEMO_USERS } = await import("../database/demo-data.ts");
  return [
    `  Demo logins (password "${password}", kept in the data directory's secrets.json):`,
    ...DEMO_USERS.map((user) => `    ${user.role.padEnd(8)}  ${user.email}`),
    "",
  ];
}

/**
 * Stops in dependency order: HTTP (drained), pools, then the embedded
 * server. A shutdown that has not finished after `timeoutMs` (a hung
 * database holding pooled connections) exits anyway, with code 1.
 */
function installShutdown(logger: Logger, parts: Parts, timeoutMs: number): void {
  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error({ timeoutMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, timeoutMs).unref();
    try {
      await parts.api?.close();
      await parts.worker?.stop();
      await parts.local?.stop();
      logger.info("stopped");
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, "unclean shutdown");
      process.exit(1);
    }
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

interface Parts {
  api?: ApiServer;
  worker?: JobWorker;
  local?: LocalDatabase;
}

/**
 * The owner's URL for the in-process job worker, or undefined when it does
 * not run: WORKER_IN_PROCESS=false, or unset without a known owner's URL.
 */
function inProcessWorkerUrl(environment: Environment, local: LocalDatabase | undefined): string | undefined {
  const ownerUrl = environment.DATABASE_OWNER_URL ?? local?.urls.owner;
  if (environment.WORKER_IN_PROCESS === false) return undefined;
  if (environment.WORKER_IN_PROCESS === true && ownerUrl === undefined) {
    throw new ConfigurationError(
      "Invalid configuration: DATABASE_OWNER_URL is required when WORKER_IN_PROCESS is true",
    );
  }
  return ownerUrl;
}

await runCli(async () => {
  const environment = environmentFor("start");
  const logger = createLogger(environment.LOG_LEVEL);
  const parts: Parts = {};
  installShutdown(logger, parts, environment.SHUTDOWN_TIMEOUT_MS);
  let databaseUrl = environment.DATABASE_URL;
  if (!databaseUrl) {
    const { startLocalDatabase } = await import("../database/local-database.ts");
    parts.local = await startLocalDatabase(environment, logger);
    databaseUrl = parts.local.urls.authenticator;
  }
  const jwtSecret = environment.JWT_SECRET ?? (await loadLocalSecrets(environment.DATA_DIR)).jwtSecret;
  const workerUrl = inProcessWorkerUrl(environment, parts.local);
  const config = appConfigFrom(environment, { databaseUrl, jwtSecret });
  const inbound = inboundSettingsFrom(environment);
  if (inbound) config.inbound = inbound;
  // The worker's crontab runs housekeeping; the API's own timer only without it.
  if (workerUrl) config.housekeepingMinutes = 0;
  // Checked before anything starts: in production the worker needs SMTP_URL or MAIL_DISABLED.
  const workerConfig = workerUrl ? workerConfigFrom(environment, workerUrl) : undefined;
  // The server's modules (PostGraphile, the drivers, the worker) load only
  // now that the configuration is complete: a refusal above takes a fraction
  // of the time.
  const [{ createApiServer }, { startJobWorker }] = await Promise.all([
    import("../http/api-server.ts"),
    import("../worker/job-worker.ts"),
  ]);
  parts.api = await createApiServer(config, logger);
  if (workerConfig) parts.worker = await startJobWorker(workerConfig, logger);
  const { port, metricsPort } = await parts.api.listen();
  logger.info({ port, metricsPort }, "ticketing API listening");
  const logins = parts.local ? await demoLogins(parts.local.secrets.demoPassword) : [];
  process.stdout.write(
    banner(config, port, metricsPort, parts.local, workerUrl ? mailLine(environment) : undefined, logins),
  );
});
