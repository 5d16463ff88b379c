import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { PersistedPlugin } from "@grafserv/persisted";
import { SafeError } from "postgraphile/grafast";
import { Kind, parse } from "postgraphile/graphql";
import type { LogSampler } from "../observability/log-sampler.ts";
import { projectPlugin } from "./project-plugin.ts";

/**
 * Trusted documents (TRUSTED_DOCUMENTS): the API executes only operations a
 * first-party frontend registered at build time, sent by id
 * (`documentId`, `id`, or Apollo's `extensions.persistedQuery.sha256Hash`).
 * A request with a document text or an unknown id is refused with
 * TRUSTED_DOCUMENT_REQUIRED before anything is parsed. The documents are
 * read once at start-up from either
 *
 * - a JSON manifest `{ "<id>": "<document>" }` (GraphQL Code Generator's
 *   client preset writes one with `persistedDocuments: true`), or
 * - a directory of `<id>.graphql` files (the layout @grafserv/persisted reads).
 *
 * @grafserv/persisted substitutes the document; this module loads the
 * documents, refuses unknown ids with a coded error (the package would log
 * every refused payload to the console) and names the operations for the
 * metrics allow-list. docs/security.md says how a frontend registers them.
 */
export const TRUSTED_DOCUMENT_REQUIRED = "TRUSTED_DOCUMENT_REQUIRED";

const DOCUMENT_ID = /^[\w:.-]{1,200}$/;

export interface TrustedDocuments {
  byId: ReadonlyMap<string, string>;
  /** Names of the operations the documents define: the only operation_name metric labels. */
  operationNames: ReadonlySet<string>;
}

function readManifest(file: string): Map<string, string> {
  const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`${file} must be a JSON object of document ids to documents`);
  }
  return new Map(
    Object.entries(parsed).map(([id, document]) => {
      if (typeof document !== "string") throw new Error(`${file}: document ${id} is not a string`);
      return [id, document];
    }),
  );
}

function readDirectory(directory: string): Map<string, string> {
  const documents = new Map<string, string>();
  for (const name of readdirSync(directory)) {
    if (name.endsWith(".graphql")) {
      documents.set(name.slice(0, -".graphql".length), readFileSync(path.join(directory, name), "utf8"));
    }
  }
  return documents;
}

/** Reads and checks the trusted documents at `location` (a manifest file or a directory). */
export function loadTrustedDocuments(location: string): TrustedDocuments {
  const byId = statSync(location).isDirectory() ? readDirectory(location) : readManifest(location);
  if (byId.size === 0) throw new Error(`${location} holds no trusted documents`);
  const operationNames = new Set<string>();
  for (const [id, document] of byId) {
    if (!DOCUMENT_ID.test(id)) throw new Error(`${location}: '${id}' is not a valid document id`);
    for (const definition of parse(document, { noLocation: true }).definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION && definition.name) operationNames.add(definition.name.value);
    }
  }
  return { byId, operationNames };
}

interface RequestBody {
  id?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

/** The document id a request names, in any of the conventions clients use. */
export function documentIdOf(body: RequestBody): string | undefined {
  const persistedQuery = (body.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery;
  const id = persistedQuery?.sha256Hash ?? body.documentId ?? body.id;
  return typeof id === "string" ? id : undefined;
}

/** The plugins and grafserv options that make the API accept only the trusted documents. */
export function trustedDocumentsPreset(documents: TrustedDocuments, sampler: LogSampler): GraphileConfig.Preset {
  const gate: GraphileConfig.Plugin = projectPlugin("TrustedDocumentsGate", {
    before: ["PersistedPlugin"],
    grafserv: {
      middleware: {
        processGraphQLRequestBody(next, event) {
          const id = documentIdOf(event.body);
          if (id === undefined || !documents.byId.has(id)) {
            sampler.warn(
              TRUSTED_DOCUMENT_REQUIRED,
              { documentId: id?.slice(0, 80) },
              "untrusted GraphQL document refused",
            );
            throw new SafeError("This API accepts only trusted documents: send the id of a registered operation", {
              statusCode: 400,
              code: TRUSTED_DOCUMENT_REQUIRED,
            });
          }
          return next();
        },
      },
    },
  });
  return {
    plugins: [gate, PersistedPlugin],
    grafserv: {
      hashFromPayload: (body) => documentIdOf(body) ?? "",
      // The gate above lets only known ids through.
      persistedOperationsGetter: (id) => documents.byId.get(id) ?? "",
      allowUnpersistedOperation: false,
    },
  };
}
