import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it, inject } from "vitest";
import { setupCluster, withClient } from "../../src/database/cluster-setup.ts";
import { databaseName, password, userName } from "../../src/database/connection-urls.ts";
import { PARTITION_MONTHS_AHEAD } from "../../src/database/maintenance.ts";
import { committedMigrationFiles } from "../../src/database/migration-files.ts";
import { databaseUrls, provision } from "../../src/database/provision.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { TEST_CLUSTER_PASSWORD } from "../support/cluster.ts";

describe("databaseUrls", () => {
  it("names the project's login roles on the root URL's server, each with its password", () => {
    const urls = databaseUrls("postgres://postgres:secret@db.internal:6543/postgres", "ticketing", {
      owner: "o/w@ner:pass",
      authenticator: "auth",
    });
    expect(urls.root).toBe("postgres://postgres:secret@db.internal:6543/postgres");
    for (const url of [urls.owner, urls.authenticator]) {
      expect(new URL(url).host).toBe("db.internal:6543");
      expect(databaseName(url)).toBe("ticketing");
    }
    expect([userName(urls.owner), password(urls.owner)]).toEqual(["ticketing_owner", "o/w@ner:pass"]);
    expect([userName(urls.authenticator), password(urls.authenticator)]).toEqual(["ticketing_authenticator", "auth"]);
  });

  it("takes PostgreSQL's default port when the root URL names none", () => {
    const urls = databaseUrls("postgres://postgres@db.internal/postgres", "ticketing", {
      owner: "a",
      authenticator: "b",
    });
    expect(new URL(urls.owner).port).toBe("5432");
  });
});

describe("provision", () => {
  const name = `ticketing_test_${process.ppid}_provision_${randomBytes(3).toString("hex")}`;
  const urls = databaseUrls(inject("cluster").rootUrl, name, {
    owner: TEST_CLUSTER_PASSWORD,
    authenticator: TEST_CLUSTER_PASSWORD,
  });
  const logger = createLogger("silent");

  afterAll(async () => {
    await withClient(urls.root, (root) =>
      root.query(`drop database if exists ${root.escapeIdentifier(name)} with (force)`),
    );
  });

  it("makes a new database ready (roles, migrations, partitions ahead), and makes it ready again", async () => {
    const state = () =>
      withClient(urls.owner, async (owner) => {
        const { rows } = await owner.query<{ migrations: string[]; partition: string | null }>(
          `select array(select filename from graphile_migrate.migrations order by filename) as migrations,
                  to_regclass('app_private.ticket_status_history_p' ||
                    to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => $1), 'YYYYMM'))::text as partition`,
          [PARTITION_MONTHS_AHEAD],
        );
        return rows[0]!;
      });
    await provision(urls, { logger, current: true });
    const first = await state();
    expect(first.migrations).toEqual(await committedMigrationFiles());
    expect(first.partition).not.toBeNull();
    // The API's role can sign in to it.
    await withClient(urls.authenticator, (client) => client.query("select 1"));

    // Run again after the furthest partition went missing: maintenance puts it back, migrations change nothing.
    await withClient(urls.owner, (owner) => owner.query(`drop table ${first.partition}`));
    await provision(urls, { logger, current: true });
    expect(await state()).toEqual(first);
  });
});

describe("setupCluster", () => {
  const name = `ticketing_test_${process.ppid}_together_${randomBytes(3).toString("hex")}`;
  const urls = databaseUrls(inject("cluster").rootUrl, name, {
    owner: TEST_CLUSTER_PASSWORD,
    authenticator: TEST_CLUSTER_PASSWORD,
  });

  afterAll(async () => {
    await withClient(urls.root, (root) =>
      root.query(`drop database if exists ${root.escapeIdentifier(name)} with (force)`),
    );
  });

  it("sets up one new database when commands run it at the same time", async () => {
    // npm start and db:dev started together on a new local server: both find no database.
    await Promise.all(Array.from({ length: 4 }, () => setupCluster(urls)));
    const { rows } = await withClient(urls.root, (root) =>
      root.query("select count(*)::int as n from pg_catalog.pg_database where datname = $1", [name]),
    );
    expect(rows[0].n).toBe(1);
    await withClient(urls.authenticator, (client) => client.query("select 1"));
  });
});
