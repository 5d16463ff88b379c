import { parseArgs } from "node:util";
import { commit, status, uncommit, watch, type Settings } from "graphile-migrate";
import { environmentFor } from "../config/command-inputs.ts";
import { ConfigurationError, type Environment } from "../config/environment.ts";
import { withDatabase } from "../database/connection-urls.ts";
import { startLocalDatabase, type LocalDatabase } from "../database/local-database.ts";
import { assertCurrentMigrationLintsClean } from "../database/migration-lint.ts";
import { migrationSettings, releaseMigrationPools } from "../database/migrations.ts";
import { watchReporter } from "../database/watch-reporter.ts";
import type { Logger } from "../observability/logger.ts";
import { commandLogger, runCli } from "./run-cli.ts";

/**
 * `npm run db:dev -- <watch|commit|uncommit|status>`: the graphile-migrate
 * workflow for developers, wired to the same databases `npm start` uses —
 * with no URL set, the local embedded database, shared with a running
 * `npm start`. `watch` re-applies migrations/current* on every save (and
 * PostGraphile, in a running dev server, picks the change up on restart);
 * `commit` turns it into the next committed migration after linting it with
 * squawk (refusing on any finding) and checking it on a shadow database.
 * Logs go to standard error; `status` prints its JSON on standard output.
 * Every command exits 0 on success, `watch` on Ctrl-C.
 */
const COMMANDS = ["watch", "commit", "uncommit", "status"] as const;
type Command = (typeof COMMANDS)[number];

function developmentSettings(environment: Environment, logger: Logger, local: LocalDatabase | undefined): Settings {
  const ownerUrl = environment.DATABASE_OWNER_URL ?? local?.urls.owner;
  const rootUrl = environment.ROOT_DATABASE_URL ?? local?.urls.root;
  if (!ownerUrl || !rootUrl) {
    throw new ConfigurationError("Invalid configuration: DATABASE_OWNER_URL and ROOT_DATABASE_URL are required");
  }
  const shadowUrl = environment.SHADOW_DATABASE_URL ?? withDatabase(ownerUrl, "ticketing_shadow");
  return migrationSettings({ ownerUrl, rootUrl, shadowUrl, logger });
}

async function run(command: Exclude<Command, "watch">, settings: Settings, message: string | undefined): Promise<void> {
  if (command === "commit") return commit(settings, message);
  if (command === "uncommit") return uncommit(settings);
  const result = await status(settings);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** graphile-migrate's connections end first, then this command lets go of the local server. */
async function finish(local: LocalDatabase | undefined): Promise<void> {
  releaseMigrationPools();
  await local?.stop();
}

/** `watch` runs until Ctrl-C (or SIGTERM), then finishes cleanly and exits 0. */
function finishOnSignal(local: LocalDatabase | undefined, logger: Logger): void {
  let finishing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (finishing) return;
    finishing = true;
    logger.info({ signal }, "watch stopped");
    finish(local).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Error: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

await runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { message: { type: "string", short: "m" } },
  });
  const command = positionals[0] as Command | undefined;
  if (!command || !COMMANDS.includes(command)) {
    throw new ConfigurationError(`Usage: npm run db:dev -- ${COMMANDS.join("|")} [--message M]`);
  }
  // squawk's findings block a commit before any database is touched.
  if (command === "commit") await assertCurrentMigrationLintsClean();
  const environment = environmentFor("db:dev");
  const logger = commandLogger(environment.LOG_LEVEL);
  const local = environment.DATABASE_OWNER_URL ? undefined : await startLocalDatabase(environment, logger);
  try {
    const settings = developmentSettings(environment, logger, local);
    if (command === "watch") {
      finishOnSignal(local, logger);
      // Plain lines for a person watching the terminal (watch-reporter.ts).
      await watch({ ...settings, logger: watchReporter() }, false);
      return;
    }
    await run(command, settings, values.message);
  } catch (error) {
    await finish(local);
    throw error;
  }
  await finish(local);
});
