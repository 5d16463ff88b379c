import { describe, expect, it } from "vitest";
import { PASSWORD, REGISTER } from "../auth/auth-helpers.ts";
import { graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * register creates the account and opens its first session in one
 * statement (app_private.register_customer): when the session cannot be
 * opened, no account is left behind, so the client's retry succeeds instead
 * of meeting EMAIL_TAKEN.
 */
const database = useTestDatabase();
const api = useTestApi(database);


describe("register is atomic", () => {
  it("leaves no account behind when the session cannot be opened, so a retry succeeds", async () => {
    const input = { email: "rollback@example.com", password: PASSWORD, displayName: "Rolled Back" };
    const { owner } = database.current;
    await owner.query(
      `create function app_private.test_refuse_session() returns trigger language plpgsql as $$ begin raise exception 'no session today'; end; $$`,
    );
    await owner.query(
      "create trigger test_refuse_session before insert on app_private.refresh_tokens for each row execute function app_private.test_refuse_session()",
    );
    try {
      const failed = await graphql(api.current.request, REGISTER, { input });
      expect(failed.body.errors?.[0]?.extensions?.code).toBeDefined();
      expect(failed.body.data?.register ?? null).toBeNull();
    } finally {
      await owner.query("drop trigger test_refuse_session on app_private.refresh_tokens");
      await owner.query("drop function app_private.test_refuse_session()");
    }
    const { rowCount } = await owner.query("select 1 from app_private.user_accounts where email = $1", [input.email]);
    expect(rowCount).toBe(0);

    const retried = await graphql(api.current.request, REGISTER, { input });
    expect(retried.body.errors).toBeUndefined();
    expect(retried.body.data.register.user.displayName).toBe("Rolled Back");
  });
});
