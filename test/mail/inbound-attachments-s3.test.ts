import { useS3Server } from "../support/s3-server.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { inboundAttachmentSuite } from "./inbound-attachment-suite.ts";

/**
 * The files of inbound mail on the S3 driver, against a real S3-protocol
 * server on 127.0.0.1: stored with PutObject, verified by reading them back,
 * downloaded with presigned URLs.
 */
const database = useTestDatabase();
inboundAttachmentSuite(database, useS3Server("inbound-attachments"));
