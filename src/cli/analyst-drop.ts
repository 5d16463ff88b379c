import { parseArgs } from "node:util";
import { ConfigurationError } from "../config/environment.ts";
import { analystRoleName, dropAnalystLogin } from "../database/analyst-roles.ts";
import { withAnalystDatabase } from "./analyst-database.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm run analyst:drop -- --name NAME`: removes the login `analyst_NAME`
 * (its sessions are ended). Fails when there is no such analyst login.
 */
const USAGE = "Usage: npm run analyst:drop -- --name NAME";

await runCli(async () => {
  const { values } = parseArgs({ options: { name: { type: "string" } } });
  if (!values.name) throw new ConfigurationError(USAGE);
  const name = values.name;
  let role: string;
  try {
    role = analystRoleName(name);
  } catch (error) {
    throw new ConfigurationError((error as Error).message);
  }
  const dropped = await withAnalystDatabase("analyst:drop", ({ root }) => dropAnalystLogin(root, { name }));
  if (!dropped) throw new Error(`No analyst login ${role}`);
  process.stderr.write(`Dropped ${role}\n`);
});
