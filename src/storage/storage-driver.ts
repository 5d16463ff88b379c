import type { AttachmentStorage } from "./attachment-storage.ts";
import { createLocalStorage, localSigningSecret } from "./local-storage.ts";
import { createS3Storage } from "./s3-storage.ts";
import type { StorageConfig } from "./storage-config.ts";

/**
 * The driver for a configuration. `jwtSecret` keys the local driver's URL
 * signatures; without it (the worker) the local driver reads and removes only.
 */
export function createAttachmentStorage(
  config: StorageConfig,
  jwtSecret?: string,
  now?: () => number,
): AttachmentStorage {
  if (config.driver === "local") {
    return createLocalStorage({
      directory: config.directory,
      ...(jwtSecret ? { signingSecret: localSigningSecret(jwtSecret) } : {}),
      ...(now ? { now } : {}),
    });
  }
  return createS3Storage({ ...config, ...(now ? { now } : {}) });
}
