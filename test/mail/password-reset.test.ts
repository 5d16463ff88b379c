import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { createAccount, LOGIN, PASSWORD } from "../auth/auth-helpers.ts";
import { graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { linkToken, mailsTo, startSmtpSink, testMailConfig, useFastMailPolicy, type SmtpSink } from "./mail-helpers.ts";

/**
 * Password reset end to end: requestPasswordReset queues a mail in its
 * transaction, the real worker sends it to a real SMTP server on 127.0.0.1,
 * and the link in the received mail resets the password.
 */
const database = useTestDatabase();
const testApi = useTestApi(database);
let sink: SmtpSink;
let worker: JobWorker;

const REQUEST = `mutation($email: String!) { requestPasswordReset(input: { email: $email }) { success } }`;
const RESET = `mutation($token: String!, $password: String!) {
  resetPassword(input: { token: $token, newPassword: $password }) { success }
}`;
const NEW_PASSWORD = "copper-meadow-skylight-77";

beforeAll(async () => {
  await useFastMailPolicy(database.current.owner);
  sink = await startSmtpSink();
  worker = await startJobWorker(
    {
      ownerUrl: database.current.urls.owner,
      concurrency: 2,
      webhooks: { httpsOnly: false, allowedHosts: new Set(), timeoutMs: 1_000 },
      mail: testMailConfig(sink),
    },
    createLogger("silent"),
  );
});

afterAll(async () => {
  await worker?.stop();
  await sink?.close();
});

function request(email: string) {
  return graphql(testApi.current.request, REQUEST, { email });
}

describe("requestPasswordReset and resetPassword", () => {
  it("answers the same for an unknown email and a known one; only the known one gets a mail", async () => {
    await createAccount(database.current.owner, {
      email: "reset.me@example.com",
      role: "customer",
      displayName: "Rita <b>Reset</b>",
    });
    const unknown = await request("nobody.here@example.com");
    const known = await request("Reset.Me@example.com");
    expect(unknown.body).toEqual(known.body);
    expect(known.body).toEqual({ data: { requestPasswordReset: { success: true } } });
    const [mail] = await mailsTo(sink, "reset.me@example.com");
    expect(mail!.parsed.subject).toBe("Reset your password");
    expect(mail!.parsed.from?.text).toContain("help@support.example.test");
    // The display name is escaped in the HTML body, verbatim in the text.
    expect(mail!.parsed.html).toContain("Rita &lt;b&gt;Reset&lt;/b&gt;");
    expect(mail!.parsed.text).toContain("Rita <b>Reset</b>");
    expect(mail!.parsed.messageId).toMatch(/^<mail\.[0-9a-f-]+@support\.example\.test>$/);
    expect(sink.received.some((m) => m.envelopeTo.includes("nobody.here@example.com"))).toBe(false);
  });

  it("stores only the digest of the token, with a 30-minute lifetime, and clears the mail's parameters once sent", async () => {
    const [mail] = await mailsTo(sink, "reset.me@example.com");
    const token = linkToken(mail!, "/reset-password");
    const { rows } = await database.current.owner.query(
      `select t.expires_at - t.created_at as lifetime,
              t.token_digest = sha256(convert_to($1, 'UTF8')) as digest_matches,
              (select count(*)::integer from app_private.email_tokens where position(convert_to($1, 'UTF8') in token_digest) > 0) as raw_stored,
              (select params from app_private.outbound_mails where kind = 'password_reset' order by created_at limit 1) as params
       from app_private.email_tokens as t where t.purpose = 'password_reset'`,
      [token],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ digest_matches: true, raw_stored: 0, params: {} });
    expect(rows[0].lifetime).toMatchObject({ minutes: 30 });
  });

  it("resets the password from the mail's link: old sessions end, the lockout is cleared, the link works once, it is audited", async () => {
    const owner = database.current.owner;
    const email = "reset.me@example.com";
    const before = await graphql(testApi.current.request, LOGIN, { input: { email, password: PASSWORD } });
    const oldRefresh = before.body.data.login.refreshToken as string;
    await owner.query(
      "update app_private.user_accounts set failed_login_count = 5, locked_until = now() + interval '1 hour' where email = $1",
      [email],
    );
    const [mail] = await mailsTo(sink, email);
    const token = linkToken(mail!, "/reset-password");

    const weak = await graphql(testApi.current.request, RESET, { token, password: "short" });
    expect(weak.body.errors[0].extensions.code).toBe("WEAK_PASSWORD");

    const reset = await graphql(testApi.current.request, RESET, { token, password: NEW_PASSWORD });
    expect(reset.body).toEqual({ data: { resetPassword: { success: true } } });

    const again = await graphql(testApi.current.request, RESET, { token, password: "another-long-passphrase-9" });
    expect(again.body.errors[0].extensions.code).toBe("INVALID_TOKEN");

    const refreshed = await graphql(
      testApi.current.request,
      "mutation($t: String!) { refreshSession(input: { refreshToken: $t }) { accessToken } }",
      { t: oldRefresh },
    );
    expect(refreshed.body.errors[0].extensions.code).toBe("INVALID_TOKEN");
    const oldLogin = await graphql(testApi.current.request, LOGIN, { input: { email, password: PASSWORD } });
    expect(oldLogin.body.errors[0].extensions.code).toBe("INVALID_CREDENTIALS");
    const newLogin = await graphql(testApi.current.request, LOGIN, { input: { email, password: NEW_PASSWORD } });
    expect(newLogin.body.errors).toBeUndefined();

    const { rows } = await owner.query(
      "select new_data from app_private.audit_log where table_name = 'app_private.user_accounts' and new_data ->> 'password' = 'reset by mail link'",
    );
    expect(rows).toHaveLength(1);
    const { rows: verified } = await owner.query(
      "select email_verified_at is not null as verified from app_private.user_accounts where email = $1",
      [email],
    );
    expect(verified[0].verified).toBe(true);
  });

  it("refuses made-up and malformed tokens alike", async () => {
    for (const token of ["0".repeat(64), "not-a-token", "A".repeat(64)]) {
      const response = await graphql(testApi.current.request, RESET, { token, password: NEW_PASSWORD });
      expect(response.body.errors[0].extensions.code).toBe("INVALID_TOKEN");
    }
  });

  it("sends at most three links per account per hour, answering the same after that", async () => {
    const owner = database.current.owner;
    await createAccount(owner, { email: "many.links@example.com", role: "customer" });
    for (let i = 0; i < 5; i += 1) {
      const response = await graphql(testApi.current.request, REQUEST, { email: "many.links@example.com" }).set(
        "X-Test",
        String(i),
      );
      expect(response.body).toEqual({ data: { requestPasswordReset: { success: true } } });
    }
    const { rows } = await owner.query<{ n: number }>(
      "select count(*)::integer as n from app_private.outbound_mails where to_address = 'many.links@example.com'",
    );
    expect(rows[0]!.n).toBe(3);
  });

  it("limits requests per client address with RATE_LIMITED, known email or not", async () => {
    // Ten per hour per address (address_rate_limits 'password_reset'), counting
    // requests and reset attempts whose link was valid.
    const answers: unknown[] = [];
    for (let i = 0; i < 11; i += 1) {
      const response = await request(i % 2 === 0 ? "nobody.else@example.com" : "many.links@example.com");
      answers.push(response.body.errors?.[0]?.extensions?.code ?? response.body.data.requestPasswordReset.success);
      if (response.body.errors) {
        expect(response.body.errors[0].extensions.retryAfterSeconds).toBeGreaterThan(0);
        break;
      }
    }
    expect(answers.at(-1)).toBe("RATE_LIMITED");
    expect(answers.slice(0, -1).every((answer) => answer === true)).toBe(true);
  });
});
