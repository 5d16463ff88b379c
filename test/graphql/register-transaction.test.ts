import { describe, expect, it } from "vitest";
import { PASSWORD, REGISTER } from "../auth/auth-helpers.ts";
import { graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * register creates the account and opens its first session in one
 * transaction: when the session cannot be opened, no account is left
 * behind, so the client's retry succeeds instead of meeting EMAIL_TAKEN.
 */
const database = useTestDatabase();
const api = useTestApi(database);

const START_SESSION = "app_private.start_session(uuid, bytea)";

describe("register is atomic", () => {
  it("leaves no account behind when the session cannot be opened, so a retry succeeds", async () => {
    const input = { email: "rollback@example.com", password: PASSWORD, displayName: "Rolled Back" };
    const { owner } = database.current;
    await owner.query(`revoke execute on function ${START_SESSION} from ticketing_authenticator`);
    try {
      const failed = await graphql(api.current.request, REGISTER, { input });
      expect(failed.body.errors?.[0]?.extensions?.code).toBeDefined();
      expect(failed.body.data?.register ?? null).toBeNull();
    } finally {
      await owner.query(`grant execute on function ${START_SESSION} to ticketing_authenticator`);
    }
    const { rowCount } = await owner.query("select 1 from app_private.user_accounts where email = $1", [input.email]);
    expect(rowCount).toBe(0);

    const retried = await graphql(api.current.request, REGISTER, { input });
    expect(retried.body.errors).toBeUndefined();
    expect(retried.body.data.register.user.displayName).toBe("Rolled Back");
  });
});
