import type pg from "pg";
import type { JwtConfig } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { AttachmentStorage } from "../storage/attachment-storage.ts";
import { attachmentsPlugin } from "./attachments-plugin.ts";
import { defaultStorageConfig } from "../storage/storage-config.ts";
import { createAttachmentStorage } from "../storage/storage-driver.ts";
import { authenticationPlugin } from "./authentication-plugin.ts";
import { BigIntLiteralPlugin } from "./bigint-literal-plugin.ts";
import { OptionalInputPlugin } from "./optional-input-plugin.ts";
import { PayloadNamingPlugin } from "./payload-naming-plugin.ts";
import { realtimePlugins } from "./realtime-plugin.ts";
import { UniqueRowsPlugin } from "./unique-rows-plugin.ts";
import { RealtimeDispatcher } from "./realtime-dispatcher.ts";
import { DEFAULT_WEBSOCKET_LIMITS } from "./realtime-socket.ts";

/** What the project's own GraphQL plugins may need from the server. */
export interface PluginDependencies {
  pool: pg.Pool;
  jwt: JwtConfig;
  logger: Logger;
  /** Optional so the schema can be built without a server (schema snapshot). */
  metrics?: Metrics;
  /** The server's realtime dispatcher, closed on shutdown (realtime-dispatcher.ts). */
  dispatcher?: RealtimeDispatcher;
  /** Where attachment bytes are stored; absent (schema snapshot): URLs are never signed. */
  storage?: AttachmentStorage;
}

/** The project's PostGraphile plugins, in addition to the presets. */
export function graphqlPlugins(dependencies: PluginDependencies): GraphileConfig.Plugin[] {
  const { pool, logger, metrics } = dependencies;
  // Without a server (schema snapshot) nothing subscribes, so this one never connects.
  const dispatcher =
    dependencies.dispatcher ??
    new RealtimeDispatcher({ pool, logger, maxSubscriptionsPerUser: DEFAULT_WEBSOCKET_LIMITS.maxSubscriptionsPerUser });
  const realtime = realtimePlugins({
    dispatcher,
    ...(metrics ? { activeSubscriptions: metrics.activeSubscriptions } : {}),
  });
  return [
    PayloadNamingPlugin,
    OptionalInputPlugin,
    BigIntLiteralPlugin,
    UniqueRowsPlugin,
    authenticationPlugin(dependencies),
    attachmentsPlugin({ pool, storage: dependencies.storage ?? createAttachmentStorage(defaultStorageConfig()) }),
    ...realtime,
  ];
}
