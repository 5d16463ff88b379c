import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_INBOUND_ATTACHMENTS } from "../../src/mail/inbound-attachments.ts";
import type { StorageConfig } from "../../src/storage/storage-config.ts";
import { createAttachmentStorage } from "../../src/storage/storage-driver.ts";
import { activeUser, type FixtureUser, fileTicketAs } from "../support/fixtures.ts";
import { bearer, graphql, startTestApi, type TestApi } from "../support/test-api.ts";
import type { TestDatabase } from "../support/test-database.ts";

/**
 * The files of an inbound mail, end to end through POST /inbound/email with
 * raw MIME messages, run on each storage driver (inbound-attachments.test.ts,
 * inbound-attachments-s3.test.ts): they become attachments of the comment
 * the reply made, stored by the driver and downloadable by the requester; a
 * file the upload rules refuse is skipped (listed for staff) and the comment
 * stays; a message from an unknown sender stores nothing; a transaction that
 * does not commit leaves neither a row nor a file.
 */
const SECRET = "inbound-secret-of-the-test-relay-0123456789";

const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
const PDF = Buffer.from(
  "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
);
/** The start of a Windows executable: its magic number is enough for the sniffing. */
const EXE = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(200, 0x90)]);

interface MimeFile {
  name: string;
  type: string;
  bytes: Buffer;
}

