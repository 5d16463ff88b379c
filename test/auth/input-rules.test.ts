import { beforeAll, describe, expect, it } from "vitest";
import { createUserAccount } from "../../src/auth/auth-store.ts";
import { graphql, useTestApi } from "../support/test-api.ts";
import { sqlState, useTestDatabase } from "../support/test-database.ts";
import {
  CREATE_USER,
  PASSWORD,
  REGISTER,
  createAccount,
  errorCode,
  forgetAuthLimits,
  login,
  signIn,
  type SessionTokens,
} from "./auth-helpers.ts";

/**
 * One rule for emails and display names, held by constraints, so every
 * path applies it: register, createUser (admin), updateUser (a generated
 * mutation) and the owner's user:create.
 */
const database = useTestDatabase();
const api = useTestApi(database);
const request = () => api.current.request;

const UPDATE_USER = `mutation UpdateUser($input: UpdateUserInput!) { updateUser(input: $input) { user { rowId displayName } } }`;

let admin: SessionTokens;
let customer: SessionTokens;

beforeAll(async () => {
  await createAccount(database.current.owner, { email: "boss@example.com", role: "admin" });
  await createAccount(database.current.owner, { email: "first@example.com", role: "customer", displayName: "First" });
  admin = await signIn(request(), "boss@example.com");
  customer = await signIn(request(), "first@example.com");
});

const HIDDEN: Array<[string, string]> = [
  ["a zero-width space", "Ali\u200Bce"],
  ["a zero-width joiner", "Ali\u200Dce"],
  ["a right-to-left override", "Alice\u202Egnp.exe"],
  ["a bidi isolate", "\u2066Alice\u2069"],
  ["a control character", "Ali\u0007ce"],
  ["a line break", "Alice\nAdmin"],
  ["a tab", "Alice\tAdmin"],
  ["a byte-order mark", "\uFEFFAlice"],
  ["a Hangul filler", "\u3164"],
  ["a tag character", "Alice\u{E0041}"],
  ["a soft hyphen", "Ali\u00ADce"],
];

function displayNameIn(code: string | undefined, response: { body: { errors?: Array<{ message: string }> } }) {
  return { code, message: response.body.errors?.[0]?.message };
}

describe("display names: invisible, control and bidi characters are refused on every path", () => {
  it.each(HIDDEN)("%s", async (_label, name) => {
    await forgetAuthLimits(database.current.owner);
    const registered = await graphql(request(), REGISTER, {
      input: { email: `r-${Math.random()}@example.com`, password: PASSWORD, displayName: name },
    });
    const created = await graphql(
      request(),
      CREATE_USER,
      { input: { email: `c-${Math.random()}@example.com`, displayName: name, role: "agent", password: PASSWORD } },
      admin.bearer,
    );
    const updated = await graphql(
      request(),
      UPDATE_USER,
      { input: { rowId: customer.userId, patch: { displayName: name } } },
      customer.bearer,
    );
    for (const response of [registered, created, updated]) {
      expect(displayNameIn(errorCode(response), response)).toEqual({
        code: "INVALID_INPUT",
        message: expect.stringMatching(/^The display name/),
      });
    }
  });

  it("and by the owner's own function (user:create)", async () => {
    expect(
      await sqlState(() =>
        createUserAccount(database.current.owner, {
          email: "cli@example.com",
          displayName: "Ev\u202Eil",
          role: "admin",
          passwordHash: "x",
        }),
      ),
    ).toBe("23514");
  });

  it("a 900 KB name padded with spaces is refused, cheaply, on updateUser and register", async () => {
    const padded = `Bob${" ".repeat(900_000)}`;
    const started = performance.now();
    const updated = await graphql(
      request(),
      UPDATE_USER,
      { input: { rowId: customer.userId, patch: { displayName: padded } } },
      customer.bearer,
    );
    const registered = await graphql(request(), REGISTER, {
      input: { email: "padded@example.com", password: PASSWORD, displayName: padded },
    });
    const elapsed = performance.now() - started;
    expect(errorCode(updated)).toBe("INVALID_INPUT");
    expect(errorCode(registered)).toBe("INVALID_INPUT");
    const { rows } = await database.current.owner.query(
      "select max(octet_length(display_name))::int as longest from app_public.users",
    );
    expect(rows[0].longest).toBeLessThanOrEqual(400);
    console.info(`two 900 KB padded names refused in ${Math.round(elapsed)} ms`);
    // Generous: refused without hashing or normalising the padding.
    expect(elapsed).toBeLessThan(5_000);
  });

  it("normalises what is merely another form: fullwidth letters, surrounding spaces", async () => {
    const updated = await graphql(
      request(),
      UPDATE_USER,
      { input: { rowId: customer.userId, patch: { displayName: "  ＦＩＲＳＴ　Ｃｕｓｔｏｍｅｒ  " } } },
      customer.bearer,
    );
    expect(updated.body.errors).toBeUndefined();
    expect(updated.body.data.updateUser.user.displayName).toBe("FIRST Customer");
  });

  it("still accepts names in any script, accents and emoji", async () => {
    for (const name of ["Анна Петрова", "José Ñúñez", "李小龍", "Zoë 🚀", "O'Brien-Smith"]) {
      const updated = await graphql(
        request(),
        UPDATE_USER,
        { input: { rowId: customer.userId, patch: { displayName: name } } },
        customer.bearer,
      );
      expect(updated.body.errors, name).toBeUndefined();
      expect(updated.body.data.updateUser.user.displayName).toBe(name.normalize("NFKC"));
    }
  });

  it("keeps the length limit after trimming: 100 characters", async () => {
    const ok = await graphql(
      request(),
      UPDATE_USER,
      { input: { rowId: customer.userId, patch: { displayName: ` ${"n".repeat(100)} ` } } },
      customer.bearer,
    );
    expect(ok.body.errors).toBeUndefined();
    const tooLong = await graphql(
      request(),
      UPDATE_USER,
      { input: { rowId: customer.userId, patch: { displayName: "n".repeat(101) } } },
      customer.bearer,
    );
    expect(errorCode(tooLong)).toBe("INVALID_INPUT");
  });
});

