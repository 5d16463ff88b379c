import type pg from "pg";
import { getDummyHash } from "../auth/passwords.ts";
import type { JwtConfig } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { authenticationPlugin } from "./authentication-plugin.ts";
import { BigIntLiteralPlugin } from "./bigint-literal-plugin.ts";
import { OptionalInputPlugin } from "./optional-input-plugin.ts";
import { PayloadNamingPlugin } from "./payload-naming-plugin.ts";
import { realtimePlugins } from "./realtime-plugin.ts";
import type { SocketRegistry } from "./realtime-socket.ts";

/** What the project's own GraphQL plugins may need from the server. */
export interface PluginDependencies {
  pool: pg.Pool;
  jwt: JwtConfig;
  logger: Logger;
  /** Optional so the schema can be built without a server (schema snapshot). */
  metrics?: Metrics;
  /** The server's open websockets, closed on shutdown (realtime-socket.ts). */
  sockets?: SocketRegistry;
}

/** The project's PostGraphile plugins, in addition to the presets. */
export function graphqlPlugins(dependencies: PluginDependencies): GraphileConfig.Plugin[] {
  // Made now, so the first login with an unknown email is not the one that pays for it.
  void getDummyHash();
  const { jwt, logger, metrics, sockets } = dependencies;
  const realtime = realtimePlugins({
    jwt,
    logger,
    ...(metrics ? { activeSubscriptions: metrics.activeSubscriptions } : {}),
    ...(sockets ? { sockets } : {}),
  });
  return [
    PayloadNamingPlugin,
    OptionalInputPlugin,
    BigIntLiteralPlugin,
    authenticationPlugin(dependencies),
    ...realtime,
  ];
}
