import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { MIGRATIONS_FOLDER } from "./migration-files.ts";

/**
 * squawk on the work-in-progress migration (`migrations/current/NNN-*.sql`,
 * or `migrations/current.sql`), with the project's exceptions from
 * `.squawk.toml`. Committed migrations are never edited, so never linted.
 * Used by `npm run lint` (CI) and by `npm run db:dev -- commit`, which
 * refuses to commit what squawk reports.
 */
export const SQUAWK_CONFIG = fileURLToPath(new URL("../../.squawk.toml", import.meta.url));

export interface MigrationLintResult {
  /** The files linted, relative to the migrations folder's parent (e.g. `migrations/current/100-x.sql`). */
  files: string[];
  clean: boolean;
  /** squawk's report (empty when there was nothing to lint). */
  report: string;
}

export class MigrationLintError extends Error {
  constructor(report: string) {
    super(`squawk reports problems in the current migration; fix them or add a reasoned squawk-ignore:\n${report}`);
    this.name = "MigrationLintError";
  }
}

/** graphile-migrate runs a file whose first line is `--! no-transaction` outside a transaction. */
function runsOutsideTransaction(contents: string): boolean {
  return /^--!\s*no-transaction\b/.test(contents);
}

/** The current migration's files, relative to the folder above `folder` (the repository for the project's own). */
async function currentMigrationFiles(folder: string): Promise<string[]> {
  const base = path.basename(folder);
  const parts = await readdir(path.join(folder, "current")).catch(() => [] as string[]);
  const single = await readdir(folder).then((files) => files.filter((file) => file === "current.sql"));
  return [
    ...parts.filter((file) => /^\d+(-[-\w]*)?\.sql$/.test(file)).map((file) => path.join(base, "current", file)),
    ...single.map((file) => path.join(base, file)),
  ].sort();
}

function squawk(cwd: string, files: string[], inTransaction: boolean): Promise<{ exitCode: number; output: string }> {
  const require = createRequire(import.meta.url);
  const bin = path.join(path.dirname(require.resolve("squawk-cli/package.json")), "js/bin/squawk");
  const transaction = inTransaction ? "--assume-in-transaction" : "--no-assume-in-transaction";
  const args = [bin, "--config", SQUAWK_CONFIG, transaction, ...files];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd }, (error, stdout, stderr) => {
      // squawk colours its report whatever it writes to; plain text for logs and files.
      const report = `${stdout}${stderr}`.trim();
      const output = process.stdout.isTTY ? report : stripVTControlCharacters(report);
      if (error && typeof error.code !== "number") reject(error);
      else resolve({ exitCode: error ? Number(error.code) : 0, output });
    });
  });
}

/** Lints the current migration under `folder` (the project's migrations by default). */
export async function lintCurrentMigration(folder: string = MIGRATIONS_FOLDER): Promise<MigrationLintResult> {
  const cwd = path.dirname(folder);
  const files = await currentMigrationFiles(folder);
  const outside: string[] = [];
  const inside: string[] = [];
  for (const file of files) {
    (runsOutsideTransaction(await readFile(path.join(cwd, file), "utf8")) ? outside : inside).push(file);
  }
  const runs = await Promise.all(
    [
      { group: inside, inTransaction: true },
      { group: outside, inTransaction: false },
    ]
      .filter(({ group }) => group.length > 0)
      .map(({ group, inTransaction }) => squawk(cwd, group, inTransaction)),
  );
  return {
    files,
    clean: runs.every((result) => result.exitCode === 0),
    report: runs.map((result) => result.output).join("\n"),
  };
}

/** Throws MigrationLintError, carrying squawk's report, unless the current migration lints clean. */
export async function assertCurrentMigrationLintsClean(folder: string = MIGRATIONS_FOLDER): Promise<void> {
  const result = await lintCurrentMigration(folder);
  if (!result.clean) throw new MigrationLintError(result.report);
}
