import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  assertCurrentMigrationLintsClean,
  lintCurrentMigration,
  MigrationLintError,
} from "../../src/database/migration-lint.ts";

/**
 * squawk with the project's .squawk.toml, on a scratch migrations folder
 * laid out as the project's: what it refuses, and the exceptions it allows.
 */
let scratch: string | undefined;

afterEach(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

/** A migrations folder whose current migration is `parts` (file name → SQL). */
async function migrationsFolder(parts: Record<string, string>): Promise<string> {
  scratch = await mkdtemp(path.join(tmpdir(), "ticketing-lint-"));
  const folder = path.join(scratch, "migrations");
  await mkdir(path.join(folder, "committed"), { recursive: true });
  for (const [name, sql] of Object.entries(parts)) {
    const file = path.join(folder, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, sql);
  }
  return folder;
}

describe("migration lint", () => {
  it("has nothing to say when there is no work in progress", async () => {
    const folder = await migrationsFolder({ "current/README.md": "notes, not SQL" });
    const result = await lintCurrentMigration(folder);
    expect(result).toMatchObject({ clean: true, files: [] });
  });

  it("refuses a blocking index build on an existing table, naming the file and the rule", async () => {
    const folder = await migrationsFolder({
      "current/100-queue-index.sql": "create index if not exists tickets_status on app_public.tickets (status);\n",
    });
    const result = await lintCurrentMigration(folder);
    expect(result.clean).toBe(false);
    expect(result.files).toEqual(["migrations/current/100-queue-index.sql"]);
    expect(result.report).toContain("migrations/current/100-queue-index.sql");
    expect(result.report).toContain("require-concurrent-index-creation");
    await expect(assertCurrentMigrationLintsClean(folder)).rejects.toBeInstanceOf(MigrationLintError);
    await expect(assertCurrentMigrationLintsClean(folder)).rejects.toThrow(/require-concurrent-index-creation/);
  });

  it("refuses NOT VALID followed by VALIDATE in the same migration (one transaction)", async () => {
    const folder = await migrationsFolder({
      "current/100-name-rule.sql": [
        "alter table app_public.users drop constraint if exists users_name_printable;",
        "alter table app_public.users add constraint users_name_printable check (name !~ '[[:cntrl:]]') not valid;",
        "alter table app_public.users validate constraint users_name_printable;",
        "",
      ].join("\n"),
    });
    const result = await lintCurrentMigration(folder);
    expect(result.clean).toBe(false);
    expect(result.report).toContain("constraint-missing-not-valid");
  });

  it("accepts the project's idioms: new tables with their indexes, NOT VALID alone, no per-file lock_timeout", async () => {
    const folder = await migrationsFolder({
      "current/100-quotas.sql": [
        "create table if not exists app_public.example_quotas (",
        "  kind text primary key,",
        "  max_count integer not null check (max_count > 0)",
        ");",
        "create index if not exists example_quotas_max_count on app_public.example_quotas (max_count);",
        "alter table app_public.tickets add column if not exists example_note text;",
        "",
      ].join("\n"),
      "current/101-name-rule.sql": [
        "alter table app_public.users drop constraint if exists users_name_printable;",
        "alter table app_public.users add constraint users_name_printable check (name !~ '[[:cntrl:]]') not valid;",
        "",
      ].join("\n"),
    });
    const result = await lintCurrentMigration(folder);
    expect(result.report).not.toMatch(/warning|error/i);
    expect(result).toMatchObject({
      clean: true,
      files: ["migrations/current/100-quotas.sql", "migrations/current/101-name-rule.sql"],
    });
  });

  it("accepts a statement excused in place with a reasoned squawk-ignore", async () => {
    const folder = await migrationsFolder({
      "current/100-sla-index.sql": [
        "-- sla_policies holds one row per priority: the build is instant.",
        "-- squawk-ignore require-concurrent-index-creation",
        "create index if not exists sla_policies_resolution on app_public.sla_policies (resolution_minutes);",
        "",
      ].join("\n"),
    });
    expect((await lintCurrentMigration(folder)).clean).toBe(true);
  });

  it("lints a no-transaction current.sql as running outside a transaction: CONCURRENTLY is right there", async () => {
    // The recipe for an index on a big table: drop a failed (invalid) build, build again.
    const concurrent = [
      "drop index concurrently if exists app_public.tickets_status;",
      "create index concurrently if not exists tickets_status on app_public.tickets (status);",
      "",
    ].join("\n");
    const outside = await migrationsFolder({ "current.sql": `--! no-transaction\n${concurrent}` });
    expect((await lintCurrentMigration(outside)).clean).toBe(true);
    await rm(path.dirname(outside), { recursive: true, force: true });
    // The same statements inside the usual transaction cannot run at all.
    const inside = await migrationsFolder({ "current.sql": concurrent });
    const result = await lintCurrentMigration(inside);
    expect(result.clean).toBe(false);
    expect(result.report).toContain("ban-concurrent-index-creation-in-transaction");
  });
});
