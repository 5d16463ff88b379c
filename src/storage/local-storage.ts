import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, readdir, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import express from "express";
import type * as Contract from "./attachment-storage.ts";
import { DOWNLOAD_URL_SECONDS, STORAGE_KEY, UPLOAD_URL_SECONDS } from "./attachment-storage.ts";
import { attachmentDisposition, servedContentType } from "./attachment-storage.ts";

/**
 * The local driver: one file per attachment under a directory (by default
 * `.data/attachments`), uploaded and downloaded through the API itself at
 * `/files/<key>`. A URL is signed with HMAC-SHA256 over the method, the key,
 * its expiry and what the request may do (size and content type of an
 * upload; file name and content type of a download), so changing any part
 * of it, another key included, voids the signature. An object is written
 * once: a second PUT of the same key is refused (409), so a still-valid
 * upload URL cannot replace bytes that were already verified.
 */
export const FILES_PATH = "/files";

export interface LocalStorageOptions {
  directory: string;
  /** HMAC key of the URLs; without it the driver can read and remove but not sign (the worker). */
  signingSecret?: string;
  /** Clock in milliseconds (tests sign URLs that have already expired). */
  now?: () => number;
}

/** The URL signing key, derived from the JWT secret so that no second secret is needed. */
export function localSigningSecret(jwtSecret: string): string {
  return createHmac("sha256", jwtSecret).update("ticketing attachment URLs v1").digest("base64url");
}

type Method = "GET" | "PUT";

function signature(
  secret: string,
  method: Method,
  key: string,
  expires: string,
  first: string,
  second: string,
): string {
  return createHmac("sha256", secret).update([method, key, expires, first, second].join("\n")).digest("base64url");
}

function sameSignature(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

class LocalStorage implements Contract.AttachmentStorage {
  readonly driver = "local";
  readonly directory: string;
  readonly #secret: string | undefined;
  readonly #now: () => number;

  constructor(options: LocalStorageOptions) {
    this.directory = path.resolve(options.directory);
    this.#secret = options.signingSecret;
    this.#now = options.now ?? Date.now;
  }

  secret(): string {
    if (!this.#secret) throw new Error("the local attachment storage has no signing secret here");
    return this.#secret;
  }

  now(): number {
    return this.#now();
  }

  pathOf(key: string): string {
    if (!STORAGE_KEY.test(key)) throw new Error("invalid storage key");
    return path.join(this.directory, key);
  }

  #signed(method: Method, key: string, seconds: number, params: Record<string, string>, first: string, second: string) {
    const expires = String(Math.floor(this.#now() / 1000) + seconds);
    const query = new URLSearchParams({
      ...params,
      exp: expires,
      sig: signature(this.secret(), method, key, expires, first, second),
    });
    return { url: `${FILES_PATH}/${key}?${query}`, expiresAt: new Date(Number(expires) * 1000) };
  }

  async uploadTarget(upload: Contract.DeclaredUpload): Promise<Contract.UploadTarget> {
    const size = String(upload.size);
    const { url, expiresAt } = this.#signed(
      "PUT",
      upload.key,
      UPLOAD_URL_SECONDS,
      { size, type: upload.contentType },
      size,
      upload.contentType,
    );
    return { url, headers: { "content-type": upload.contentType }, expiresAt };
  }

  async downloadUrl(download: Contract.DownloadRequest): Promise<string> {
    const params = { name: download.fileName, type: download.contentType };
    return this.#signed("GET", download.key, DOWNLOAD_URL_SECONDS, params, download.fileName, download.contentType).url;
  }

  async put(key: string, bytes: Uint8Array, _contentType: string): Promise<void> {
    await this.writeOnce(key, (part) => writeFile(part, bytes, { flag: "wx" }));
  }

  /**
   * Writes an object once: `write` fills a private part file, which then takes
   * the key's name with link(), refused (EEXIST) when the name exists; the part
   * is removed either way. Shared by put() and the signed PUT route.
   */
  async writeOnce(key: string, write: (part: string) => Promise<void>): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    const final = this.pathOf(key);
    const part = `${final}.part-${randomBytes(8).toString("hex")}`;
    try {
      await write(part);
      await link(part, final);
    } finally {
      await unlink(part).catch(() => {});
    }
  }

  async open(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const file = this.pathOf(key);
    try {
      await stat(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    return createReadStream(file);
  }

  async remove(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  async *list(): AsyncIterable<Contract.StoredObject> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const name of names) {
      if (!STORAGE_KEY.test(name)) continue;
      try {
        yield { key: name, modifiedAt: (await stat(path.join(this.directory, name))).mtime };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
  }
}

export function createLocalStorage(options: LocalStorageOptions): Contract.AttachmentStorage {
  return new LocalStorage(options);
}

function text(res: express.Response, status: number, message: string): void {
  res.status(status).type("text/plain").send(message);
}

function queryString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** What a signed `/files/<key>` request names: the key and its two signed query values. */
interface SignedFileRequest {
  key: string;
  /** `size` of an upload, `name` of a download. */
  first: string;
  type: string;
}

/**
 * Reads a signed request for `/files/<key>`; answers 404 for a malformed key,
 * 403 for a missing, altered or expired signature, and then returns undefined.
 */
function signedRequest(
  storage: LocalStorage,
  req: express.Request,
  res: express.Response,
  method: Method,
  firstParameter: "size" | "name",
): SignedFileRequest | undefined {
  const key = String(req.params.key);
  if (!STORAGE_KEY.test(key)) {
    text(res, 404, "Not found");
    return undefined;
  }
  const first = queryString(req.query[firstParameter]);
  const type = queryString(req.query.type);
  const expires = queryString(req.query.exp);
  const given = queryString(req.query.sig);
  const valid =
    expires !== undefined &&
    given !== undefined &&
    first !== undefined &&
    type !== undefined &&
    /^\d{1,12}$/.test(expires) &&
    sameSignature(given, signature(storage.secret(), method, key, expires, first, type)) &&
    Number(expires) * 1000 >= storage.now();
  if (!valid) {
    text(res, 403, "Invalid or expired link");
    return undefined;
  }
  return { key, first, type };
}

/** Counts bytes through; fails the pipeline once more than `limit` have passed. */
function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > limit) callback(Object.assign(new Error("upload larger than declared"), { tooLarge: true }));
      else callback(null, chunk);
    },
  });
}

