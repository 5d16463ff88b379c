import type { TestProject } from "vitest/node";
import { withClient } from "../../src/database/cluster-setup.ts";
import { startThrowawayPostgres, type EmbeddedPostgresHandle } from "../../src/database/embedded-postgres.ts";
import { provision } from "../../src/database/provision.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { clusterUrls, TEST_CLUSTER_PASSWORD, type TestCluster } from "./cluster.ts";
import { makeScratchFolder, removeScratchFolder } from "./scratch-folder.ts";

/**
 * Once per `npm test`: a PostgreSQL server (embedded 18, or TEST_DATABASE_URL),
 * the roles, and a template database migrated with the committed migrations
 * plus the work in progress. Each test file clones the template.
 */
declare module "vitest" {
  export interface ProvidedContext {
    cluster: TestCluster;
    /** The run's temporary folder (scratch-folder.ts); test-environment.ts makes it each worker's TMPDIR. */
    scratchFolder: string;
  }
}

/**
 * Roles are cluster-wide: on a server of your own the set-up gives the
 * application roles the test password, which breaks any other database of
 * that server using them. It runs only when asked to, in so many words.
 */
export const RESETS_ROLES_OPT_IN = "TEST_DATABASE_RESETS_ROLES";

function assertResetsRolesOptIn(): void {
  if (process.env[RESETS_ROLES_OPT_IN] === "1") return;
  throw new Error(
    `TEST_DATABASE_URL: the tests set the passwords of the cluster-wide roles ticketing_owner and ticketing_authenticator on that server (and create ticketing_* group roles, analyst_t_* logins and ticketing_test_* databases), which breaks any other installation of this project there. Set ${RESETS_ROLES_OPT_IN}=1 to allow it, or leave TEST_DATABASE_URL unset to use an embedded server.`,
  );
}

/**
 * The suite's own server is thrown away after the run, so it skips what only
 * protects data across a crash of the machine: flushing to disk (fsync), the
 * wait for the WAL flush at commit, and full-page images. Each test file's
 * commits and its `create database` would otherwise wait on the disk. Tests
 * of crash behaviour start servers of their own.
 */
const THROWAWAY_SERVER_FLAGS = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];

async function startServer(
  given: string | undefined,
  scratchFolder: string,
): Promise<{ rootUrl: string; embedded?: EmbeddedPostgresHandle }> {
  if (given) return { rootUrl: given };
  const embedded = await startThrowawayPostgres({
    prefix: "ticketing-test-",
    password: TEST_CLUSTER_PASSWORD,
    extraFlags: THROWAWAY_SERVER_FLAGS,
    parent: scratchFolder,
  });
  return { rootUrl: embedded.rootUrl, embedded };
}

export default async function setup(project: TestProject) {
  const given = process.env.TEST_DATABASE_URL;
  if (given) assertResetsRolesOptIn();
  // In memory when the machine allows (scratch-folder.ts); removed after the run, or now if set-up fails.
  const scratchFolder = await makeScratchFolder();
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  const tearDown = async () => {
    await server?.embedded?.stop();
    await removeScratchFolder(scratchFolder);
  };
  try {
    server = await startServer(given, scratchFolder);
    const cluster: TestCluster = { rootUrl: server.rootUrl, templateDatabase: `ticketing_template_${process.pid}` };
    const logger = createLogger(process.env.LOG_LEVEL ?? "warn");
    await provision(clusterUrls(cluster, cluster.templateDatabase), { logger, current: true });
    project.provide("cluster", cluster);
    project.provide("scratchFolder", scratchFolder);

    return async () => {
      await dropTestDatabases(cluster);
      await tearDown();
    };
  } catch (error) {
    await tearDown();
    throw error;
  }
}

/** On a server of your own the template and the files' databases would otherwise stay. */
async function dropTestDatabases(cluster: TestCluster): Promise<void> {
  await withClient(cluster.rootUrl, async (root) => {
    const { rows } = await root.query<{ datname: string }>(
      "select datname from pg_catalog.pg_database where datname = $1 or datname like $2",
      [cluster.templateDatabase, `ticketing_test_${process.pid}_%`],
    );
    for (const { datname } of rows) {
      await root.query(`drop database if exists ${root.escapeIdentifier(datname)} with (force)`);
    }
  });
}
