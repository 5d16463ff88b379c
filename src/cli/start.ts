import "./graphile-env.ts";
import { appConfigFrom } from "../config/app-config.ts";
import { loadLocalSecrets } from "../config/local-secrets.ts";
import { parseEnvironment } from "../config/environment.ts";
import { startLocalDatabase, type LocalDatabase } from "../database/local-database.ts";
import { createApiServer } from "../http/api-server.ts";
import { createLogger } from "../observability/logger.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm start`: the API. Without DATABASE_URL (outside production) it first
 * brings up the embedded PostgreSQL, sets it up and migrates it.
 */
await runCli(async () => {
  const environment = parseEnvironment();
  const logger = createLogger(environment.LOG_LEVEL);
  let local: LocalDatabase | undefined;
  let databaseUrl = environment.DATABASE_URL;
  if (!databaseUrl) {
    local = await startLocalDatabase({
      dataDir: environment.DATA_DIR,
      port: environment.EMBEDDED_POSTGRES_PORT,
      logger,
    });
    databaseUrl = local.urls.authenticator;
  }
  const jwtSecret = environment.JWT_SECRET ?? (await loadLocalSecrets(environment.DATA_DIR)).jwtSecret;
  const config = appConfigFrom(environment, { databaseUrl, jwtSecret });
  const api = await createApiServer(config, logger);
  const { port } = await api.listen();

  const base = `http://localhost:${port}`;
  logger.info({ port }, "ticketing API listening");
  process.stdout.write(
    [
      "",
      `  GraphQL   ${base}/graphql`,
      config.graphiql ? `  GraphiQL  ${base}/graphiql` : undefined,
      `  Health    ${base}/healthz  ${base}/readyz`,
      `  Metrics   ${base}/metrics`,
      local ? `  Database  embedded PostgreSQL on 127.0.0.1:${local.urls.root.split(":").at(-1)?.split("/")[0]}` : undefined,
      "",
    ]
      .filter((line) => line !== undefined)
      .join("\n") + "\n",
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    await api.close();
    await local?.stop();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
});
