import type pg from "pg";
import type { JwtConfig } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";

/** What the project's own GraphQL plugins may need from the server. */
export interface PluginDependencies {
  pool: pg.Pool;
  jwt: JwtConfig;
  logger: Logger;
}

/** The project's PostGraphile plugins, in addition to the presets. */
export function graphqlPlugins(_dependencies: PluginDependencies): GraphileConfig.Plugin[] {
  return [];
}