/** PUT and GET of `/files/<key>` with signed URLs (the local driver only). */
export function localFileRoutes(storage: Contract.AttachmentStorage): express.Router {
  const router = express.Router();
  if (!(storage instanceof LocalStorage)) return router;

  // Express 5 passes a rejected handler's error to the error handlers.
  router.put(`${FILES_PATH}/:key`, async (req, res) => {
    const request = signedRequest(storage, req, res, "PUT", "size");
    if (!request) return;
    const sentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (sentType !== request.type) return text(res, 403, "The Content-Type header must be the declared content type");
    const declared = Number(request.first);
    const length = req.headers["content-length"];
    if (length !== undefined && Number(length) > declared) return text(res, 413, "Larger than the declared size");
    try {
      await storage.writeOnce(request.key, (part) =>
        pipeline(req, byteLimit(declared), createWriteStream(part, { flags: "wx" })),
      );
    } catch (error) {
      const failure = error as NodeJS.ErrnoException & { tooLarge?: boolean };
      if (failure.tooLarge) return text(res, 413, "Larger than the declared size");
      if (failure.code === "EEXIST") return text(res, 409, "This file was already uploaded");
      throw error;
    }
    res.status(200).end();
  });

  router.get(`${FILES_PATH}/:key`, async (req, res) => {
    const request = signedRequest(storage, req, res, "GET", "name");
    if (!request) return;
    const file = storage.pathOf(request.key);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      return text(res, 404, "Not found");
    }
    res.setHeader("Content-Type", servedContentType(request.type));
    res.setHeader("Content-Disposition", attachmentDisposition(request.first));
    res.setHeader("Content-Length", String(size));
    res.setHeader("Content-Security-Policy", "default-src 'none'; sandbox");
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cache-Control", "private, no-store");
    await pipeline(createReadStream(file), res);
  });
  return router;
}