describe("emails: look-alikes of an existing address", () => {
  it.each([
    ["Cyrillic letters", "fіrst@example.com"],
    ["a Greek omicron", "first@exampl\u03BF.com"],
    ["a zero-width space", "fi\u200Brst@example.com"],
    ["a zero-width joiner in the domain", "first@exa\u200Dmple.com"],
    ["a right-to-left override", "first\u202E@example.com"],
  ])("with %s are refused", async (_label, email) => {
    await forgetAuthLimits(database.current.owner);
    const registered = await graphql(request(), REGISTER, {
      input: { email, password: PASSWORD, displayName: "Look Alike" },
    });
    expect(errorCode(registered)).toBe("INVALID_INPUT");
    expect(registered.body.errors[0].message).toMatch(/^The email address is not valid/);
    const created = await graphql(
      request(),
      CREATE_USER,
      { input: { email, displayName: "Look Alike", role: "agent", password: PASSWORD } },
      admin.bearer,
    );
    expect(errorCode(created)).toBe("INVALID_INPUT");
  });

  it("in fullwidth or with spaces meet the same account", async () => {
    const { rows: before } = await database.current.owner.query<{ n: number }>(
      "select count(*)::integer as n from app_private.outbound_mails where kind = 'registration_attempt'",
    );
    await forgetAuthLimits(database.current.owner);
    for (const email of ["ｆｉｒｓｔ@ｅｘａｍｐｌｅ.ｃｏｍ", "  FIRST@example.com ", "ＦＩＲＳＴ@example.com"]) {
      // Answered as any registration; the owner is mailed instead.
      const registered = await graphql(request(), REGISTER, {
        input: { email, password: PASSWORD, displayName: "Twin" },
      });
      expect(registered.body, email).toEqual({ data: { register: { success: true } } });
      const loggedIn = await login(request(), email);
      expect(loggedIn.body.data.login?.user.rowId, email).toBe(customer.userId);
    }
    const { rows: after } = await database.current.owner.query<{ n: number }>(
      "select count(*)::integer as n from app_private.outbound_mails where kind = 'registration_attempt'",
    );
    expect(after[0]!.n - before[0]!.n).toBe(3);
  });

  it("are stored normalised whatever path creates them", async () => {
    const created = await graphql(
      request(),
      CREATE_USER,
      {
        input: {
          email: " ｎｅｗ．ａｇｅｎｔ@example.com",
          displayName: "New Agent",
          role: "agent",
          password: PASSWORD,
        },
      },
      admin.bearer,
    );
    expect(created.body.errors).toBeUndefined();
    const { rows } = await database.current.owner.query(
      "select email::text from app_private.user_accounts where user_id = $1",
      [created.body.data.createUser.user.rowId],
    );
    expect(rows[0].email).toBe("new.agent@example.com");
  });
});
