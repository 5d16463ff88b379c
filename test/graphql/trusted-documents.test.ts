import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigurationError } from "../../src/config/environment.ts";
import { loadTrustedDocuments } from "../../src/graphql/trusted-documents.ts";
import { connect, type Connection } from "../realtime/realtime-helpers.ts";
import { startTestApi, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { wsRequest } from "../support/ws-request.ts";

/**
 * TRUSTED_DOCUMENTS: the API executes registered operations only, by id,
 * over HTTP and websocket; anything else is refused with
 * TRUSTED_DOCUMENT_REQUIRED before parsing. The document limits still
 * apply to the variables of trusted documents.
 */
const directory = mkdtempSync(path.join(tmpdir(), "trusted-documents-"));
const manifest = path.join(directory, "persisted-documents.json");
const DOCUMENTS = {
  // GraphQL Code Generator's client preset names documents by their sha256.
  a1b2c3: "query Ping { __typename }",
  d4e5f6: "query Page($n: Int) { tickets(first: $n) { totalCount } }",
};
writeFileSync(manifest, JSON.stringify(DOCUMENTS));

const database = useTestDatabase();
// In production /metrics needs its token (docs/security.md, "Time and connections").
const METRICS_TOKEN = "metrics-token-for-this-test";
const api = useTestApi(database, {
  production: true,
  graphiql: false,
  trustedDocuments: manifest,
  metrics: { token: METRICS_TOKEN },
});
let port: number;
let socket: Connection;

beforeAll(async () => {
  port = (await api.current.api.listen()).port;
  socket = connect(port);
});

afterAll(async () => {
  await socket?.client.dispose();
  rmSync(directory, { recursive: true, force: true });
});

function post(body: Record<string, unknown>) {
  return api.current.request.post("/graphql").set("Content-Type", "application/json").send(body);
}

describe("over HTTP", () => {
  it("executes a registered operation sent by documentId, or by Apollo's persistedQuery hash", async () => {
    const byId = await post({ documentId: "a1b2c3" });
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual({ data: { __typename: "Query" } });
    const byHash = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: "a1b2c3" } } });
    expect(byHash.body).toEqual({ data: { __typename: "Query" } });
  });

  it.each([
    ["a document text", { query: "{ __typename }" }],
    ["an unknown id", { documentId: "ffffff" }],
    ["an id that is not a name", { documentId: "../../etc/passwd" }],
    ["a numeric id next to a document text", { query: "{ __typename }", documentId: 42 }],
  ])("refuses %s with TRUSTED_DOCUMENT_REQUIRED", async (_name, body) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(response.body.errors[0].extensions.code).toBe("TRUSTED_DOCUMENT_REQUIRED");
    expect(response.body.data).toBeUndefined();
  });

  it("still refuses pages over the maximum in a trusted document's variables", async () => {
    const response = await post({ documentId: "d4e5f6", variables: { n: 1_000_000 } });
    expect(response.status).toBe(400);
    expect(response.body.errors[0].extensions.code).toBe("PAGE_TOO_LARGE");
  });

  it("labels metrics with the trusted documents' operation names", async () => {
    await post({ documentId: "a1b2c3" });
    const metrics = await api.current.request.get("/metrics").set("Authorization", `Bearer ${METRICS_TOKEN}`);
    expect(metrics.text).toMatch(
      /graphql_operations_total\{operation_name="Ping",operation_type="query",outcome="success"\} \d+/,
    );
  });
});

describe("over websocket", () => {
  it("executes a registered operation and refuses a document text", async () => {
    const known = await wsRequest(socket.client, {
      query: "",
      extensions: { persistedQuery: { sha256Hash: "a1b2c3" } },
    });
    expect(known).toEqual({ data: { __typename: "Query" } });
    const text = await wsRequest(socket.client, { query: "{ __typename }" });
    expect(text.errors?.[0].extensions.code).toBe("TRUSTED_DOCUMENT_REQUIRED");
  });
});

describe("loading", () => {
  it("reads a directory of <id>.graphql files too", () => {
    const folder = mkdtempSync(path.join(tmpdir(), "trusted-directory-"));
    try {
      writeFileSync(path.join(folder, "abc123.graphql"), "query Me { currentUserId }");
      const documents = loadTrustedDocuments(folder);
      expect([...documents.byId.keys()]).toEqual(["abc123"]);
      expect([...documents.operationNames]).toEqual(["Me"]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("stops start-up with one line naming TRUSTED_DOCUMENTS when the documents cannot be read", async () => {
    const failure = startTestApi(database.current, { trustedDocuments: path.join(directory, "missing.json") });
    await expect(failure).rejects.toBeInstanceOf(ConfigurationError);
    await expect(failure).rejects.toThrow(/^Invalid configuration: TRUSTED_DOCUMENTS /);
  });
});
