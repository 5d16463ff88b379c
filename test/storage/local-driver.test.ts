import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loggedUrl } from "../../src/http/express-app.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { attachmentSuite } from "./attachment-suite.ts";

/** The attachment suite on the local driver: files in a temporary directory, served by the API under /files. */
const database = useTestDatabase();
const directory = mkdtempSync(path.join(tmpdir(), "ticketing-attachments-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

attachmentSuite(database, () => ({ driver: "local", directory }));

describe("the access log", () => {
  it("records a signed file URL without its signature", () => {
    expect(loggedUrl("/files/0123?size=5&type=text%2Fplain&exp=99&sig=AbC-123_x")).toBe(
      "/files/0123?size=5&type=text%2Fplain&exp=99&sig=[redacted]",
    );
    expect(loggedUrl("/graphql?sig=kept")).toBe("/graphql?sig=kept");
  });
});
