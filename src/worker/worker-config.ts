import type { Environment } from "../config/environment.ts";
import { storageConfigFrom } from "../storage/storage-config.ts";
import { mailConfigFrom } from "../mail/mail-config.ts";
import type { WorkerConfig } from "./job-worker.ts";

/** The worker's configuration from the environment and the owner's URL. */
export function workerConfigFrom(environment: Environment, ownerUrl: string): WorkerConfig {
  return {
    ownerUrl,
    concurrency: environment.WORKER_CONCURRENCY,
    webhooks: {
      httpsOnly: environment.NODE_ENV === "production",
      allowedHosts: new Set(environment.WEBHOOK_ALLOWED_HOSTS),
      timeoutMs: environment.WEBHOOK_TIMEOUT_MS,
    },
    storage: storageConfigFrom(environment),
    mail: mailConfigFrom(environment),
  };
}
