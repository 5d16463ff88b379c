import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import S3rver from "@20minutes/s3rver";
import { afterAll, beforeAll } from "vitest";
import type { StorageConfig } from "../../src/storage/storage-config.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { inboundAttachmentSuite } from "./inbound-attachment-suite.ts";

/**
 * The files of inbound mail on the S3 driver, against a real S3-protocol
 * server on 127.0.0.1 (@20minutes/s3rver): stored with PutObject, verified
 * by reading them back, downloaded with presigned URLs.
 */
const database = useTestDatabase();
const directory = mkdtempSync(path.join(tmpdir(), "ticketing-inbound-s3-"));
let server: S3rver | undefined;
let config: StorageConfig | undefined;

beforeAll(async () => {
  server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: "inbound-attachments" }] });
  const { port } = await server.run();
  config = {
    driver: "s3",
    endpoint: `http://127.0.0.1:${port}`,
    bucket: "inbound-attachments",
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

inboundAttachmentSuite(database, () => {
  if (!config) throw new Error("the S3 server has not started");
  return config;
});
