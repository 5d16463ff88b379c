import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { createAccount, errorCode, login, PASSWORD, REGISTER, VERIFY_EMAIL } from "../auth/auth-helpers.ts";
import { graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { linkToken, mailsTo, startSmtpSink, testMailConfig, useFastMailPolicy, type SmtpSink } from "./mail-helpers.ts";

/**
 * Registration by mail, end to end with the real worker and a real SMTP
 * server on 127.0.0.1: the verification link of the received mail signs the
 * new customer in; registering a taken email answers the same and mails its
 * owner instead.
 */
const database = useTestDatabase();
const testApi = useTestApi(database);
let sink: SmtpSink;
let worker: JobWorker;

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

const register = (email: string, displayName: string, password = PASSWORD) =>
  graphql(testApi.current.request, REGISTER, { input: { email, password, displayName } });

describe("verified email", () => {
  it("register mails a verification link; following it signs the new customer in", async () => {
    expect((await register("vera@example.com", "Vera")).body).toEqual({ data: { register: { success: true } } });
    expect(errorCode(await login(testApi.current.request, "vera@example.com"))).toBe("INVALID_CREDENTIALS");
    const [mail] = await mailsTo(sink, "vera@example.com");
    expect(mail!.parsed.subject).toBe("Confirm your email address");
    const token = linkToken(mail!, "/verify-email");
    const verified = await graphql(testApi.current.request, VERIFY_EMAIL, { input: { token } });
    expect(verified.body.errors).toBeUndefined();
    expect(verified.body.data.verifyEmail.user).toMatchObject({ displayName: "Vera", role: "customer" });
    expect((await login(testApi.current.request, "vera@example.com")).body.errors).toBeUndefined();
  });

  it("registering a taken email answers the same and tells the owner, not the caller", async () => {
    const again = await register("VERA@example.com", "Not Vera", "some-other-long-passphrase");
    expect(again.body).toEqual({ data: { register: { success: true } } });
    const mails = await mailsTo(sink, "vera@example.com", 2);
    expect(mails[1]!.parsed.subject).toBe("Someone tried to register with your address");
    expect(mails[1]!.parsed.text).not.toMatch(/token=/);
    expect(errorCode(await login(testApi.current.request, "vera@example.com", "some-other-long-passphrase"))).toBe(
      "INVALID_CREDENTIALS",
    );
  });
});

describe("changing the email", () => {
  const CHANGE = `mutation($newEmail: String!, $currentPassword: String!) {
    requestEmailChange(input: { newEmail: $newEmail, currentPassword: $currentPassword }) { success }
  }`;

  it("needs the current password, verifies the new address from its mail, and tells the old one", async () => {
    const session = await login(testApi.current.request, "vera@example.com");
    const auth = `Bearer ${session.body.data.login.accessToken}`;
    const wrong = await graphql(
      testApi.current.request,
      CHANGE,
      { newEmail: "vera.new@example.com", currentPassword: "not-the-password-at-all" },
      auth,
    );
    expect(errorCode(wrong)).toBe("INVALID_CREDENTIALS");
    const asked = await graphql(
      testApi.current.request,
      CHANGE,
      { newEmail: "vera.new@example.com", currentPassword: PASSWORD },
      auth,
    );
    expect(asked.body).toEqual({ data: { requestEmailChange: { success: true } } });

    const [link] = await mailsTo(sink, "vera.new@example.com");
    expect(link!.parsed.subject).toBe("Confirm your new email address");
    const notices = await mailsTo(sink, "vera@example.com", 3);
    expect(notices[2]!.parsed.subject).toBe("Your email address is about to change");
    // Nothing changes before the link is followed.
    expect((await login(testApi.current.request, "vera@example.com")).body.errors).toBeUndefined();

    const verified = await graphql(testApi.current.request, VERIFY_EMAIL, {
      input: { token: linkToken(link!, "/verify-email") },
    });
    expect(verified.body.errors).toBeUndefined();
    expect((await login(testApi.current.request, "vera.new@example.com")).body.errors).toBeUndefined();
    expect(errorCode(await login(testApi.current.request, "vera@example.com"))).toBe("INVALID_CREDENTIALS");
  });

  it("answers an address held by another account the same, and sends nothing", async () => {
    await createAccount(database.current.owner, { email: "taken.address@example.com", role: "customer" });
    const session = await login(testApi.current.request, "vera.new@example.com");
    const auth = `Bearer ${session.body.data.login.accessToken}`;
    const asked = await graphql(
      testApi.current.request,
      CHANGE,
      { newEmail: "Taken.Address@example.com", currentPassword: PASSWORD },
      auth,
    );
    expect(asked.body).toEqual({ data: { requestEmailChange: { success: true } } });
    const { rows } = await database.current.owner.query(
      "select count(*)::integer as n from app_private.outbound_mails where to_address = 'taken.address@example.com'",
    );
    expect(rows[0].n).toBe(0);
  });
});