export function inboundAttachmentSuite(
  database: { readonly current: TestDatabase },
  storageConfig: () => StorageConfig,
): void {
  let api: TestApi;
  let customer: FixtureUser;
  let agent: FixtureUser;
  let customerEmail = "";
  let ticketId = "";
  let number = "";
  let messageCount = 0;
  let origin = "";
  const testApi = {
    get current(): TestApi {
      return api;
    },
  };

  /** A multipart/mixed reply to the ticket: the text, then each file base64-encoded, as mail programs send it. */
  function reply(from: string, text: string, files: MimeFile[], newTicket = false): string {
    messageCount += 1;
    const boundary = `----=_Part_${messageCount}_boundary`;
    const parts = [
      ["Content-Type: text/plain; charset=utf-8", "", text].join("\r\n"),
      ...files.map((file) =>
        [
          `Content-Type: ${file.type}; name="${file.name}"`,
          `Content-Disposition: attachment; filename="${file.name}"`,
          "Content-Transfer-Encoding: base64",
          "",
          (file.bytes.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n"),
        ].join("\r\n"),
      ),
    ];
    const headers = [
      `From: ${from}`,
      newTicket ? "To: support@support.example.test" : `To: reply+${number}@support.example.test`,
      newTicket ? "Subject: Label printer offline" : `Subject: Re: [#${number}] Scanner`,
      `Message-ID: <files-${messageCount}-${Date.now()}@customer.example.com>`,
      "Date: Mon, 30 Nov 2026 12:00:00 +0000",
      "MIME-Version: 1.0",
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
    ];
    return `${headers.join("\r\n")}\r\n\r\n${parts.map((part) => `--${boundary}\r\n${part}\r\n`).join("")}--${boundary}--\r\n`;
  }

  function post(raw: string) {
    return testApi.current.request
      .post("/inbound/email")
      .set("Content-Type", "message/rfc822")
      .set("Authorization", `Bearer ${SECRET}`)
      .send(raw);
  }

  /** Every object in the storage, as the clean-up job lists them. */
  async function storedFiles(): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of createAttachmentStorage(storageConfig()).list()) keys.push(object.key);
    return keys.sort();
  }

  async function attachmentRows(commentId: string) {
    const { rows } = await database.current.owner.query(
      "select file_name, content_type, size::integer as size, state, rejection_reason, uploader_id from app_public.attachments where comment_id = $1 order by created_at, file_name",
      [commentId],
    );
    return rows;
  }

  const COMMENT = `query ($id: UUID!) {
    ticketComment(rowId: $id) { body refusedAttachments attachments { nodes { rowId fileName contentType state downloadUrl } } }
  }`;

  beforeAll(async () => {
    api = await startTestApi(database.current, {
      inbound: { secret: SECRET, maxBytes: 2_000_000, unknownSender: "reject", replyDomain: "support.example.test" },
      storage: storageConfig(),
    });
    origin = `http://127.0.0.1:${(await api.api.listen()).port}`;
    const owner = database.current.owner;
    customer = await activeUser(owner, "Mailing Customer", "customer");
    agent = await activeUser(owner, "Mailing Agent", "agent");
    customerEmail = (await owner.query("select email from app_private.user_accounts where user_id = $1", [customer.id]))
      .rows[0].email;
    ticketId = await fileTicketAs(database.current.authenticator, customer, "Scanner makes stripes");
    number = (await owner.query("select number::text from app_public.tickets where id = $1", [ticketId])).rows[0]
      .number;
    await owner.query("update app_public.tickets set agent_id = $1, status = 'in_progress' where id = $2", [
      agent.id,
      ticketId,
    ]);
  });
  afterAll(async () => {
    await api?.api.close();
  });

  describe("files of an inbound reply", () => {
    it("an image and a PDF become attachments of the comment, which the requester downloads", async () => {
      const response = await post(
        reply(customerEmail, "Here is a scan and the report.", [
          { name: "scan.png", type: "image/png", bytes: PNG },
          // Labelled as unknown by the mail program: declared as what its bytes are, then verified.
          { name: "report.pdf", type: "application/octet-stream", bytes: PDF },
        ]),
      );
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ decision: "comment", ticketId, refusedAttachments: [] });
      expect(response.body.attachmentIds).toHaveLength(2);
      const commentId = response.body.commentId as string;
      expect(await attachmentRows(commentId)).toEqual([
        {
          file_name: "report.pdf",
          content_type: "application/pdf",
          size: PDF.length,
          state: "ready",
          rejection_reason: null,
          uploader_id: customer.id,
        },
        {
          file_name: "scan.png",
          content_type: "image/png",
          size: PNG.length,
          state: "ready",
          rejection_reason: null,
          uploader_id: customer.id,
        },
      ]);

      const read = await graphql(
        testApi.current.request,
        COMMENT,
        { id: commentId },
        bearer(customer.id, customer.tokenRole),
      );
      expect(read.body.errors).toBeUndefined();
      const files = read.body.data.ticketComment.attachments.nodes as { fileName: string; downloadUrl: string }[];
      for (const [name, bytes] of [
        ["scan.png", PNG],
        ["report.pdf", PDF],
      ] as const) {
        const file = files.find((entry) => entry.fileName === name)!;
        const url = file.downloadUrl.startsWith("/") ? `${origin}${file.downloadUrl}` : file.downloadUrl;
        const download = await fetch(url);
        expect(download.status).toBe(200);
        expect(download.headers.get("content-disposition")).toBe(`attachment; filename="${name}"`);
        const body = Buffer.from(await download.arrayBuffer());
        expect(createHash("sha256").update(body).digest("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
      }
      // Customers are not shown the staff's list of refusals (there is none here either).
      expect(read.body.data.ticketComment.refusedAttachments).toBeNull();
    });

    it("an oversized, a forbidden and a mislabelled file are refused; the comment and the good file stay", async () => {
      const owner = database.current.owner;
      const before = await storedFiles();
      await owner.query("update app_public.attachment_quotas set max_file_bytes = 1000 where role = 'customer'");
      let response: Awaited<ReturnType<typeof post>>;
      try {
        response = await post(
          reply(customerEmail, "Three more files.", [
            { name: "huge.png", type: "image/png", bytes: Buffer.concat([PNG, Buffer.alloc(2_000, 1)]) },
            { name: "setup.exe", type: "application/x-msdownload", bytes: EXE },
            { name: "tool.bin", type: "application/octet-stream", bytes: EXE },
            { name: "notes.png", type: "image/png", bytes: Buffer.from("these are plain words, not an image\n") },
            { name: "fine.png", type: "image/png", bytes: PNG },
          ]),
        );
      } finally {
        await owner.query("update app_public.attachment_quotas set max_file_bytes = 26214400 where role = 'customer'");
      }
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ decision: "comment", ticketId });
      expect(response.body.attachmentIds).toHaveLength(1);
      expect(response.body.refusedAttachments).toEqual([
        {
          fileName: "huge.png",
          contentType: "image/png",
          size: PNG.length + 2_000,
          reason: "The file is too large: at most 1000 bytes",
        },
        {
          fileName: "setup.exe",
          contentType: "application/x-msdownload",
          size: EXE.length,
          reason: "Programs (executables, installers, scripts) cannot be attached",
        },
        {
          fileName: "tool.bin",
          contentType: "application/x-msdownload",
          size: EXE.length,
          reason: "Programs (executables, installers, scripts) cannot be attached",
        },
        { fileName: "notes.png", contentType: "image/png", size: 36, reason: "The content is not image/png" },
      ]);
      const commentId = response.body.commentId as string;
      const { rows: comments } = await owner.query("select body from app_public.ticket_comments where id = $1", [
        commentId,
      ]);
      expect(comments).toEqual([{ body: "Three more files." }]);
      // The mislabelled file is a rejected attachment, like a failed upload; the others never got a row.
      expect((await attachmentRows(commentId)).map((row) => [row.file_name, row.state])).toEqual([
        ["fine.png", "ready"],
        ["notes.png", "rejected"],
      ]);
      // Only the good file's bytes remain.
      expect((await storedFiles()).filter((name) => !before.includes(name))).toHaveLength(1);

      // Staff see what was refused on the comment; the customer does not.
      const asAgent = await graphql(
        testApi.current.request,
        COMMENT,
        { id: commentId },
        bearer(agent.id, agent.tokenRole),
      );
      expect(asAgent.body.errors).toBeUndefined();
      expect(asAgent.body.data.ticketComment.refusedAttachments).toEqual(response.body.refusedAttachments);
      const asCustomer = await graphql(
        testApi.current.request,
        COMMENT,
        { id: commentId },
        bearer(customer.id, customer.tokenRole),
      );
      expect(asCustomer.body.data.ticketComment.refusedAttachments).toBeNull();
    });

    it("a new message's files become attachments of the ticket it opens; staff see what was refused there", async () => {
      const response = await post(
        reply(
          customerEmail,
          "The label printer is offline, photo attached.",
          [
            { name: "printer.png", type: "image/png", bytes: PNG },
            { name: "driver.exe", type: "application/octet-stream", bytes: EXE },
          ],
          true,
        ),
      );
      expect(response.body).toMatchObject({ decision: "ticket", commentId: null });
      const opened = response.body.ticketId as string;
      const { rows } = await database.current.owner.query(
        "select file_name, state, comment_id, uploader_id from app_public.attachments where ticket_id = $1",
        [opened],
      );
      expect(rows).toEqual([{ file_name: "printer.png", state: "ready", comment_id: null, uploader_id: customer.id }]);
      const TICKET =
        "query ($id: UUID!) { ticket(rowId: $id) { refusedAttachments attachments { nodes { fileName } } } }";
      await database.current.owner.query("update app_public.tickets set agent_id = $1 where id = $2", [
        agent.id,
        opened,
      ]);
      const asAgent = await graphql(testApi.current.request, TICKET, { id: opened }, bearer(agent.id, agent.tokenRole));
      expect(asAgent.body.errors).toBeUndefined();
      expect(asAgent.body.data.ticket.refusedAttachments).toEqual([
        {
          fileName: "driver.exe",
          contentType: "application/x-msdownload",
          size: EXE.length,
          reason: "Programs (executables, installers, scripts) cannot be attached",
        },
      ]);
      const asCustomer = await graphql(
        testApi.current.request,
        TICKET,
        { id: opened },
        bearer(customer.id, customer.tokenRole),
      );
      expect(asCustomer.body.data.ticket).toEqual({
        refusedAttachments: null,
        attachments: { nodes: [{ fileName: "printer.png" }] },
      });
    });

    it(`takes at most ${MAX_INBOUND_ATTACHMENTS} files of one message`, async () => {
      const files = Array.from({ length: MAX_INBOUND_ATTACHMENTS + 2 }, (_, index) => ({
        name: `line-${index + 1}.txt`,
        type: "text/plain",
        bytes: Buffer.from(`log line ${index + 1}\n`),
      }));
      const response = await post(reply(customerEmail, "All the logs.", files));
      expect(response.body.attachmentIds).toHaveLength(MAX_INBOUND_ATTACHMENTS);
      expect(
        response.body.refusedAttachments.map((file: { fileName: string; reason: string }) => [
          file.fileName,
          file.reason,
        ]),
      ).toEqual([
        [
          `line-${MAX_INBOUND_ATTACHMENTS + 1}.txt`,
          `At most ${MAX_INBOUND_ATTACHMENTS} files of one message are attached`,
        ],
        [
          `line-${MAX_INBOUND_ATTACHMENTS + 2}.txt`,
          `At most ${MAX_INBOUND_ATTACHMENTS} files of one message are attached`,
        ],
      ]);
    });

    it("counts the files against the sender's attachment quota like uploads", async () => {
      const owner = database.current.owner;
      // One more file allowed today.
      await owner.query(
        `update app_public.attachment_quotas
            set max_count = (select count(*) + 1 from app_public.attachments where uploader_id = $1 and created_at > now() - interval '1 day')
          where role = 'customer'`,
        [customer.id],
      );
      let response: Awaited<ReturnType<typeof post>>;
      try {
        response = await post(
          reply(customerEmail, "Two more.", [
            { name: "first.txt", type: "text/plain", bytes: Buffer.from("first\n") },
            { name: "second.txt", type: "text/plain", bytes: Buffer.from("second\n") },
          ]),
        );
      } finally {
        await owner.query("update app_public.attachment_quotas set max_count = 100 where role = 'customer'");
      }
      expect(response.body).toMatchObject({ decision: "comment" });
      expect(response.body.attachmentIds).toHaveLength(1);
      expect(response.body.refusedAttachments).toEqual([
        {
          fileName: "second.txt",
          contentType: "text/plain",
          size: 7,
          reason: "The sender's attachment quota is used up",
        },
      ]);
    });

    it("a message from an unknown sender stores nothing", async () => {
      const owner = database.current.owner;
      const before = await storedFiles();
      const { rows: counted } = await owner.query("select count(*)::integer as n from app_public.attachments");
      const response = await post(
        reply("stranger@elsewhere.example.com", "Have a look at this.", [
          { name: "look.png", type: "image/png", bytes: PNG },
        ]),
      );
      expect(response.body).toMatchObject({ decision: "refused" });
      expect(response.body.attachmentIds).toBeUndefined();
      const { rows: after } = await owner.query("select count(*)::integer as n from app_public.attachments");
      expect(after[0].n).toBe(counted[0].n);
      expect(await storedFiles()).toEqual(before);
    });

    it("a message whose transaction fails after its files were stored leaves neither rows nor files", async () => {
      const owner = database.current.owner;
      const before = await storedFiles();
      const { rows: counted } = await owner.query("select count(*)::integer as n from app_public.attachments");
      // The last step of the message fails (a database error after the files were written).
      await owner.query(`
        create or replace function app_private.record_inbound_refused_attachments(inbound_id uuid, refused jsonb)
        returns void language plpgsql security definer set search_path = pg_catalog, public, pg_temp
        as $$ begin raise exception 'disk full'; end $$`);
      try {
        const response = await post(
          reply(customerEmail, "One more scan.", [{ name: "again.png", type: "image/png", bytes: PNG }]),
        );
        expect(response.status).toBe(500);
      } finally {
        await owner.query(`
          create or replace function app_private.record_inbound_refused_attachments(inbound_id uuid, refused jsonb)
          returns void language sql security definer set search_path = pg_catalog, public, pg_temp
          as $$
            update app_private.inbound_emails as e
            set refused_attachments = case when jsonb_array_length(refused) > 0 then refused end
            where e.id = record_inbound_refused_attachments.inbound_id;
          $$`);
      }
      const { rows: after } = await owner.query("select count(*)::integer as n from app_public.attachments");
      expect(after[0].n).toBe(counted[0].n);
      expect(await storedFiles()).toEqual(before);
      const { rows: comments } = await owner.query(
        "select 1 from app_public.ticket_comments where body = 'One more scan.'",
      );
      expect(comments).toEqual([]);
    });
  });
}
