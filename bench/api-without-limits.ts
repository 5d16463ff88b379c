import "../src/cli/graphile-env.ts";
import { appConfigFrom } from "../src/config/app-config.ts";
import { environmentFor } from "../src/config/command-inputs.ts";
import { runCli } from "../src/cli/run-cli.ts";
import { createApiServer } from "../src/http/api-server.ts";
import { createLogger } from "../src/observability/logger.ts";

/**
 * The API as `npm start` serves it (same environment, DATABASE_URL and
 * JWT_SECRET given), but without its per-request bounds: no document
 * checks or memory-bounded caches (grafserv's own caches instead), no
 * statement timeouts, no request deadline. `npm run bench -- --compare limits`
 * loads the read scenarios through it and through the real API to show what
 * the limits cost. Not for serving anything.
 */
await runCli(async () => {
  const environment = environmentFor("start");
  const logger = createLogger(environment.LOG_LEVEL);
  const config = appConfigFrom(environment, {
    databaseUrl: environment.DATABASE_URL!,
    jwtSecret: environment.JWT_SECRET!,
  });
  const api = await createApiServer(config, logger, { requestLimits: false });
  process.once("SIGTERM", () => {
    void api.close().then(() => process.exit(0));
  });
  await api.listen();
});
