import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageConfig } from "../../src/storage/storage-config.ts";
import { createAttachmentStorage } from "../../src/storage/storage-driver.ts";
import { bearer, graphql, startTestApi, TEST_JWT, type TestApi } from "../support/test-api.ts";
import type { TestDatabase } from "../support/test-database.ts";
import { activeUser, commentBy, type FixtureUser, makeTicket } from "../support/fixtures.ts";

/**
 * One suite, run against each storage driver (local-driver.test.ts,
 * s3-driver.test.ts): the whole flow through the HTTP API (request an
 * upload, PUT the bytes, complete, download), who sees which attachment and
 * gets which URL, URLs that cannot be altered or used after they expire, and
 * uploads that are not what they claim to be.
 */
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
export const TEXT = Buffer.from("Steps to reproduce:\n1. open the app\n2. it crashes\n");

export const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

const CREATE = `mutation ($input: CreateAttachmentUploadInput!) {
  createAttachmentUpload(input: $input) {
    attachment { rowId state fileName contentType downloadUrl }
    uploadUrl uploadHeaders uploadExpiresAt
  }
}`;
const COMPLETE = `mutation ($id: UUID!) {
  completeAttachmentUpload(input: { attachmentId: $id }) {
    attachment { rowId state rejectionReason downloadUrl }
  }
}`;
const ONE = "query ($id: UUID!) { attachment(rowId: $id) { rowId state fileName downloadUrl } }";

interface Cast {
  customer: FixtureUser;
  otherCustomer: FixtureUser;
  agent: FixtureUser;
  admin: FixtureUser;
  ticket: string;
  publicComment: string;
  internalNote: string;
}

const tokenOf = (user: FixtureUser) => bearer(user.id, user.tokenRole);

