import { describe, expect, it } from "vitest";
import { PASSWORD, REGISTER } from "../auth/auth-helpers.ts";
import { graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * register creates the account and queues its verification mail in one
 * statement (app_private.register_account): when the mail cannot be queued,
 * no account is left behind, so the client's retry creates it (instead of
 * mailing the owner of a "taken" email).
 */
const database = useTestDatabase();
const api = useTestApi(database);

describe("register is atomic", () => {
  it("leaves no account behind when the verification mail cannot be queued, so a retry succeeds", async () => {
    const input = { email: "rollback@example.com", password: PASSWORD, displayName: "Rolled Back" };
    const { owner } = database.current;
    await owner.query(
      `create function app_private.test_refuse_session() returns trigger language plpgsql as $$ begin raise exception 'no mail today'; end; $$`,
    );
    await owner.query(
      "create trigger test_refuse_session before insert on app_private.outbound_mails for each row execute function app_private.test_refuse_session()",
    );
    try {
      const failed = await graphql(api.current.request, REGISTER, { input });
      expect(failed.body.errors?.[0]?.extensions?.code).toBeDefined();
      expect(failed.body.data?.register ?? null).toBeNull();
    } finally {
      await owner.query("drop trigger test_refuse_session on app_private.outbound_mails");
      await owner.query("drop function app_private.test_refuse_session()");
    }
    const { rowCount } = await owner.query("select 1 from app_private.user_accounts where email = $1", [input.email]);
    expect(rowCount).toBe(0);

    const retried = await graphql(api.current.request, REGISTER, { input });
    expect(retried.body).toEqual({ data: { register: { success: true } } });
    const { rows } = await owner.query(
      `select u.display_name, a.email_verified_at, (select count(*)::integer from app_private.outbound_mails as m where m.user_id = u.id and m.kind = 'email_verification') as mails
       from app_private.user_accounts as a join app_public.users as u on u.id = a.user_id where a.email = $1`,
      [input.email],
    );
    expect(rows).toEqual([{ display_name: "Rolled Back", email_verified_at: null, mails: 1 }]);
  });
});
