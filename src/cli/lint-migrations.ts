import { lintCurrentMigration } from "../database/migration-lint.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm run lint:migrations`: squawk on the work-in-progress migration, as
 * CI and `db:dev -- commit` run it. Exits 1 with squawk's report when it
 * finds anything.
 */
await runCli(async () => {
  const result = await lintCurrentMigration();
  if (result.report) process.stdout.write(`${result.report}\n`);
  if (!result.clean) {
    process.exitCode = 1;
    return;
  }
  process.stdout.write(
    result.files.length === 0
      ? "squawk: no work-in-progress migration to lint\n"
      : `squawk: ${result.files.length} file(s) of the current migration lint clean\n`,
  );
});
