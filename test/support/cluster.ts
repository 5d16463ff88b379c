import { buildUrl, type DatabaseUrls } from "../../src/database/connection-urls.ts";

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
  const root = new URL(cluster.rootUrl);
  const url = (user: string) =>
    buildUrl({
      user,
      password: TEST_CLUSTER_PASSWORD,
      host: root.hostname,
      port: Number(root.port || 5432),
      database,
    });
  return { root: cluster.rootUrl, owner: url("ticketing_owner"), authenticator: url("ticketing_authenticator") };
}
