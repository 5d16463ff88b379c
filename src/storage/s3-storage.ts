import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type * as Contract from "./attachment-storage.ts";
import { DOWNLOAD_URL_SECONDS, STORAGE_KEY, UPLOAD_URL_SECONDS } from "./attachment-storage.ts";
import { attachmentDisposition, servedContentType } from "./attachment-storage.ts";

/**
 * The S3 driver (AWS S3, MinIO, Cloudflare R2, any S3-compatible store):
 * objects under `attachments/<key>` in S3_BUCKET; clients upload and
 * download with presigned URLs (AWS Signature V4 over the method, bucket,
 * key, expiry and the signed headers and response overrides), so a URL
 * cannot be altered to reach another object or to serve the bytes inline.
 * The API itself reads objects back only to verify them, and the clean-up
 * job lists and deletes them.
 */
export interface S3StorageOptions {
  /** S3_ENDPOINT; unset: AWS's endpoint for the region. */
  endpoint?: string;
  bucket: string;
  region: string;
  /** Both or neither; neither: the AWS SDK's default credential chain (environment, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (http://host/bucket/key), as MinIO and most self-hosted stores need. */
  forcePathStyle: boolean;
  /** Clock in milliseconds (tests sign URLs that have already expired). */
  now?: () => number;
}

const PREFIX = "attachments/";

function isMissing(error: unknown): boolean {
  const failure = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return error instanceof NoSuchKey || failure.name === "NoSuchKey" || failure.$metadata?.httpStatusCode === 404;
}

export function createS3Client(options: S3StorageOptions): S3Client {
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.accessKeyId && options.secretAccessKey
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
      : {}),
    // Checksums only where S3 requires them: a presigned PUT must not carry
    // the checksum of an empty body, and not every S3-compatible store
    // answers checksum requests.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  // A path-style request for the bucket itself (the listing) is sent as
  // /bucket, not /bucket/: both mean the same to S3, but some compatible
  // stores sign-check the path without the trailing slash.
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { path?: string };
      if (options.forcePathStyle && request.path === `/${options.bucket}/`) request.path = `/${options.bucket}`;
      return next(args);
    },
    { step: "build", name: "bucketPathWithoutSlash" },
  );
  return client;
}

class S3Storage implements Contract.AttachmentStorage {
  readonly driver = "s3";
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #now: () => number;

  constructor(options: S3StorageOptions) {
    this.#client = createS3Client(options);
    this.#bucket = options.bucket;
    this.#now = options.now ?? Date.now;
  }

  #objectKey(key: string): string {
    if (!STORAGE_KEY.test(key)) throw new Error("invalid storage key");
    return `${PREFIX}${key}`;
  }

  #signingDate(): Date {
    return new Date(this.#now());
  }

  async uploadTarget(upload: Contract.DeclaredUpload): Promise<Contract.UploadTarget> {
    const signingDate = this.#signingDate();
    const command = new PutObjectCommand({
      Bucket: this.#bucket,
      Key: this.#objectKey(upload.key),
      ContentType: upload.contentType,
      // Written once: S3, R2 and MinIO refuse a second PUT of the key, so a
      // still-valid upload URL cannot replace verified bytes.
      IfNoneMatch: "*",
    });
    const url = await getSignedUrl(this.#client, command, {
      expiresIn: UPLOAD_URL_SECONDS,
      signingDate,
      signableHeaders: new Set(["content-type", "if-none-match"]),
    });
    return {
      url,
      headers: { "content-type": upload.contentType, "if-none-match": "*" },
      expiresAt: new Date(signingDate.getTime() + UPLOAD_URL_SECONDS * 1000),
    };
  }

  async downloadUrl(download: Contract.DownloadRequest): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: this.#objectKey(download.key),
      ResponseContentDisposition: attachmentDisposition(download.fileName),
      ResponseContentType: servedContentType(download.contentType),
      ResponseCacheControl: "private, no-store",
    });
    return getSignedUrl(this.#client, command, { expiresIn: DOWNLOAD_URL_SECONDS, signingDate: this.#signingDate() });
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: this.#objectKey(key),
        Body: bytes,
        ContentType: contentType,
        // Written once, as an upload URL is.
        IfNoneMatch: "*",
      }),
    );
  }

  async open(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    try {
      const object = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }));
      return object.Body as AsyncIterable<Uint8Array> | undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async remove(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }));
  }

  async *list(): AsyncIterable<Contract.StoredObject> {
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: PREFIX,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(PREFIX.length);
        if (key && STORAGE_KEY.test(key)) yield { key, modifiedAt: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

export function createS3Storage(options: S3StorageOptions): Contract.AttachmentStorage {
  return new S3Storage(options);
}