export function attachmentSuite(
  database: { readonly current: TestDatabase },
  storageConfig: () => StorageConfig,
): void {
  let api: TestApi;
  let origin: string;
  const cast = {} as Cast;

  beforeAll(async () => {
    api = await startTestApi(database.current, { storage: storageConfig() });
    const { port } = await api.api.listen();
    origin = `http://127.0.0.1:${port}`;
    const owner = database.current.owner;
    cast.customer = await activeUser(owner, "Attaching Customer", "customer");
    cast.otherCustomer = await activeUser(owner, "Other Customer", "customer");
    cast.agent = await activeUser(owner, "Attaching Agent", "agent");
    cast.admin = await activeUser(owner, "Attaching Admin", "admin");
    cast.ticket = (await makeTicket(owner, cast.customer.id, "in_progress", cast.agent.id)).id as string;
    cast.publicComment = await commentBy(owner, cast.ticket, cast.customer.id, "Here is a screenshot");
    cast.internalNote = await commentBy(owner, cast.ticket, cast.agent.id, "Logs from the server", true);
  });
  afterAll(async () => {
    await api?.api.close();
  });

  const absolute = (url: string) => (url.startsWith("/") ? `${origin}${url}` : url);

  async function create(user: FixtureUser, input: Record<string, unknown>) {
    const response = await graphql(api.request, CREATE, { input }, tokenOf(user));
    return response.body as { data?: { createAttachmentUpload: any }; errors?: any[] };
  }

  async function put(upload: { uploadUrl: string; uploadHeaders: Record<string, string> }, bytes: Buffer) {
    return fetch(absolute(upload.uploadUrl), { method: "PUT", headers: upload.uploadHeaders, body: bytes });
  }

  async function complete(user: FixtureUser, id: string) {
    const response = await graphql(api.request, COMPLETE, { id }, tokenOf(user));
    return response.body as { data?: { completeAttachmentUpload: any }; errors?: any[] };
  }

  /** Request, PUT, complete; returns the completed attachment. */
  async function upload(
    user: FixtureUser,
    bytes: Buffer,
    declared: { fileName?: string; contentType?: string; size?: number; sha256?: string; commentId?: string } = {},
    sent: Buffer = bytes,
  ) {
    const created = await create(user, {
      ticketId: cast.ticket,
      fileName: declared.fileName ?? "screenshot.png",
      contentType: declared.contentType ?? "image/png",
      size: declared.size ?? bytes.length,
      sha256: declared.sha256 ?? sha256(bytes),
      ...(declared.commentId ? { commentId: declared.commentId } : {}),
    });
    expect(created.errors).toBeUndefined();
    const payload = created.data!.createAttachmentUpload;
    const stored = await put(payload, sent);
    const completed = await complete(user, payload.attachment.rowId);
    expect(completed.errors).toBeUndefined();
    return {
      id: payload.attachment.rowId as string,
      stored,
      attachment: completed.data!.completeAttachmentUpload.attachment,
    };
  }

  async function readAttachment(user: FixtureUser, id: string) {
    const response = await graphql(api.request, ONE, { id }, tokenOf(user));
    expect(response.body.errors).toBeUndefined();
    return response.body.data.attachment as {
      rowId: string;
      state: string;
      fileName: string;
      downloadUrl: string | null;
    } | null;
  }

  describe("the whole flow through the HTTP API", () => {
    it("uploads, verifies and downloads a file as an attachment with its stored type", async () => {
      const created = await create(cast.customer, {
        ticketId: cast.ticket,
        fileName: "../../etc/screen\u202eshot.png",
        contentType: "Image/PNG",
        size: PNG.length,
        sha256: sha256(PNG),
      });
      expect(created.errors).toBeUndefined();
      const payload = created.data!.createAttachmentUpload;
      expect(payload.attachment).toMatchObject({
        state: "pending",
        fileName: "screen_shot.png",
        contentType: "image/png",
        downloadUrl: null,
      });
      expect(payload.uploadHeaders["content-type"]).toBe("image/png");
      expect(new Date(payload.uploadExpiresAt).getTime()).toBeGreaterThan(Date.now());

      expect((await put(payload, PNG)).status).toBe(200);
      const completed = await complete(cast.customer, payload.attachment.rowId);
      expect(completed.errors).toBeUndefined();
      const attachment = completed.data!.completeAttachmentUpload.attachment;
      expect(attachment).toMatchObject({ state: "ready", rejectionReason: null });

      const download = await fetch(absolute(attachment.downloadUrl));
      expect(download.status).toBe(200);
      expect(Buffer.from(await download.arrayBuffer())).toEqual(PNG);
      expect(download.headers.get("content-type")).toBe("image/png");
      expect(download.headers.get("content-disposition")).toMatch(/^attachment; filename="screen_shot.png"/);

      // Written once: the upload URL cannot replace the verified bytes (where the store enforces If-None-Match).
      if (storageConfig().driver === "local") expect((await put(payload, TEXT)).status).toBe(409);
      // Completed once.
      const again = await complete(cast.customer, payload.attachment.rowId);
      expect(again.errors?.[0]?.extensions?.code).toBe("INVALID_TRANSITION");
    });

    it("serves active content (HTML, SVG) as an octet stream attachment, never inline", async () => {
      const html = Buffer.from("<html><script>alert(1)</script></html>");
      const { attachment } = await upload(cast.customer, html, { fileName: "page.html", contentType: "text/html" });
      expect(attachment.state).toBe("ready");
      const download = await fetch(absolute(attachment.downloadUrl));
      expect(download.status).toBe(200);
      expect(download.headers.get("content-type")).toBe("application/octet-stream");
      expect(download.headers.get("content-disposition")).toMatch(/^attachment;/);
    });
  });

  describe("who sees which attachment and gets a URL", () => {
    let ticketFile: string;
    let commentFile: string;
    let noteFile: string;

    beforeAll(async () => {
      ticketFile = (await upload(cast.customer, PNG)).id;
      commentFile = (
        await upload(cast.customer, TEXT, {
          fileName: "steps.txt",
          contentType: "text/plain",
          commentId: cast.publicComment,
        })
      ).id;
      noteFile = (
        await upload(cast.agent, TEXT, {
          fileName: "server.log",
          contentType: "text/plain",
          commentId: cast.internalNote,
        })
      ).id;
    });

    it("the customer reads their ticket's and public comment's files with URLs, never an internal note's", async () => {
      expect((await readAttachment(cast.customer, ticketFile))?.downloadUrl).toBeTruthy();
      expect((await readAttachment(cast.customer, commentFile))?.downloadUrl).toBeTruthy();
      expect(await readAttachment(cast.customer, noteFile)).toBeNull();
    });

    it("lists a ticket's and a comment's attachments as the reader may see them", async () => {
      const query = `query ($ticket: UUID!, $note: UUID!) {
        ticket(rowId: $ticket) { attachments(first: 100) { nodes { rowId } } }
        ticketComment(rowId: $note) { attachments { nodes { rowId } } }
      }`;
      const listed = async (user: FixtureUser) => {
        const response = await graphql(
          api.request,
          query,
          { ticket: cast.ticket, note: cast.internalNote },
          tokenOf(user),
        );
        expect(response.body.errors).toBeUndefined();
        const data = response.body.data;
        return {
          ticket: (data.ticket.attachments.nodes as { rowId: string }[]).map((node) => node.rowId),
          note: data.ticketComment
            ? (data.ticketComment.attachments.nodes as { rowId: string }[]).map((node) => node.rowId)
            : null,
        };
      };
      const customer = await listed(cast.customer);
      expect(customer.ticket).toEqual(expect.arrayContaining([ticketFile, commentFile]));
      expect(customer.ticket).not.toContain(noteFile);
      expect(customer.note).toBeNull();
      const agent = await listed(cast.agent);
      expect(agent.ticket).toEqual(expect.arrayContaining([ticketFile, commentFile, noteFile]));
      expect(agent.note).toEqual([noteFile]);
    });

    it("another customer sees none of them and gets no URL", async () => {
      for (const id of [ticketFile, commentFile, noteFile])
        expect(await readAttachment(cast.otherCustomer, id)).toBeNull();
    });

    it("the ticket's agent and an admin read all three, internal note included", async () => {
      for (const user of [cast.agent, cast.admin]) {
        for (const id of [ticketFile, commentFile, noteFile])
          expect((await readAttachment(user, id))?.downloadUrl).toBeTruthy();
      }
    });

    it("nobody uploads to a ticket they cannot read, or to someone else's comment", async () => {
      const input = {
        ticketId: cast.ticket,
        fileName: "x.txt",
        contentType: "text/plain",
        size: 1,
        sha256: sha256(Buffer.from("x")),
      };
      expect((await create(cast.otherCustomer, input)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      expect(
        (await create(cast.customer, { ...input, commentId: cast.internalNote })).errors?.[0]?.extensions?.code,
      ).toBe("FORBIDDEN");
      expect(
        (await create(cast.agent, { ...input, commentId: cast.publicComment })).errors?.[0]?.extensions?.code,
      ).toBe("FORBIDDEN");
    });

    it("only the uploader completes an upload", async () => {
      const created = await create(cast.customer, {
        ticketId: cast.ticket,
        fileName: "x.txt",
        contentType: "text/plain",
        size: TEXT.length,
        sha256: sha256(TEXT),
      });
      const id = created.data!.createAttachmentUpload.attachment.rowId;
      expect((await complete(cast.agent, id)).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      expect((await complete(cast.otherCustomer, id)).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    });

    it("a URL for one file cannot be altered to fetch another, or to change how it is served", async () => {
      const own = await readAttachment(cast.customer, ticketFile);
      const note = await readAttachment(cast.agent, noteFile);
      const { rows } = await database.current.owner.query<{ id: string; storage_key: string }>(
        "select id, storage_key from app_public.attachments where id = any ($1)",
        [[ticketFile, noteFile]],
      );
      const keyOf = (id: string) => rows.find((row) => row.id === id)!.storage_key;
      const url = absolute(own!.downloadUrl!);
      expect((await fetch(url)).status).toBe(200);
      expect(url).toContain(keyOf(ticketFile));
      const forged = url.replace(keyOf(ticketFile), keyOf(noteFile));
      expect((await fetch(forged)).status).toBe(403);
      const inline = new URL(url);
      for (const [name, value] of inline.searchParams) {
        if (/type|disposition/i.test(name))
          inline.searchParams.set(name, value.includes("attachment") ? "inline" : "text/html");
      }
      expect((await fetch(inline)).status).toBe(403);
      expect(note?.downloadUrl).toBeTruthy();
    });

    it("an expired URL is refused", async () => {
      const { rows } = await database.current.owner.query<{ storage_key: string }>(
        "select storage_key from app_public.attachments where id = $1",
        [ticketFile],
      );
      const anHourAgo = () => Date.now() - 3_600_000;
      const past = createAttachmentStorage(storageConfig(), TEST_JWT.secret, anHourAgo);
      const url = await past.downloadUrl({
        key: rows[0]!.storage_key,
        fileName: "screenshot.png",
        contentType: "image/png",
      });
      expect((await fetch(absolute(url))).status).toBe(403);
    });
  });

  describe("uploads that are not what they claim leave no ready row", () => {
    const rejected = async (result: {
      attachment: { state: string; rejectionReason: string; downloadUrl: string | null };
    }) => {
      expect(result.attachment.state).toBe("rejected");
      expect(result.attachment.downloadUrl).toBeNull();
      return result.attachment.rejectionReason;
    };

    it("more bytes than declared", async () => {
      const result = await upload(cast.customer, TEXT, { contentType: "text/plain", size: 10 });
      expect(await rejected(result)).toMatch(/larger than declared|Nothing was uploaded/);
      if (storageConfig().driver === "local") expect(result.stored.status).toBe(413);
    });

    it("fewer bytes than declared", async () => {
      const result = await upload(cast.customer, TEXT, { contentType: "text/plain", size: TEXT.length + 5 });
      expect(await rejected(result)).toBe("The file is smaller than declared");
    });

    it("a checksum that does not match", async () => {
      const result = await upload(cast.customer, TEXT, { contentType: "text/plain", sha256: sha256(PNG) });
      expect(await rejected(result)).toBe("The SHA-256 does not match");
    });

    it("text declared as an image, and an image declared as text", async () => {
      expect(await rejected(await upload(cast.customer, TEXT, { contentType: "image/png" }))).toBe(
        "The content is not image/png",
      );
      expect(await rejected(await upload(cast.customer, PNG, { contentType: "text/plain" }))).toBe(
        "The content is image/png, not text/plain",
      );
    });

    it("nothing uploaded at all", async () => {
      const created = await create(cast.customer, {
        ticketId: cast.ticket,
        fileName: "x.txt",
        contentType: "text/plain",
        size: TEXT.length,
        sha256: sha256(TEXT),
      });
      const completed = await complete(cast.customer, created.data!.createAttachmentUpload.attachment.rowId);
      expect(await rejected(completed.data!.completeAttachmentUpload)).toBe("Nothing was uploaded");
    });

    it("a file over the role's size limit is refused before any upload", async () => {
      const body = await create(cast.customer, {
        ticketId: cast.ticket,
        fileName: "big.bin",
        contentType: "application/octet-stream",
        size: 26214401,
        sha256: sha256(TEXT),
      });
      expect(body.errors?.[0]?.extensions?.code).toBe("INVALID_INPUT");
      expect(body.errors?.[0]?.message).toMatch(/too large/);
    });

    it("no rejected attachment is ready", async () => {
      const { rows } = await database.current.owner.query(
        "select count(*)::int as n from app_public.attachments where state = 'ready' and rejection_reason is not null",
      );
      expect(rows[0].n).toBe(0);
    });
  });
}
