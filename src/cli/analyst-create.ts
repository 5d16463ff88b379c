import { parseArgs } from "node:util";
import { ConfigurationError } from "../config/environment.ts";
import { ANALYST_LIMITS, analystRoleName, createAnalystLogin } from "../database/analyst-roles.ts";
import { withAnalystDatabase } from "./analyst-database.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm run analyst:create -- --name NAME [--host HOST] [--port PORT]`: creates
 * the read-only login `analyst_NAME` and prints its connection string (the
 * only time the password is shown). --host/--port replace the server in that
 * string, e.g. to point the analyst at a read replica.
 */
const USAGE = "Usage: npm run analyst:create -- --name NAME [--host HOST] [--port PORT]";

function options() {
  const { values } = parseArgs({
    options: { name: { type: "string" }, host: { type: "string" }, port: { type: "string" } },
  });
  if (!values.name) throw new ConfigurationError(USAGE);
  if (values.port !== undefined && !/^\d{1,5}$/.test(values.port)) {
    throw new ConfigurationError(`Invalid --port "${values.port}": expected a port number`);
  }
  try {
    analystRoleName(values.name);
  } catch (error) {
    throw new ConfigurationError((error as Error).message);
  }
  return { name: values.name, host: values.host, port: values.port };
}

function pointAt(connectionString: string, host: string | undefined, port: string | undefined): string {
  const url = new URL(connectionString);
  if (host) url.hostname = host;
  if (port) url.port = port;
  return url.toString();
}

await runCli(async () => {
  const { name, host, port } = options();
  const login = await withAnalystDatabase("analyst:create", ({ root, databaseUrl }) =>
    createAnalystLogin(root, { name, databaseUrl }),
  );
  process.stderr.write(
    `Created ${login.role}: read-only, SELECT on app_reporting only, ` +
      `${ANALYST_LIMITS.connectionLimit} connections, statement timeout ${ANALYST_LIMITS.statementTimeout}, ` +
      `lock timeout ${ANALYST_LIMITS.lockTimeout}, no advisory locks. ` +
      "The password is shown once:\n",
  );
  process.stdout.write(`${pointAt(login.connectionString, host, port)}\n`);
});
