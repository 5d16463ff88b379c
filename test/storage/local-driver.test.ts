import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { attachmentSuite } from "./attachment-suite.ts";

/** The attachment suite on the local driver: files in a temporary directory, served by the API under /files. */
const database = useTestDatabase();
const directory = mkdtempSync(path.join(tmpdir(), "ticketing-attachments-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

attachmentSuite(database, () => ({ driver: "local", directory }));
