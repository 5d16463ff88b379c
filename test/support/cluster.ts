import type { DatabaseUrls } from "../../src/database/connection-urls.ts";
import { databaseUrls } from "../../src/database/provision.ts";

/** The test server, shared by every test file through vitest's provide/inject. */
export interface TestCluster {
  rootUrl: string;
  templateDatabase: string;
}

/**
 * Login roles get this password on the test server. On a shared server
 * (TEST_DATABASE_URL) set-up resets the roles' passwords to it.
 */
export const TEST_CLUSTER_PASSWORD = "ticketing-test-password";

export function clusterUrls(cluster: TestCluster, database: string): DatabaseUrls {
  return databaseUrls(cluster.rootUrl, database, {
    owner: TEST_CLUSTER_PASSWORD,
    authenticator: TEST_CLUSTER_PASSWORD,
  });
}
