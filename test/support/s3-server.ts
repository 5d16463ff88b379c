import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import S3rver from "@20minutes/s3rver";
import { afterAll, beforeAll } from "vitest";
import type { StorageConfig } from "../../src/storage/storage-config.ts";

/**
 * A real S3-protocol server on 127.0.0.1 for the file (@20minutes/s3rver,
 * which checks AWS Signature V4: an altered or expired presigned URL is
 * refused as S3 refuses it), with one bucket, started before its tests and
 * removed after them. Returns the S3 driver's configuration for it.
 */
export function useS3Server(bucket: string): () => StorageConfig {
  const directory = mkdtempSync(path.join(tmpdir(), `${bucket}-`));
  let server: S3rver | undefined;
  let config: StorageConfig | undefined;
  beforeAll(async () => {
    server = new S3rver({
      port: 0,
      address: "127.0.0.1",
      silent: true,
      directory,
      configureBuckets: [{ name: bucket }],
    });
    const { port } = await server.run();
    config = {
      driver: "s3",
      endpoint: `http://127.0.0.1:${port}`,
      bucket,
      region: "us-east-1",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      forcePathStyle: true,
    };
  });
  afterAll(async () => {
    await server?.close();
    rmSync(directory, { recursive: true, force: true });
  });
  return () => {
    if (!config) throw new Error("the S3 server has not started");
    return config;
  };
}
