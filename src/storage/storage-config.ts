import path from "node:path";
import type { Environment } from "../config/environment.ts";
import type { S3StorageOptions } from "./s3-storage.ts";

/**
 * Where attachments are stored (STORAGE_DRIVER and its variables;
 * docs/attachments.md). Settings only: the drivers, and the S3 client with
 * them, are loaded by storage-driver.ts, so that checking the configuration
 * (every command's first step) does not load them.
 */
export type StorageConfig = { driver: "local"; directory: string } | ({ driver: "s3" } & Omit<S3StorageOptions, "now">);

/** The default when nothing is configured: files under the data directory. */
export function defaultStorageConfig(dataDirectory = ".data"): StorageConfig {
  return { driver: "local", directory: path.join(dataDirectory, "attachments") };
}

/**
 * The storage settings of the environment. parseEnvironment has already
 * refused incomplete S3 settings (config/environment.ts, one line naming the
 * variable).
 */
export function storageConfigFrom(environment: Environment): StorageConfig {
  if (environment.STORAGE_DRIVER === "local") {
    return {
      driver: "local",
      directory: environment.STORAGE_LOCAL_DIR ?? path.join(environment.DATA_DIR, "attachments"),
    };
  }
  return {
    driver: "s3",
    bucket: environment.S3_BUCKET ?? "",
    region: environment.S3_REGION ?? "",
    ...(environment.S3_ENDPOINT ? { endpoint: environment.S3_ENDPOINT } : {}),
    ...(environment.S3_ACCESS_KEY_ID ? { accessKeyId: environment.S3_ACCESS_KEY_ID } : {}),
    ...(environment.S3_SECRET_ACCESS_KEY ? { secretAccessKey: environment.S3_SECRET_ACCESS_KEY } : {}),
    // A custom endpoint (MinIO, R2, a local server) usually needs path-style URLs.
    forcePathStyle: environment.S3_FORCE_PATH_STYLE ?? environment.S3_ENDPOINT !== undefined,
  };
}
