import { describe, expect, it } from "vitest";
import { actAs, sqlState, useTestDatabase } from "../support/test-database.ts";

const database = useTestDatabase();

const WEB_ROLES = ["ticketing_anonymous", "ticketing_customer", "ticketing_agent", "ticketing_admin"];
const USER_ID = "01900000-0000-7000-8000-000000000001";
const DIGEST = `\\x${"00".repeat(32)}`;

/** The functions the API's connection role may call, and a harmless call of each. */
const AUTH_FUNCTION_CALLS: Record<string, string> = {
  begin_login: "select * from app_private.begin_login('a@example.com', '192.0.2.1')",
  finish_login: `select app_private.finish_login('${USER_ID}', 'x')`,
  start_session: `select * from app_private.start_session('${USER_ID}', '${DIGEST}')`,
  begin_password_check: `select * from app_private.begin_password_check('${USER_ID}', '192.0.2.1')`,
  change_password: `select app_private.change_password('${USER_ID}', 'x', null)`,
  rotate_refresh_token: `select * from app_private.rotate_refresh_token('${DIGEST}', '${DIGEST}', '192.0.2.1', '30 days')`,
  revoke_refresh_token: `select app_private.revoke_refresh_token('${DIGEST}')`,
  reserve_registration: "select app_private.reserve_registration('192.0.2.1')",
  register_account: "select app_private.register_account('a@example.com', 'A', 'x')",
  // Mailed links (docs/email.md): reset and verification, each checked in SQL by the token's digest.
  request_password_reset: "select app_private.request_password_reset('a@example.com', '192.0.2.1')",
  begin_password_reset: `select * from app_private.begin_password_reset('${DIGEST}', '192.0.2.1')`,
  reset_password: `select app_private.reset_password('${DIGEST}', 'x')`,
  verify_email: `select * from app_private.verify_email('${DIGEST}', '${DIGEST}', '192.0.2.1')`,
  request_email_change: `select app_private.request_email_change('${USER_ID}', 'b@example.com')`,
  // POST /inbound/email: SQL decides and logs; the API then acts as the sender under the sender's policies.
  route_inbound_email:
    "select * from app_private.route_inbound_email('a@example.com', 'A', null, 'S', '{}', '{}', '{}', 'test', 'reject')",
  record_inbound_outcome: `select app_private.record_inbound_outcome('${USER_ID}', 'ignored', 'test', null, null)`,
  // The files of an inbound message that did not become attachments, on its log row (staff read them).
  record_inbound_refused_attachments: `select app_private.record_inbound_refused_attachments('${USER_ID}', '[]')`,
  is_acting_admin: `select app_private.is_acting_admin('${USER_ID}', 'ticketing_admin')`,
  admin_create_user: `select app_private.admin_create_user('${USER_ID}', 'ticketing_admin', '${USER_ID}', 'a@example.com', 'A', 'admin', 'x')`,
  // Housekeeping: the API prunes expired security rows on a schedule (no input, deletes only what expired).
  prune_security_rows: "select * from app_private.prune_security_rows()",
  // Not authentication: the realtime dispatcher's only way to read event rows (docs/realtime.md).
  realtime_events_by_id: "select * from app_private.realtime_events_by_id('{1}')",
  // Realtime resume: the cursor of "now", and the bounded replay after a cursor (docs/realtime.md).
  realtime_events_latest_id: "select app_private.realtime_events_latest_id()",
  realtime_events_after: "select * from app_private.realtime_events_after(0, null, gen_random_uuid(), null)",
  // Realtime routing: the organizations and participations a subscription also listens to (routing, not visibility).
  realtime_routes: "select * from app_private.realtime_routes(gen_random_uuid())",
  // Not authentication: completeAttachmentUpload reads what was declared and records the verdict (docs/attachments.md).
  attachment_to_verify: `select * from app_private.attachment_to_verify('${USER_ID}', gen_random_uuid())`,
  finish_attachment_upload: `select app_private.finish_attachment_upload('${USER_ID}', gen_random_uuid(), null)`,
};

const SECRET_TABLES = [
  "app_private.login_attempts",
  "app_private.refresh_tokens",
  "app_private.user_accounts",
  "app_private.auth_clock",
  "app_private.address_events",
  "app_private.address_rate_limits",
  "app_private.realtime_events",
  "app_private.email_tokens",
  "app_private.outbound_mails",
  "app_private.mail_templates",
  "app_private.inbound_emails",
  "app_private.notification_preferences",
];

