import { parseArgs } from "node:util";
import { commit, status, uncommit, watch, type Settings } from "graphile-migrate";
import { ConfigurationError, parseEnvironment } from "../config/environment.ts";
import { withDatabase } from "../database/connection-urls.ts";
import { startLocalDatabase, type LocalDatabase } from "../database/local-database.ts";
import { assertCurrentMigrationLintsClean } from "../database/migration-lint.ts";
import { migrationSettings } from "../database/migrations.ts";
import { createLogger } from "../observability/logger.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm run db:dev -- <watch|commit|uncommit|status>`: the graphile-migrate
 * workflow for developers, wired to the same databases `npm start` uses.
 * `watch` re-applies migrations/current* on every save (and PostGraphile,
 * in a running dev server, picks the change up on restart); `commit` turns
 * it into the next committed migration after linting it with squawk
 * (refusing on any finding) and checking it on a shadow database.
 */
const COMMANDS = ["watch", "commit", "uncommit", "status"] as const;
type Command = (typeof COMMANDS)[number];

function developmentSettings(local: LocalDatabase | undefined): Settings {
  const environment = parseEnvironment();
  const logger = createLogger(environment.LOG_LEVEL);
  const ownerUrl = environment.DATABASE_OWNER_URL ?? local?.urls.owner;
  const rootUrl = environment.ROOT_DATABASE_URL ?? local?.urls.root;
  if (!ownerUrl || !rootUrl) {
    throw new ConfigurationError("Invalid configuration: DATABASE_OWNER_URL and ROOT_DATABASE_URL are required");
  }
  const shadowUrl = environment.SHADOW_DATABASE_URL ?? withDatabase(ownerUrl, "ticketing_shadow");
  return migrationSettings({ ownerUrl, rootUrl, shadowUrl, logger });
}

async function run(command: Command, settings: Settings, message: string | undefined): Promise<void> {
  if (command === "watch") return watch(settings, false);
  if (command === "commit") return commit(settings, message);
  if (command === "uncommit") return uncommit(settings);
  const result = await status(settings);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
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
  const environment = parseEnvironment();
  const local = environment.DATABASE_OWNER_URL
    ? undefined
    : await startLocalDatabase(environment, createLogger(environment.LOG_LEVEL));
  try {
    await run(command, developmentSettings(local), values.message);
  } finally {
    if (command !== "watch") await local?.stop();
  }
});
