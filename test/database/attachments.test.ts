import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { activeUser, codeOf, type FixtureUser, makeTicket, rowsOf, runAs } from "../support/fixtures.ts";

/**
 * The attachment rules that live in SQL besides the policies (those are in
 * access-matrix, policy-coverage and policy-mutants): file names are
 * sanitised, types and sizes constrained, the quota counts files and bytes,
 * and the verdict on the bytes can only be given on the API's own connection.
 */
const database = useTestDatabase();
let customer: FixtureUser;
let ticket: string;

beforeAll(async () => {
  const owner = database.current.owner;
  customer = await activeUser(owner, "Quota Customer", "customer");
  ticket = (await makeTicket(owner, customer.id, "open")).id as string;
});

const create = (fileName: string, contentType = "text/plain", size = 10) =>
  runAs(
    database.current.authenticator,
    "ticketing_customer",
    customer.id,
    "select file_name, content_type from app_public.create_attachment_upload($1, $2, $3, $4, repeat('a', 64))",
    [ticket, fileName, contentType, size],
  );

describe("file names and types", () => {
  it.each([
    ["report.pdf", "report.pdf"],
    ["C:\\Users\\me\\Desktop\\report.pdf", "report.pdf"],
    ["../../etc/passwd", "passwd"],
    [".htaccess", "htaccess"],
    ["invoice\u202efdp.exe", "invoice_fdp.exe"],
    ['a<b>:"c"|?*.txt', "a_b___c____.txt"],
    ["tab\tand\nnewline.txt", "tab_and_newline.txt"],
    ["...", "file"],
    ["   ", "file"],
  ])("%j is stored as %j", async (given, stored) => {
    expect(rowsOf(await create(given))[0]!.file_name).toBe(stored);
  });

  it("stores the media type in lower case without parameters, and refuses programs and malformed types", async () => {
    expect(rowsOf(await create("a.txt", "Text/Plain; charset=UTF-8"))[0]!.content_type).toBe("text/plain");
    expect(codeOf(await create("a.exe", "application/x-msdownload"))).toBe("23514");
    expect(codeOf(await create("a", "not a type"))).toBe("23514");
    expect(codeOf(await create("a.txt", "text/plain", 0))).toBe("23514");
  });
});

describe("the attachment quota", () => {
  it("refuses a file larger than the role allows", async () => {
    const outcome = await create("big.bin", "application/octet-stream", 26214401);
    expect(outcome).toMatchObject({ ok: false, code: "TKVAL" });
  });

  it("counts files and bytes in the window and says when to retry", async () => {
    await database.current.owner.query(
      "update app_public.attachment_quotas set max_count = 3, max_bytes = 100 where role = 'customer'",
    );
    const other = await activeUser(database.current.owner, "Quota Other", "customer");
    const otherTicket = (await makeTicket(database.current.owner, other.id, "open")).id as string;
    const upload = (size: number) =>
      runAs(
        database.current.authenticator,
        "ticketing_customer",
        other.id,
        "select id from app_public.create_attachment_upload($1, 'f.txt', 'text/plain', $2, repeat('a', 64))",
        [otherTicket, size],
      );
    expect(codeOf(await upload(60))).toBe("ok");
    const overBytes = await upload(41);
    expect(overBytes).toMatchObject({ ok: false, code: "TKRAT" });
    expect(overBytes.ok ? "" : overBytes.hint).toMatch(/^retry_after=\d+$/);
    expect(codeOf(await upload(40))).toBe("ok");
    expect(codeOf(await upload(1))).toBe("TKRAT");
    await database.current.owner.query(
      "update app_public.attachment_quotas set max_count = 100, max_bytes = 524288000 where role = 'customer'",
    );
  });
});

describe("the verdict on the bytes", () => {
  it("is not a web role's to give", async () => {
    for (const sql of [
      "select app_private.finish_attachment_upload($1, gen_random_uuid(), null)",
      "select * from app_private.attachment_to_verify($1, gen_random_uuid())",
    ]) {
      expect(
        codeOf(await runAs(database.current.authenticator, "ticketing_customer", customer.id, sql, [customer.id])),
      ).toBe("42501");
    }
  });

  it("is given once, by the API's connection, for the uploader's pending upload only", async () => {
    const id = rowsOf(
      await runAs(
        database.current.authenticator,
        "ticketing_customer",
        customer.id,
        "select id from app_public.create_attachment_upload($1, 'v.txt', 'text/plain', 5, repeat('a', 64))",
        [ticket],
      ),
    )[0]!.id;
    const api = database.current.authenticator;
    const stranger = await activeUser(database.current.owner, "Stranger", "customer");
    await expect(
      api.query("select * from app_private.attachment_to_verify($1, $2)", [stranger.id, id]),
    ).rejects.toMatchObject({ code: "TKNTF" });
    const { rows } = await api.query("select * from app_private.attachment_to_verify($1, $2)", [customer.id, id]);
    expect(rows[0]).toMatchObject({ size: "5", content_type: "text/plain" });
    await api.query("select app_private.finish_attachment_upload($1, $2, null)", [customer.id, id]);
    await expect(
      api.query("select app_private.finish_attachment_upload($1, $2, 'late')", [customer.id, id]),
    ).rejects.toMatchObject({ code: "TKINV" });
    const { rows: state } = await database.current.owner.query(
      "select state::text, completed_at is not null as done from app_public.attachments where id = $1",
      [id],
    );
    expect(state[0]).toEqual({ state: "ready", done: true });
  });
});
