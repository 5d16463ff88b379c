import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { inboundAttachmentSuite } from "./inbound-attachment-suite.ts";

/** The files of inbound mail on the local driver: files in a temporary directory, served by the API under /files. */
const database = useTestDatabase();
const directory = mkdtempSync(path.join(tmpdir(), "ticketing-inbound-files-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

inboundAttachmentSuite(database, () => ({ driver: "local", directory }));