describe("web roles and app_private", () => {
  it("no web role has USAGE on app_private; the API's connection role has", async () => {
    const { rows } = await database.current.owner.query(
      "select r as role, has_schema_privilege(r, 'app_private', 'usage') as usage from unnest($1::text[]) as r",
      [[...WEB_ROLES, "ticketing_analyst", "ticketing_authenticator"]],
    );
    expect(Object.fromEntries(rows.map((row) => [row.role, row.usage]))).toEqual({
      ticketing_anonymous: false,
      ticketing_customer: false,
      ticketing_agent: false,
      ticketing_admin: false,
      ticketing_analyst: false,
      ticketing_authenticator: true,
    });
  });

  for (const role of WEB_ROLES) {
    it(`${role} cannot call any authentication function`, async () => {
      for (const [name, call] of Object.entries(AUTH_FUNCTION_CALLS)) {
        const state = await sqlState(() =>
          actAs(database.current.authenticator, { role, userId: USER_ID }, (c) => c.query(call)),
        );
        expect(`${name}: ${state}`).toBe(`${name}: 42501`);
      }
    });

    it(`${role} cannot read login attempts, refresh tokens or accounts`, async () => {
      for (const table of SECRET_TABLES) {
        const state = await sqlState(() =>
          actAs(database.current.authenticator, { role, userId: USER_ID }, (c) => c.query(`select * from ${table}`)),
        );
        expect(`${table}: ${state}`).toBe(`${table}: 42501`);
      }
    });
  }

  it("the API's connection role may execute exactly the authentication functions, and read no table", async () => {
    const { rows } = await database.current.owner.query(
      `select p.proname
       from pg_catalog.pg_proc as p
       join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
       where n.nspname = 'app_private'
         and has_function_privilege('ticketing_authenticator', p.oid, 'execute')
       order by 1`,
    );
    expect(rows.map((row) => row.proname)).toEqual(Object.keys(AUTH_FUNCTION_CALLS).sort());
    for (const table of SECRET_TABLES) {
      expect(await sqlState(() => database.current.authenticator.query(`select * from ${table}`))).toBe("42501");
    }
    const forbidden = [
      "select app_private.create_user_account('a@example.com', 'A', 'admin', 'x')",
      `select app_private.revoke_user_sessions('${USER_ID}', 'logout')`,
      `select * from app_private.open_session('${USER_ID}', '${DIGEST}')`,
      `select app_private.decide_attempt('${USER_ID}', 'x', null)`,
      "select app_private.take_address_quota('refresh', null)",
      // The old one-step registration made a verified account with a session.
      `select * from app_private.register_customer('a@example.com', 'A', 'x', '${DIGEST}', '192.0.2.1')`,
      "select app_private.queue_mail('password_reset', 'a@example.com')",
      "select app_private.new_email_token('password_reset', null, 'a@example.com')",
    ];
    for (const call of forbidden)
      expect(await sqlState(() => database.current.authenticator.query(call))).toBe("42501");
  });

  it("the connection role's calls work without any role switch", async () => {
    const { rows } = await database.current.authenticator.query(AUTH_FUNCTION_CALLS.begin_login!);
    expect(rows).toEqual([{ attempt_id: expect.any(String), password_salt: null, hash_length: null }]);
  });

  it("setUserRole and deactivateUser are executable by admins only", async () => {
    const { rows } = await database.current.owner.query(
      `select r as role,
              has_function_privilege(r, 'app_public.set_user_role(uuid, app_public.user_role)', 'execute') as set_role,
              has_function_privilege(r, 'app_public.deactivate_user(uuid)', 'execute') as deactivate
       from unnest($1::text[]) as r`,
      [WEB_ROLES],
    );
    expect(rows).toEqual([
      { role: "ticketing_anonymous", set_role: false, deactivate: false },
      { role: "ticketing_customer", set_role: false, deactivate: false },
      { role: "ticketing_agent", set_role: false, deactivate: false },
      { role: "ticketing_admin", set_role: true, deactivate: true },
    ]);
  });
});

describe("catalogue hygiene of the authentication objects", () => {
  it("every authentication function is security definer, owned by the owner, with a pinned search_path and a comment", async () => {
    const names = [
      ...Object.keys(AUTH_FUNCTION_CALLS),
      "create_user_account",
      "revoke_user_sessions",
      "assert_admin_remains",
      "set_user_role",
      "deactivate_user",
      "take_address_quota",
    ];
    const { rows } = await database.current.owner.query(
      `select p.proname, p.prosecdef, pg_get_userbyid(p.proowner) as owner,
              exists (select 1 from unnest(p.proconfig) as c where c like 'search_path=%') as pinned,
              obj_description(p.oid, 'pg_proc') is not null as commented
       from pg_catalog.pg_proc as p
       join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
       where n.nspname in ('app_private', 'app_public') and p.proname = any($1)`,
      [names],
    );
    expect(rows).toHaveLength(names.length);
    for (const row of rows) {
      expect(row, row.proname).toMatchObject({
        prosecdef: true,
        owner: "ticketing_owner",
        pinned: true,
        commented: true,
      });
    }
  });

  it("every column of the authentication tables has a comment", async () => {
    const { rows } = await database.current.owner.query(
      `select c.relname || '.' || a.attname as column_name
       from pg_catalog.pg_attribute as a
       join pg_catalog.pg_class as c on c.oid = a.attrelid
       join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
       where n.nspname = 'app_private'
         and c.relname in ('login_attempts', 'refresh_tokens', 'auth_clock', 'address_events', 'address_rate_limits')
         and a.attnum > 0 and not a.attisdropped
         and col_description(c.oid, a.attnum) is null`,
    );
    expect(rows).toEqual([]);
  });
});
