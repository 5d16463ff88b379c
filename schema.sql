-- The database's final state, generated from pg_catalog by
-- test/database/catalog-snapshot.test.ts. Do not edit: write a migration,
-- then run `npm run catalog:update` and review the difference.

-- default privileges of ticketing_owner on new functions: ticketing_owner: execute

-- ===========================================================================
-- app_private
-- ===========================================================================

create schema app_private;
grant usage on schema app_private to ticketing_authenticator;
comment on schema app_private is 'Secrets and internals (accounts, audit log, helpers). No web role has USAGE on it.';

create table app_private.address_events (
  id uuid default app_private.uuid_generate_v7() not null,
  action text not null,
  ip inet,
  occurred_at timestamp with time zone default app_private.auth_now() not null
);
alter table app_private.address_events enable row level security;
alter table app_private.address_events add constraint address_events_action CHECK (action = ANY (ARRAY['register'::text, 'refresh'::text, 'password_change'::text, 'password_reset'::text, 'email_verification'::text]));
alter table app_private.address_events add constraint address_events_pkey PRIMARY KEY (id);
CREATE INDEX address_events_action_ip_idx ON app_private.address_events USING btree (action, ip, occurred_at);
comment on table app_private.address_events is 'One row per register, refreshSession or changePassword call that passed its per-address limit: what the limits count. Append-only; old rows may be pruned once past the longest window.';
comment on column app_private.address_events.id is 'Primary key (time-ordered UUID).';
comment on column app_private.address_events.action is 'register, refresh or password_change.';
comment on column app_private.address_events.ip is 'Client address as seen by the API; null when unknown (all unknown addresses share one count).';
comment on column app_private.address_events.occurred_at is 'When it happened (auth_now()).';

create table app_private.address_rate_limits (
  action text not null,
  max_count integer not null,
  per_interval interval not null
);
alter table app_private.address_rate_limits enable row level security;
alter table app_private.address_rate_limits add constraint address_rate_limits_action CHECK (action = ANY (ARRAY['login'::text, 'login_email'::text, 'register'::text, 'refresh'::text, 'password_change'::text, 'password_reset'::text, 'email_verification'::text]));
alter table app_private.address_rate_limits add constraint address_rate_limits_interval_positive CHECK (per_interval > '00:00:00'::interval);
alter table app_private.address_rate_limits add constraint address_rate_limits_max_count_positive CHECK (max_count > 0);
alter table app_private.address_rate_limits add constraint address_rate_limits_pkey PRIMARY KEY (action);
comment on table app_private.address_rate_limits is 'How often each authentication action may happen: at most max_count within per_interval, per client address (per email for login_email). Read by app_private.take_address_quota and begin_login. Owner only.';
comment on column app_private.address_rate_limits.action is 'login (attempts per address), login_email (unresolved or failed attempts per email), register, refresh, password_change, password_reset (requestPasswordReset and resetPassword calls) or email_verification (verifyEmail calls), per address.';
comment on column app_private.address_rate_limits.max_count is 'Allowed occurrences within per_interval.';
comment on column app_private.address_rate_limits.per_interval is 'The sliding window the count covers.';

create table app_private.audit_log (
  id uuid default app_private.uuid_generate_v7() not null,
  occurred_at timestamp with time zone default clock_timestamp() not null,
  actor_id uuid,
  db_role text,
  transaction_id bigint default pg_current_xact_id()::text::bigint not null,
  table_name text not null,
  operation text not null,
  record_id uuid,
  old_data jsonb,
  new_data jsonb
);
alter table app_private.audit_log enable row level security;
alter table app_private.audit_log add constraint audit_log_new_data_present CHECK (operation = 'DELETE'::text OR new_data IS NOT NULL);
alter table app_private.audit_log add constraint audit_log_operation CHECK (operation = ANY (ARRAY['INSERT'::text, 'UPDATE'::text, 'DELETE'::text]));
alter table app_private.audit_log add constraint audit_log_pkey PRIMARY KEY (id);
CREATE INDEX audit_log_actor_idx ON app_private.audit_log USING btree (actor_id, occurred_at);
CREATE INDEX audit_log_occurred_at_idx ON app_private.audit_log USING btree (occurred_at);
CREATE INDEX audit_log_row_idx ON app_private.audit_log USING btree (table_name, record_id, occurred_at);
CREATE TRIGGER _100_append_only BEFORE DELETE OR UPDATE ON app_private.audit_log FOR EACH ROW EXECUTE FUNCTION app_private.tg_forbid_change();
CREATE TRIGGER _100_append_only_truncate BEFORE TRUNCATE ON app_private.audit_log FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_forbid_change();
revoke delete, truncate, update on table app_private.audit_log from ticketing_owner;
comment on table app_private.audit_log is 'Every insert and update of users, tickets and comments, written by triggers. Append-only for everybody; admins read it through app_public.audit_log_entries.';
comment on column app_private.audit_log.id is 'Identifier of the entry (time-ordered UUID).';
comment on column app_private.audit_log.occurred_at is 'When the change was made.';
comment on column app_private.audit_log.actor_id is 'User id claimed by the request (jwt.claims.user_id); null for maintenance without a user.';
comment on column app_private.audit_log.db_role is 'Postgres role the request ran as (e.g. ticketing_agent); null when no role was set.';
comment on column app_private.audit_log.transaction_id is 'Transaction id, to group the entries of one operation.';
comment on column app_private.audit_log.table_name is 'Schema-qualified table changed.';
comment on column app_private.audit_log.operation is 'INSERT, UPDATE or DELETE.';
comment on column app_private.audit_log.record_id is 'Primary key of the changed row.';
comment on column app_private.audit_log.old_data is 'Row before an update (null for inserts).';
comment on column app_private.audit_log.new_data is 'Row after the change (null for a delete).';

create table app_private.auth_clock (
  singleton boolean default true not null,
  offset_by interval default '00:00:00'::interval not null
);
alter table app_private.auth_clock enable row level security;
alter table app_private.auth_clock add constraint auth_clock_pkey PRIMARY KEY (singleton);
alter table app_private.auth_clock add constraint auth_clock_singleton CHECK (singleton);
comment on table app_private.auth_clock is 'One row: an offset added to now() by app_private.auth_now(). Always zero in production; tests shift it to expire locks and tokens without sleeping. Only the owner can change it.';
comment on column app_private.auth_clock.singleton is 'Always true: keeps the table to a single row.';
comment on column app_private.auth_clock.offset_by is 'Added to the transaction time by auth_now().';

create table app_private.business_time_horizons (
  calendar_id uuid not null,
  from_at timestamp with time zone not null,
  to_at timestamp with time zone not null
);
alter table app_private.business_time_horizons enable row level security;
alter table app_private.business_time_horizons add constraint business_time_horizons_calendar_id_fkey FOREIGN KEY (calendar_id) REFERENCES app_public.business_calendars(id);
alter table app_private.business_time_horizons add constraint business_time_horizons_ordered CHECK (from_at < to_at);
alter table app_private.business_time_horizons add constraint business_time_horizons_pkey PRIMARY KEY (calendar_id);
comment on table app_private.business_time_horizons is 'The span of instants [from_at, to_at] over which a calendar''s business time is materialized in business_time_totals.';
comment on column app_private.business_time_horizons.calendar_id is 'The calendar.';
comment on column app_private.business_time_horizons.from_at is 'Start of the horizon: running totals count business seconds from here.';
comment on column app_private.business_time_horizons.to_at is 'End of the horizon.';

create table app_private.business_time_totals (
  calendar_id uuid not null,
  starts_at timestamp with time zone not null,
  ends_at timestamp with time zone not null,
  seconds_before numeric not null,
  seconds_after numeric not null
);
alter table app_private.business_time_totals enable row level security;
alter table app_private.business_time_totals add constraint business_time_totals_calendar_id_fkey FOREIGN KEY (calendar_id) REFERENCES app_public.business_calendars(id);
alter table app_private.business_time_totals add constraint business_time_totals_ordered CHECK (starts_at < ends_at);
alter table app_private.business_time_totals add constraint business_time_totals_pkey PRIMARY KEY (calendar_id, starts_at);
CREATE INDEX business_time_totals_after_idx ON app_private.business_time_totals USING btree (calendar_id, seconds_after);
comment on table app_private.business_time_totals is 'A calendar''s business time within its horizon as maximal UTC stretches (app_private.business_spans), each with the business seconds from the horizon start to its start (seconds_before) and to its end (seconds_after).';
comment on column app_private.business_time_totals.calendar_id is 'The calendar.';
comment on column app_private.business_time_totals.starts_at is 'Start of the business stretch.';
comment on column app_private.business_time_totals.ends_at is 'End of the business stretch.';
comment on column app_private.business_time_totals.seconds_before is 'Business seconds from the horizon start to starts_at.';
comment on column app_private.business_time_totals.seconds_after is 'Business seconds from the horizon start to ends_at.';

create table app_private.email_tokens (
  id uuid default app_private.uuid_generate_v7() not null,
  purpose text not null,
  user_id uuid not null,
  email public.citext not null,
  token_digest bytea not null,
  created_at timestamp with time zone default app_private.auth_now() not null,
  expires_at timestamp with time zone not null,
  used_at timestamp with time zone
);
alter table app_private.email_tokens enable row level security;
alter table app_private.email_tokens add constraint email_tokens_digest_unique UNIQUE (token_digest);
alter table app_private.email_tokens add constraint email_tokens_expiry_after_creation CHECK (expires_at > created_at);
alter table app_private.email_tokens add constraint email_tokens_pkey PRIMARY KEY (id);
alter table app_private.email_tokens add constraint email_tokens_purpose CHECK (purpose = ANY (ARRAY['password_reset'::text, 'email_verification'::text]));
alter table app_private.email_tokens add constraint email_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;
CREATE INDEX email_tokens_user_idx ON app_private.email_tokens USING btree (user_id, purpose, created_at);
comment on table app_private.email_tokens is 'One-time links sent by mail: password resets and email verifications, by SHA-256 digest of the token (the token itself is only in the mail). Owner only; pruned once expired.';
comment on column app_private.email_tokens.id is 'Primary key (time-ordered UUID).';
comment on column app_private.email_tokens.purpose is 'password_reset or email_verification.';
comment on column app_private.email_tokens.user_id is 'The account the link is for.';
comment on column app_private.email_tokens.email is 'The address the link was sent to (the one a verification proves).';
comment on column app_private.email_tokens.token_digest is 'SHA-256 of the token.';
comment on column app_private.email_tokens.created_at is 'When the link was made.';
comment on column app_private.email_tokens.expires_at is 'The link is refused after this time.';
comment on column app_private.email_tokens.used_at is 'When the link was used, or made void by a newer use; a link works once.';

create table app_private.inbound_emails (
  id uuid default app_private.uuid_generate_v7() not null,
  received_at timestamp with time zone default now() not null,
  message_id text,
  sender text,
  subject text,
  decision text not null,
  reason text,
  user_id uuid,
  ticket_id uuid,
  comment_id uuid,
  refused_attachments jsonb
);
alter table app_private.inbound_emails enable row level security;
alter table app_private.inbound_emails add constraint inbound_emails_decision CHECK (decision = ANY (ARRAY['comment'::text, 'ticket'::text, 'ignored'::text, 'refused'::text]));
alter table app_private.inbound_emails add constraint inbound_emails_message_id_length CHECK (char_length(message_id) <= 1000);
alter table app_private.inbound_emails add constraint inbound_emails_pkey PRIMARY KEY (id);
alter table app_private.inbound_emails add constraint inbound_emails_refused_attachments_list CHECK (jsonb_typeof(refused_attachments) = 'array'::text AND jsonb_array_length(refused_attachments) >= 1 AND jsonb_array_length(refused_attachments) <= 100);
alter table app_private.inbound_emails add constraint inbound_emails_sender_length CHECK (char_length(sender) <= 320);
alter table app_private.inbound_emails add constraint inbound_emails_subject_length CHECK (char_length(subject) <= 300);
alter table app_private.inbound_emails add constraint inbound_emails_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES app_public.tickets(id) ON DELETE SET NULL;
alter table app_private.inbound_emails add constraint inbound_emails_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;
CREATE INDEX inbound_emails_message_id_idx ON app_private.inbound_emails USING btree (message_id);
CREATE INDEX inbound_emails_refused_comment_idx ON app_private.inbound_emails USING btree (comment_id) WHERE (refused_attachments IS NOT NULL);
CREATE INDEX inbound_emails_refused_ticket_idx ON app_private.inbound_emails USING btree (ticket_id) WHERE (refused_attachments IS NOT NULL);
CREATE INDEX inbound_emails_sender_idx ON app_private.inbound_emails USING btree (sender, received_at);
comment on table app_private.inbound_emails is 'Every message posted to /inbound/email and what was decided: comment (added to a ticket), ticket (opened one), ignored (auto-reply, bounce, duplicate, over the sender''s limit) or refused (unknown sender, not allowed), with the reason. Owner only.';
comment on column app_private.inbound_emails.id is 'Primary key (time-ordered UUID).';
comment on column app_private.inbound_emails.received_at is 'When the message was posted.';
comment on column app_private.inbound_emails.message_id is 'Its Message-ID header; a message seen before is ignored as a duplicate.';
comment on column app_private.inbound_emails.sender is 'The From address.';
comment on column app_private.inbound_emails.subject is 'The subject line (first 300 characters).';
comment on column app_private.inbound_emails.decision is 'comment, ticket, ignored or refused.';
comment on column app_private.inbound_emails.reason is 'Why it was ignored or refused, or how the ticket was found.';
comment on column app_private.inbound_emails.user_id is 'The sender''s account, when there is one.';
comment on column app_private.inbound_emails.ticket_id is 'The ticket commented on or opened.';
comment on column app_private.inbound_emails.comment_id is 'The comment added.';
comment on column app_private.inbound_emails.refused_attachments is 'Files of the message that did not become attachments: [{fileName, contentType, size, reason}], in the order of the message; null when none was refused.';

create table app_private.login_attempts (
  id uuid default app_private.uuid_generate_v7() not null,
  email public.citext not null,
  user_id uuid,
  ip inet,
  success boolean not null,
  reason text not null,
  attempted_at timestamp with time zone default app_private.auth_now() not null,
  purpose text default 'login'::text not null,
  decided_xact xid8,
  consumed_at timestamp with time zone,
  session_id uuid
);
alter table app_private.login_attempts enable row level security;
alter table app_private.login_attempts add constraint login_attempts_email_length CHECK (char_length(email::text) <= 320);
alter table app_private.login_attempts add constraint login_attempts_pkey PRIMARY KEY (id);
alter table app_private.login_attempts add constraint login_attempts_purpose CHECK (purpose = ANY (ARRAY['login'::text, 'password_change'::text, 'registration'::text]));
alter table app_private.login_attempts add constraint login_attempts_reason CHECK (reason = ANY (ARRAY['pending'::text, 'success'::text, 'invalid_credentials'::text, 'locked'::text, 'rate_limited'::text]));
alter table app_private.login_attempts add constraint login_attempts_success_reason CHECK (success = (reason = 'success'::text));
alter table app_private.login_attempts add constraint login_attempts_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;
CREATE INDEX login_attempts_email_idx ON app_private.login_attempts USING btree (email, attempted_at);
CREATE INDEX login_attempts_ip_counted_idx ON app_private.login_attempts USING btree (ip, attempted_at) WHERE (reason <> 'rate_limited'::text);
CREATE INDEX login_attempts_ip_idx ON app_private.login_attempts USING btree (ip, attempted_at);
CREATE INDEX login_attempts_time_brin ON app_private.login_attempts USING brin (attempted_at);
CREATE INDEX login_attempts_user_idx ON app_private.login_attempts USING btree (user_id, attempted_at);
comment on table app_private.login_attempts is 'Every login attempt, every current-password check of changePassword and every registration, from its reservation (pending, before any hashing) to its outcome. Drives lockout and the per-address and per-email limits; records which session each success started.';
comment on column app_private.login_attempts.id is 'Primary key (time-ordered UUID).';
comment on column app_private.login_attempts.email is 'Email as typed (at most 320 characters), whether or not an account has it.';
comment on column app_private.login_attempts.user_id is 'The account the email belongs to, null when no active account has it.';
comment on column app_private.login_attempts.ip is 'Client IP address as seen by the API, null when unknown.';
comment on column app_private.login_attempts.success is 'True when the password was right and the account not locked.';
comment on column app_private.login_attempts.reason is 'pending (reserved, password not yet checked), success, invalid_credentials (unknown email or wrong password), locked (account locked at the time) or rate_limited (refused before any check; older rows only).';
comment on column app_private.login_attempts.attempted_at is 'When the attempt was made (auth_now()).';
comment on column app_private.login_attempts.purpose is 'login, password_change (the current-password check of changePassword) or registration (the new account''s first session).';
comment on column app_private.login_attempts.decided_xact is 'Transaction that recorded the success: a session starts only in that same transaction.';
comment on column app_private.login_attempts.consumed_at is 'When the success was used (a session started or the password changed); a success is used at most once.';
comment on column app_private.login_attempts.session_id is 'The session (refresh-token family) this success started: the audit trail of session starts.';

create table app_private.mail_templates (
  kind text not null,
  subject text not null,
  text_body text not null,
  html_body text not null
);
alter table app_private.mail_templates enable row level security;
alter table app_private.mail_templates add constraint mail_templates_kind_format CHECK (kind ~ '^[a-z][a-z_]{1,40}$'::text);
alter table app_private.mail_templates add constraint mail_templates_pkey PRIMARY KEY (kind);
alter table app_private.mail_templates add constraint mail_templates_subject_line CHECK (subject !~ '[\r\n]'::text AND char_length(subject) <= 300);
comment on table app_private.mail_templates is 'One template per kind of mail. {{name}} is replaced by the mail''s parameter name: as is in the text body, HTML-escaped in the HTML body, without line breaks in the subject. Change a template with an update as the owner (in a migration). Owner only.';
comment on column app_private.mail_templates.kind is 'What the mail is for, e.g. password_reset, ticket_reply.';
comment on column app_private.mail_templates.subject is 'Subject line; ticket mails get [#number] put in front by the sender.';
comment on column app_private.mail_templates.text_body is 'Plain-text body.';
comment on column app_private.mail_templates.html_body is 'HTML body; parameters are escaped when inserted.';

create table app_private.notification_preferences (
  user_id uuid not null,
  kind text not null,
  enabled boolean not null,
  updated_at timestamp with time zone default now() not null
);
alter table app_private.notification_preferences enable row level security;
alter table app_private.notification_preferences add constraint notification_preferences_kind CHECK (kind = ANY (ARRAY['ticket_created'::text, 'ticket_reply'::text, 'ticket_status'::text, 'ticket_assigned'::text, 'customer_reply'::text, 'sla_breach'::text]));
alter table app_private.notification_preferences add constraint notification_preferences_pkey PRIMARY KEY (user_id, kind);
alter table app_private.notification_preferences add constraint notification_preferences_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;
comment on table app_private.notification_preferences is 'A user''s choice per kind of notification mail; a kind without a row is on. At most one row per user and kind. Owner only: users read and change their own through my_notification_preferences and set_notification_preference.';
comment on column app_private.notification_preferences.user_id is 'Whose choice.';
comment on column app_private.notification_preferences.kind is 'ticket_created, ticket_reply, ticket_status (customers), ticket_assigned, customer_reply, sla_breach (agents and admins).';
comment on column app_private.notification_preferences.enabled is 'Whether mails of this kind are sent to the user.';
comment on column app_private.notification_preferences.updated_at is 'When the choice was last made.';

create table app_private.outbound_mails (
  id uuid default app_private.uuid_generate_v7() not null,
  kind text not null,
  user_id uuid,
  to_address text not null,
  ticket_id uuid,
  params jsonb default '{}'::jsonb not null,
  status text default 'pending'::text not null,
  attempts integer default 0 not null,
  last_error text,
  created_at timestamp with time zone default now() not null,
  next_attempt_at timestamp with time zone,
  sent_at timestamp with time zone
);
alter table app_private.outbound_mails enable row level security;
alter table app_private.outbound_mails add constraint outbound_mails_attempts_positive CHECK (attempts >= 0);
alter table app_private.outbound_mails add constraint outbound_mails_kind_fkey FOREIGN KEY (kind) REFERENCES app_private.mail_templates(kind);
alter table app_private.outbound_mails add constraint outbound_mails_params_object CHECK (jsonb_typeof(params) = 'object'::text);
alter table app_private.outbound_mails add constraint outbound_mails_pkey PRIMARY KEY (id);
alter table app_private.outbound_mails add constraint outbound_mails_status_known CHECK (status = ANY (ARRAY['pending'::text, 'sent'::text, 'failed'::text, 'discarded'::text]));
alter table app_private.outbound_mails add constraint outbound_mails_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES app_public.tickets(id);
alter table app_private.outbound_mails add constraint outbound_mails_to_address_format CHECK (to_address ~ '^[^@[:space:]]+@[^@[:space:]]+$'::text AND char_length(to_address) <= 320);
alter table app_private.outbound_mails add constraint outbound_mails_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id);
CREATE INDEX outbound_mails_created_at_idx ON app_private.outbound_mails USING btree (created_at);
CREATE INDEX outbound_mails_ticket_idx ON app_private.outbound_mails USING btree (ticket_id) WHERE (ticket_id IS NOT NULL);
comment on table app_private.outbound_mails is 'Every mail the application sends, from its cause to its delivery. Its parameters (which may hold a one-time link) are cleared once it is sent or given up. Owner only: the worker reads and reports through the functions below.';
comment on column app_private.outbound_mails.id is 'Mail id; the Message-ID is built from it.';
comment on column app_private.outbound_mails.kind is 'The template (app_private.mail_templates).';
comment on column app_private.outbound_mails.user_id is 'The recipient''s account, when the mail is for a user.';
comment on column app_private.outbound_mails.to_address is 'The recipient''s address.';
comment on column app_private.outbound_mails.ticket_id is 'The ticket the mail is about: it is threaded on the ticket and carries its [#number] and reply address.';
comment on column app_private.outbound_mails.params is 'Values of the template''s {{placeholders}}; emptied once the mail is sent or given up.';
comment on column app_private.outbound_mails.status is 'pending (to send, retries to come), sent, failed (attempts used up) or discarded (mail is disabled).';
comment on column app_private.outbound_mails.attempts is 'Attempts made so far.';
comment on column app_private.outbound_mails.last_error is 'Why the last attempt failed, when it did.';
comment on column app_private.outbound_mails.created_at is 'When its cause happened.';
comment on column app_private.outbound_mails.next_attempt_at is 'When the next attempt is due (pending mails).';
comment on column app_private.outbound_mails.sent_at is 'When the transport accepted it.';

create table app_private.realtime_events (
  id bigint generated always as identity not null,
  occurred_at timestamp with time zone default clock_timestamp() not null,
  tx xid8 default pg_current_xact_id() not null,
  kind text not null,
  ticket_id uuid,
  comment_id uuid,
  customer_id uuid,
  previous_customer_id uuid,
  agent_id uuid,
  previous_agent_id uuid,
  in_open_pool boolean default false not null,
  user_id uuid,
  organization_id uuid,
  attachment_id uuid
);
alter table app_private.realtime_events enable row level security;
alter table app_private.realtime_events add constraint realtime_events_attachment_only_when_added CHECK ((attachment_id IS NOT NULL) = (kind = 'attachment_added'::text));
alter table app_private.realtime_events add constraint realtime_events_comment_only_when_commented CHECK ((comment_id IS NOT NULL) = (kind = 'commented'::text));
alter table app_private.realtime_events add constraint realtime_events_kind_known CHECK (kind = ANY (ARRAY['created'::text, 'status_changed'::text, 'assigned'::text, 'commented'::text, 'updated'::text, 'deactivated'::text, 'role_changed'::text, 'sla_at_risk'::text, 'sla_breached'::text, 'sla_met'::text, 'sight_changed'::text, 'attachment_added'::text]));
alter table app_private.realtime_events add constraint realtime_events_pkey PRIMARY KEY (id);
alter table app_private.realtime_events add constraint realtime_events_subject CHECK (
CASE
    WHEN kind = ANY (ARRAY['deactivated'::text, 'role_changed'::text, 'sight_changed'::text]) THEN user_id IS NOT NULL AND ticket_id IS NULL AND comment_id IS NULL
    ELSE user_id IS NULL AND ticket_id IS NOT NULL AND customer_id IS NOT NULL
END);
CREATE INDEX realtime_events_occurred_at ON app_private.realtime_events USING btree (occurred_at);
CREATE TRIGGER _400_queue_mail AFTER INSERT ON app_private.realtime_events FOR EACH ROW EXECUTE FUNCTION app_private.tg_realtime_events_queue_mail();
CREATE TRIGGER _600_queue_webhooks AFTER INSERT ON app_private.realtime_events FOR EACH ROW EXECUTE FUNCTION app_private.tg_realtime_events_queue_webhooks();
comment on table app_private.realtime_events is 'The event log: one row per announced change (append-only; kept event_log_policy().retention, a week). NOTIFY on ticketing_events carries only the id; the API reads fresh rows through realtime_events_by_id, webhooks are queued from new rows, analysts read ticket events through app_reporting.ticket_events. Owner only.';
comment on column app_private.realtime_events.id is 'Event id: the whole payload of its notification.';
comment on column app_private.realtime_events.occurred_at is 'When the change was made (clock time of the statement that made it).';
comment on column app_private.realtime_events.tx is 'The transaction that made the change: a subscription hears only events its starting snapshot did not see.';
comment on column app_private.realtime_events.kind is 'created, status_changed, assigned, commented, updated, sla_at_risk, sla_breached, sla_met or attachment_added (tickets); deactivated, role_changed or sight_changed (users).';
comment on column app_private.realtime_events.ticket_id is 'The ticket that changed (ticket events).';
comment on column app_private.realtime_events.comment_id is 'The new comment or internal note (commented only).';
comment on column app_private.realtime_events.customer_id is 'The ticket''s customer after the change.';
comment on column app_private.realtime_events.previous_customer_id is 'The ticket''s customer before the change, when it changed.';
comment on column app_private.realtime_events.agent_id is 'The ticket''s agent after the change.';
comment on column app_private.realtime_events.previous_agent_id is 'The ticket''s agent before the change, when there was one.';
comment on column app_private.realtime_events.in_open_pool is 'The ticket is, or just was, open and unassigned: agents watching the pool are interested.';
comment on column app_private.realtime_events.user_id is 'The user deactivated, whose role changed, or whose organizations or ticket participations changed (user events).';
comment on column app_private.realtime_events.organization_id is 'The ticket''s organization after the change (ticket events), for routing to its members'' subscriptions.';
comment on column app_private.realtime_events.attachment_id is 'The attachment that became available (attachment_added only).';

create table app_private.refresh_tokens (
  id uuid default app_private.uuid_generate_v7() not null,
  user_id uuid not null,
  family_id uuid not null,
  token_digest bytea not null,
  created_at timestamp with time zone default app_private.auth_now() not null,
  expires_at timestamp with time zone not null,
  rotated_at timestamp with time zone,
  replaced_by uuid,
  revoked_at timestamp with time zone,
  revoked_reason text,
  session_started_at timestamp with time zone not null
);
alter table app_private.refresh_tokens enable row level security;
alter table app_private.refresh_tokens add constraint refresh_tokens_digest_length CHECK (octet_length(token_digest) = 32);
alter table app_private.refresh_tokens add constraint refresh_tokens_expiry_after_creation CHECK (expires_at > created_at);
alter table app_private.refresh_tokens add constraint refresh_tokens_pkey PRIMARY KEY (id);
alter table app_private.refresh_tokens add constraint refresh_tokens_replaced_by_fkey FOREIGN KEY (replaced_by) REFERENCES app_private.refresh_tokens(id);
alter table app_private.refresh_tokens add constraint refresh_tokens_revocation_has_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL));
alter table app_private.refresh_tokens add constraint refresh_tokens_revoked_reason CHECK (revoked_reason = ANY (ARRAY['logout'::text, 'reuse'::text, 'password_change'::text, 'deactivated'::text, 'role_changed'::text, 'inactive'::text]));
alter table app_private.refresh_tokens add constraint refresh_tokens_token_digest_key UNIQUE (token_digest);
alter table app_private.refresh_tokens add constraint refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;
CREATE INDEX refresh_tokens_family_idx ON app_private.refresh_tokens USING btree (family_id);
CREATE INDEX refresh_tokens_rotated_idx ON app_private.refresh_tokens USING btree (family_id, rotated_at) WHERE ((rotated_at IS NOT NULL) AND (revoked_at IS NULL));
CREATE INDEX refresh_tokens_user_idx ON app_private.refresh_tokens USING btree (user_id) WHERE (revoked_at IS NULL);
comment on table app_private.refresh_tokens is 'Refresh tokens, one row per issued token, stored only as SHA-256 digests. A family is one login session: each refresh rotates the token within the family; presenting a rotated token again revokes the whole family.';
comment on column app_private.refresh_tokens.id is 'Primary key (time-ordered UUID).';
comment on column app_private.refresh_tokens.user_id is 'The user the session belongs to.';
comment on column app_private.refresh_tokens.family_id is 'The session: the id of the first token of the chain; carried in access tokens as sid.';
comment on column app_private.refresh_tokens.token_digest is 'SHA-256 of the token; the token itself is never stored.';
comment on column app_private.refresh_tokens.created_at is 'When the token was issued.';
comment on column app_private.refresh_tokens.expires_at is 'After this time the token is refused.';
comment on column app_private.refresh_tokens.rotated_at is 'When the token was exchanged for its successor; using it again is reuse.';
comment on column app_private.refresh_tokens.replaced_by is 'The token issued in exchange for this one.';
comment on column app_private.refresh_tokens.revoked_at is 'When the token was revoked (its whole family is revoked together).';
comment on column app_private.refresh_tokens.revoked_reason is 'Why: logout, reuse, password_change, deactivated, role_changed or inactive.';
comment on column app_private.refresh_tokens.session_started_at is 'When the session (family) began; copied to each rotated token. refreshSession refuses a family older than the maximum session age.';

create table app_private.searchable_comments (
  comment_id uuid not null,
  ticket_id uuid not null,
  ticket_open smallint not null,
  ticket_agent_id uuid,
  search tsvector not null
);
alter table app_private.searchable_comments enable row level security;
alter table app_private.searchable_comments add constraint searchable_comments_comment_id_fkey FOREIGN KEY (comment_id) REFERENCES app_public.ticket_comments(id) ON DELETE CASCADE;
alter table app_private.searchable_comments add constraint searchable_comments_pkey PRIMARY KEY (comment_id);
alter table app_private.searchable_comments add constraint searchable_comments_ticket_open_flag CHECK (ticket_open = ANY (ARRAY[0, 1]));
CREATE INDEX searchable_comments_sight_search_idx ON app_private.searchable_comments USING gin (ticket_open, ticket_agent_id, search) WITH (gin_pending_list_limit='256');
CREATE INDEX searchable_comments_ticket_idx ON app_private.searchable_comments USING btree (ticket_id);
comment on table app_private.searchable_comments is 'The text of each comment for search, with the two facts of its ticket an agent''s sight depends on (open; its agent), indexed together so that an agent''s search matches only within the tickets they can read. Kept in step by triggers on ticket_comments (insert, edit) and tickets (a change of those two facts). Owner only: search_matches and search_matches_in_sight read it; the policies of search_tickets decide what a caller gets.';
comment on column app_private.searchable_comments.comment_id is 'The comment.';
comment on column app_private.searchable_comments.ticket_id is 'Its ticket.';
comment on column app_private.searchable_comments.ticket_open is '1 while the ticket is open (in the pool every agent reads), else 0, as of now.';
comment on column app_private.searchable_comments.ticket_agent_id is 'The ticket''s agent, as of now.';
comment on column app_private.searchable_comments.search is 'The comment''s text vector (ticket_comments.search).';

create table app_private.user_accounts (
  user_id uuid not null,
  email public.citext not null,
  password_hash text,
  failed_login_count integer default 0 not null,
  locked_until timestamp with time zone,
  last_login_at timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  email_verified_at timestamp with time zone default now()
);
alter table app_private.user_accounts enable row level security;
alter table app_private.user_accounts add constraint user_accounts_email_format CHECK (char_length(email::text) <= 320 AND email::text ~ '^[!-?A-~]+@[!-?A-~]+$'::text);
alter table app_private.user_accounts add constraint user_accounts_email_key UNIQUE (email);
alter table app_private.user_accounts add constraint user_accounts_failed_login_count_positive CHECK (failed_login_count >= 0);
alter table app_private.user_accounts add constraint user_accounts_pkey PRIMARY KEY (user_id);
alter table app_private.user_accounts add constraint user_accounts_timestamps_ordered CHECK (updated_at >= created_at);
alter table app_private.user_accounts add constraint user_accounts_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;
CREATE TRIGGER _050_normalize_email BEFORE INSERT OR UPDATE OF email ON app_private.user_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg_user_accounts_normalize_email();
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON app_private.user_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg_set_updated_at();
CREATE TRIGGER _500_auto_join AFTER INSERT ON app_private.user_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg_user_accounts_auto_join();
comment on table app_private.user_accounts is 'Login data of a user (one row per user). Only security definer functions read it.';
comment on column app_private.user_accounts.user_id is 'The user this account belongs to.';
comment on column app_private.user_accounts.email is 'Login email, unique case-insensitively, stored NFKC-normalised and trimmed (fullwidth and other compatibility forms meet the same account); printable ASCII only.';
comment on column app_private.user_accounts.password_hash is 'argon2id hash computed by the API tier; null means password login is disabled.';
comment on column app_private.user_accounts.failed_login_count is 'Consecutive failed logins since the last success; drives lockout.';
comment on column app_private.user_accounts.locked_until is 'Login refused until this time (null: not locked).';
comment on column app_private.user_accounts.last_login_at is 'Time of the last successful login.';
comment on column app_private.user_accounts.created_at is 'When the account was created.';
comment on column app_private.user_accounts.updated_at is 'When the account row last changed.';
comment on column app_private.user_accounts.email_verified_at is 'When the address was proven or vouched for; null: not verified (a self-registered account whose verification link was not followed yet: it cannot sign in). Accounts made by an admin or the operator, and those that existed before verification, count as verified from their creation.';

create table app_private.write_events (
  user_id uuid not null,
  kind app_public.write_kind not null,
  occurred_at timestamp with time zone default now() not null
);
alter table app_private.write_events enable row level security;
CREATE INDEX write_events_time_brin ON app_private.write_events USING brin (occurred_at);
CREATE INDEX write_events_user_kind_time_idx ON app_private.write_events USING btree (user_id, kind, occurred_at);
comment on table app_private.write_events is 'One row per write counted by a write quota (who, what, when). Read only by the quota check; rows older than the longest quota window are deleted by app_private.prune_security_rows().';
comment on column app_private.write_events.user_id is 'The user who wrote.';
comment on column app_private.write_events.kind is 'What was written: ticket, comment or edit.';
comment on column app_private.write_events.occurred_at is 'When (transaction time).';

CREATE OR REPLACE FUNCTION app_private.account_links_exhausted(purpose text, user_id uuid)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select count(*) >= (select p.per_account_max from app_private.email_token_policy() as p)
  from app_private.email_tokens as t
  where t.user_id = account_links_exhausted.user_id
    and t.purpose = account_links_exhausted.purpose
    and t.created_at > app_private.auth_now() - (select p.per_account_window from app_private.email_token_policy() as p);
$function$;
comment on function app_private.account_links_exhausted(text,uuid) is 'Whether an account already got email_token_policy().per_account_max links of purpose within the window.';

CREATE OR REPLACE FUNCTION app_private.acting_user_id(as_role app_public.user_role)
 RETURNS uuid
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select u.id
  from app_public.users as u
  where u.id = app_private.jwt_user_id()
    and u.is_active
    and u.role = as_role
    and current_setting('role') = 'ticketing_' || as_role::text;
$function$;
grant execute on function app_private.acting_user_id(app_public.user_role) to ticketing_admin;
grant execute on function app_private.acting_user_id(app_public.user_role) to ticketing_agent;
grant execute on function app_private.acting_user_id(app_public.user_role) to ticketing_customer;
comment on function app_private.acting_user_id(app_public.user_role) is 'Policy helper: the requesting user''s id when they are active, stored with role as_role, and the request runs as the matching Postgres role; otherwise null. Policies call it as (select app_private.acting_user_id(...)) so it runs once per statement.';

CREATE OR REPLACE FUNCTION app_private.acts_on_ticket(ticket app_public.tickets)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select case app_private.current_user_role()
    when 'admin' then true
    when 'agent' then ticket.agent_id = app_private.current_user_id()
    when 'customer' then ticket.customer_id = app_private.current_user_id()
      or ticket.organization_id = any (app_private.customer_managed_organization_ids())
    else false
  end;
$function$;
comment on function app_private.acts_on_ticket(app_public.tickets) is 'Whether the requesting user may act on the ticket as its owner: admins on any, agents on those assigned to them, customers as its requester or as a manager of its (active) organization. The one rule behind transitionTicket and participants (public comments and files from the customer side also admit a cc: customer_writes_on).';

CREATE OR REPLACE FUNCTION app_private.add_business_minutes_computed(calendar_id uuid, from_at timestamp with time zone, minutes numeric)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  remaining numeric := minutes * 60;
  window_start timestamptz := from_at;
  -- A first window long enough for a working week of 40 hours in 168.
  -- At most 400 days, like the later windows: one call of business_spans never
  -- covers decades, whatever the minutes asked for.
  window_length interval := least(greatest(interval '7 days', make_interval(mins => least(minutes, 10000000)::integer * 5)), interval '400 days');
  -- A calendar open less than the target within 50 years never reaches it (null).
  walk_until timestamptz := from_at + interval '50 years';
  latest_from date;
  latest_open boolean;
  span tstzrange;
  span_seconds numeric;
begin
  if calendar_id is null or from_at is null or minutes is null then
    return null;
  end if;
  if minutes < 0 then
    raise exception using errcode = 'TKVAL', message = 'minutes must not be negative';
  end if;
  if remaining = 0 then
    return from_at;
  end if;

  -- The latest version decides whether the calendar is ever open again.
  select v.effective_from, exists (select 1 from app_public.business_calendar_hours as h where h.version_id = v.id)
  into latest_from, latest_open
  from app_public.business_calendar_versions as v
  where v.calendar_id = add_business_minutes_computed.calendar_id
  order by v.effective_from desc
  limit 1;
  if not found then
    return null;
  end if;
  if not latest_open then
    select least(walk_until, (latest_from + 2)::timestamp at time zone c.time_zone)
    into walk_until
    from app_public.business_calendars as c
    where c.id = add_business_minutes_computed.calendar_id;
  end if;

  -- Widening windows until the limit (a closed calendar has no spans past it).
  while window_start < walk_until loop
    for span in
      select r from unnest(app_private.business_spans(calendar_id, window_start, window_start + window_length)) as r order by lower(r)
    loop
      span_seconds := extract(epoch from upper(span) - lower(span));
      if span_seconds >= remaining then
        return lower(span) + make_interval(secs => remaining);
      end if;
      remaining := remaining - span_seconds;
    end loop;
    window_start := window_start + window_length;
    window_length := least(greatest(window_length * 2, interval '14 days'), interval '400 days');
  end loop;
  return null;
end;
$function$;
comment on function app_private.add_business_minutes_computed(uuid,timestamp with time zone,numeric) is 'add_business_minutes computed on the fly from the calendar rows, in widening windows (outside the materialized horizon), up to 50 years, or to two local days after the start of a latest version without opening hours (the calendar is closed from there on).';

CREATE OR REPLACE FUNCTION app_private.address_login_limit_reached(ip inet)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  rule app_private.address_rate_limits;
  oldest_counted timestamptz;
begin
  select l.* into strict rule from app_private.address_rate_limits as l where l.action = 'login';
  select l.attempted_at into oldest_counted
  from app_private.login_attempts as l
  where (l.ip = address_login_limit_reached.ip or (address_login_limit_reached.ip is null and l.ip is null))
    and l.attempted_at > app_private.auth_now() - rule.per_interval
    and l.reason <> 'rate_limited'
    and l.purpose = 'login'
  order by l.attempted_at desc
  offset rule.max_count - 1
  limit 1;
  return case when found then oldest_counted + rule.per_interval end;
end;
$function$;
comment on function app_private.address_login_limit_reached(inet) is 'When the ''login'' limit of the address is reached: the time it lifts; null otherwise. A null ip counts the attempts of unknown addresses together.';

CREATE OR REPLACE FUNCTION app_private.admin_create_user(actor_id uuid, actor_role text, actor_session_id uuid, email public.citext, display_name text, role app_public.user_role, password_hash text)
 RETURNS app_public.users
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if not app_private.is_acting_admin(actor_id, actor_role)
     or not exists (
       select 1
       from app_private.refresh_tokens as t
       where t.family_id = admin_create_user.actor_session_id
         and t.user_id = admin_create_user.actor_id
         and t.revoked_at is null
         and t.rotated_at is null
         and t.expires_at > app_private.auth_now()
     ) then
    raise exception using errcode = 'TKFBD', message = 'Only an admin can create users';
  end if;
  -- The audit trigger on users reads the actor from this setting.
  perform set_config('jwt.claims.user_id', actor_id::text, true);
  return app_private.create_user_account(email, display_name, role, password_hash);
end;
$function$;
grant execute on function app_private.admin_create_user(uuid,text,uuid,public.citext,text,app_public.user_role,text) to ticketing_authenticator;
comment on function app_private.admin_create_user(uuid,text,uuid,public.citext,text,app_public.user_role,text) is 'createUser: an active admin (actor_id, with the token role actor_role) in a live session actor_session_id (the token''s sid) creates a user of any role. Raises TKFBD for anyone else or without a live session of the admin, TKEML when the email is taken, 23514 when the input breaks a rule.';

CREATE OR REPLACE FUNCTION app_private.announce_realtime_event(event app_private.realtime_events)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  event_id bigint;
begin
  insert into app_private.realtime_events (
    kind, ticket_id, comment_id, attachment_id, customer_id, previous_customer_id,
    agent_id, previous_agent_id, organization_id, in_open_pool, user_id
  ) values (
    event.kind, event.ticket_id, event.comment_id, event.attachment_id, event.customer_id, event.previous_customer_id,
    event.agent_id, event.previous_agent_id, event.organization_id, coalesce(event.in_open_pool, false), event.user_id
  )
  returning id into event_id;

  perform pg_notify('ticketing_events', event_id::text);

  if event_id % 256 = 0 then
    perform app_private.prune_realtime_events();
  end if;
end;
$function$;
comment on function app_private.announce_realtime_event(app_private.realtime_events) is 'Records a realtime event (id and occurred_at assigned here, the organization and attachment included) and notifies its id on ticketing_events; prunes old events every 256th call.';

CREATE OR REPLACE FUNCTION app_private.announce_sight_changed(user_ids uuid[])
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  person uuid;
  event app_private.realtime_events;
begin
  foreach person in array array(select distinct u from unnest(user_ids) as u where u is not null) loop
    event := null;
    event.kind := 'sight_changed';
    event.user_id := person;
    perform app_private.announce_realtime_event(event);
  end loop;
end;
$function$;
comment on function app_private.announce_sight_changed(uuid[]) is 'Records a sight_changed user event for each of the users (once each): their organizations or ticket participations changed, so the API reads their realtime routes again.';

CREATE OR REPLACE FUNCTION app_private.assert_admin_remains(target_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  -- Locks every active admin row, so two admins demoting each other at the
  -- same time cannot both succeed.
  perform 1
  from app_public.users as u
  where u.role = 'admin'
    and u.is_active
  for update;
  if not exists (
    select 1
    from app_public.users as u
    where u.role = 'admin'
      and u.is_active
      and u.id <> target_id
  ) then
    raise exception using errcode = 'TKVAL', message = 'At least one active admin must remain';
  end if;
end;
$function$;
comment on function app_private.assert_admin_remains(uuid) is 'Raises TKVAL when demoting or deactivating target_id would leave no active admin.';

CREATE OR REPLACE FUNCTION app_private.attachment_keys_in_use(keys text[])
 RETURNS SETOF text
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select a.storage_key
  from app_public.attachments as a
  where a.storage_key = any (keys)
    and a.state <> 'rejected';
$function$;
comment on function app_private.attachment_keys_in_use(text[]) is 'Of the given storage keys, those whose files must stay (a pending or ready attachment). The clean-up job removes the other files it finds in storage.';

CREATE OR REPLACE FUNCTION app_private.attachment_retention(OUT abandoned_after interval, OUT rejected_retention interval)
 RETURNS record
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- Upload URLs live 15 minutes: an upload still pending an hour later was
  -- abandoned. Rejected rows stay as long as the longest quota window, so
  -- that they keep counting against their uploader's quota.
  select interval '1 hour', interval '7 days';
$function$;
comment on function app_private.attachment_retention() is 'How long attachments wait before clean-up: pending ones are rejected as abandoned after abandoned_after; rejected rows are deleted after rejected_retention (the longest quota window).';

CREATE OR REPLACE FUNCTION app_private.attachment_to_verify(user_id uuid, attachment_id uuid)
 RETURNS TABLE(storage_key text, size bigint, sha256 text, content_type text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  found_state app_public.attachment_state;
begin
  select a.storage_key, a.size, a.sha256, a.content_type, a.state
  into storage_key, size, sha256, content_type, found_state
  from app_public.attachments as a
  join app_public.users as u on u.id = a.uploader_id and u.is_active
  where a.id = attachment_to_verify.attachment_id
    and a.uploader_id = attachment_to_verify.user_id;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No such upload of yours';
  end if;
  if found_state <> 'pending' then
    raise exception using errcode = 'TKINV', message = 'This upload was already completed';
  end if;
  return next;
end;
$function$;
grant execute on function app_private.attachment_to_verify(uuid,uuid) to ticketing_authenticator;
comment on function app_private.attachment_to_verify(uuid,uuid) is 'For completeAttachmentUpload: where the bytes of the pending attachment of user_id are and what was declared for them. TKNTF when it is not an upload of that (active) user, TKINV when it is no longer pending.';

CREATE OR REPLACE FUNCTION app_private.auth_now()
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select now() + coalesce((select c.offset_by from app_private.auth_clock as c), interval '0');
$function$;
comment on function app_private.auth_now() is 'The current time as the authentication rules see it: now() plus the auth_clock offset (zero outside tests).';

CREATE OR REPLACE FUNCTION app_private.begin_login(email text, ip inet, OUT attempt_id uuid, OUT password_salt text, OUT hash_length integer)
 RETURNS record
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  typed_email citext := app_private.normalized_input(left(begin_login.email, 1000), 320);
  lifts_at timestamptz;
  account_user_id uuid;
  account_hash text;
begin
  -- Serialise the attempts of one address, then of one email: the count and
  -- the reservation below cannot be overtaken by a concurrent attempt.
  perform pg_advisory_xact_lock(hashtextextended('login-address:' || coalesce(host(begin_login.ip), 'unknown'), 0));
  lifts_at := app_private.address_login_limit_reached(begin_login.ip);
  if lifts_at is not null then
    perform app_private.raise_rate_limited('Too many login attempts from this address; try again later', lifts_at);
  end if;

  perform pg_advisory_xact_lock(hashtextextended('login-email:' || lower(typed_email::text), 0));
  lifts_at := app_private.email_login_limit_reached(typed_email);
  if lifts_at is not null then
    perform app_private.raise_rate_limited('Too many login attempts for this account; try again later', lifts_at);
  end if;

  select a.user_id, a.password_hash into account_user_id, account_hash
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.email = typed_email
    and u.is_active
    and a.password_hash is not null
    and a.email_verified_at is not null;

  insert into app_private.login_attempts (email, user_id, ip, success, reason, purpose)
  values (left(typed_email::text, 320), account_user_id, begin_login.ip, false, 'pending', 'login')
  returning id into attempt_id;

  select s.salt, s.hash_length into password_salt, hash_length
  from app_private.password_salt(account_hash) as s;
end;
$function$;
grant execute on function app_private.begin_login(text,inet) to ticketing_authenticator;
comment on function app_private.begin_login(text,inet) is 'Step 1 of login, before any hashing: refuses (TKRAT, with a retry hint) when the address or the email reached its limit, otherwise reserves the attempt (pending) and returns its id with the salt and parameters of the account''s hash (null when no active, verified account with a password has the email: an unverified account fails like an unknown email). Never returns the hash.';

CREATE OR REPLACE FUNCTION app_private.begin_password_check(user_id uuid, ip inet, OUT attempt_id uuid, OUT email text, OUT password_salt text, OUT hash_length integer)
 RETURNS record
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  account app_private.user_accounts;
begin
  perform app_private.take_address_quota('password_change', begin_password_check.ip);

  select a.* into account
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.user_id = begin_password_check.user_id
    and u.is_active
    and a.password_hash is not null;
  if not found then
    raise exception using errcode = 'TKFBD', message = 'No active user with a password has this id';
  end if;

  insert into app_private.login_attempts (email, user_id, ip, success, reason, purpose)
  values (account.email, account.user_id, begin_password_check.ip, false, 'pending', 'password_change')
  returning id into attempt_id;

  email := account.email;
  select s.salt, s.hash_length into password_salt, hash_length
  from app_private.password_salt(account.password_hash) as s;
end;
$function$;
grant execute on function app_private.begin_password_check(uuid,inet) to ticketing_authenticator;
comment on function app_private.begin_password_check(uuid,inet) is 'Step 1 of changePassword, before any hashing: counts the call against the ''password_change'' limit of ip (TKRAT beyond it), reserves a check of the user''s current password and returns its id, the email (for the password policy) and the salt and parameters of the hash (never the hash). TKFBD for an inactive user or one without a password.';

CREATE OR REPLACE FUNCTION app_private.begin_password_reset(token_digest bytea, ip inet, OUT email text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  link app_private.email_tokens;
begin
  perform app_private.take_address_quota('password_reset', begin_password_reset.ip);
  link := app_private.valid_email_token('password_reset', begin_password_reset.token_digest);
  if link.id is null then
    raise exception using errcode = 'TKTOK', message = 'Invalid or expired link';
  end if;
  email := link.email::text;
end;
$function$;
grant execute on function app_private.begin_password_reset(bytea,inet) to ticketing_authenticator;
comment on function app_private.begin_password_reset(bytea,inet) is 'Step 1 of resetPassword, before any hashing: counts the call against the ''password_reset'' limit of ip (TKRAT beyond it) and checks the link (TKTOK when unknown, used or expired); returns the account''s email, for the password policy.';

CREATE OR REPLACE FUNCTION app_private.build_business_time(calendar_ids uuid[], from_at timestamp with time zone DEFAULT NULL::timestamp with time zone, to_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  horizon_from timestamptz := coalesce(from_at, date_trunc('day', now()) - interval '400 days');
  horizon_to timestamptz := coalesce(to_at, date_trunc('day', now()) + interval '800 days');
begin
  -- One builder per calendar at a time (an edit and the job).
  perform 1 from app_public.business_calendars as c where c.id = any (calendar_ids) order by c.id for no key update;
  delete from app_private.business_time_totals as s where s.calendar_id = any (calendar_ids);
  delete from app_private.business_time_horizons as h where h.calendar_id = any (calendar_ids);
  insert into app_private.business_time_horizons (calendar_id, from_at, to_at)
  select c.id, horizon_from, horizon_to
  from app_public.business_calendars as c
  where c.id = any (calendar_ids);
  insert into app_private.business_time_totals (calendar_id, starts_at, ends_at, seconds_before, seconds_after)
  select c.id, lower(r), upper(r),
    sum(extract(epoch from upper(r) - lower(r))) over w - extract(epoch from upper(r) - lower(r)),
    sum(extract(epoch from upper(r) - lower(r))) over w
  from app_public.business_calendars as c
  cross join lateral unnest(app_private.business_spans(c.id, horizon_from, horizon_to)) as r
  where c.id = any (calendar_ids)
  window w as (partition by c.id order by lower(r));
end;
$function$;
comment on function app_private.build_business_time(uuid[],timestamp with time zone,timestamp with time zone) is 'Materializes the business time of the calendars over [from_at, to_at] (default: 400 days before today to 800 days after) with running totals, replacing what was there.';

CREATE OR REPLACE FUNCTION app_private.business_instant_at(calendar_id uuid, seconds numeric)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
BEGIN ATOMIC
 SELECT (s.starts_at + make_interval(secs => ((business_instant_at.seconds - s.seconds_before))::double precision))
    FROM app_private.business_time_totals s
   WHERE ((s.calendar_id = business_instant_at.calendar_id) AND (s.seconds_after >= business_instant_at.seconds))
   ORDER BY s.seconds_after
  LIMIT 1;
END;
comment on function app_private.business_instant_at(uuid,numeric) is 'The first instant at which the calendar''s running total of business seconds (from its horizon''s start) reaches seconds (one index probe); null beyond the horizon.';

CREATE OR REPLACE FUNCTION app_private.business_minutes_between(calendar_id uuid, from_at timestamp with time zone, to_at timestamp with time zone)
 RETURNS numeric
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  seconds_from numeric := app_private.business_seconds_at(calendar_id, from_at);
  seconds_to numeric := app_private.business_seconds_at(calendar_id, to_at);
begin
  if seconds_from is not null and seconds_to is not null then
    -- Inside the materialized horizon: two index probes.
    return trim_scale((seconds_to - seconds_from) / 60);
  end if;
  return app_private.business_minutes_computed(calendar_id, from_at, to_at);
end;
$function$;
grant execute on function app_private.business_minutes_between(uuid,timestamp with time zone,timestamp with time zone) to ticketing_admin;
grant execute on function app_private.business_minutes_between(uuid,timestamp with time zone,timestamp with time zone) to ticketing_agent;
grant execute on function app_private.business_minutes_between(uuid,timestamp with time zone,timestamp with time zone) to ticketing_customer;
comment on function app_private.business_minutes_between(uuid,timestamp with time zone,timestamp with time zone) is 'business_minutes_between without a bound on the span: for the SLA''s own computations (due times, elapsed time, at-risk flags), never for a caller''s question.';

CREATE OR REPLACE FUNCTION app_private.business_minutes_computed(calendar_id uuid, from_at timestamp with time zone, to_at timestamp with time zone)
 RETURNS numeric
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select case
    when from_at <= to_at then app_private.multirange_minutes(app_private.business_spans(calendar_id, from_at, to_at))
    else -app_private.multirange_minutes(app_private.business_spans(calendar_id, to_at, from_at))
  end;
$function$;
comment on function app_private.business_minutes_computed(uuid,timestamp with time zone,timestamp with time zone) is 'business_minutes_between computed on the fly from the calendar rows (outside the materialized horizon).';

CREATE OR REPLACE FUNCTION app_private.business_seconds_at(calendar_id uuid, at_time timestamp with time zone)
 RETURNS numeric
 LANGUAGE sql
 STABLE
BEGIN ATOMIC
 SELECT COALESCE(( SELECT (s.seconds_before + LEAST(EXTRACT(epoch FROM (business_seconds_at.at_time - s.starts_at)), (s.seconds_after - s.seconds_before)))
            FROM app_private.business_time_totals s
           WHERE ((s.calendar_id = h.calendar_id) AND (s.starts_at <= business_seconds_at.at_time))
           ORDER BY s.starts_at DESC
          LIMIT 1), (0)::numeric) AS "coalesce"
    FROM app_private.business_time_horizons h
   WHERE ((h.calendar_id = business_seconds_at.calendar_id) AND ((business_seconds_at.at_time >= h.from_at) AND (business_seconds_at.at_time <= h.to_at)));
END;
comment on function app_private.business_seconds_at(uuid,timestamp with time zone) is 'Business seconds of the calendar from its materialized horizon''s start to at_time (one index probe); null when at_time lies outside the horizon.';

CREATE OR REPLACE FUNCTION app_private.business_spans(calendar_id uuid, from_at timestamp with time zone, to_at timestamp with time zone)
 RETURNS tstzmultirange
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  zone text;
  first_day date;
  last_day date;
  local_open tsmultirange;
  closures tsmultirange;
  spans tstzmultirange;
  bounds timestamptz[];
  offsets interval[];
  sample_at timestamptz;
  sample_offset interval;
  next_at timestamptz;
  next_offset interval;
  low_at timestamptz;
  high_at timestamptz;
  middle_at timestamptz;
begin
  if from_at is null or to_at is null or from_at >= to_at then
    return '{}'::tstzmultirange;
  end if;
  if not isfinite(from_at) or not isfinite(to_at) then
    raise exception using errcode = 'TKVAL', message = 'Business time is counted between finite instants';
  end if;

  select c.time_zone into zone from app_public.business_calendars as c where c.id = business_spans.calendar_id;
  if zone is null then
    raise exception using errcode = 'TKNTF', message = 'Calendar not found';
  end if;

  -- Local dates that can hold an opening interval reaching [from_at, to_at).
  first_day := (from_at at time zone zone)::date - 2;
  last_day := (to_at at time zone zone)::date + 1;

  -- Opening intervals as local wall-clock ranges, each from the version in
  -- force on the local date it starts.
  select coalesce(range_agg(tsrange(
      d.day + h.starts_at,
      case when h.ends_at > h.starts_at then d.day + h.ends_at else d.day + 1 + h.ends_at end
    )), '{}'::tsmultirange)
  into local_open
  from (
    select g::date as day
    from generate_series(first_day::timestamp, last_day::timestamp, interval '1 day') as g
  ) as d
  cross join lateral (
    select v.id
    from app_public.business_calendar_versions as v
    where v.calendar_id = business_spans.calendar_id
      and v.effective_from <= d.day
    order by v.effective_from desc
    limit 1
  ) as v
  join app_public.business_calendar_hours as h
    on h.version_id = v.id
   and h.weekday = extract(isodow from d.day);

  select coalesce(range_agg(tsrange(
      ho.holiday_date + coalesce(ho.starts_at, time '00:00'),
      ho.holiday_date + coalesce(ho.ends_at, time '24:00')
    )), '{}'::tsmultirange)
  into closures
  from app_public.business_calendar_holidays as ho
  where ho.calendar_id = business_spans.calendar_id
    and ho.holiday_date between first_day and last_day + 1;

  local_open := local_open - closures;

  -- Stretches of constant UTC offset covering [from_at, to_at): the offset
  -- sampled every 24 hours, each change found to the minute by bisection.
  sample_at := from_at;
  sample_offset := app_private.utc_offset_at(zone, from_at);
  bounds := array[from_at];
  offsets := array[sample_offset];
  while sample_at < to_at loop
    next_at := least(sample_at + interval '24 hours', to_at);
    next_offset := app_private.utc_offset_at(zone, next_at);
    if next_offset <> sample_offset then
      -- The first whole minute after sample_at with the new offset.
      low_at := date_trunc('minute', sample_at);
      high_at := date_trunc('minute', next_at) + case when next_at > date_trunc('minute', next_at) then interval '1 minute' else interval '0' end;
      while high_at - low_at > interval '1 minute' loop
        middle_at := low_at + date_trunc('minute', (high_at - low_at) / 2);
        if app_private.utc_offset_at(zone, middle_at) = next_offset then
          high_at := middle_at;
        else
          low_at := middle_at;
        end if;
      end loop;
      if high_at > from_at and high_at < to_at then
        bounds := bounds || high_at;
        offsets := offsets || next_offset;
      end if;
    end if;
    sample_at := next_at;
    sample_offset := next_offset;
  end loop;
  bounds := bounds || to_at;

  with pieces as (
    select b.piece_from, b.piece_to, o.utc_offset
    from unnest(bounds[1:cardinality(bounds) - 1], bounds[2:]) with ordinality as b (piece_from, piece_to, n)
    join unnest(offsets) with ordinality as o (utc_offset, n) using (n)
  ),
  mapped as (
    select
      greatest(p.piece_from, (lower(r) - p.utc_offset) at time zone 'UTC') as lo,
      least(p.piece_to, (upper(r) - p.utc_offset) at time zone 'UTC') as hi
    from pieces as p
    cross join unnest(local_open) as r
  )
  select coalesce(range_agg(tstzrange(lo, hi)), '{}'::tstzmultirange)
  into spans
  from mapped
  where lo < hi;

  return spans;
end;
$function$;
comment on function app_private.business_spans(uuid,timestamp with time zone,timestamp with time zone) is 'The business time of a calendar within [from_at, to_at), as UTC ranges: opening intervals (of the version in force on each local date) minus holiday closures, mapped from local wall-clock time to instants across time zone transitions.';

CREATE OR REPLACE FUNCTION app_private.change_password(attempt_id uuid, new_hash text, keep_session_id uuid)
 RETURNS app_public.users
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  attempt app_private.login_attempts;
  account_user app_public.users;
begin
  select l.* into attempt
  from app_private.login_attempts as l
  where l.id = change_password.attempt_id
    and l.purpose = 'password_change'
    and l.reason = 'success'
    and l.decided_xact = pg_current_xact_id()
    and l.consumed_at is null
  for update;
  if not found then
    raise exception using errcode = 'TKFBD', message = 'The current password must be proven in the same transaction';
  end if;

  select u.* into account_user
  from app_public.users as u
  where u.id = attempt.user_id
    and u.is_active;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No active user with this id';
  end if;

  update app_private.user_accounts as a
  set password_hash = change_password.new_hash,
      failed_login_count = 0,
      locked_until = null
  where a.user_id = attempt.user_id;

  update app_private.login_attempts as l
  set consumed_at = app_private.auth_now()
  where l.id = attempt.id;

  perform app_private.revoke_user_sessions(attempt.user_id, 'password_change', keep_session_id);
  return account_user;
end;
$function$;
grant execute on function app_private.change_password(uuid,text,uuid) to ticketing_authenticator;
comment on function app_private.change_password(uuid,text,uuid) is 'Step 3 of changePassword: stores a new argon2id hash (computed by the API) for the user of a successful password check (finish_login) in this same transaction, not used before, and revokes every other session of the user; keep_session_id (the caller''s session) stays valid.';

CREATE OR REPLACE FUNCTION app_private.create_status_history_partitions(months_ahead integer DEFAULT 3)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select app_private.create_status_history_partitions_from((now() at time zone 'UTC')::date, months_ahead);
$function$;
comment on function app_private.create_status_history_partitions(integer) is 'Maintenance (run as ticketing_owner, e.g. monthly from cron): creates the monthly partitions of ticket_status_history from the current UTC month up to months_ahead months ahead; returns how many it created. Idempotent. See create_status_history_partitions_from for earlier months.';

CREATE OR REPLACE FUNCTION app_private.create_status_history_partitions_from(first_month date, months_ahead integer DEFAULT 3)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  this_month timestamp := date_trunc('month', now() at time zone 'UTC');
  month_local timestamp := date_trunc('month', first_month::timestamp);
  last_month timestamp;
  month_start timestamptz;
  month_end timestamptz;
  partition_name text;
  created integer := 0;
begin
  if months_ahead is null or months_ahead < 0 or months_ahead > 120 then
    raise exception using errcode = 'TKVAL', message = 'months_ahead must be between 0 and 120';
  end if;
  if first_month is null or month_local > this_month or month_local < this_month - interval '100 years' then
    raise exception using errcode = 'TKVAL', message = 'first_month must be a month of the last 100 years, up to the current one';
  end if;
  last_month := this_month + make_interval(months => months_ahead);

  while month_local <= last_month loop
    month_start := month_local at time zone 'UTC';
    month_end := (month_local + interval '1 month') at time zone 'UTC';
    partition_name := 'ticket_status_history_p' || to_char(month_local, 'YYYYMM');
    month_local := month_local + interval '1 month';

    continue when to_regclass('app_private.' || partition_name) is not null;

    -- Rows already in the default partition for this month cannot be moved
    -- (history is append-only), so that month stays in the default partition.
    if exists (
      select 1
      from app_private.ticket_status_history_default
      where changed_at >= month_start and changed_at < month_end
    ) then
      raise notice 'ticket_status_history: rows for % are in the default partition; partition % not created',
        to_char(month_start at time zone 'UTC', 'YYYY-MM'), partition_name;
      continue;
    end if;

    execute format(
      'create table app_private.%I partition of app_public.ticket_status_history for values from (%L) to (%L)',
      partition_name, month_start, month_end
    );
    execute format(
      'comment on table app_private.%I is %L',
      partition_name,
      'Monthly partition of ticket_status_history (' || to_char(month_start at time zone 'UTC', 'YYYY-MM') || ', UTC).'
    );
    perform app_private.protect_status_history_partition(partition_name);
    created := created + 1;
  end loop;

  return created;
end;
$function$;
comment on function app_private.create_status_history_partitions_from(date,integer) is 'Maintenance and bulk loads (run as ticketing_owner): creates the monthly partitions of ticket_status_history from the UTC month of first_month (at most 100 years back, not after the current month) up to months_ahead months after the current UTC month; a month whose rows already sit in the default partition is left there. Returns how many it created. Idempotent.';

CREATE OR REPLACE FUNCTION app_private.create_user_account(email public.citext, display_name text, role app_public.user_role, password_hash text)
 RETURNS app_public.users
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  created app_public.users;
begin
  if exists (select 1 from app_private.user_accounts as a where a.email = create_user_account.email) then
    raise exception using errcode = 'TKEML', message = 'This email is already registered';
  end if;

  insert into app_public.users (display_name, role)
  values (btrim(create_user_account.display_name), create_user_account.role)
  returning * into created;

  insert into app_private.user_accounts (user_id, email, password_hash)
  values (created.id, create_user_account.email, create_user_account.password_hash);
  return created;
exception
  -- Two registrations of one email at the same moment: the unique index decides.
  when unique_violation then
    raise exception using errcode = 'TKEML', message = 'This email is already registered';
end;
$function$;
comment on function app_private.create_user_account(public.citext,text,app_public.user_role,text) is 'Creates a user and their account with an argon2id hash computed by the caller. Raises TKEML when the email is taken. Owner only (the user:create command); the API goes through register_customer or admin_create_user.';

CREATE OR REPLACE FUNCTION app_private.current_user_id()
 RETURNS uuid
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select u.id
  from app_public.users as u
  where u.id = app_private.jwt_user_id()
    and u.is_active;
$function$;
comment on function app_private.current_user_id() is 'Id of the requesting user if their users row exists and is active, else null. Security definer so it can read users whatever the caller''s policies are.';

CREATE OR REPLACE FUNCTION app_private.current_user_role()
 RETURNS app_public.user_role
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  -- The Postgres role the request runs as (set by the API from the token) must
  -- match the role stored in the users row; a stale token of a demoted user
  -- yields null, i.e. no rights at all.
  select u.role
  from app_public.users as u
  where u.id = app_private.jwt_user_id()
    and u.is_active
    and current_setting('role') = 'ticketing_' || u.role::text;
$function$;
grant execute on function app_private.current_user_role() to ticketing_admin;
grant execute on function app_private.current_user_role() to ticketing_agent;
grant execute on function app_private.current_user_role() to ticketing_customer;
comment on function app_private.current_user_role() is 'Role of the requesting user from their users row, null when anonymous, inactive, or when the Postgres role of the request does not match the stored role (stale token after a role change).';

CREATE OR REPLACE FUNCTION app_private.customer_cc_ticket_ids()
 RETURNS uuid[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(array_agg(p.ticket_id order by p.ticket_id), '{}')
  from app_public.ticket_participants as p
  where p.user_id = app_private.acting_user_id('customer')
    and p.kind = 'cc'
    and p.removed_at is null;
$function$;
grant execute on function app_private.customer_cc_ticket_ids() to ticketing_admin;
grant execute on function app_private.customer_cc_ticket_ids() to ticketing_agent;
grant execute on function app_private.customer_cc_ticket_ids() to ticketing_customer;
comment on function app_private.customer_cc_ticket_ids() is 'Policy helper: the tickets the requesting customer is copied in on (cc); empty for anyone else.';

CREATE OR REPLACE FUNCTION app_private.customer_colleague_ids()
 RETURNS uuid[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(array_agg(distinct m.user_id), '{}')
  from app_public.organization_memberships as m
  where m.organization_id = any (app_private.customer_organization_ids())
    and m.removed_at is null;
$function$;
grant execute on function app_private.customer_colleague_ids() to ticketing_admin;
grant execute on function app_private.customer_colleague_ids() to ticketing_agent;
grant execute on function app_private.customer_colleague_ids() to ticketing_customer;
comment on function app_private.customer_colleague_ids() is 'Policy helper: the customers who share an active organization with the requesting customer (themselves included); empty for anyone else.';

CREATE OR REPLACE FUNCTION app_private.customer_managed_organization_ids()
 RETURNS uuid[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(array_agg(m.organization_id order by m.organization_id), '{}')
  from app_public.organization_memberships as m
  join app_public.organizations as o on o.id = m.organization_id
  where m.user_id = app_private.acting_user_id('customer')
    and m.removed_at is null
    and m.role = 'manager'
    and o.is_active;
$function$;
grant execute on function app_private.customer_managed_organization_ids() to ticketing_admin;
grant execute on function app_private.customer_managed_organization_ids() to ticketing_agent;
grant execute on function app_private.customer_managed_organization_ids() to ticketing_customer;
comment on function app_private.customer_managed_organization_ids() is 'Policy helper: the active organizations the requesting customer manages; empty for anyone else.';

CREATE OR REPLACE FUNCTION app_private.customer_organization_ids()
 RETURNS uuid[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(array_agg(m.organization_id order by m.organization_id), '{}')
  from app_public.organization_memberships as m
  join app_public.organizations as o on o.id = m.organization_id
  where m.user_id = app_private.acting_user_id('customer')
    and m.removed_at is null
    and o.is_active;
$function$;
grant execute on function app_private.customer_organization_ids() to ticketing_admin;
grant execute on function app_private.customer_organization_ids() to ticketing_agent;
grant execute on function app_private.customer_organization_ids() to ticketing_customer;
comment on function app_private.customer_organization_ids() is 'Policy helper: the active organizations the requesting customer belongs to (any role, any sight); empty for anyone else. Call it as (select …) so it runs once per statement.';

CREATE OR REPLACE FUNCTION app_private.customer_sighted_organization_ids()
 RETURNS uuid[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(array_agg(m.organization_id order by m.organization_id), '{}')
  from app_public.organization_memberships as m
  join app_public.organizations as o on o.id = m.organization_id
  where m.user_id = app_private.acting_user_id('customer')
    and m.removed_at is null
    and (m.sees_organization_tickets or m.role = 'manager')
    and o.is_active;
$function$;
grant execute on function app_private.customer_sighted_organization_ids() to ticketing_admin;
grant execute on function app_private.customer_sighted_organization_ids() to ticketing_agent;
grant execute on function app_private.customer_sighted_organization_ids() to ticketing_customer;
comment on function app_private.customer_sighted_organization_ids() is 'Policy helper: the active organizations whose tickets the requesting customer sees (their membership shares sight, or they manage it); empty for anyone else. Removing the membership or deactivating the organization takes it out at once.';

CREATE OR REPLACE FUNCTION app_private.customer_writes_on(ticket_id uuid)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select exists (
    select 1
    from app_public.tickets as t
    where t.id = customer_writes_on.ticket_id
      and (
        t.customer_id = app_private.acting_user_id('customer')
        or t.organization_id = any (app_private.customer_managed_organization_ids())
        or t.id = any (app_private.customer_cc_ticket_ids())
      )
  );
$function$;
grant execute on function app_private.customer_writes_on(uuid) to ticketing_admin;
grant execute on function app_private.customer_writes_on(uuid) to ticketing_agent;
grant execute on function app_private.customer_writes_on(uuid) to ticketing_customer;
comment on function app_private.customer_writes_on(uuid) is 'Policy helper for writes: whether the requesting customer may write on the ticket (requester, manager of its active organization, or cc); false for anyone else.';

CREATE OR REPLACE FUNCTION app_private.decide_attempt(attempt_id uuid, presented_hash text, upgraded_hash text)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  policy record;
  attempt app_private.login_attempts;
  account app_private.user_accounts;
  password_ok boolean;
  result text;
  recent_failures integer;
begin
  select * into policy from app_private.login_policy();

  -- A reservation is good for five minutes, once.
  select l.* into attempt
  from app_private.login_attempts as l
  where l.id = decide_attempt.attempt_id
    and l.reason = 'pending'
    and l.attempted_at > app_private.auth_now() - interval '5 minutes'
  for update;
  if not found then
    return 'invalid_credentials';
  end if;

  if attempt.user_id is not null then
    -- Row lock: concurrent attempts on one account count one after the other.
    select a.* into account
    from app_private.user_accounts as a
    where a.user_id = attempt.user_id
    for update;
  end if;

  password_ok := account.password_hash is not null and decide_attempt.presented_hash = account.password_hash;

  if account.user_id is null then
    result := 'invalid_credentials';
  elsif account.locked_until > app_private.auth_now() then
    result := 'locked';
  elsif password_ok then
    result := 'success';
  else
    result := 'invalid_credentials';
  end if;

  update app_private.login_attempts as l
  set success = (result = 'success'),
      reason = result,
      decided_xact = case when result = 'success' then pg_current_xact_id() end
  where l.id = attempt.id;

  if result = 'success' then
    update app_private.user_accounts as a
    set failed_login_count = 0,
        locked_until = null,
        last_login_at = app_private.auth_now(),
        -- Parameters were raised since this hash was made: the API computed a
        -- new one from the password just proven.
        password_hash = case
          when decide_attempt.upgraded_hash like '$argon2id$%' then decide_attempt.upgraded_hash
          else a.password_hash
        end
    where a.user_id = account.user_id;
  elsif result = 'invalid_credentials' and account.user_id is not null then
    select count(*) into recent_failures
    from app_private.login_attempts as l
    where l.user_id = account.user_id
      and l.reason = 'invalid_credentials'
      and l.attempted_at > greatest(
        app_private.auth_now() - policy.failure_window,
        coalesce(account.last_login_at, '-infinity'),
        coalesce(account.locked_until, '-infinity')
      );
    update app_private.user_accounts as a
    set failed_login_count = a.failed_login_count + 1,
        locked_until = case
          when recent_failures >= policy.max_failures then app_private.auth_now() + policy.lock_duration
          else a.locked_until
        end
    where a.user_id = account.user_id;
  end if;

  -- A wrong password never learns whether the account is locked.
  if result = 'locked' and not password_ok then
    return 'invalid_credentials';
  end if;
  return result;
end;
$function$;
comment on function app_private.decide_attempt(uuid,text,text) is 'Decides a pending attempt: success only when presented_hash (argon2id of the typed password with the stored salt, computed by the API) equals the stored hash and the account is not locked; applies the lockout rule (login_policy), clears it on success and stores upgraded_hash if given. Returns success, invalid_credentials or locked (locked only for the right password). Internal: reached through finish_login.';

CREATE OR REPLACE FUNCTION app_private.default_business_calendar_id()
 RETURNS uuid
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$ select '00000000-0000-7000-8000-000000002407'::uuid $function$;
comment on function app_private.default_business_calendar_id() is 'The id of the 24x7 calendar, the default of every SLA policy.';

CREATE OR REPLACE FUNCTION app_private.email_login_limit_reached(email public.citext)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  rule app_private.address_rate_limits;
  oldest_counted timestamptz;
begin
  select l.* into strict rule from app_private.address_rate_limits as l where l.action = 'login_email';
  select l.attempted_at into oldest_counted
  from app_private.login_attempts as l
  where l.email = email_login_limit_reached.email
    and l.attempted_at > app_private.auth_now() - rule.per_interval
    and l.reason in ('pending', 'invalid_credentials', 'locked')
    and l.purpose = 'login'
  order by l.attempted_at desc
  offset rule.max_count - 1
  limit 1;
  return case when found then oldest_counted + rule.per_interval end;
end;
$function$;
comment on function app_private.email_login_limit_reached(public.citext) is 'When the ''login_email'' limit of the email is reached (unresolved or failed attempts, from any address): the time it lifts; null otherwise. Known and unknown emails are counted alike.';

CREATE OR REPLACE FUNCTION app_private.email_token_policy(OUT reset_lifetime interval, OUT verification_lifetime interval, OUT per_account_max integer, OUT per_account_window interval)
 RETURNS record
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select interval '30 minutes', interval '7 days', 3, interval '1 hour';
$function$;
comment on function app_private.email_token_policy() is 'One-time mail links, in one place: a password reset link lives reset_lifetime, a verification link verification_lifetime; at most per_account_max links of one kind are sent to one account within per_account_window (more requests are answered the same and send nothing). Replace this function in a migration to change them.';

CREATE OR REPLACE FUNCTION app_private.event_log_policy(OUT retention interval)
 RETURNS interval
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select interval '7 days';
$function$;
comment on function app_private.event_log_policy() is 'How long the event log (app_private.realtime_events) is kept: retention. Replace this function in a migration to change it.';

CREATE OR REPLACE FUNCTION app_private.extend_business_time()
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  stale uuid[];
begin
  -- Calendars whose horizon ends within 400 days (or that have none yet).
  select array_agg(c.id) into stale
  from app_public.business_calendars as c
  left join app_private.business_time_horizons as h on h.calendar_id = c.id
  where h.to_at is null or h.to_at < now() + interval '400 days';
  if stale is null then
    return 0;
  end if;
  perform app_private.build_business_time(stale);
  return cardinality(stale);
end;
$function$;
comment on function app_private.extend_business_time() is 'Rebuilds the materialized business time of every calendar whose horizon ends within 400 days, or that has none; returns how many. Called by the sla_clock job.';

CREATE OR REPLACE FUNCTION app_private.finish_attachment_upload(user_id uuid, attachment_id uuid, rejection_reason text)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  update app_public.attachments as a
  set state = case when finish_attachment_upload.rejection_reason is null then 'ready' else 'rejected' end::app_public.attachment_state,
      rejection_reason = finish_attachment_upload.rejection_reason,
      completed_at = now()
  where a.id = finish_attachment_upload.attachment_id
    and a.uploader_id = finish_attachment_upload.user_id
    and a.state = 'pending';
  if not found then
    raise exception using errcode = 'TKINV', message = 'This upload was already completed';
  end if;
  return attachment_id;
end;
$function$;
grant execute on function app_private.finish_attachment_upload(uuid,uuid,text) to ticketing_authenticator;
comment on function app_private.finish_attachment_upload(uuid,uuid,text) is 'For completeAttachmentUpload, after the API read the stored bytes: marks the pending attachment of user_id ready (rejection_reason null) or rejected with the reason. TKINV when it is no longer pending (completed twice at once).';

CREATE OR REPLACE FUNCTION app_private.finish_login(attempt_id uuid, presented_hash text, upgraded_hash text DEFAULT NULL::text)
 RETURNS text
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select app_private.decide_attempt(finish_login.attempt_id, finish_login.presented_hash, finish_login.upgraded_hash);
$function$;
grant execute on function app_private.finish_login(uuid,text,text) to ticketing_authenticator;
comment on function app_private.finish_login(uuid,text,text) is 'Step 2 of login and of changePassword''s password check: decides the reserved attempt from the hash the API computed (see decide_attempt). An unknown, decided or stale attempt is invalid_credentials.';

CREATE OR REPLACE FUNCTION app_private.housekeeping_policy(OUT login_attempt_retention interval, OUT refused_login_retention interval, OUT ended_session_retention interval, OUT rotated_token_retention interval, OUT rotated_tokens_per_session integer)
 RETURNS record
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select interval '7 days', interval '1 hour', interval '7 days', interval '7 days', 1000;
$function$;
comment on function app_private.housekeeping_policy() is 'Retention of security rows, in one place: login attempts are kept login_attempt_retention (the lockout and per-address windows need minutes; the rest is for investigation), attempts refused by the rate limit (which count for nothing) refused_login_retention; a session (refresh-token family) that can no longer be used is deleted ended_session_retention after it ended; in a live session a rotated token is kept rotated_token_retention after its rotation and at most the newest rotated_tokens_per_session, for reuse detection. Replace this function in a migration to change them.';

CREATE OR REPLACE FUNCTION app_private.inbound_email_policy(OUT sender_max integer, OUT sender_window interval, OUT retention interval)
 RETURNS record
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select 30, interval '1 hour', interval '30 days';
$function$;
comment on function app_private.inbound_email_policy() is 'Inbound mail limits, in one place: once sender_max messages from one sender were logged within sender_window, further ones are ignored (and logged); the log is kept retention.';

CREATE OR REPLACE FUNCTION app_private.is_acting_admin(actor_id uuid, actor_role text)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  -- The token's role must still be the stored role: a demoted admin's token is refused.
  select exists (
    select 1
    from app_public.users as u
    where u.id = is_acting_admin.actor_id
      and u.is_active
      and u.role = 'admin'
      and is_acting_admin.actor_role = 'ticketing_admin'
  );
$function$;
grant execute on function app_private.is_acting_admin(uuid,text) to ticketing_authenticator;
comment on function app_private.is_acting_admin(uuid,text) is 'True when actor_id is an active admin and actor_role (the role claim of their token) is ticketing_admin. The API asks before it validates and hashes a createUser request.';

CREATE OR REPLACE FUNCTION app_private.is_active_agent(user_id uuid)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select exists (
    select 1
    from app_public.users as u
    where u.id = is_active_agent.user_id
      and u.role = 'agent'
      and u.is_active
  );
$function$;
comment on function app_private.is_active_agent(uuid) is 'True when user_id is an active user with role agent.';

CREATE OR REPLACE FUNCTION app_private.is_time_zone_name(zone text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select exists (select 1 from pg_catalog.pg_timezone_names as z where z.name = zone)
    and zone !~* '^(posix|right)/';
$function$;
grant execute on function app_private.is_time_zone_name(text) to ticketing_admin;
comment on function app_private.is_time_zone_name(text) is 'True when zone is an IANA time zone name the server knows (e.g. Europe/Berlin), not an abbreviation or POSIX rule.';

CREATE OR REPLACE FUNCTION app_private.jwt_user_id()
 RETURNS uuid
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- A malformed claim is treated as no claim rather than raising a cast error.
  select case
    when claim ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then claim::uuid
  end
  from (select nullif(current_setting('jwt.claims.user_id', true), '') as claim) as c;
$function$;
comment on function app_private.jwt_user_id() is 'The user id claimed by the request (jwt.claims.user_id), null when missing or not a UUID. Not proof of anything by itself: used for audit actors; access checks use current_user_id()/acting_user_id().';

CREATE OR REPLACE FUNCTION app_private.login_policy(OUT max_failures integer, OUT failure_window interval, OUT lock_duration interval, OUT ip_max_attempts integer, OUT ip_window interval, OUT refresh_token_lifetime interval)
 RETURNS record
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select 5, interval '15 minutes', interval '15 minutes', l.max_count, l.per_interval, interval '30 days'
  from app_private.address_rate_limits as l
  where l.action = 'login';
$function$;
comment on function app_private.login_policy() is 'The login rules in one place: lock an account for lock_duration after max_failures failed logins within failure_window; refresh tokens expire after refresh_token_lifetime. ip_max_attempts and ip_window are the ''login'' row of app_private.address_rate_limits.';

CREATE OR REPLACE FUNCTION app_private.mail_policy(OUT max_attempts integer, OUT first_retry interval, OUT max_retry interval, OUT retention interval)
 RETURNS record
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select 15, interval '10 seconds', interval '1 hour', interval '30 days';
$function$;
comment on function app_private.mail_policy() is 'Outbound mail policy, in one place: a mail is attempted at most max_attempts times; the n-th retry waits first_retry * 2^(n-1), at most max_retry; finished mails are kept retention. Replace this function in a migration to change them.';

CREATE OR REPLACE FUNCTION app_private.mail_to_send(mail_id uuid)
 RETURNS TABLE(id uuid, kind text, to_address text, subject text, text_body text, html_body text, params jsonb, ticket_id uuid, ticket_number bigint, attempts integer)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select m.id, m.kind, m.to_address, tpl.subject, tpl.text_body, tpl.html_body, m.params,
         m.ticket_id, t.number, m.attempts
  from app_private.outbound_mails as m
  join app_private.mail_templates as tpl on tpl.kind = m.kind
  left join app_public.tickets as t on t.id = m.ticket_id
  where m.id = mail_to_send.mail_id
    and m.status = 'pending';
$function$;
comment on function app_private.mail_to_send(uuid) is 'Worker: a pending mail with its template and parameters, and the number of its ticket; nothing once it is sent or given up.';

CREATE OR REPLACE FUNCTION app_private.make_append_only(target regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  is_partition boolean;
begin
  select c.relispartition into strict is_partition
  from pg_catalog.pg_class as c
  where c.oid = target;

  -- Row trigger: refuses UPDATE and DELETE, the owner's included. A partition
  -- has it already: row triggers of a partitioned table are cloned to every
  -- partition, present and future.
  if not is_partition and not exists (
    select from pg_catalog.pg_trigger as t
    where t.tgrelid = target and t.tgname = '_100_append_only'
  ) then
    execute format(
      'create trigger _100_append_only before update or delete on %s for each row execute function app_private.tg_forbid_change()',
      target
    );
  end if;

  -- Statement trigger for TRUNCATE, which is never cloned to partitions.
  if not exists (
    select from pg_catalog.pg_trigger as t
    where t.tgrelid = target and t.tgname = '_100_append_only_truncate'
  ) then
    execute format(
      'create trigger _100_append_only_truncate before truncate on %s for each statement execute function app_private.tg_forbid_change()',
      target
    );
  end if;

  -- Nobody is granted anything by default; the owner keeps INSERT (triggers
  -- that write the rows run as the owner) and SELECT, and gives up the rest.
  -- The triggers above still stop it after a re-grant.
  execute format('revoke all on %s from public', target);
  execute format('revoke update, delete, truncate on %s from ticketing_owner', target);
end;
$function$;
comment on function app_private.make_append_only(regclass) is 'Makes a table append-only: a trigger refusing UPDATE and DELETE (not repeated on partitions, which inherit it), one refusing TRUNCATE, nothing granted to PUBLIC, and UPDATE, DELETE and TRUNCATE revoked from the owner. Idempotent. Every new append-only table calls it (docs/conventions.md).';

CREATE OR REPLACE FUNCTION app_private.multirange_minutes(spans tstzmultirange)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- Exact: seconds (with microseconds) over 60, without trailing zeros.
  select trim_scale(coalesce(sum(extract(epoch from upper(r) - lower(r))), 0) / 60)
  from unnest(spans) as r;
$function$;
comment on function app_private.multirange_minutes(tstzmultirange) is 'Total length of finite UTC ranges, in minutes.';

CREATE OR REPLACE FUNCTION app_private.new_email_token(purpose text, user_id uuid, email public.citext)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  token text := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
  policy record;
begin
  select * into policy from app_private.email_token_policy();
  insert into app_private.email_tokens (purpose, user_id, email, token_digest, expires_at)
  values (
    new_email_token.purpose,
    new_email_token.user_id,
    new_email_token.email,
    sha256(convert_to(token, 'UTF8')),
    app_private.auth_now() + case when new_email_token.purpose = 'password_reset'
      then policy.reset_lifetime else policy.verification_lifetime end
  );
  return token;
end;
$function$;
comment on function app_private.new_email_token(text,uuid,public.citext) is 'Makes a one-time link token of purpose for an account and address; stores its digest and returns the token (64 hex digits, 244 random bits) for the mail.';

CREATE OR REPLACE FUNCTION app_private.normalized_input(value text, max_length integer)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- Four bytes per character is the most UTF-8 needs: longer input cannot fit
  -- once normalised either, and is left as it is for the constraints to refuse.
  select case
    when octet_length(value) > 4 * max_length + 64 then value
    else btrim(normalize(value, nfkc), ' ')
  end;
$function$;
comment on function app_private.normalized_input(text,integer) is 'NFKC-normalises a typed value and removes surrounding spaces, unless it is longer than 4 * max_length + 64 bytes (too long to be valid however normalised: returned unchanged, so the length check refuses it without work).';

CREATE OR REPLACE FUNCTION app_private.notify_ticket_event(ticket app_public.tickets, kind text, previous app_public.tickets DEFAULT NULL::app_public.tickets, comment_id uuid DEFAULT NULL::uuid, attachment_id uuid DEFAULT NULL::uuid)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  event app_private.realtime_events;
begin
  event.kind := kind;
  event.ticket_id := ticket.id;
  event.comment_id := comment_id;
  event.attachment_id := attachment_id;
  event.customer_id := ticket.customer_id;
  event.previous_customer_id := nullif(previous.customer_id, ticket.customer_id);
  event.agent_id := ticket.agent_id;
  event.previous_agent_id := nullif(previous.agent_id, ticket.agent_id);
  event.organization_id := ticket.organization_id;
  event.in_open_pool := (ticket.status = 'open' and ticket.agent_id is null)
    or coalesce(previous.status = 'open' and previous.agent_id is null, false);
  perform app_private.announce_realtime_event(event);
end;
$function$;
comment on function app_private.notify_ticket_event(app_public.tickets,text,app_public.tickets,uuid,uuid) is 'Records one realtime event of a ticket (kind, comment or attachment id, the customer and agent before and after, its organization, whether it is or was in the open pool; never content) and notifies its id on ticketing_events.';

CREATE OR REPLACE FUNCTION app_private.notify_user(kind text, recipient_id uuid, ticket app_public.tickets, params jsonb DEFAULT '{}'::jsonb, even_to_actor boolean DEFAULT false)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  recipient record;
begin
  if recipient_id is null or (not even_to_actor and recipient_id is not distinct from app_private.current_user_id()) then
    return;
  end if;
  select a.email, u.display_name into recipient
  from app_public.users as u
  join app_private.user_accounts as a on a.user_id = u.id
  where u.id = recipient_id
    and u.is_active
    and a.email_verified_at is not null
    and not exists (
      select from app_private.notification_preferences as p
      where p.user_id = u.id and p.kind = notify_user.kind and not p.enabled
    );
  if not found then
    return;
  end if;
  perform app_private.queue_mail(
    notify_user.kind,
    recipient.email::text,
    recipient_id,
    ticket.id,
    jsonb_build_object(
      'displayName', recipient.display_name,
      'number', ticket.number,
      'subject', ticket.subject,
      'priority', ticket.priority,
      'status', ticket.status
    ) || coalesce(params, '{}')
  );
end;
$function$;
comment on function app_private.notify_user(text,uuid,app_public.tickets,jsonb,boolean) is 'Queues a notification mail of kind about ticket to recipient_id, with the ticket''s number, subject, priority and status and params as template parameters; nothing when the recipient is inactive, unverified, turned the kind off, or is the acting user (unless even_to_actor: a receipt).';

CREATE OR REPLACE FUNCTION app_private.open_session(user_id uuid, token_digest bytea)
 RETURNS TABLE(session_id uuid, user_role app_public.user_role, refresh_expires_at timestamp with time zone, user_record app_public.users)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  account_user app_public.users;
  token_id uuid := app_private.uuid_generate_v7();
begin
  select u.* into account_user
  from app_public.users as u
  where u.id = open_session.user_id
    and u.is_active;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No active user with this id';
  end if;

  insert into app_private.refresh_tokens (id, user_id, family_id, token_digest, expires_at, session_started_at)
  values (
    token_id,
    account_user.id,
    token_id,
    open_session.token_digest,
    app_private.auth_now() + (app_private.login_policy()).refresh_token_lifetime,
    app_private.auth_now()
  )
  returning refresh_tokens.expires_at into refresh_expires_at;

  session_id := token_id;
  user_role := account_user.role;
  user_record := account_user;
  return next;
end;
$function$;
comment on function app_private.open_session(uuid,bytea) is 'Stores the first refresh token (by digest) of a new session and returns its claims and the user row. Internal: only start_session (after a proven login) and register_customer reach it.';

CREATE OR REPLACE FUNCTION app_private.password_salt(password_hash text, OUT salt text, OUT hash_length integer)
 RETURNS record
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- A PHC string: $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>; base64 without padding.
  select substring(password_hash from '^(.*)\$[^$]*$'),
         (char_length(substring(password_hash from '\$([^$]*)$')) * 3) / 4;
$function$;
comment on function app_private.password_salt(text) is 'Splits a PHC argon2 string into what recomputing it needs (everything up to the last $: algorithm, version, parameters, salt) and the length in bytes of the hash it ends with.';

CREATE OR REPLACE FUNCTION app_private.protect_status_history_partition(partition_name text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform app_private.make_append_only(format('app_private.%I', partition_name)::regclass);
  execute format('alter table app_private.%I enable row level security', partition_name);
end;
$function$;
comment on function app_private.protect_status_history_partition(text) is 'Makes a new partition of ticket_status_history append-only like its parent (app_private.make_append_only) with row-level security enabled.';

CREATE OR REPLACE FUNCTION app_private.prune_attachments()
 RETURNS SETOF text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  policy record := app_private.attachment_retention();
begin
  return query
  update app_public.attachments as a
  set state = 'rejected', rejection_reason = 'The upload was not completed in time', completed_at = now()
  where a.state = 'pending'
    and a.created_at < now() - policy.abandoned_after
  returning a.storage_key;

  return query
  delete from app_public.attachments as a
  where a.state = 'rejected'
    and a.created_at < now() - policy.rejected_retention
  returning a.storage_key;
end;
$function$;
comment on function app_private.prune_attachments() is 'Rejects pending attachments abandoned for attachment_retention().abandoned_after and deletes rejected rows older than rejected_retention; returns the storage keys of both, whose files the caller then removes.';

CREATE OR REPLACE FUNCTION app_private.prune_email_tokens(max_rows integer DEFAULT 10000)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  pruned integer;
begin
  -- Kept a day past expiry: the per-account limit counts recent links.
  delete from app_private.email_tokens as t
  where t.id in (
    select o.id
    from app_private.email_tokens as o
    where o.expires_at < app_private.auth_now() - interval '1 day'
    order by o.expires_at
    limit max_rows
  );
  get diagnostics pruned = row_count;
  return pruned;
end;
$function$;
comment on function app_private.prune_email_tokens(integer) is 'Housekeeping: deletes mail links expired more than a day ago, at most max_rows per call. Returns how many.';

CREATE OR REPLACE FUNCTION app_private.prune_inbound_emails(max_rows integer DEFAULT 10000)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  pruned integer;
begin
  delete from app_private.inbound_emails as e
  where e.id in (
    select o.id from app_private.inbound_emails as o
    where o.received_at < now() - (select p.retention from app_private.inbound_email_policy() as p)
    order by o.received_at
    limit max_rows
  );
  get diagnostics pruned = row_count;
  return pruned;
end;
$function$;
comment on function app_private.prune_inbound_emails(integer) is 'Housekeeping: deletes inbound log rows older than inbound_email_policy().retention, at most max_rows per call. Returns how many.';

CREATE OR REPLACE FUNCTION app_private.prune_outbound_mails(max_rows integer DEFAULT 10000)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  pruned integer;
begin
  delete from app_private.outbound_mails as m
  where m.id in (
    select o.id
    from app_private.outbound_mails as o
    where o.status <> 'pending'
      and o.created_at < now() - (select p.retention from app_private.mail_policy() as p)
    order by o.created_at
    limit max_rows
  );
  get diagnostics pruned = row_count;
  return pruned;
end;
$function$;
comment on function app_private.prune_outbound_mails(integer) is 'Housekeeping: deletes finished mails older than mail_policy().retention, at most max_rows per call. Returns how many.';

CREATE OR REPLACE FUNCTION app_private.prune_realtime_events(max_rows integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  with expired as (
    select e.id
    from app_private.realtime_events as e
    where e.occurred_at < clock_timestamp() - (select p.retention from app_private.event_log_policy() as p)
    order by e.occurred_at
    limit max_rows
    for update skip locked
  ), deleted as (
    delete from app_private.realtime_events as e
    using expired
    where e.id = expired.id
    returning 1
  )
  select count(*)::integer from deleted;
$function$;
comment on function app_private.prune_realtime_events(integer) is 'Deletes events older than event_log_policy().retention, at most max_rows of them (oldest first, skipping rows another pruner holds); returns how many.';

CREATE OR REPLACE FUNCTION app_private.prune_security_rows()
 RETURNS TABLE(table_name text, deleted_rows bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  policy record;
  cutoff timestamptz;
  deleted bigint;
begin
  -- One instance at a time: others skip this round (no rows returned).
  if not pg_try_advisory_xact_lock(hashtext('app_private.prune_security_rows')) then
    return;
  end if;
  select * into policy from app_private.housekeeping_policy();

  -- Login attempts: refused-by-rate-limit ones soon, the others later (two
  -- statements, so each is a range on the BRIN index).
  delete from app_private.login_attempts as l
  where l.attempted_at < app_private.auth_now() - policy.login_attempt_retention;
  get diagnostics deleted = row_count;
  deleted_rows := deleted;
  delete from app_private.login_attempts as l
  where l.attempted_at < app_private.auth_now() - policy.refused_login_retention
    and l.reason = 'rate_limited';
  get diagnostics deleted = row_count;
  table_name := 'app_private.login_attempts';
  deleted_rows := deleted_rows + deleted;
  return next;

  -- Ended sessions: no token of the family can be used any more (all revoked,
  -- rotated or expired) and it ended long enough ago. The whole family goes
  -- in one statement, so the replaced_by references never dangle.
  cutoff := app_private.auth_now() - policy.ended_session_retention;
  with ended as (
    select t.family_id
    from app_private.refresh_tokens as t
    group by t.family_id
    having not bool_or(t.revoked_at is null and t.rotated_at is null and t.expires_at > app_private.auth_now())
       and max(coalesce(t.revoked_at, t.expires_at)) < cutoff
  )
  delete from app_private.refresh_tokens as t
  using ended
  where t.family_id = ended.family_id;
  get diagnostics deleted = row_count;
  deleted_rows := deleted;

  -- Live sessions: rotated tokens serve reuse detection (presenting one again
  -- revokes the session). Kept for a while after rotation and at most the
  -- newest N per session; older ones are deleted oldest first, so a token's
  -- predecessor always goes with it. Presenting a deleted token is refused
  -- as unknown.
  with ranked as (
    select
      t.id,
      t.rotated_at,
      row_number() over (partition by t.family_id order by t.rotated_at desc, t.id desc) as newer
    from app_private.refresh_tokens as t
    where t.rotated_at is not null
      and t.revoked_at is null
  )
  delete from app_private.refresh_tokens as t
  using ranked
  where t.id = ranked.id
    and (
      ranked.rotated_at < app_private.auth_now() - policy.rotated_token_retention
      or ranked.newer > policy.rotated_tokens_per_session
    );
  get diagnostics deleted = row_count;
  table_name := 'app_private.refresh_tokens';
  deleted_rows := deleted_rows + deleted;
  return next;

  -- Counted writes older than the longest quota window count for nothing.
  delete from app_private.write_events as e
  where e.occurred_at < now() - coalesce((select max(q.per_interval) from app_public.write_quotas as q), interval '1 day');
  get diagnostics deleted = row_count;
  table_name := 'app_private.write_events';
  deleted_rows := deleted;
  return next;

  -- Per-address events (registrations, refreshes, password changes) older
  -- than the longest window of address_rate_limits count for nothing.
  delete from app_private.address_events as e
  where e.occurred_at < app_private.auth_now()
    - coalesce((select max(l.per_interval) from app_private.address_rate_limits as l), interval '1 day');
  get diagnostics deleted = row_count;
  table_name := 'app_private.address_events';
  deleted_rows := deleted;
  return next;
end;
$function$;
grant execute on function app_private.prune_security_rows() to ticketing_authenticator;
comment on function app_private.prune_security_rows() is 'Deletes security rows past their retention (housekeeping_policy): old login attempts, ended sessions, rotated tokens of live sessions beyond the reuse-detection window, counted writes older than the longest write quota, and per-address authentication events older than the longest address rate limit. Returns the rows deleted per table; returns nothing when another instance is pruning at the same moment. Run every few minutes by the API and by db:maintain.';

CREATE OR REPLACE FUNCTION app_private.prune_webhook_deliveries(max_rows integer DEFAULT 10000)
 RETURNS integer
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  with expired as (
    select d.id
    from app_public.webhook_deliveries as d
    where d.created_at < now() - (select p.delivery_retention from app_private.webhook_policy() as p)
      and d.status <> 'pending'
    order by d.created_at
    limit max_rows
    for update skip locked
  ), deleted as (
    delete from app_public.webhook_deliveries as d
    using expired
    where d.id = expired.id
    returning 1
  )
  select count(*)::integer from deleted;
$function$;
comment on function app_private.prune_webhook_deliveries(integer) is 'Deletes finished deliveries older than webhook_policy().delivery_retention, at most max_rows a call; returns how many. Run by the worker''s housekeeping task.';

CREATE OR REPLACE FUNCTION app_private.queue_mail(kind text, to_address text, user_id uuid DEFAULT NULL::uuid, ticket_id uuid DEFAULT NULL::uuid, params jsonb DEFAULT '{}'::jsonb)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  mail_id uuid;
begin
  insert into app_private.outbound_mails (kind, to_address, user_id, ticket_id, params, next_attempt_at)
  values (queue_mail.kind, queue_mail.to_address, queue_mail.user_id, queue_mail.ticket_id, coalesce(queue_mail.params, '{}'), now())
  returning id into mail_id;
  perform app_private.queue_mail_attempt(mail_id);
  return mail_id;
end;
$function$;
comment on function app_private.queue_mail(text,text,uuid,uuid,jsonb) is 'Records a mail of a kind (template) to an address, with its template parameters, and queues its first attempt, in the caller''s transaction. Returns the mail id.';

CREATE OR REPLACE FUNCTION app_private.queue_mail_attempt(mail_id uuid, run_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform graphile_worker.add_job(
    'send_mail',
    json_build_object('mailId', mail_id),
    run_at => coalesce(run_at, now()),
    max_attempts => 1,
    job_key => 'mail:' || mail_id::text
  );
end;
$function$;
comment on function app_private.queue_mail_attempt(uuid,timestamp with time zone) is 'Queues the graphile-worker job send_mail for one attempt of a mail at run_at (now by default); one job per mail (job key). Retries are queued by record_mail_attempt, following mail_policy().';

CREATE OR REPLACE FUNCTION app_private.queue_webhook_attempt(delivery_id uuid, run_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform graphile_worker.add_job(
    'deliver_webhook',
    json_build_object('deliveryId', delivery_id),
    run_at => coalesce(run_at, now()),
    max_attempts => 1,
    job_key => 'webhook_delivery:' || delivery_id::text
  );
end;
$function$;
comment on function app_private.queue_webhook_attempt(uuid,timestamp with time zone) is 'Queues the graphile-worker job deliver_webhook for one attempt of a delivery at run_at (now by default); one job per delivery (job key). Retries are queued by record_webhook_attempt, not by graphile-worker, so the backoff and jitter follow webhook_policy().';

CREATE OR REPLACE FUNCTION app_private.raise_rate_limited(message text, retry_at timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  raise exception using
    errcode = 'TKRAT',
    message = raise_rate_limited.message,
    hint = 'retry_after=' || greatest(1, ceil(extract(epoch from (retry_at - app_private.auth_now()))))::integer;
end;
$function$;
comment on function app_private.raise_rate_limited(text,timestamp with time zone) is 'Raises TKRAT (RATE_LIMITED) with HINT retry_after=<seconds until retry_at>, at least 1.';

CREATE OR REPLACE FUNCTION app_private.realtime_events_after(after_id bigint, for_ticket_id uuid DEFAULT NULL::uuid, for_customer_id uuid DEFAULT NULL::uuid, for_agent_id uuid DEFAULT NULL::uuid, max_rows integer DEFAULT 500, for_organization_ids uuid[] DEFAULT NULL::uuid[], for_ticket_ids uuid[] DEFAULT NULL::uuid[])
 RETURNS SETOF app_private.realtime_events
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  policy record;
  row_limit integer;
  latest bigint;
  first_after timestamptz;
  found_rows integer;
begin
  select p.max_age, p.max_rows into policy from app_private.realtime_replay_policy() as p;
  row_limit := least(greatest(coalesce(max_rows, 0), 0), policy.max_rows);

  if num_nonnulls(for_ticket_id, for_customer_id, for_agent_id) <> 1 then
    raise exception 'Name exactly one ticket, customer or agent' using errcode = 'TKVAL';
  end if;

  -- A cursor beyond the newest event was never issued.
  select coalesce(max(e.id), 0) into latest from app_private.realtime_events as e;
  if after_id is null or after_id < 0 or after_id > latest then
    raise exception 'This cursor is unknown; reload and subscribe again' using errcode = 'TKCEX';
  end if;

  -- The first event after the cursor is older than the replay may reach.
  select e.occurred_at into first_after
  from app_private.realtime_events as e
  where e.id > after_id
  order by e.id
  limit 1;
  if first_after is not null and first_after < clock_timestamp() - policy.max_age then
    raise exception 'This cursor is too old to resume from; reload and subscribe again' using errcode = 'TKCEX';
  end if;

  return query
  select e.*
  from app_private.realtime_events as e
  where e.id > after_id
    and e.user_id is null
    and (
      e.ticket_id = for_ticket_id
      or e.customer_id = for_customer_id
      or e.previous_customer_id = for_customer_id
      or e.agent_id = for_agent_id
      or e.previous_agent_id = for_agent_id
      or (for_agent_id is not null and e.in_open_pool)
      or (for_ticket_id is null and e.organization_id = any (for_organization_ids))
      or (for_ticket_id is null and e.ticket_id = any (for_ticket_ids))
    )
  order by e.id
  limit row_limit + 1;

  get diagnostics found_rows = row_count;
  if found_rows > row_limit then
    raise exception 'Too much happened since this cursor to replay; reload and subscribe again' using errcode = 'TKCEX';
  end if;
end;
$function$;
grant execute on function app_private.realtime_events_after(bigint,uuid,uuid,uuid,integer,uuid[],uuid[]) to ticketing_authenticator;
comment on function app_private.realtime_events_after(bigint,uuid,uuid,uuid,integer,uuid[],uuid[]) is 'Realtime resume: the ticket events after after_id that concern one ticket, one customer or one agent''s queue (plus, for the latter two, the organizations and tickets of their realtime_routes), in id order, at most max_rows (and realtime_replay_policy()). Raises TKCEX (CURSOR_EXPIRED) for an unknown cursor, one older than the policy allows, or more events than the bound. The API re-checks every row under the subscriber''s rights.';

CREATE OR REPLACE FUNCTION app_private.realtime_events_by_id(event_ids bigint[])
 RETURNS SETOF app_private.realtime_events
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select e.*
  from app_private.realtime_events as e
  where e.id = any (event_ids[1:500])
    and e.occurred_at > clock_timestamp() - interval '2 minutes'
  order by e.id;
$function$;
grant execute on function app_private.realtime_events_by_id(bigint[]) to ticketing_authenticator;
comment on function app_private.realtime_events_by_id(bigint[]) is 'Realtime: the events (at most 500) among event_ids made in the last two minutes. The API''s only way to read realtime_events; a forged or replayed notification id finds nothing.';

CREATE OR REPLACE FUNCTION app_private.realtime_events_latest_id()
 RETURNS bigint
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(max(e.id), 0) from app_private.realtime_events as e;
$function$;
grant execute on function app_private.realtime_events_latest_id() to ticketing_authenticator;
comment on function app_private.realtime_events_latest_id() is 'Realtime: the id of the newest event in the log (0 when empty), the cursor a new subscription starts from. Reveals only a count of changes, as event ids already do.';

CREATE OR REPLACE FUNCTION app_private.realtime_replay_policy(OUT max_age interval, OUT max_rows integer)
 RETURNS record
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select interval '24 hours', 500;
$function$;
comment on function app_private.realtime_replay_policy() is 'Realtime resume bounds: a replay reaches back at most max_age (a day) and delivers at most max_rows (500) events; beyond either a subscription fails with CURSOR_EXPIRED.';

CREATE OR REPLACE FUNCTION app_private.realtime_routes(user_id uuid, OUT organization_ids uuid[], OUT ticket_ids uuid[])
 RETURNS record
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select
    coalesce((
      select array_agg(m.organization_id order by m.organization_id)
      from app_public.organization_memberships as m
      join app_public.organizations as o on o.id = m.organization_id
      where m.user_id = u.id
        and u.role = 'customer'
        and m.removed_at is null
        and (m.sees_organization_tickets or m.role = 'manager')
        and o.is_active
    ), '{}'),
    coalesce((
      select array_agg(p.ticket_id order by p.ticket_id)
      from (
        select p.ticket_id
        from app_public.ticket_participants as p
        where p.user_id = u.id
          and p.removed_at is null
        order by p.ticket_id
        limit 1000
      ) as p
    ), '{}')
  from (select null) as nothing
  left join app_public.users as u on u.id = realtime_routes.user_id and u.is_active;
$function$;
grant execute on function app_private.realtime_routes(uuid) to ticketing_authenticator;
comment on function app_private.realtime_routes(uuid) is 'Realtime routing (not visibility): the organizations whose tickets an active customer sees and the tickets an active user takes part in (cc or follower, at most 1000). The API re-checks every event against the subscriber''s row-level security before delivering it.';

CREATE OR REPLACE FUNCTION app_private.rebuild_searchable_comments()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  written bigint;
begin
  truncate app_private.searchable_comments;
  insert into app_private.searchable_comments (comment_id, ticket_id, ticket_open, ticket_agent_id, search)
  select c.id, c.ticket_id, (t.status = 'open')::int::smallint, t.agent_id, c.search
  from app_public.ticket_comments as c
  join app_public.tickets as t on t.id = c.ticket_id;
  get diagnostics written = row_count;
  return written;
end;
$function$;
comment on function app_private.rebuild_searchable_comments() is 'Writes app_private.searchable_comments again from the comments and their tickets; returns the rows written. For the backfill, after a bulk load that skipped the triggers, or to repair. Owner only; takes the table''s exclusive lock (truncate).';

CREATE OR REPLACE FUNCTION app_private.recompute_sla_due_times(calendar_ids uuid[] DEFAULT NULL::uuid[])
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  changed integer;
begin
  -- The business time of each calendar, once, from its oldest unfinished
  -- ticket to 400 days after its newest, with the business seconds counted
  -- up to the end of each stretch: a clock that never paused (most tickets)
  -- then finds its due time with two index probes instead of a walk over
  -- the calendar. The others (and any due time past the horizon) take the
  -- full computation from their history, which gives the same instants.
  create temporary table if not exists sla_recompute_spans (
    calendar_id uuid not null,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    seconds_before numeric not null,
    seconds_after numeric not null
  ) on commit drop;
  truncate sla_recompute_spans;
  insert into sla_recompute_spans (calendar_id, starts_at, ends_at, seconds_before, seconds_after)
  select c.calendar_id, lower(r), upper(r),
    sum(extract(epoch from upper(r) - lower(r))) over w - extract(epoch from upper(r) - lower(r)),
    sum(extract(epoch from upper(r) - lower(r))) over w
  from (
    select p.calendar_id, min(t.created_at) as oldest, max(t.created_at) as newest
    from app_public.tickets as t
    cross join lateral app_private.sla_policy_for(t.organization_id, t.priority) as p
    where t.status in ('open', 'in_progress', 'waiting_on_customer')
      and (calendar_ids is null or p.calendar_id = any (calendar_ids))
    group by p.calendar_id
  ) as c
  cross join lateral unnest(app_private.business_spans(c.calendar_id, c.oldest, c.newest + interval '400 days')) as r
  window w as (partition by c.calendar_id order by lower(r));
  create index if not exists sla_recompute_spans_starts on sla_recompute_spans (calendar_id, starts_at);
  create index if not exists sla_recompute_spans_after on sla_recompute_spans (calendar_id, seconds_after);
  analyze sla_recompute_spans;

  -- One statement for all unfinished tickets of the calendars (all when null);
  -- resolved and closed tickets keep the due times they were judged by.
  with ticket as (
    select
      t.id, t.created_at, t.status, t.status_changed_at, t.first_responded_at,
      p.calendar_id, p.first_response_minutes, p.resolution_minutes,
      -- Business seconds of the calendar from its horizon start to creation.
      coalesce((
        select s.seconds_before + greatest(0, extract(epoch from least(t.created_at, s.ends_at) - s.starts_at))
        from sla_recompute_spans as s
        where s.calendar_id = p.calendar_id and s.starts_at <= t.created_at
        order by s.starts_at desc
        limit 1
      ), 0) as seconds_at_creation,
      -- Never paused since creation (the creation row never pauses)?
      not exists (
        select 1
        from app_public.ticket_status_history as h
        join app_public.sla_pause_statuses as ps on ps.status = h.to_status and ps.clock = 'first_response'
        where h.ticket_id = t.id and h.from_status is not null
      ) as first_response_ran,
      not exists (
        select 1
        from app_public.ticket_status_history as h
        join app_public.sla_pause_statuses as ps on ps.status = h.to_status and ps.clock = 'resolution'
        where h.ticket_id = t.id and h.from_status is not null
      ) as resolution_ran
    from app_public.tickets as t
    cross join lateral app_private.sla_policy_for(t.organization_id, t.priority) as p
    where t.status in ('open', 'in_progress', 'waiting_on_customer')
      and (calendar_ids is null or p.calendar_id = any (calendar_ids))
  ),
  quick as (
    select
      tk.*,
      case when tk.first_response_ran then (
        select s.starts_at + make_interval(secs => tk.seconds_at_creation + tk.first_response_minutes * 60 - s.seconds_before)
        from sla_recompute_spans as s
        where s.calendar_id = tk.calendar_id and s.seconds_after >= tk.seconds_at_creation + tk.first_response_minutes * 60
        order by s.seconds_after
        limit 1
      ) end as first_response_quick,
      case when tk.resolution_ran then (
        select s.starts_at + make_interval(secs => tk.seconds_at_creation + tk.resolution_minutes * 60 - s.seconds_before)
        from sla_recompute_spans as s
        where s.calendar_id = tk.calendar_id and s.seconds_after >= tk.seconds_at_creation + tk.resolution_minutes * 60
        order by s.seconds_after
        limit 1
      ) end as resolution_quick
    from ticket as tk
  ),
  due as (
    select
      q.id,
      fr.due_at as first_response_due_at,
      fr.paused_seconds_left as first_response_paused_seconds_left,
      rs.due_at as resolution_due_at,
      rs.paused_seconds_left as resolution_paused_seconds_left
    from quick as q
    -- The quick due time (never paused: nothing kept), else the full count;
    -- each branch's condition is on the outer row only, so the other one
    -- does not run.
    cross join lateral (
      select q.first_response_quick as due_at, null::numeric as paused_seconds_left
      where q.first_response_quick is not null
      union all
      select s.due_at, s.paused_seconds_left
      from app_private.sla_clock_state(q.calendar_id, q.first_response_minutes,
        app_private.ticket_sla_active_time(q.id, q.created_at, q.status, q.status_changed_at, 'first_response', q.first_responded_at)) as s
      where q.first_response_quick is null
    ) as fr
    cross join lateral (
      select q.resolution_quick as due_at, null::numeric as paused_seconds_left
      where q.resolution_quick is not null
      union all
      select s.due_at, s.paused_seconds_left
      from app_private.sla_clock_state(q.calendar_id, q.resolution_minutes,
        app_private.ticket_sla_active_time(q.id, q.created_at, q.status, q.status_changed_at, 'resolution', null)) as s
      where q.resolution_quick is null
    ) as rs
  )
  update app_public.tickets as t
  set first_response_due_at = due.first_response_due_at,
      resolution_due_at = due.resolution_due_at,
      first_response_paused_seconds_left = due.first_response_paused_seconds_left,
      resolution_paused_seconds_left = due.resolution_paused_seconds_left
  from due
  where t.id = due.id
    and (t.first_response_due_at is distinct from due.first_response_due_at
      or t.resolution_due_at is distinct from due.resolution_due_at
      or t.first_response_paused_seconds_left is distinct from due.first_response_paused_seconds_left
      or t.resolution_paused_seconds_left is distinct from due.resolution_paused_seconds_left);
  get diagnostics changed = row_count;
  return changed;
end;
$function$;
comment on function app_private.recompute_sla_due_times(uuid[]) is 'Recomputes the stored SLA due times, and the seconds left of paused clocks, of every unfinished ticket whose policy (sla_policy_for) uses one of the calendars (all calendars when null), in one statement; returns how many tickets changed.';

CREATE OR REPLACE FUNCTION app_private.record_inbound_outcome(inbound_id uuid, decision text, reason text, ticket_id uuid, comment_id uuid)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  update app_private.inbound_emails as e
  set decision = record_inbound_outcome.decision,
      reason = coalesce(record_inbound_outcome.reason, e.reason),
      ticket_id = coalesce(record_inbound_outcome.ticket_id, e.ticket_id),
      comment_id = record_inbound_outcome.comment_id
  where e.id = record_inbound_outcome.inbound_id;
$function$;
grant execute on function app_private.record_inbound_outcome(uuid,text,text,uuid,uuid) to ticketing_authenticator;
comment on function app_private.record_inbound_outcome(uuid,text,text,uuid,uuid) is 'POST /inbound/email: the outcome of acting as the sender (the comment or ticket made, or refused by the sender''s rights), on the message''s log row.';

CREATE OR REPLACE FUNCTION app_private.record_inbound_refused_attachments(inbound_id uuid, refused jsonb)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  update app_private.inbound_emails as e
  set refused_attachments = case when jsonb_array_length(refused) > 0 then refused end
  where e.id = record_inbound_refused_attachments.inbound_id;
$function$;
grant execute on function app_private.record_inbound_refused_attachments(uuid,jsonb) to ticketing_authenticator;
comment on function app_private.record_inbound_refused_attachments(uuid,jsonb) is 'POST /inbound/email: the files of the message that did not become attachments, with the reason of each, on the message''s log row.';

CREATE OR REPLACE FUNCTION app_private.record_mail_attempt(mail_id uuid, outcome text, error text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  policy record;
  mail app_private.outbound_mails;
  delay interval;
begin
  if outcome not in ('sent', 'failed', 'discarded') then
    raise exception 'unknown mail outcome %', outcome using errcode = 'TKVAL';
  end if;
  select * into policy from app_private.mail_policy();

  update app_private.outbound_mails as m
  set attempts = m.attempts + 1,
      last_error = left(record_mail_attempt.error, 500),
      sent_at = case when outcome = 'sent' then now() end,
      status = case
        when outcome in ('sent', 'discarded') then outcome
        when m.attempts + 1 >= policy.max_attempts then 'failed'
        else 'pending'
      end
  where m.id = record_mail_attempt.mail_id
    and m.status = 'pending'
  returning m.* into mail;
  if mail.id is null then
    return null;
  end if;

  if mail.status = 'pending' then
    delay := least(policy.max_retry, policy.first_retry * power(2, mail.attempts - 1));
    update app_private.outbound_mails as m set next_attempt_at = now() + delay where m.id = mail.id;
    perform app_private.queue_mail_attempt(mail.id, now() + delay);
  else
    -- A one-time link in the parameters lives on only in the recipient's mailbox.
    update app_private.outbound_mails as m set next_attempt_at = null, params = '{}' where m.id = mail.id;
  end if;
  return mail.status;
end;
$function$;
comment on function app_private.record_mail_attempt(uuid,text,text) is 'Worker: records one attempt of a mail: sent, discarded (mail disabled) or failed (error); a failure is retried with exponential backoff while mail_policy().max_attempts allow, then the mail is failed. Parameters are cleared once the mail is finished. Returns the mail''s status.';

CREATE OR REPLACE FUNCTION app_private.record_sla_events(ticket_ids uuid[] DEFAULT NULL::uuid[])
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
declare
  recorded integer;
begin
  if ticket_ids is null then
    -- The job also keeps the materialized business time ahead of the clock.
    perform app_private.extend_business_time();
  end if;
  -- The given tickets, or (the job) every unfinished ticket whose at-risk
  -- instant has passed (overdue ones too: it is never after the due time).
  insert into app_public.sla_events (ticket_id, clock, kind, due_at, priority, agent_id, calendar_id, organization_id)
  select t.id, c.clock, k.kind, c.due_at, t.priority, t.agent_id, p.calendar_id, t.organization_id
  from (
    -- The given tickets by their key (a status change: one), or the job's
    -- scan of the at-risk index; a branch whose condition on ticket_ids is
    -- false is never run, whatever plan is cached.
    select tk.* from app_public.tickets as tk where tk.id = any (ticket_ids)
    union all
    select tk.* from app_public.tickets as tk
    where ticket_ids is null
      and tk.status in ('open', 'in_progress', 'waiting_on_customer')
      and least(tk.first_response_at_risk_at, tk.resolution_at_risk_at) <= now()
  ) as t
  cross join lateral app_private.sla_policy_for(t.organization_id, t.priority) as p
  cross join lateral (
    values
      ('first_response'::app_public.sla_clock, t.first_response_due_at,
        coalesce(t.first_responded_at, t.resolved_at, t.closed_at), p.first_response_minutes, t.first_response_at_risk_at),
      ('resolution'::app_public.sla_clock, t.resolution_due_at,
        coalesce(t.resolved_at, t.closed_at), p.resolution_minutes, t.resolution_at_risk_at)
  ) as c (clock, due_at, done_at, target, at_risk_at)
  cross join lateral (
    select case
      when c.due_at is null then null
      when c.done_at is not null and not app_private.sla_breached(c.due_at, c.done_at) then 'met'
      when app_private.sla_breached(c.due_at, coalesce(c.done_at, now())) then 'breached'
      when c.done_at is null and c.at_risk_at <= now()
        and app_private.business_minutes_between(p.calendar_id, now(), c.due_at) * 4 <= c.target then 'at_risk'
    end::app_public.sla_event_kind as kind
  ) as k
  where k.kind is not null
  on conflict on constraint sla_events_once do nothing;
  get diagnostics recorded = row_count;
  return recorded;
end;
$function$;
comment on function app_private.record_sla_events(uuid[]) is 'Records the SLA events due now (met, breached, at risk) of the given tickets, or, with null (the sla_clock job, every minute), of every unfinished ticket whose at-risk instant has passed, however far its due time; each once per clock, kind and due time. With null it first extends the materialized business time of calendars whose horizon nears its end. Returns how many it recorded.';

CREATE OR REPLACE FUNCTION app_private.record_webhook_attempt(delivery_id uuid, succeeded boolean, response_code integer, latency_ms integer, error text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  policy record;
  delivery app_public.webhook_deliveries;
  endpoint app_public.webhook_endpoints;
  delay interval;
begin
  select * into policy from app_private.webhook_policy();

  update app_public.webhook_endpoints as e
  set consecutive_failures = case when succeeded then 0 else e.consecutive_failures + 1 end
  from app_public.webhook_deliveries as d
  where d.id = record_webhook_attempt.delivery_id and e.id = d.endpoint_id
  returning e.* into endpoint;

  if not succeeded and endpoint.is_active and endpoint.consecutive_failures >= policy.failures_before_disable then
    update app_public.webhook_endpoints as e
    set is_active = false, disabled_at = now()
    where e.id = endpoint.id
    returning e.* into endpoint;
    -- The event saying so, in the audit log admins read.
    insert into app_private.audit_log (table_name, operation, record_id, old_data, new_data)
    values (
      'app_public.webhook_endpoints', 'UPDATE', endpoint.id,
      jsonb_build_object('is_active', true),
      jsonb_build_object('is_active', false, 'disabled_at', endpoint.disabled_at,
                         'reason', format('%s consecutive failed deliveries', endpoint.consecutive_failures))
    );
  end if;

  update app_public.webhook_deliveries as d
  set attempts = d.attempts + 1,
      response_code = record_webhook_attempt.response_code,
      latency_ms = record_webhook_attempt.latency_ms,
      last_error = left(record_webhook_attempt.error, 500),
      last_attempt_at = now(),
      succeeded_at = case when succeeded then now() end,
      status = case
        when succeeded then 'succeeded'
        when d.attempts + 1 >= policy.max_attempts or not endpoint.is_active then 'failed'
        else 'pending'
      end
  where d.id = record_webhook_attempt.delivery_id
  returning d.* into delivery;

  if delivery.status = 'pending' then
    delay := least(policy.max_retry, policy.first_retry * power(2, delivery.attempts - 1)) * (0.5 + random() / 2);
    update app_public.webhook_deliveries as d set next_attempt_at = now() + delay where d.id = delivery.id;
    perform app_private.queue_webhook_attempt(delivery.id, now() + delay);
  else
    update app_public.webhook_deliveries as d set next_attempt_at = null where d.id = delivery.id;
  end if;
  return delivery.status;
end;
$function$;
comment on function app_private.record_webhook_attempt(uuid,boolean,integer,integer,text) is 'Worker: records one attempt of a delivery (outcome, response code, latency, error); counts the endpoint''s consecutive failures and disables it (with an audit log entry) at webhook_policy().failures_before_disable; queues the next attempt with exponential backoff and jitter while attempts remain. Returns the delivery''s status.';

CREATE OR REPLACE FUNCTION app_private.register_account(email text, display_name text, password_hash text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  typed_email citext := app_private.normalized_input(left(register_account.email, 1000), 320);
  existing record;
  created app_public.users;
  token text;
begin
  select a.user_id, a.email, u.display_name into existing
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.email = typed_email;

  if found then
    -- The input is held to the same rules as for a new account (a broken
    -- rule answers the same in both cases), then the trial row is undone.
    begin
      insert into app_public.users (display_name, role) values (btrim(register_account.display_name), 'customer');
      raise exception using errcode = 'TKUND';
    exception
      when sqlstate 'TKUND' then null;
    end;
    perform pg_advisory_xact_lock(hashtextextended('email-token:' || existing.user_id::text, 0));
    if (
      select count(*)
      from app_private.outbound_mails as m
      where m.user_id = existing.user_id
        and m.kind = 'registration_attempt'
        and m.created_at > now() - (select p.per_account_window from app_private.email_token_policy() as p)
    ) < (select p.per_account_max from app_private.email_token_policy() as p) then
      perform app_private.queue_mail(
        'registration_attempt', existing.email::text, existing.user_id, null,
        jsonb_build_object('displayName', existing.display_name)
      );
    end if;
    return;
  end if;

  begin
    created := app_private.create_user_account(typed_email, register_account.display_name, 'customer', register_account.password_hash);
  exception
    -- Registered a moment ago by a concurrent call: answered the same.
    when sqlstate 'TKEML' then
      return;
  end;

  update app_private.user_accounts as a set email_verified_at = null where a.user_id = created.id;
  token := app_private.new_email_token('email_verification', created.id, typed_email);
  perform app_private.queue_mail(
    'email_verification', typed_email::text, created.id, null,
    jsonb_build_object(
      'displayName', created.display_name,
      'token', token,
      'days', extract(epoch from (select p.verification_lifetime from app_private.email_token_policy() as p))::integer / 86400
    )
  );
end;
$function$;
grant execute on function app_private.register_account(text,text,text) to ticketing_authenticator;
comment on function app_private.register_account(text,text,text) is 'register: for a free email, creates an unverified customer with the argon2id hash computed by the API and mails a verification link; for a taken one, mails its owner that someone tried to register (at most email_token_policy().per_account_max such mails per window). Returns nothing either way; input that breaks a rule raises 23514 in both cases. The caller counts the registration first (reserve_registration).';

CREATE OR REPLACE FUNCTION app_private.register_customer(email text, display_name text, password_hash text, token_digest bytea, ip inet)
 RETURNS TABLE(session_id uuid, user_role app_public.user_role, refresh_expires_at timestamp with time zone, user_record app_public.users)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  created app_public.users;
  opened record;
begin
  created := app_private.create_user_account(
    register_customer.email::citext,
    register_customer.display_name,
    'customer',
    register_customer.password_hash
  );

  select s.* into opened
  from app_private.open_session(created.id, register_customer.token_digest) as s;
  session_id := opened.session_id;
  user_role := opened.user_role;
  refresh_expires_at := opened.refresh_expires_at;
  user_record := opened.user_record;

  insert into app_private.login_attempts (email, user_id, ip, success, reason, purpose, consumed_at, session_id)
  select a.email, created.id, register_customer.ip, true, 'success', 'registration', app_private.auth_now(), register_customer.session_id
  from app_private.user_accounts as a
  where a.user_id = created.id;
  return next;
end;
$function$;
comment on function app_private.register_customer(text,text,text,bytea,inet) is 'Self-registration: creates an active customer and opens their first session, all or nothing; the session start is recorded in login_attempts (purpose registration). Raises TKEML when the email is taken, 23514 when the input breaks a rule. The caller counts the registration first (reserve_registration).';

CREATE OR REPLACE FUNCTION app_private.request_email_change(attempt_id uuid, new_email text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  attempt app_private.login_attempts;
  account record;
  typed_email citext := app_private.normalized_input(left(request_email_change.new_email, 1000), 320);
  token text;
begin
  select l.* into attempt
  from app_private.login_attempts as l
  where l.id = request_email_change.attempt_id
    and l.purpose = 'password_change'
    and l.reason = 'success'
    and l.decided_xact = pg_current_xact_id()
    and l.consumed_at is null
  for update;
  if not found then
    raise exception using errcode = 'TKFBD', message = 'The current password must be proven in the same transaction';
  end if;
  update app_private.login_attempts as l set consumed_at = app_private.auth_now() where l.id = attempt.id;

  if typed_email is null or char_length(typed_email) > 320 or typed_email !~ '^[^@[:space:]]+@[^@[:space:]]+$' then
    raise exception using errcode = 'TKVAL', message = 'The email address is not valid';
  end if;

  select a.user_id, a.email, u.display_name into account
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.user_id = attempt.user_id and u.is_active;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No active user with this id';
  end if;

  -- Unchanged, or held by another account: answered the same, nothing sent.
  if typed_email = account.email or exists (select from app_private.user_accounts as a where a.email = typed_email) then
    return;
  end if;
  perform pg_advisory_xact_lock(hashtextextended('email-token:' || account.user_id::text, 0));
  if app_private.account_links_exhausted('email_verification', account.user_id) then
    return;
  end if;

  token := app_private.new_email_token('email_verification', account.user_id, typed_email);
  perform app_private.queue_mail(
    'email_change', typed_email::text, account.user_id, null,
    jsonb_build_object(
      'displayName', account.display_name,
      'token', token,
      'days', extract(epoch from (select p.verification_lifetime from app_private.email_token_policy() as p))::integer / 86400
    )
  );
  perform app_private.queue_mail(
    'email_change_notice', account.email::text, account.user_id, null,
    jsonb_build_object('displayName', account.display_name, 'newEmail', typed_email::text)
  );
end;
$function$;
grant execute on function app_private.request_email_change(uuid,text) to ticketing_authenticator;
comment on function app_private.request_email_change(uuid,text) is 'requestEmailChange: for a successful current-password check made in this same transaction (begin_password_check, finish_login), mails a verification link to the new address (verifyEmail then makes it the account''s email) and a notice to the old one. TKVAL for a malformed address; an unchanged address, one held by another account or an account over its link limit is answered the same with nothing sent.';

CREATE OR REPLACE FUNCTION app_private.request_password_reset(email text, ip inet)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  typed_email citext := app_private.normalized_input(left(request_password_reset.email, 1000), 320);
  account record;
  token text;
begin
  perform app_private.take_address_quota('password_reset', request_password_reset.ip);

  select a.user_id, a.email, u.display_name into account
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.email = typed_email
    and u.is_active;
  if not found then
    return;
  end if;

  -- One account's requests one at a time, so the per-account count holds.
  perform pg_advisory_xact_lock(hashtextextended('email-token:' || account.user_id::text, 0));
  if app_private.account_links_exhausted('password_reset', account.user_id) then
    return;
  end if;

  token := app_private.new_email_token('password_reset', account.user_id, account.email);
  perform app_private.queue_mail(
    'password_reset',
    account.email::text,
    account.user_id,
    null,
    jsonb_build_object(
      'displayName', account.display_name,
      'token', token,
      'minutes', extract(epoch from (select p.reset_lifetime from app_private.email_token_policy() as p))::integer / 60
    )
  );
end;
$function$;
grant execute on function app_private.request_password_reset(text,inet) to ticketing_authenticator;
comment on function app_private.request_password_reset(text,inet) is 'requestPasswordReset: counts the call against the ''password_reset'' limit of ip (TKRAT beyond it); for an active account with this email, unless it reached the per-account limit, makes a reset link and queues its mail. Returns nothing either way, so the answer never tells whether the email has an account.';

CREATE OR REPLACE FUNCTION app_private.requeue_stalled_webhook_deliveries()
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  stalled uuid;
  requeued integer := 0;
begin
  for stalled in
    select d.id
    from app_public.webhook_deliveries as d
    join app_public.webhook_endpoints as e on e.id = d.endpoint_id
    where d.status = 'pending'
      and e.is_active
      and d.next_attempt_at < now() - (select p.stalled_after from app_private.webhook_policy() as p)
    order by d.next_attempt_at
    limit 1000
    for update of d skip locked
  loop
    update app_public.webhook_deliveries as d set next_attempt_at = now() where d.id = stalled;
    perform app_private.queue_webhook_attempt(stalled);
    requeued := requeued + 1;
  end loop;
  return requeued;
end;
$function$;
comment on function app_private.requeue_stalled_webhook_deliveries() is 'Queues again every pending delivery (of an active endpoint) overdue by webhook_policy().stalled_after, at most 1000 a call: its worker died mid-attempt. Run when a worker starts and by its housekeeping task; returns how many.';

CREATE OR REPLACE FUNCTION app_private.require_admin()
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  admin_id uuid := app_private.acting_user_id('admin');
begin
  if admin_id is null then
    raise exception using errcode = 'TKFBD', message = 'Only admins can manage organizations';
  end if;
  return admin_id;
end;
$function$;
comment on function app_private.require_admin() is 'The requesting admin''s id; raises TKFBD for anyone else (inactive, demoted, other roles).';

CREATE OR REPLACE FUNCTION app_private.reserve_registration(ip inet)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select app_private.take_address_quota('register', reserve_registration.ip);
$function$;
grant execute on function app_private.reserve_registration(inet) to ticketing_authenticator;
comment on function app_private.reserve_registration(inet) is 'register: counts a registration from ip before the password is hashed (refused attempts, such as a taken email, count too), or raises TKRAT when the address reached its limit.';

CREATE OR REPLACE FUNCTION app_private.reset_password(token_digest bytea, new_hash text)
 RETURNS app_public.users
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  link app_private.email_tokens;
  account_user app_public.users;
begin
  select t.* into link
  from app_private.email_tokens as t
  where t.token_digest = reset_password.token_digest
    and t.purpose = 'password_reset'
  for update;
  link := app_private.valid_email_token('password_reset', reset_password.token_digest);
  if link.id is null then
    raise exception using errcode = 'TKTOK', message = 'Invalid or expired link';
  end if;

  -- This link is used; the account's other reset links are void.
  update app_private.email_tokens as t
  set used_at = app_private.auth_now()
  where t.user_id = link.user_id
    and t.purpose = 'password_reset'
    and t.used_at is null;

  -- Following the link proved the address, if it is still the account's.
  update app_private.user_accounts as a
  set password_hash = reset_password.new_hash,
      failed_login_count = 0,
      locked_until = null,
      email_verified_at = case when a.email = link.email then coalesce(a.email_verified_at, app_private.auth_now()) else a.email_verified_at end
  where a.user_id = link.user_id;

  perform app_private.revoke_user_sessions(link.user_id, 'password_change');

  insert into app_private.audit_log (actor_id, db_role, table_name, operation, record_id, old_data, new_data)
  values (
    link.user_id, current_user, 'app_private.user_accounts', 'UPDATE', link.user_id,
    jsonb_build_object('password', 'replaced'),
    jsonb_build_object('password', 'reset by mail link', 'sessions', 'revoked', 'lockout', 'cleared', 'link_id', link.id)
  );

  select u.* into account_user from app_public.users as u where u.id = link.user_id;
  return account_user;
end;
$function$;
grant execute on function app_private.reset_password(bytea,text) to ticketing_authenticator;
comment on function app_private.reset_password(bytea,text) is 'Step 2 of resetPassword: for a valid reset link (TKTOK otherwise), stores the new argon2id hash computed by the API, clears the lockout, marks the address verified, voids the account''s reset links, revokes every session and writes the audit log. Returns the user.';

CREATE OR REPLACE FUNCTION app_private.revoke_refresh_token(token_digest bytea)
 RETURNS boolean
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  with presented as (
    select t.family_id
    from app_private.refresh_tokens as t
    where t.token_digest = revoke_refresh_token.token_digest
  ),
  revoked as (
    update app_private.refresh_tokens as t
    set revoked_at = app_private.auth_now(),
        revoked_reason = 'logout'
    from presented
    where t.family_id = presented.family_id
      and t.revoked_at is null
    returning 1
  )
  select count(*) > 0 from revoked;
$function$;
grant execute on function app_private.revoke_refresh_token(bytea) to ticketing_authenticator;
comment on function app_private.revoke_refresh_token(bytea) is 'Logout: revokes the session (the whole family) of the given refresh token. Returns whether a live session was ended.';

CREATE OR REPLACE FUNCTION app_private.revoke_user_sessions(user_id uuid, reason text, except_family_id uuid DEFAULT NULL::uuid)
 RETURNS integer
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  with revoked as (
    update app_private.refresh_tokens as t
    set revoked_at = app_private.auth_now(),
        revoked_reason = revoke_user_sessions.reason
    where t.user_id = revoke_user_sessions.user_id
      and t.revoked_at is null
      and t.family_id is distinct from revoke_user_sessions.except_family_id
    returning 1
  )
  select count(*)::integer from revoked;
$function$;
comment on function app_private.revoke_user_sessions(uuid,text,uuid) is 'Revokes every live refresh token of a user, except the session except_family_id if given; returns how many. Used on password change, deactivation and role change.';

CREATE OR REPLACE FUNCTION app_private.rotate_refresh_token(token_digest bytea, new_token_digest bytea, ip inet, session_max_age interval)
 RETURNS TABLE(outcome text, session_id uuid, user_role app_public.user_role, refresh_expires_at timestamp with time zone, user_record app_public.users)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  presented app_private.refresh_tokens;
  account_user app_public.users;
  successor_id uuid := app_private.uuid_generate_v7();
  session_ends_at timestamptz;
begin
  perform app_private.take_address_quota('refresh', rotate_refresh_token.ip);

  -- Row lock: two concurrent uses of one token are serialised, so the second
  -- one is seen as reuse.
  select t.* into presented
  from app_private.refresh_tokens as t
  where t.token_digest = rotate_refresh_token.token_digest
  for update;

  if not found or presented.revoked_at is not null then
    outcome := 'invalid';
    return next;
    return;
  end if;

  if presented.rotated_at is not null then
    update app_private.refresh_tokens as t
    set revoked_at = app_private.auth_now(),
        revoked_reason = 'reuse'
    where t.family_id = presented.family_id
      and t.revoked_at is null;
    outcome := 'reused';
    return next;
    return;
  end if;

  -- At most a year, whatever the caller asks.
  session_ends_at := presented.session_started_at
    + least(coalesce(rotate_refresh_token.session_max_age, interval '30 days'), interval '365 days');
  if presented.expires_at <= app_private.auth_now() or session_ends_at <= app_private.auth_now() then
    outcome := 'invalid';
    return next;
    return;
  end if;

  select u.* into account_user
  from app_public.users as u
  where u.id = presented.user_id
    and u.is_active;
  if not found then
    perform app_private.revoke_user_sessions(presented.user_id, 'inactive');
    outcome := 'invalid';
    return next;
    return;
  end if;

  insert into app_private.refresh_tokens (id, user_id, family_id, token_digest, expires_at, session_started_at)
  values (
    successor_id,
    presented.user_id,
    presented.family_id,
    rotate_refresh_token.new_token_digest,
    least(app_private.auth_now() + (app_private.login_policy()).refresh_token_lifetime, session_ends_at),
    presented.session_started_at
  )
  returning refresh_tokens.expires_at into refresh_expires_at;

  update app_private.refresh_tokens as t
  set rotated_at = app_private.auth_now(),
      replaced_by = successor_id
  where t.id = presented.id;

  outcome := 'rotated';
  session_id := presented.family_id;
  user_role := account_user.role;
  user_record := account_user;
  return next;
end;
$function$;
grant execute on function app_private.rotate_refresh_token(bytea,bytea,inet,interval) to ticketing_authenticator;
comment on function app_private.rotate_refresh_token(bytea,bytea,inet,interval) is 'refreshSession: counts the call against the ''refresh'' limit of ip (TKRAT beyond it), then exchanges a refresh token (by digest) for a new one in the same family. outcome: rotated (with claims and user row), reused (the token was already rotated: the whole family is now revoked) or invalid (unknown, revoked, expired, the session older than session_max_age (at most 365 days), or the user inactive).';

CREATE OR REPLACE FUNCTION app_private.route_inbound_email(sender text, display_name text, message_id text, subject text, mail_ids uuid[], ticket_ids uuid[], ticket_numbers bigint[], auto_reason text, unknown_sender text)
 RETURNS TABLE(inbound_id uuid, action text, user_id uuid, user_role app_public.user_role, ticket_id uuid, reason text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  typed_sender citext := app_private.normalized_input(left(route_inbound_email.sender, 1000), 320);
  policy record;
  account record;
  found_ticket uuid;
  found_by text;
  created app_public.users;
begin
  select * into policy from app_private.inbound_email_policy();
  perform pg_advisory_xact_lock(hashtextextended('inbound:' || lower(coalesce(typed_sender::text, '')), 0));

  select u.id, u.role into account
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.email = typed_sender
    and u.is_active;
  user_id := account.id;
  user_role := account.role;

  if route_inbound_email.auto_reason is not null then
    action := 'ignored';
    reason := route_inbound_email.auto_reason;
  elsif route_inbound_email.message_id is not null and exists (
    select from app_private.inbound_emails as e
    where e.message_id = route_inbound_email.message_id and e.decision in ('comment', 'ticket')
  ) then
    action := 'ignored';
    reason := 'duplicate Message-ID';
  elsif (
    select count(*) from app_private.inbound_emails as e
    where e.sender = typed_sender::text and e.received_at > now() - policy.sender_window
  ) >= policy.sender_max then
    action := 'ignored';
    reason := 'over the sender''s limit';
  else
    -- The ticket: by a mail of ours it answers, by the ticket's thread id,
    -- then by number (the reply address first, then [#number] in the subject).
    select m.ticket_id into found_ticket
    from unnest(route_inbound_email.mail_ids) with ordinality as r (id, n)
    join app_private.outbound_mails as m on m.id = r.id
    where m.ticket_id is not null
    order by r.n
    limit 1;
    found_by := 'In-Reply-To/References';
    if found_ticket is null then
      select t.id into found_ticket
      from unnest(route_inbound_email.ticket_ids) with ordinality as r (id, n)
      join app_public.tickets as t on t.id = r.id
      order by r.n
      limit 1;
    end if;
    if found_ticket is null then
      select t.id into found_ticket
      from unnest(route_inbound_email.ticket_numbers) with ordinality as r (number, n)
      join app_public.tickets as t on t.number = r.number
      order by r.n
      limit 1;
      found_by := 'ticket number';
    end if;

    if found_ticket is not null then
      ticket_id := found_ticket;
      if account.id is null then
        action := 'refused';
        reason := 'a reply from an address with no account';
      else
        action := 'comment';
        reason := 'reply found by ' || found_by;
      end if;
    elsif account.id is not null then
      if account.role = 'customer' then
        action := 'ticket';
        reason := 'new message from a customer';
      else
        action := 'refused';
        reason := 'staff open tickets in the console, not by mail';
      end if;
    elsif route_inbound_email.unknown_sender = 'create' then
      begin
        created := app_private.create_user_account(
          typed_sender,
          coalesce(nullif(btrim(left(route_inbound_email.display_name, 100)), ''), split_part(typed_sender::text, '@', 1)),
          'customer',
          null
        );
      exception
        when check_violation or sqlstate 'TKEML' then
          created := null;
      end;
      if created.id is null then
        action := 'refused';
        reason := 'an unknown sender whose address or name cannot make an account';
      else
        update app_private.user_accounts as a set email_verified_at = null where a.user_id = created.id;
        user_id := created.id;
        user_role := created.role;
        action := 'ticket';
        reason := 'new message from an unknown sender: unverified customer created';
      end if;
    else
      action := 'refused';
      reason := 'an unknown sender (INBOUND_UNKNOWN_SENDER=reject)';
    end if;
  end if;

  insert into app_private.inbound_emails (message_id, sender, subject, decision, reason, user_id, ticket_id)
  values (
    left(route_inbound_email.message_id, 1000),
    left(typed_sender::text, 320),
    left(route_inbound_email.subject, 300),
    action,
    reason,
    user_id,
    ticket_id
  )
  returning id into inbound_id;
  return next;
end;
$function$;
grant execute on function app_private.route_inbound_email(text,text,text,text,uuid[],uuid[],bigint[],text,text) to ticketing_authenticator;
comment on function app_private.route_inbound_email(text,text,text,text,uuid[],uuid[],bigint[],text,text) is 'POST /inbound/email: decides what a parsed message is and logs it: ignored (auto_reason given: auto-reply or bounce; a Message-ID seen before; over the sender''s limit), comment (a reply, its ticket found by a mail of ours it answers, the ticket''s thread id, the reply address''s number or [#number], from an active account), ticket (a new message from a customer, or from an unknown sender when unknown_sender is create: an unverified customer is made) or refused. The API then acts as the returned user.';

CREATE OR REPLACE FUNCTION app_private.sanitize_file_name(name text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN (WITH cleaned AS (SELECT "left"(btrim(regexp_replace(regexp_replace(regexp_replace(NORMALIZE(COALESCE(sanitize_file_name.name, ''::text), NFC), '^.*[/\\]'::text, ''::text), '[[:cntrl:]\u200e\u200f\u202a-\u202e\u2066-\u2069:*?"<>|]'::text, '_'::text, 'g'::text), '^[.[:space:]]+'::text, ''::text), ' .'::text), 200) AS value) SELECT CASE WHEN (cleaned.value ~ '[^[:space:].]'::text) THEN cleaned.value ELSE 'file'::text END AS "case" FROM cleaned);
grant execute on function app_private.sanitize_file_name(text) to ticketing_admin;
grant execute on function app_private.sanitize_file_name(text) to ticketing_agent;
grant execute on function app_private.sanitize_file_name(text) to ticketing_customer;
comment on function app_private.sanitize_file_name(text) is 'A file name safe to store and to send in Content-Disposition: the last path component, NFC-normalised, with control, bidirectional-override and reserved characters replaced by "_", leading dots and spaces and trailing dots and spaces removed, cut to 200 characters; "file" when nothing is left.';

CREATE OR REPLACE FUNCTION app_private.search_matches(tsq tsquery)
 RETURNS TABLE(ticket_id uuid, comment_id uuid, rank real)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET max_parallel_workers_per_gather TO '0'
AS $function$
  select tk.id, null::uuid, ts_rank(tk.search, search_matches.tsq)
  from app_public.tickets as tk
  where tk.search @@ search_matches.tsq
  union all
  -- A match in the conversation counts, a bit less than one in the ticket.
  select c.ticket_id, c.comment_id, (ts_rank(c.search, search_matches.tsq) * 0.5)::real
  from app_private.searchable_comments as c
  where c.search @@ search_matches.tsq;
$function$;
grant execute on function app_private.search_matches(tsquery) to ticketing_admin;
grant execute on function app_private.search_matches(tsquery) to ticketing_agent;
grant execute on function app_private.search_matches(tsquery) to ticketing_customer;
comment on function app_private.search_matches(tsquery) is 'Candidate matches of an admin''s search, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, through the GIN indexes. Only search_tickets uses it, and filters the result through the caller''s policies. Runs without parallel workers (max_parallel_workers_per_gather = 0): starting them cost more than a search.';

CREATE OR REPLACE FUNCTION app_private.search_matches_in_sight(tsq tsquery)
 RETURNS TABLE(ticket_id uuid, comment_id uuid, rank real)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET max_parallel_workers_per_gather TO '0'
AS $function$
  select tk.id, null::uuid, ts_rank(tk.search, search_matches_in_sight.tsq)
  from app_public.tickets as tk
  where tk.search @@ search_matches_in_sight.tsq
    and (tk.status = 'open' or tk.agent_id = (select app_private.acting_user_id('agent')))
  union all
  select c.ticket_id, c.comment_id, (ts_rank(c.search, search_matches_in_sight.tsq) * 0.5)::real
  from app_private.searchable_comments as c
  where c.search @@ search_matches_in_sight.tsq
    and (c.ticket_open = 1::smallint or c.ticket_agent_id = (select app_private.acting_user_id('agent')));
$function$;
grant execute on function app_private.search_matches_in_sight(tsquery) to ticketing_admin;
grant execute on function app_private.search_matches_in_sight(tsquery) to ticketing_agent;
grant execute on function app_private.search_matches_in_sight(tsquery) to ticketing_customer;
comment on function app_private.search_matches_in_sight(tsquery) is 'Candidate matches of an agent''s search: ticket ids (comment_id null) and comment ids with their rank, among the open tickets and those assigned to the calling agent (the select_agent policy''s sight), through the indexes that carry it, so the cost does not follow the word''s use in other tickets. Only search_tickets uses it, and filters the result through the caller''s policies; test/database/search-sight.test.ts checks it returns what the policies let an agent read. Runs without parallel workers.';

CREATE OR REPLACE FUNCTION app_private.search_matches_within(tsq tsquery, ticket_ids uuid[])
 RETURNS TABLE(ticket_id uuid, comment_id uuid, rank real)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET max_parallel_workers_per_gather TO '0'
AS $function$
  -- ts_match_vq is @@ spelt as a function: never an index condition, so the
  -- rows are found by their ticket (primary key, ticket_id index) whatever
  -- the word, and the text is tested on those rows only. Through the GIN
  -- indexes, the plan and its cost would follow the word's frequency in
  -- everybody's tickets.
  select tk.id, null::uuid, ts_rank(tk.search, search_matches_within.tsq)
  from app_public.tickets as tk
  where tk.id = any (search_matches_within.ticket_ids)
    and ts_match_vq(tk.search, search_matches_within.tsq)
  union all
  select c.ticket_id, c.id, (ts_rank(c.search, search_matches_within.tsq) * 0.5)::real
  from app_public.ticket_comments as c
  where c.ticket_id = any (search_matches_within.ticket_ids)
    and ts_match_vq(c.search, search_matches_within.tsq);
$function$;
grant execute on function app_private.search_matches_within(tsquery,uuid[]) to ticketing_admin;
grant execute on function app_private.search_matches_within(tsquery,uuid[]) to ticketing_agent;
grant execute on function app_private.search_matches_within(tsquery,uuid[]) to ticketing_customer;
comment on function app_private.search_matches_within(tsquery,uuid[]) is 'Candidate matches of a search among the given tickets and their comments, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, found by ticket, never through the text indexes, so the cost is that of the given tickets whatever the word. Only search_tickets uses it, for customers, with the tickets their policy returns, and filters the result through the caller''s policies. Runs without parallel workers (max_parallel_workers_per_gather = 0): starting them cost more than a search.';

CREATE OR REPLACE FUNCTION app_private.search_query(query text)
 RETURNS tsquery
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  tsq tsquery;
begin
  if search_query.query is null or btrim(search_query.query) = '' then
    return null;
  end if;
  if char_length(search_query.query) > 500 then
    raise exception using errcode = 'TKVAL', message = 'The search text is too long (at most 500 characters)';
  end if;
  -- websearch syntax never fails: any input is just text ("quotes", or, -not).
  -- A query of stop words alone has no node and matches nothing.
  tsq := websearch_to_tsquery('english', search_query.query);
  return case when numnode(tsq) = 0 then null else tsq end;
end;
$function$;
grant execute on function app_private.search_query(text) to ticketing_admin;
grant execute on function app_private.search_query(text) to ticketing_agent;
grant execute on function app_private.search_query(text) to ticketing_customer;
comment on function app_private.search_query(text) is 'The full-text query of a search text (web-search syntax, English configuration); null when the text is empty or only stop words. Errors: TKVAL over 500 characters. Runs with the caller''s rights: it reads no table.';

CREATE OR REPLACE FUNCTION app_private.sla_active_time(created_at timestamp with time zone, statuses app_public.ticket_status[], changed_ats timestamp with time zone[], clock app_public.sla_clock, responded_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS tstzmultirange
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  pausing app_public.ticket_status[];
  -- Position of the last status that is not resolved or closed.
  last_working bigint := 0;
  stop_at timestamptz;
  stretches tstzrange[] := '{}';
  previous_at timestamptz;
  previous_runs boolean := false;
  change record;
begin
  select coalesce(array_agg(p.status), '{}') into pausing
  from app_public.sla_pause_statuses as p
  where p.clock = sla_active_time.clock;

  select coalesce(max(u.ord), 0) into last_working
  from unnest(statuses, changed_ats) with ordinality as u (status, at, ord)
  where u.status not in ('resolved', 'closed');

  for change in
    select u.status, u.at, u.ord
    from unnest(statuses, changed_ats) with ordinality as u (status, at, ord)
    order by u.at, u.ord
  loop
    -- The previous status held until this change.
    if previous_runs then
      stretches := stretches || tstzrange(previous_at, change.at);
    end if;
    -- The clock stops for good when the ticket entered its final run of
    -- resolved/closed statuses.
    if change.ord > last_working and change.at is not null and (stop_at is null or change.at < stop_at) then
      stop_at := change.at;
    end if;
    previous_at := change.at;
    -- The creation row never pauses: a ticket created directly in a later
    -- status (an import) runs its clock until its first recorded change.
    previous_runs := change.ord = 1 or change.status is null or not (change.status = any (pausing));
  end loop;
  if previous_runs then
    stretches := stretches || tstzrange(previous_at, null);
  end if;

  -- From the stop (or, for the first response, the reply) it counts as
  -- running, so a finished ticket keeps the due time it was judged by.
  stop_at := least(stop_at, case when clock = 'first_response' then responded_at end);
  if stop_at is not null then
    stretches := stretches || tstzrange(stop_at, null);
  end if;
  return tstzmultirange(variadic stretches) * tstzmultirange(tstzrange(created_at, null));
end;
$function$;
grant execute on function app_private.sla_active_time(timestamp with time zone,app_public.ticket_status[],timestamp with time zone[],app_public.sla_clock,timestamp with time zone) to ticketing_admin;
grant execute on function app_private.sla_active_time(timestamp with time zone,app_public.ticket_status[],timestamp with time zone[],app_public.sla_clock,timestamp with time zone) to ticketing_agent;
grant execute on function app_private.sla_active_time(timestamp with time zone,app_public.ticket_status[],timestamp with time zone[],app_public.sla_clock,timestamp with time zone) to ticketing_customer;
comment on function app_private.sla_active_time(timestamp with time zone,app_public.ticket_status[],timestamp with time zone[],app_public.sla_clock,timestamp with time zone) is 'The time an SLA clock runs: from created_at on, every stretch of the status timeline (statuses[i] from changed_ats[i] to the next change, the last one open-ended) whose status does not pause the clock (sla_pause_statuses; the creation row never pauses); from the instant the clock stopped for good (the ticket entered its final run of resolved/closed statuses, or for the first response the reply at responded_at) it counts as running, so a finished ticket keeps the due time it was judged by.';

CREATE OR REPLACE FUNCTION app_private.sla_at_risk_at(calendar_id uuid, target_minutes numeric, due_at timestamp with time zone)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  due_seconds numeric;
  at_risk_seconds numeric;
begin
  if due_at is null or target_minutes is null or calendar_id is null then
    return null;
  end if;
  -- The first instant t with business_minutes_between(t, due_at) * 4 <= target:
  -- the running total of business seconds at due_at less a quarter of the target.
  due_seconds := app_private.business_seconds_at(calendar_id, due_at);
  at_risk_seconds := due_seconds - target_minutes * 15;
  if at_risk_seconds > 0 then
    return app_private.business_instant_at(calendar_id, at_risk_seconds);
  end if;
  -- Outside the materialized horizon: at risk as far as the job is
  -- concerned, which checks the business minutes left itself.
  return '-infinity';
end;
$function$;
comment on function app_private.sla_at_risk_at(uuid,numeric,timestamp with time zone) is 'The instant from which at most a quarter of target_minutes business minutes of the calendar remain until due_at (-infinity when due_at lies outside the materialized business time: checked every time); null without a due time.';

CREATE OR REPLACE FUNCTION app_private.sla_breached(due timestamp with time zone, done timestamp with time zone)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN ((due IS NOT NULL) AND (done > due));
grant execute on function app_private.sla_breached(timestamp with time zone,timestamp with time zone) to ticketing_admin;
grant execute on function app_private.sla_breached(timestamp with time zone,timestamp with time zone) to ticketing_agent;
grant execute on function app_private.sla_breached(timestamp with time zone,timestamp with time zone) to ticketing_analyst;
grant execute on function app_private.sla_breached(timestamp with time zone,timestamp with time zone) to ticketing_customer;
comment on function app_private.sla_breached(timestamp with time zone,timestamp with time zone) is 'The SLA rule: a target due at `due` is breached when `done` (when it was met, or the time of judgement, usually now(), while it is not) comes after it. No target (due null): never breached.';

CREATE OR REPLACE FUNCTION app_private.sla_clock_runs_in(status app_public.ticket_status, clock app_public.sla_clock)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT ((status <> ALL (ARRAY['resolved'::app_public.ticket_status, 'closed'::app_public.ticket_status])) AND (NOT (EXISTS ( SELECT 1
            FROM app_public.sla_pause_statuses p
           WHERE ((p.status = sla_clock_runs_in.status) AND (p.clock = sla_clock_runs_in.clock))))));
END;
comment on function app_private.sla_clock_runs_in(app_public.ticket_status,app_public.sla_clock) is 'True when a ticket in this status is working time for the clock: not paused by sla_pause_statuses, not resolved or closed.';

CREATE OR REPLACE FUNCTION app_private.sla_clock_state(calendar_id uuid, target_minutes numeric, active tstzmultirange, OUT due_at timestamp with time zone, OUT paused_seconds_left numeric)
 RETURNS record
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  running_from timestamptz;
  finished tstzmultirange;
  counted tstzmultirange;
  remaining numeric := target_minutes * 60;
  stretch tstzrange;
  stretch_seconds numeric;
  seconds_from numeric;
  seconds_to numeric;
  materialized boolean;
begin
  if calendar_id is null or target_minutes is null then
    return;
  end if;
  -- The open-ended stretch (the clock runs now), and the finished ones before it.
  select lower(r) into running_from from unnest(active) as r where upper_inf(r);
  finished := case
    when running_from is null then active
    else active - tstzmultirange(tstzrange(running_from, null))
  end;
  if not isempty(finished) then
    -- Each finished stretch by two index probes of the materialized business
    -- time; a stretch outside its horizon sends the whole count to the
    -- computation on the fly.
    materialized := true;
    for stretch in select r from unnest(finished) as r order by lower(r) loop
      seconds_from := app_private.business_seconds_at(calendar_id, lower(stretch));
      seconds_to := app_private.business_seconds_at(calendar_id, upper(stretch));
      if seconds_from is null or seconds_to is null then
        materialized := false;
        remaining := target_minutes * 60;
        exit;
      end if;
      stretch_seconds := seconds_to - seconds_from;
      if stretch_seconds > 0 and stretch_seconds >= remaining then
        due_at := app_private.business_instant_at(calendar_id, seconds_from + remaining);
        return;
      end if;
      remaining := remaining - stretch_seconds;
    end loop;
    if not materialized then
      -- Business time of all finished stretches in one pass over the calendar.
      counted := app_private.business_spans(calendar_id, lower(finished), upper(finished)) * finished;
      for stretch in select r from unnest(counted) as r order by lower(r) loop
        stretch_seconds := extract(epoch from upper(stretch) - lower(stretch));
        if stretch_seconds >= remaining then
          due_at := lower(stretch) + make_interval(secs => remaining);
          return;
        end if;
        remaining := remaining - stretch_seconds;
      end loop;
    end if;
  end if;
  if running_from is null then
    -- Paused now, target not reached: no due time until the clock runs again.
    paused_seconds_left := remaining;
    return;
  end if;
  due_at := app_public.add_business_minutes(calendar_id, running_from, remaining / 60);
end;
$function$;
comment on function app_private.sla_clock_state(uuid,numeric,tstzmultirange) is 'An SLA clock from its active time: due_at, the instant at which target_minutes business minutes of the calendar have passed within it (null while the clock is paused short of the target), and paused_seconds_left, the business seconds still to run while it is paused short of the target (null otherwise).';

CREATE OR REPLACE FUNCTION app_private.sla_due_at(calendar_id uuid, target_minutes numeric, active tstzmultirange)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (app_private.sla_clock_state(calendar_id, target_minutes, active)).due_at AS due_at;
END;
comment on function app_private.sla_due_at(uuid,numeric,tstzmultirange) is 'The instant at which target_minutes business minutes of the calendar have passed within the active time; null while the clock is paused short of the target.';

CREATE OR REPLACE FUNCTION app_private.sla_elapsed_minutes(calendar_id uuid, active tstzmultirange, until_at timestamp with time zone)
 RETURNS numeric
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT COALESCE(sum(app_private.business_minutes_between(sla_elapsed_minutes.calendar_id, lower(r.r), LEAST(upper(r.r), sla_elapsed_minutes.until_at))), (0)::numeric) AS "coalesce"
    FROM unnest(sla_elapsed_minutes.active) r(r)
   WHERE (lower(r.r) < sla_elapsed_minutes.until_at);
END;
grant execute on function app_private.sla_elapsed_minutes(uuid,tstzmultirange,timestamp with time zone) to ticketing_admin;
grant execute on function app_private.sla_elapsed_minutes(uuid,tstzmultirange,timestamp with time zone) to ticketing_agent;
grant execute on function app_private.sla_elapsed_minutes(uuid,tstzmultirange,timestamp with time zone) to ticketing_customer;
comment on function app_private.sla_elapsed_minutes(uuid,tstzmultirange,timestamp with time zone) is 'Business minutes of the calendar within the active time before until_at.';

CREATE OR REPLACE FUNCTION app_private.sla_instant_after(calendar_id uuid, from_at timestamp with time zone, seconds numeric)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT app_private.business_instant_at(calendar_id, (app_private.business_seconds_at(calendar_id, from_at) + seconds)) AS business_instant_at;
END;
comment on function app_private.sla_instant_after(uuid,timestamp with time zone,numeric) is 'The first instant at which seconds business seconds of the calendar have passed after from_at, from the materialized running totals (two index probes); null outside the horizon.';

CREATE OR REPLACE FUNCTION app_private.sla_policy_for(organization_id uuid, priority app_public.ticket_priority)
 RETURNS SETOF app_public.sla_policies
 LANGUAGE sql
 STABLE ROWS 1
AS $function$
  select
    d.priority,
    coalesce(o.first_response_minutes, d.first_response_minutes),
    coalesce(o.resolution_minutes, d.resolution_minutes),
    coalesce(o.calendar_id, d.calendar_id)
  from app_public.sla_policies as d
  left join app_public.organization_sla_policies as o
    on o.organization_id = sla_policy_for.organization_id
    and o.priority = d.priority
  where d.priority = sla_policy_for.priority;
$function$;
comment on function app_private.sla_policy_for(uuid,app_public.ticket_priority) is 'The SLA targets and calendar that hold for a ticket of this organization (may be null) and priority: the organization''s own row of organization_sla_policies, else the default row of sla_policies. Inlined where it is called; with the caller''s rights (ticket_sla_policy is the one for the web roles).';

CREATE OR REPLACE FUNCTION app_private.sla_seconds_until(calendar_id uuid, from_at timestamp with time zone, due_at timestamp with time zone)
 RETURNS numeric
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (app_private.business_seconds_at(calendar_id, due_at) - app_private.business_seconds_at(calendar_id, from_at));
END;
comment on function app_private.sla_seconds_until(uuid,timestamp with time zone,timestamp with time zone) is 'Business seconds of the calendar from from_at to due_at, from the materialized running totals (two index probes); null outside the horizon.';

CREATE OR REPLACE FUNCTION app_private.start_session(attempt_id uuid, token_digest bytea)
 RETURNS TABLE(session_id uuid, user_role app_public.user_role, refresh_expires_at timestamp with time zone, user_record app_public.users)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  attempt app_private.login_attempts;
  opened record;
begin
  select l.* into attempt
  from app_private.login_attempts as l
  where l.id = start_session.attempt_id
    and l.purpose = 'login'
    and l.reason = 'success'
    and l.decided_xact = pg_current_xact_id()
    and l.consumed_at is null
  for update;
  if not found then
    raise exception using errcode = 'TKFBD', message = 'A session starts only after a successful login in the same transaction';
  end if;

  select s.* into opened
  from app_private.open_session(attempt.user_id, start_session.token_digest) as s;
  session_id := opened.session_id;
  user_role := opened.user_role;
  refresh_expires_at := opened.refresh_expires_at;
  user_record := opened.user_record;

  update app_private.login_attempts as l
  set consumed_at = app_private.auth_now(),
      session_id = start_session.session_id
  where l.id = attempt.id;
  return next;
end;
$function$;
grant execute on function app_private.start_session(uuid,bytea) to ticketing_authenticator;
comment on function app_private.start_session(uuid,bytea) is 'Step 3 of login: opens a session for the user of a successful login attempt recorded by finish_login in this same transaction and not used before; records the session on the attempt. Raises TKFBD otherwise.';

CREATE OR REPLACE FUNCTION app_private.take_address_quota(action text, ip inet)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  rule app_private.address_rate_limits;
  oldest_counted timestamptz;
begin
  select l.* into strict rule
  from app_private.address_rate_limits as l
  where l.action = take_address_quota.action;

  -- One transaction at a time per action and address, so a burst cannot
  -- slip between the count and the insert.
  perform pg_advisory_xact_lock(
    hashtextextended('address:' || take_address_quota.action || ':' || coalesce(host(take_address_quota.ip), 'unknown'), 0)
  );

  -- The max_count-th most recent occurrence within the window: if there is
  -- one, the limit is reached until it leaves the window.
  select e.occurred_at into oldest_counted
  from app_private.address_events as e
  where e.action = take_address_quota.action
    and (e.ip = take_address_quota.ip or (take_address_quota.ip is null and e.ip is null))
    and e.occurred_at > app_private.auth_now() - rule.per_interval
  order by e.occurred_at desc
  offset rule.max_count - 1
  limit 1;

  if found then
    perform app_private.raise_rate_limited(
      'Too many requests of this kind from this address; try again later',
      oldest_counted + rule.per_interval
    );
  end if;

  insert into app_private.address_events (action, ip)
  values (take_address_quota.action, take_address_quota.ip);
end;
$function$;
comment on function app_private.take_address_quota(text,inet) is 'Counts one occurrence of action (register, refresh, password_change) from ip, or raises TKRAT with a retry hint when the address_rate_limits row for it is already reached. A null ip is one shared bucket.';

CREATE OR REPLACE FUNCTION app_private.tg_attachments_announce_ready()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  ticket app_public.tickets;
begin
  if tg_op = 'UPDATE' and old.state = 'ready' then
    return null;
  end if;
  select t.* into ticket from app_public.tickets as t where t.id = new.ticket_id;
  perform app_private.notify_ticket_event(ticket, 'attachment_added', attachment_id => new.id);
  return null;
end;
$function$;
comment on function app_private.tg_attachments_announce_ready() is 'Trigger: an attachment that becomes ready (finish_attachment_upload, or an inbound mail''s file) is put into the event log as attachment_added, in the same transaction.';

CREATE OR REPLACE FUNCTION app_private.tg_audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  -- The generated search vectors are derived data: left out of the log.
  new_row jsonb;
  old_row jsonb;
begin
  if tg_op in ('INSERT', 'UPDATE') then
    new_row := to_jsonb(new) - 'search';
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    old_row := to_jsonb(old) - 'search';
  end if;
  if tg_op = 'UPDATE' and old_row = new_row then
    return null;
  end if;

  insert into app_private.audit_log (actor_id, db_role, table_name, operation, record_id, old_data, new_data)
  values (
    app_private.jwt_user_id(),
    nullif(current_setting('role'), 'none'),
    tg_table_schema || '.' || tg_table_name,
    tg_op,
    (coalesce(new_row, old_row) ->> 'id')::uuid,
    old_row,
    new_row
  );
  return null;
end;
$function$;
comment on function app_private.tg_audit() is 'Trigger: records an insert, a real update (old and new values) or a delete (the removed row) in app_private.audit_log with the acting user and Postgres role.';

CREATE OR REPLACE FUNCTION app_private.tg_business_calendar_hours_no_overlap()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  -- One version's intervals are checked one writer at a time.
  perform 1 from app_public.business_calendar_versions as v where v.id = new.version_id for update;
  if exists (
    select 1
    from app_public.business_calendar_hours as h
    where h.version_id = new.version_id
      and h.id <> new.id
      and app_private.week_minutes(h.weekday, h.starts_at, h.ends_at)
        && app_private.week_minutes(new.weekday, new.starts_at, new.ends_at)
  ) then
    raise exception using errcode = 'TKVAL', message = 'Opening hours overlap another interval of the same calendar version';
  end if;
  return null;
end;
$function$;
comment on function app_private.tg_business_calendar_hours_no_overlap() is 'Constraint trigger: refuses (TKVAL) an opening interval that overlaps another of the same calendar version.';

CREATE OR REPLACE FUNCTION app_private.tg_business_time_rebuild()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  calendar_ids uuid[];
begin
  case tg_table_name
    when 'business_calendars' then
      select array_agg(distinct r.id) into calendar_ids from changed_rows as r;
    when 'business_calendar_hours' then
      select array_agg(distinct v.calendar_id) into calendar_ids
      from changed_rows as r
      join app_public.business_calendar_versions as v on v.id = r.version_id;
    else
      select array_agg(distinct r.calendar_id) into calendar_ids from changed_rows as r;
  end case;
  if calendar_ids is not null then
    perform app_private.build_business_time(calendar_ids);
  end if;
  return null;
end;
$function$;
comment on function app_private.tg_business_time_rebuild() is 'Statement trigger: after an edit of calendars, hours, versions or holidays, rebuilds the materialized business time of the calendars it touched (before the due times are recomputed from it).';

CREATE OR REPLACE FUNCTION app_private.tg_enforce_attachment_quota()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  uploader app_public.users;
  quota app_public.attachment_quotas;
  used_count integer;
  used_bytes bigint;
  frees_at timestamptz;
begin
  -- Only API requests (a web role) are counted.
  if current_setting('role') not in ('ticketing_customer', 'ticketing_agent', 'ticketing_admin') then
    return new;
  end if;

  select u.* into uploader
  from app_public.users as u
  where u.id = new.uploader_id
    and u.is_active;
  -- Without an active uploader the policies refuse the row anyway.
  if not found then
    return new;
  end if;

  select q.* into quota
  from app_public.attachment_quotas as q
  where q.role = uploader.role;
  if not found then
    return new;
  end if;

  if new.size > quota.max_file_bytes then
    raise exception using
      errcode = 'TKVAL',
      message = format('The file is too large: at most %s bytes', quota.max_file_bytes);
  end if;

  -- One uploader's uploads are counted one at a time (until commit), so
  -- parallel requests cannot all pass on the same sums.
  perform pg_advisory_xact_lock(hashtext('app_public.attachments'), hashtext(uploader.id::text));

  select count(*)::integer, coalesce(sum(a.size), 0), min(a.created_at)
  into used_count, used_bytes, frees_at
  from app_public.attachments as a
  where a.uploader_id = uploader.id
    and a.created_at > now() - quota.per_interval;

  if used_count + 1 > quota.max_count or used_bytes + new.size > quota.max_bytes then
    raise exception using
      errcode = 'TKRAT',
      message = 'Too many uploads in a short time; try again later',
      hint = format('retry_after=%s', greatest(1, ceil(extract(epoch from frees_at + quota.per_interval - now())))::integer);
  end if;

  return new;
end;
$function$;
comment on function app_private.tg_enforce_attachment_quota() is 'Trigger: before an attachment row written by an API request, refuses a file larger than the uploader''s attachment_quotas.max_file_bytes (TKVAL), and an upload that would exceed max_count files or max_bytes bytes within per_interval (TKRAT, hint retry_after=<seconds>, when the oldest counted upload leaves the window). Rows written outside a web role are not counted.';

CREATE OR REPLACE FUNCTION app_private.tg_enforce_write_quota()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  write_kind app_public.write_kind := tg_argv[0]::app_public.write_kind;
  writer app_public.users;
  quota app_public.write_quotas;
  frees_at timestamptz;
begin
  -- Only API requests (a web role) are counted.
  if current_setting('role') not in ('ticketing_customer', 'ticketing_agent', 'ticketing_admin') then
    return new;
  end if;

  select u.* into writer
  from app_public.users as u
  where u.id = app_private.jwt_user_id()
    and u.is_active;
  -- Without an active user the policies refuse the write anyway.
  if not found then
    return new;
  end if;

  select q.* into quota
  from app_public.write_quotas as q
  where q.role = writer.role
    and q.kind = write_kind;
  if not found then
    return new;
  end if;

  -- One writer's counted writes go one at a time (until commit), so parallel
  -- requests cannot all pass on the same count. One lock per user, not per
  -- kind, so two requests of one user never wait for each other in a cycle.
  perform pg_advisory_xact_lock(hashtext('app_private.write_events'), hashtext(writer.id::text));

  -- The max_count-th newest event in the window: when it exists the quota is
  -- used up, and a write frees up when that event leaves the window.
  select e.occurred_at into frees_at
  from app_private.write_events as e
  where e.user_id = writer.id
    and e.kind = write_kind
    and e.occurred_at > now() - quota.per_interval
  order by e.occurred_at desc
  offset quota.max_count - 1
  limit 1;

  if found then
    raise exception using
      errcode = 'TKRAT',
      message = case write_kind
        when 'ticket' then 'Too many new tickets in a short time; try again later'
        when 'comment' then 'Too many comments in a short time; try again later'
        else 'Too many edits in a short time; try again later'
      end,
      hint = format('retry_after=%s', greatest(1, ceil(extract(epoch from frees_at + quota.per_interval - now())))::integer);
  end if;

  insert into app_private.write_events (user_id, kind)
  values (writer.id, write_kind);
  return new;
end;
$function$;
comment on function app_private.tg_enforce_write_quota() is 'Trigger (argument: the write_kind): before a ticket, comment or edit written by an API request, refuses it with TKRAT (hint retry_after=<seconds>) when the writer used up the write_quotas row of their role and that kind within its window; otherwise counts it in write_events. Writes made outside a web role (migrations, maintenance, the owner) are not counted.';

CREATE OR REPLACE FUNCTION app_private.tg_forbid_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  raise exception using
    errcode = 'TKFBD',
    message = format('%s is append-only: rows can be added but never changed or removed', tg_table_name);
end;
$function$;
comment on function app_private.tg_forbid_change() is 'Trigger: refuses UPDATE, DELETE and TRUNCATE on append-only tables (history, audit log), whoever runs them, the owner included.';

CREATE OR REPLACE FUNCTION app_private.tg_organizations_sight_changed()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform app_private.announce_sight_changed(array(
    select m.user_id
    from app_public.organization_memberships as m
    where m.organization_id = new.id
      and m.removed_at is null
  ));
  return null;
end;
$function$;
comment on function app_private.tg_organizations_sight_changed() is 'Trigger: announces sight_changed for every member in force of an organization that was deactivated or reactivated.';

CREATE OR REPLACE FUNCTION app_private.tg_realtime_events_queue_mail()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  ticket app_public.tickets;
  note app_public.ticket_comments;
  author record;
begin
  if new.ticket_id is null or new.kind not in ('created', 'status_changed', 'assigned', 'commented') then
    return null;
  end if;
  select t.* into ticket from app_public.tickets as t where t.id = new.ticket_id;
  if not found then
    return null;
  end if;

  if new.kind = 'created' then
    perform app_private.notify_user('ticket_created', ticket.customer_id, ticket, '{}', true);
  elsif new.kind = 'status_changed' and ticket.status in ('waiting_on_customer', 'resolved') then
    perform app_private.notify_user(
      'ticket_status', ticket.customer_id, ticket,
      jsonb_build_object('statusText', case ticket.status when 'resolved' then 'resolved' else 'waiting for your answer' end)
    );
  elsif new.kind = 'assigned' and ticket.agent_id is not null and ticket.agent_id is distinct from new.previous_agent_id then
    perform app_private.notify_user('ticket_assigned', ticket.agent_id, ticket);
  elsif new.kind = 'commented' then
    select c.* into note from app_public.ticket_comments as c where c.id = new.comment_id;
    -- Internal notes are for staff; no mail carries them.
    if not found or note.is_internal then
      return null;
    end if;
    select u.display_name, u.role into author from app_public.users as u where u.id = note.author_id;
    if note.author_id = ticket.customer_id then
      perform app_private.notify_user(
        'customer_reply', ticket.agent_id, ticket,
        jsonb_build_object('authorName', author.display_name, 'body', note.body)
      );
    else
      perform app_private.notify_user(
        'ticket_reply', ticket.customer_id, ticket,
        jsonb_build_object('authorName', author.display_name, 'body', note.body)
      );
    end if;
  end if;
  return null;
end;
$function$;
comment on function app_private.tg_realtime_events_queue_mail() is 'Trigger: queues the notification mails of a ticket event (see the table at the top of this migration): receipts, public replies and status changes to the customer; assignments and customer replies to the agent. Never for internal notes.';

CREATE OR REPLACE FUNCTION app_private.tg_realtime_events_queue_webhooks()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  event_type text := app_private.webhook_event_type(new);
  ticket_priority app_public.ticket_priority;
  endpoint record;
  body jsonb;
  delivery_id uuid;
begin
  -- The usual case, no endpoint at all, costs one index-only probe.
  if not exists (select from app_public.webhook_endpoints as e where e.is_active) then
    return null;
  end if;
  if new.ticket_id is not null then
    select t.priority into ticket_priority from app_public.tickets as t where t.id = new.ticket_id;
  end if;
  for endpoint in
    select e.id, e.include_internal
    from app_public.webhook_endpoints as e
    where e.is_active
      and event_type = any (e.event_kinds)
      and (e.priorities is null or new.ticket_id is null or ticket_priority = any (e.priorities))
    order by e.id
  loop
    body := app_private.webhook_payload(new, endpoint.include_internal);
    continue when body is null;
    insert into app_public.webhook_deliveries (endpoint_id, event_id, event_type, payload, next_attempt_at)
    values (endpoint.id, new.id, event_type, body, now())
    returning id into delivery_id;
    perform app_private.queue_webhook_attempt(delivery_id);
  end loop;
  return null;
end;
$function$;
comment on function app_private.tg_realtime_events_queue_webhooks() is 'Trigger: for each active endpoint whose event types and priorities match a new event, records a delivery with its payload and queues its first attempt, in the event''s transaction.';

CREATE OR REPLACE FUNCTION app_private.tg_set_updated_at()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- Never move backwards (clock_timestamp within a long transaction, or rows
  -- created later in the same transaction).
  new.updated_at := greatest(now(), old.updated_at);
  return new;
end;
$function$;
comment on function app_private.tg_set_updated_at() is 'Trigger: keeps updated_at current on every update.';

CREATE OR REPLACE FUNCTION app_private.tg_sight_changed()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform app_private.announce_sight_changed(array[new.user_id]);
  return null;
end;
$function$;
comment on function app_private.tg_sight_changed() is 'Trigger: announces sight_changed for the user of a membership or participation that was added or changed in what gives sight.';

CREATE OR REPLACE FUNCTION app_private.tg_sla_events_announce()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  ticket app_public.tickets;
begin
  select t.* into ticket from app_public.tickets as t where t.id = new.ticket_id;
  perform app_private.notify_ticket_event(ticket, 'sla_' || new.kind::text);
  return null;
end;
$function$;
comment on function app_private.tg_sla_events_announce() is 'Trigger: puts each new SLA event into the event log (kind sla_at_risk, sla_breached or sla_met) for subscriptions and webhooks.';

CREATE OR REPLACE FUNCTION app_private.tg_sla_events_mail_breach()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform app_private.notify_user(
    'sla_breach',
    new.agent_id,
    (select t from app_public.tickets as t where t.id = new.ticket_id),
    jsonb_build_object('targetText', replace(new.clock::text, '_', ' '))
  );
  return null;
end;
$function$;
comment on function app_private.tg_sla_events_mail_breach() is 'Trigger: a breached SLA event of an assigned ticket mails its agent (sla_breach, subject to their preferences), once per event.';

CREATE OR REPLACE FUNCTION app_private.tg_sla_rules_changed()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  calendar_ids uuid[];
begin
  case tg_table_name
    when 'business_calendar_hours' then
      select array_agg(distinct v.calendar_id) into calendar_ids
      from changed_rows as r
      join app_public.business_calendar_versions as v on v.id = r.version_id;
    when 'business_calendar_versions' then
      select array_agg(distinct r.calendar_id) into calendar_ids from changed_rows as r;
    when 'business_calendar_holidays' then
      select array_agg(distinct r.calendar_id) into calendar_ids from changed_rows as r;
    else
      -- Policies and pause rules: every calendar.
      calendar_ids := null;
  end case;
  if tg_table_name in ('business_calendar_hours', 'business_calendar_versions', 'business_calendar_holidays')
    and calendar_ids is null then
    return null;
  end if;
  perform app_private.recompute_sla_due_times(calendar_ids);
  return null;
end;
$function$;
comment on function app_private.tg_sla_rules_changed() is 'Statement trigger: after an edit of calendar hours, versions, holidays, SLA policies or pause rules, recomputes the due times of the unfinished tickets it can affect.';

CREATE OR REPLACE FUNCTION app_private.tg_ticket_comments_notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  ticket app_public.tickets;
begin
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = new.ticket_id;

  -- The comment id lets subscribers check the comment itself through their
  -- policies: a customer never hears of an internal note.
  perform app_private.notify_ticket_event(ticket, 'commented', comment_id => new.id);
  return null;
end;
$function$;
comment on function app_private.tg_ticket_comments_notify() is 'Trigger: announces a new comment or internal note (kind commented, with its id but not its text) on the channels of its ticket.';

CREATE OR REPLACE FUNCTION app_private.tg_ticket_comments_searchable()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  insert into app_private.searchable_comments as s (comment_id, ticket_id, ticket_open, ticket_agent_id, search)
  select new.id, new.ticket_id, (t.status = 'open')::int::smallint, t.agent_id, new.search
  from app_public.tickets as t
  where t.id = new.ticket_id
  on conflict (comment_id) do update
    set ticket_id = excluded.ticket_id,
        ticket_open = excluded.ticket_open,
        ticket_agent_id = excluded.ticket_agent_id,
        search = excluded.search;
  return null;
end;
$function$;
comment on function app_private.tg_ticket_comments_searchable() is 'Trigger: after a comment is written or its text or ticket changes, its row of app_private.searchable_comments, with the ticket''s open state and agent.';

CREATE OR REPLACE FUNCTION app_private.tg_ticket_comments_side_effects()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  author_role app_public.user_role;
begin
  select u.role into author_role
  from app_public.users as u
  where u.id = new.author_id;

  if new.is_internal then
    return null;
  end if;

  if author_role in ('agent', 'admin') then
    update app_public.tickets as tk
    set first_responded_at = greatest(new.created_at, tk.created_at)
    where tk.id = new.ticket_id
      and tk.first_responded_at is null;
  elsif author_role = 'customer' then
    perform set_config('app.status_note', 'Customer replied', true);

    update app_public.tickets as tk
    set status = 'in_progress'
    where tk.id = new.ticket_id
      and tk.status = 'waiting_on_customer';

    perform set_config('app.status_note', '', true);
  end if;

  return null;
end;
$function$;
comment on function app_private.tg_ticket_comments_side_effects() is 'Trigger: after a public comment, a staff author sets the ticket''s first_responded_at (once); a reply from the customer side (the requester, a manager of its organization or a cc, as the comment policy allows) moves a waiting_on_customer ticket back to in_progress (recorded in the status history as "Customer replied").';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_assignment_history()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  insert into app_public.ticket_assignment_history (ticket_id, from_agent_id, to_agent_id, changed_by, changed_at)
  values (
    new.id,
    case when tg_op = 'UPDATE' then old.agent_id end,
    new.agent_id,
    app_private.current_user_id(),
    clock_timestamp()
  );
  return null;
end;
$function$;
comment on function app_private.tg_tickets_assignment_history() is 'Trigger: writes one ticket_assignment_history row whenever a ticket''s assignee is set or changes.';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_check_people()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if tg_op = 'INSERT' or new.customer_id is distinct from old.customer_id then
    if not exists (
      select 1
      from app_public.users
      where id = new.customer_id
        and role = 'customer'
        and is_active
    ) then
      raise exception using errcode = 'TKVAL', message = 'A ticket''s customer must be an active customer';
    end if;
  end if;

  if new.agent_id is not null and (tg_op = 'INSERT' or new.agent_id is distinct from old.agent_id) then
    -- FOR SHARE waits for a concurrent deactivation/demotion of that agent to
    -- commit, so a ticket can never be handed to an agent being removed.
    perform 1
    from app_public.users
    where id = new.agent_id
      and role = 'agent'
      and is_active
    for share;

    if not found then
      raise exception using errcode = 'TKVAL', message = 'Tickets can only be assigned to an active agent';
    end if;
  end if;

  return new;
end;
$function$;
comment on function app_private.tg_tickets_check_people() is 'Trigger: a ticket''s customer must be an active customer and its agent (when set) an active agent, checked whenever either is set.';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if tg_op = 'INSERT' then
    perform app_private.notify_ticket_event(new, 'created');
  elsif old.agent_id is distinct from new.agent_id then
    -- Assignment wins over the status change it may carry (take next ticket,
    -- unassign): one event per change.
    perform app_private.notify_ticket_event(new, 'assigned', old);
  elsif old.status is distinct from new.status then
    perform app_private.notify_ticket_event(new, 'status_changed', old);
  else
    perform app_private.notify_ticket_event(new, 'updated', old);
  end if;
  return null;
end;
$function$;
comment on function app_private.tg_tickets_notify() is 'Trigger: announces a ticket''s creation, assignment, status change or edit (subject, description, priority, customer) to realtime subscribers.';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_organization()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if new.organization_id is null and tg_op = 'INSERT' then
    -- The customer's primary organization: the first they joined that is active.
    select m.organization_id into new.organization_id
    from app_public.organization_memberships as m
    join app_public.organizations as o on o.id = m.organization_id
    where m.user_id = new.customer_id
      and m.removed_at is null
      and o.is_active
    order by m.created_at, m.id
    limit 1;
  elsif new.organization_id is not null then
    if not exists (
      select 1
      from app_public.organization_memberships as m
      join app_public.organizations as o on o.id = m.organization_id
      where m.organization_id = new.organization_id
        and m.user_id = new.customer_id
        and m.removed_at is null
        and o.is_active
    ) then
      raise exception using errcode = 'TKVAL', message = 'A ticket can only be filed for an active organization its customer belongs to';
    end if;
  end if;
  return new;
end;
$function$;
comment on function app_private.tg_tickets_organization() is 'Trigger: a new ticket without organization gets its customer''s primary one (the first active organization they joined); an organization given or changed must be active and have the ticket''s customer as a member (TKVAL otherwise).';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_record_sla_events()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if new.status in ('resolved', 'closed')
    or (old.first_responded_at is null and new.first_responded_at is not null)
    or ((old.first_response_at_risk_at is distinct from new.first_response_at_risk_at
        or old.resolution_at_risk_at is distinct from new.resolution_at_risk_at)
      and least(new.first_response_at_risk_at, new.resolution_at_risk_at) <= now())
  then
    perform app_private.record_sla_events(array[new.id]);
  end if;
  return null;
end;
$function$;
comment on function app_private.tg_tickets_record_sla_events() is 'Trigger: after a reply, a resolution or a status change, records the SLA events it brings: met or breached on a first reply, a resolution or a closing; at risk or breached when the change moved an at-risk instant that has passed (those of unmoved instants come from the sla_clock job within a minute).';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_searchable_comments()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  update app_private.searchable_comments as s
  set ticket_open = (new.status = 'open')::int::smallint,
      ticket_agent_id = new.agent_id
  where s.ticket_id = new.id;
  return null;
end;
$function$;
comment on function app_private.tg_tickets_searchable_comments() is 'Trigger: after a ticket''s open state or agent changes, the rows of its comments in app_private.searchable_comments follow.';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_sla_at_risk()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  sla app_public.sla_policies;
begin
  select p.* into sla from app_private.sla_policy_for(new.organization_id, new.priority) as p;
  -- A replied ticket's first-response clock is done: never at risk again.
  new.first_response_at_risk_at := case when new.first_responded_at is null
    then app_private.sla_at_risk_at(sla.calendar_id, sla.first_response_minutes, new.first_response_due_at) end;
  new.resolution_at_risk_at := app_private.sla_at_risk_at(sla.calendar_id, sla.resolution_minutes, new.resolution_due_at);
  return new;
end;
$function$;
comment on function app_private.tg_tickets_sla_at_risk() is 'Trigger: sets first_response_at_risk_at (null once replied) and resolution_at_risk_at whenever a due time is set or changes, or the first reply comes (after the due times are computed, by the row trigger or the set-based recomputation).';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_sla_due_times()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  sla app_public.sla_policies;
  everything boolean;
  was_running boolean;
  goes_on boolean;
  pauses boolean;
  full_count boolean;
begin
  if tg_op = 'INSERT' then
    new.status_changed_at := new.created_at;
  elsif old.status is distinct from new.status then
    new.status_changed_at := clock_timestamp();
  end if;

  select p.* into sla
  from app_private.sla_policy_for(new.organization_id, new.priority) as p;

  -- Due times count from creation, also after a priority change: raising the
  -- priority of an old ticket makes it due (or overdue) sooner. A change of
  -- organization may change the targets the same way.
  everything := tg_op = 'INSERT' or old.priority is distinct from new.priority
    or old.organization_id is distinct from new.organization_id;

  -- A status change only matters to a clock that stops or starts running
  -- (what the full computation from the history would find anyway): from
  -- working time into working time or into resolved/closed (where the clock
  -- stops for good and counts as running) nothing moves; from working time
  -- into a pause the due time stays if it was reached already, else there is
  -- none and the business seconds left until it are kept. Leaving a status
  -- in which the clock stood still: a due time reached before that status
  -- began stays (the target was reached within the time already counted);
  -- else the kept seconds are added to the resume (from one pause into
  -- another they stay kept). Anything else (reopening a ticket resolved in
  -- time, a pause whose seconds are not kept, a probe outside the
  -- materialized horizon) is computed in full.

  -- The first-response clock.
  if not everything and old.status is distinct from new.status then
    was_running := app_private.sla_clock_runs_in(old.status, 'first_response');
    goes_on := app_private.sla_clock_runs_in(new.status, 'first_response') or new.status in ('resolved', 'closed');
    pauses := not goes_on;
  end if;
  full_count := false;
  if everything
    or (old.first_responded_at is null and new.first_responded_at is not null and new.first_response_due_at is null)
    or (old.first_responded_at is null and old.status is distinct from new.status and not was_running)
  then
    full_count := true;
    if not everything and new.first_responded_at is null and not was_running
      and old.first_response_due_at <= old.status_changed_at then
      -- Reached before the status it leaves began: the running time after
      -- it moves nothing.
      full_count := false;
    -- Leaving a pause (no reply in the same change): the seconds kept.
    elsif not everything and new.first_responded_at is null and not was_running
      and old.first_response_paused_seconds_left is not null then
      if goes_on then
        new.first_response_due_at := app_private.sla_instant_after(
          sla.calendar_id, new.status_changed_at, old.first_response_paused_seconds_left);
        new.first_response_paused_seconds_left := null;
        full_count := new.first_response_due_at is null;
      else
        full_count := false;
      end if;
    end if;
  elsif old.first_responded_at is null and old.status is distinct from new.status and pauses
    and not coalesce(new.first_response_due_at <= new.status_changed_at, false) then
    if new.first_responded_at is null then
      new.first_response_paused_seconds_left := app_private.sla_seconds_until(
        sla.calendar_id, new.status_changed_at, new.first_response_due_at);
      full_count := new.first_response_paused_seconds_left is null and sla.first_response_minutes is not null;
    end if;
    new.first_response_due_at := null;
  end if;
  if full_count then
    select s.due_at, s.paused_seconds_left
    into new.first_response_due_at, new.first_response_paused_seconds_left
    from app_private.sla_clock_state(
      sla.calendar_id, sla.first_response_minutes,
      app_private.ticket_sla_active_time(new.id, new.created_at, new.status, new.status_changed_at, 'first_response', new.first_responded_at)
    ) as s;
  end if;
  if new.first_responded_at is not null then
    -- Replied: the clock is done and never paused again.
    new.first_response_paused_seconds_left := null;
  end if;

  -- The resolution clock.
  if not everything and old.status is distinct from new.status then
    was_running := app_private.sla_clock_runs_in(old.status, 'resolution');
    goes_on := app_private.sla_clock_runs_in(new.status, 'resolution') or new.status in ('resolved', 'closed');
    pauses := not goes_on;
  end if;
  full_count := false;
  if everything or (old.status is distinct from new.status and not was_running) then
    full_count := true;
    if not everything and old.resolution_due_at <= old.status_changed_at then
      full_count := false;
    elsif not everything and old.resolution_paused_seconds_left is not null then
      if goes_on then
        new.resolution_due_at := app_private.sla_instant_after(
          sla.calendar_id, new.status_changed_at, old.resolution_paused_seconds_left);
        new.resolution_paused_seconds_left := null;
        full_count := new.resolution_due_at is null;
      else
        full_count := false;
      end if;
    end if;
  elsif old.status is distinct from new.status and pauses
    and not coalesce(new.resolution_due_at <= new.status_changed_at, false) then
    new.resolution_paused_seconds_left := app_private.sla_seconds_until(
      sla.calendar_id, new.status_changed_at, new.resolution_due_at);
    full_count := new.resolution_paused_seconds_left is null and sla.resolution_minutes is not null;
    new.resolution_due_at := null;
  end if;
  if full_count then
    select s.due_at, s.paused_seconds_left
    into new.resolution_due_at, new.resolution_paused_seconds_left
    from app_private.sla_clock_state(
      sla.calendar_id, sla.resolution_minutes,
      app_private.ticket_sla_active_time(new.id, new.created_at, new.status, new.status_changed_at, 'resolution', null)
    ) as s;
  end if;
  return new;
end;
$function$;
comment on function app_private.tg_tickets_sla_due_times() is 'Trigger: sets first_response_due_at and resolution_due_at, in business time of the calendar of the policy that holds for it (sla_policy_for), when a ticket is created and when its priority, organization, status or first reply changes (null when no policy holds, or while a pausing status holds the clock short of its target, when the seconds left are kept in *_paused_seconds_left and added back on leaving the pause).';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_status_history()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  insert into app_public.ticket_status_history (ticket_id, from_status, to_status, changed_by, changed_at, note)
  values (
    new.id,
    case when tg_op = 'UPDATE' then old.status end,
    new.status,
    app_private.current_user_id(),
    -- Creation is dated like the ticket; a change at the instant the ticket
    -- row recorded (the wall clock, so several changes in one transaction
    -- still come out in order), which its SLA due times were computed with.
    case when tg_op = 'INSERT' then new.created_at else coalesce(new.status_changed_at, clock_timestamp()) end,
    -- transition_ticket and the automatic changes pass their note this way.
    nullif(current_setting('app.status_note', true), '')
  );
  return null;
end;
$function$;
comment on function app_private.tg_tickets_status_history() is 'Trigger: writes one ticket_status_history row for the creation and for every status change of a ticket, whoever or whatever made it, dated by tickets.status_changed_at.';

CREATE OR REPLACE FUNCTION app_private.tg_tickets_status_timestamps()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if tg_op = 'INSERT' then
    -- Rows created directly in a later status (imports, demo data).
    if new.status = 'resolved' and new.resolved_at is null then
      new.resolved_at := greatest(now(), new.created_at);
    end if;
    if new.status = 'closed' and new.closed_at is null then
      new.closed_at := greatest(now(), new.created_at, new.resolved_at);
    end if;
    return new;
  end if;

  case new.status
    when 'resolved' then
      new.resolved_at := now();
      new.closed_at := null;
    when 'closed' then
      new.closed_at := now();
      -- Keep resolved_at only when closing a resolved ticket (it was resolved);
      -- a withdrawn or rejected ticket was never resolved.
      if old.status <> 'resolved' then
        new.resolved_at := null;
      end if;
    else
      -- Reopened or still in work.
      new.resolved_at := null;
      new.closed_at := null;
  end case;

  -- Leaving closed (admins only): an assignee who is no longer an active agent
  -- is dropped, so the reopened ticket goes back to the unassigned queue.
  if old.status = 'closed' and new.agent_id is not null and not exists (
    select 1
    from app_public.users
    where id = new.agent_id
      and role = 'agent'
      and is_active
  ) then
    new.agent_id := null;
  end if;

  return new;
end;
$function$;
comment on function app_private.tg_tickets_status_timestamps() is 'Trigger: keeps resolved_at/closed_at consistent with the status (set when resolving/closing, cleared on reopen) whoever changes it.';

CREATE OR REPLACE FUNCTION app_private.tg_user_accounts_auto_join()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  insert into app_public.organization_memberships (organization_id, user_id)
  select o.id, new.user_id
  from app_public.organizations as o
  join app_public.users as u on u.id = new.user_id and u.role = 'customer'
  where o.auto_join
    and o.is_active
    and lower(split_part(new.email::text, '@', 2)) = any (o.domains)
  order by o.created_at
  limit 20
  on conflict on constraint organization_memberships_one_per_user do nothing;
  return null;
end;
$function$;
comment on function app_private.tg_user_accounts_auto_join() is 'Trigger: a new customer account joins, as a member without shared sight, every active organization that opted in to auto-join (autoJoin) and lists its email''s domain.';

CREATE OR REPLACE FUNCTION app_private.tg_user_accounts_normalize_email()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  new.email := app_private.normalized_input(new.email::text, 320);
  return new;
end;
$function$;
comment on function app_private.tg_user_accounts_normalize_email() is 'Before insert or update of user_accounts: NFKC-normalises email and removes surrounding spaces (app_private.normalized_input); the constraints then check the result.';

CREATE OR REPLACE FUNCTION app_private.tg_users_normalize_display_name()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  new.display_name := app_private.normalized_input(new.display_name, 100);
  return new;
end;
$function$;
comment on function app_private.tg_users_normalize_display_name() is 'Before insert or update of users: NFKC-normalises display_name and removes surrounding spaces (app_private.normalized_input); the constraints then check the result.';

CREATE OR REPLACE FUNCTION app_private.tg_users_notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  event app_private.realtime_events;
begin
  event.kind := case when not new.is_active then 'deactivated' else 'role_changed' end;
  event.user_id := new.id;
  perform app_private.announce_realtime_event(event);
  return null;
end;
$function$;
comment on function app_private.tg_users_notify() is 'Trigger: records that a user was deactivated or changed role (realtime event), so the API re-checks the user and ends their open subscriptions.';

CREATE OR REPLACE FUNCTION app_private.tg_users_release_tickets()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform set_config('app.status_note', 'Agent no longer available: returned to the queue', true);

  update app_public.tickets as tk
  set agent_id = null,
      status = case
        when tk.status in ('in_progress', 'waiting_on_customer') then 'open'::app_public.ticket_status
        else tk.status
      end
  where tk.agent_id = old.id
    and tk.status <> 'closed';

  perform set_config('app.status_note', '', true);

  return null;
end;
$function$;
comment on function app_private.tg_users_release_tickets() is 'Trigger (deactivation rule): when an agent is deactivated or stops being an agent (role changed to customer or admin), in the same transaction every ticket of theirs that is not closed loses its agent; in_progress and waiting_on_customer tickets go back to open (status history note "Agent no longer available: returned to the queue"), open and resolved tickets keep their status. Closed tickets keep the agent as a record of who worked them. Both changes are recorded in the histories, attributed to the admin who made the change.';

CREATE OR REPLACE FUNCTION app_private.tg_webhook_deliveries_redeliver()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if new.redelivery_requested_at is distinct from old.redelivery_requested_at then
    new.status := 'pending';
    new.next_attempt_at := now();
    perform app_private.queue_webhook_attempt(new.id);
  end if;
  return new;
end;
$function$;
comment on function app_private.tg_webhook_deliveries_redeliver() is 'Trigger: when an admin requests a redelivery, the delivery is pending again and one attempt is queued now (with the same webhook-id and payload).';

CREATE OR REPLACE FUNCTION app_private.tg_webhook_endpoints_reenable()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if new.is_active and not old.is_active then
    new.consecutive_failures := 0;
    new.disabled_at := null;
  end if;
  return new;
end;
$function$;
comment on function app_private.tg_webhook_endpoints_reenable() is 'Trigger: an endpoint set active again has its consecutive failure count and disabledAt cleared.';

CREATE OR REPLACE FUNCTION app_private.ticket_for_participants(ticket_id uuid)
 RETURNS app_public.tickets
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  ticket app_public.tickets;
begin
  if app_private.current_user_role() is null then
    raise exception using errcode = 'TKFBD', message = 'Sign in to change participants';
  end if;
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = ticket_for_participants.ticket_id
  for update;
  if not found or not app_private.acts_on_ticket(ticket) then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;
  if ticket.status = 'closed' and app_private.current_user_role() <> 'admin' then
    raise exception using errcode = 'TKFBD', message = 'This ticket is closed';
  end if;
  return ticket;
end;
$function$;
comment on function app_private.ticket_for_participants(uuid) is 'The ticket whose participants the requesting user changes, locked; TKNTF unless they act on it (app_private.acts_on_ticket: requester, organization manager, assigned agent, admin), TKFBD when it is closed (except for admins).';

CREATE OR REPLACE FUNCTION app_private.ticket_sla_active_time(ticket_id uuid, created_at timestamp with time zone, status app_public.ticket_status, status_since timestamp with time zone, clock app_public.sla_clock, responded_at timestamp with time zone)
 RETURNS tstzmultirange
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET plan_cache_mode TO 'force_generic_plan'
BEGIN ATOMIC
 SELECT app_private.sla_active_time(ticket_sla_active_time.created_at, COALESCE(array_agg(x.status ORDER BY x.at, x.ord), '{}'::app_public.ticket_status[]), COALESCE(array_agg(x.at ORDER BY x.at, x.ord), '{}'::timestamp with time zone[]), ticket_sla_active_time.clock, ticket_sla_active_time.responded_at) AS sla_active_time
    FROM ( SELECT h.to_status AS status,
             h.changed_at AS at,
             0 AS ord
            FROM app_public.ticket_status_history h
           WHERE ((h.ticket_id = ticket_sla_active_time.ticket_id) AND (h.changed_at >= ticket_sla_active_time.created_at) AND (h.changed_at < COALESCE(ticket_sla_active_time.status_since, 'infinity'::timestamp with time zone)))
         UNION ALL
          SELECT ticket_sla_active_time.status AS status,
             ticket_sla_active_time.status_since AS status_since,
             1
           WHERE (ticket_sla_active_time.status_since IS NOT NULL)) x;
END;
grant execute on function app_private.ticket_sla_active_time(uuid,timestamp with time zone,app_public.ticket_status,timestamp with time zone,app_public.sla_clock,timestamp with time zone) to ticketing_admin;
grant execute on function app_private.ticket_sla_active_time(uuid,timestamp with time zone,app_public.ticket_status,timestamp with time zone,app_public.sla_clock,timestamp with time zone) to ticketing_agent;
grant execute on function app_private.ticket_sla_active_time(uuid,timestamp with time zone,app_public.ticket_status,timestamp with time zone,app_public.sla_clock,timestamp with time zone) to ticketing_customer;
comment on function app_private.ticket_sla_active_time(uuid,timestamp with time zone,app_public.ticket_status,timestamp with time zone,app_public.sla_clock,timestamp with time zone) is 'A ticket''s active time for an SLA clock (sla_active_time), from its status history (the months from created_at on) up to status_since and its current status from then on.';

CREATE OR REPLACE FUNCTION app_private.ticket_sla_policy(organization_id uuid, priority app_public.ticket_priority)
 RETURNS SETOF app_public.sla_policies
 LANGUAGE sql
 STABLE SECURITY DEFINER ROWS 1
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select * from app_private.sla_policy_for(ticket_sla_policy.organization_id, ticket_sla_policy.priority);
$function$;
grant execute on function app_private.ticket_sla_policy(uuid,app_public.ticket_priority) to ticketing_admin;
grant execute on function app_private.ticket_sla_policy(uuid,app_public.ticket_priority) to ticketing_agent;
grant execute on function app_private.ticket_sla_policy(uuid,app_public.ticket_priority) to ticketing_customer;
comment on function app_private.ticket_sla_policy(uuid,app_public.ticket_priority) is 'sla_policy_for with the owner''s rights, for the ticket fields the web roles read (a customer sees the targets of their ticket''s organization, never its row).';

CREATE OR REPLACE FUNCTION app_private.transition_allowed(from_status app_public.ticket_status, to_status app_public.ticket_status, as_role app_public.user_role)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select exists (
    select 1
    from app_public.ticket_transitions as tt
    where tt.from_status = transition_allowed.from_status
      and tt.to_status = transition_allowed.to_status
      and transition_allowed.as_role = any (tt.allowed_roles)
  );
$function$;
comment on function app_private.transition_allowed(app_public.ticket_status,app_public.ticket_status,app_public.user_role) is 'True when ticket_transitions lets as_role move a ticket from from_status to to_status.';

CREATE OR REPLACE FUNCTION app_private.utc_offset_at(zone text, at_time timestamp with time zone)
 RETURNS interval
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$ select (at_time at time zone zone) - (at_time at time zone 'UTC') $function$;
comment on function app_private.utc_offset_at(text,timestamp with time zone) is 'The UTC offset of zone at an instant (local wall-clock time minus UTC).';

CREATE OR REPLACE FUNCTION app_private.uuid_generate_v7()
 RETURNS uuid
 LANGUAGE plpgsql
 PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- Microseconds since the Unix epoch (numeric extract, exact on PG 14+).
  micros bigint := (extract(epoch from clock_timestamp()) * 1000000)::bigint;
  millis bigint := micros / 1000;
  -- Sub-millisecond fraction scaled to 12 bits (RFC 9562, method 3), so ids made
  -- within the same millisecond by one backend still sort by creation time.
  fraction integer := ((micros % 1000) * 4096 / 1000)::integer;
  -- gen_random_uuid() is a v4 UUID: 122 random bits and the RFC variant bits,
  -- which are kept; the time fields and the version nibble are overwritten.
  bytes bytea := uuid_send(gen_random_uuid());
begin
  bytes := overlay(bytes placing substring(int8send(millis) from 3 for 6) from 1 for 6);
  bytes := set_byte(bytes, 6, 112 | (fraction >> 8)); -- 0x70: version 7
  bytes := set_byte(bytes, 7, fraction & 255);
  return encode(bytes, 'hex')::uuid;
end;
$function$;
grant execute on function app_private.uuid_generate_v7() to ticketing_admin;
grant execute on function app_private.uuid_generate_v7() to ticketing_agent;
grant execute on function app_private.uuid_generate_v7() to ticketing_customer;
comment on function app_private.uuid_generate_v7() is 'Returns a version 7 UUID: 48-bit Unix millisecond timestamp, 12-bit sub-millisecond fraction, 62 random bits. Default of every primary key, so keys sort by creation time and index inserts stay local.';

CREATE OR REPLACE FUNCTION app_private.valid_email_token(purpose text, token_digest bytea)
 RETURNS app_private.email_tokens
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select t.*
  from app_private.email_tokens as t
  join app_public.users as u on u.id = t.user_id
  where t.token_digest = valid_email_token.token_digest
    and t.purpose = valid_email_token.purpose
    and t.used_at is null
    and t.expires_at > app_private.auth_now()
    and u.is_active;
$function$;
comment on function app_private.valid_email_token(text,bytea) is 'The unused, unexpired link of purpose with this digest, for an active user; null otherwise.';

CREATE OR REPLACE FUNCTION app_private.verify_email(token_digest bytea, session_token_digest bytea, ip inet)
 RETURNS TABLE(session_id uuid, user_role app_public.user_role, refresh_expires_at timestamp with time zone, user_record app_public.users)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  link app_private.email_tokens;
  opened record;
begin
  perform app_private.take_address_quota('email_verification', verify_email.ip);
  perform 1
  from app_private.email_tokens as t
  where t.token_digest = verify_email.token_digest
  for update;
  link := app_private.valid_email_token('email_verification', verify_email.token_digest);
  if link.id is null then
    raise exception using errcode = 'TKTOK', message = 'Invalid or expired link';
  end if;

  update app_private.email_tokens as t
  set used_at = app_private.auth_now()
  where t.id = link.id;

  -- The link proves the address it was sent to; the account takes it (an
  -- email change completes here) unless another account holds it by now.
  begin
    update app_private.user_accounts as a
    set email = link.email,
        email_verified_at = app_private.auth_now()
    where a.user_id = link.user_id;
  exception
    when unique_violation then
      raise exception using errcode = 'TKTOK', message = 'Invalid or expired link';
  end;

  select s.* into opened
  from app_private.open_session(link.user_id, verify_email.session_token_digest) as s;
  session_id := opened.session_id;
  user_role := opened.user_role;
  refresh_expires_at := opened.refresh_expires_at;
  user_record := opened.user_record;

  insert into app_private.login_attempts (email, user_id, ip, success, reason, purpose, consumed_at, session_id)
  values (link.email::text, link.user_id, verify_email.ip, true, 'success', 'registration', app_private.auth_now(), verify_email.session_id);
  return next;
end;
$function$;
grant execute on function app_private.verify_email(bytea,bytea,inet) to ticketing_authenticator;
comment on function app_private.verify_email(bytea,bytea,inet) is 'verifyEmail: counts the call against the ''email_verification'' limit of ip (TKRAT beyond it); for a valid verification link (TKTOK otherwise) marks the address verified, uses the link up and opens a session (the first refresh token''s digest given by the API), recorded in login_attempts.';

CREATE OR REPLACE FUNCTION app_private.webhook_delivery_to_send(delivery_id uuid)
 RETURNS TABLE(id uuid, url text, secret text, payload jsonb, attempts integer)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select d.id, e.url, e.secret, d.payload, d.attempts
  from app_public.webhook_deliveries as d
  join app_public.webhook_endpoints as e on e.id = d.endpoint_id
  where d.id = delivery_id
    and d.status = 'pending'
    and e.is_active;
$function$;
comment on function app_private.webhook_delivery_to_send(uuid) is 'Worker: what to send for a delivery (URL, secret, payload), if it is still pending and its endpoint active; otherwise nothing.';

CREATE OR REPLACE FUNCTION app_private.webhook_event_type(event app_private.realtime_events)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select case
    when event.kind = 'attachment_added' then 'attachment.created'
    when event.user_id is not null then 'user.' || event.kind
    else 'ticket.' || event.kind
  end;
$function$;
comment on function app_private.webhook_event_type(app_private.realtime_events) is 'The webhook type of an event: attachment.created for attachment_added, user.<kind> for user events, ticket.<kind> for the other ticket events.';

CREATE OR REPLACE FUNCTION app_private.webhook_payload(event app_private.realtime_events, include_internal boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  event_type text := app_private.webhook_event_type(event);
  data jsonb;
  note app_public.ticket_comments;
  file app_public.attachments;
begin
  if event.user_id is not null then
    select jsonb_build_object(
      'user', jsonb_build_object('id', u.id, 'displayName', u.display_name, 'role', u.role, 'isActive', u.is_active)
    ) into data
    from app_public.users as u
    where u.id = event.user_id;
  else
    select jsonb_build_object(
      'ticket', jsonb_build_object(
        'id', t.id, 'number', t.number, 'subject', t.subject, 'description', t.description,
        'status', t.status, 'priority', t.priority, 'customerId', t.customer_id, 'agentId', t.agent_id,
        'createdAt', t.created_at, 'updatedAt', t.updated_at
      )
    ) into data
    from app_public.tickets as t
    where t.id = event.ticket_id;
    if event.comment_id is not null then
      select * into note from app_public.ticket_comments as c where c.id = event.comment_id;
      if note.is_internal and not include_internal then
        return null;
      end if;
      data := data || jsonb_build_object('comment', jsonb_build_object(
        'id', note.id, 'body', note.body, 'isInternal', note.is_internal,
        'authorId', note.author_id, 'createdAt', note.created_at
      ));
    end if;
    if event.attachment_id is not null then
      select * into file from app_public.attachments as a where a.id = event.attachment_id;
      if file.comment_id is not null then
        select * into note from app_public.ticket_comments as c where c.id = file.comment_id;
        -- The file of an internal note is as internal as the note.
        if note.is_internal and not include_internal then
          return null;
        end if;
      end if;
      -- Metadata only: the bytes are reached through the API's short-lived URLs, never from here.
      data := data || jsonb_build_object('attachment', jsonb_build_object(
        'id', file.id, 'commentId', file.comment_id, 'isInternal', coalesce(note.is_internal, false),
        'fileName', file.file_name, 'contentType', file.content_type, 'size', file.size,
        'sha256', file.sha256, 'uploaderId', file.uploader_id, 'createdAt', file.created_at
      ));
    end if;
  end if;
  return jsonb_build_object(
    'type', event_type,
    'timestamp', event.occurred_at,
    'data', jsonb_build_object('eventId', event.id) || coalesce(data, '{}')
  );
end;
$function$;
comment on function app_private.webhook_payload(app_private.realtime_events,boolean) is 'The webhook body of an event: {type, timestamp, data: {eventId, ticket[, comment][, attachment] | user}} with what a staff reader sees (no internal note, nor a file of one, unless include_internal: then null, and nothing is delivered). An attachment is its metadata (id, comment, name, type, size, SHA-256, uploader, time), never a URL.';

CREATE OR REPLACE FUNCTION app_private.webhook_policy(OUT max_attempts integer, OUT first_retry interval, OUT max_retry interval, OUT failures_before_disable integer, OUT delivery_retention interval, OUT stalled_after interval)
 RETURNS record
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select 12, interval '2 seconds', interval '1 hour', 20, interval '30 days', interval '2 minutes';
$function$;
comment on function app_private.webhook_policy() is 'Webhook delivery policy, in one place: a delivery is attempted at most max_attempts times; the n-th retry waits first_retry * 2^(n-1), at most max_retry, times a random factor between 0.5 and 1 (jitter); an endpoint is disabled after failures_before_disable consecutive failed attempts; deliveries are kept delivery_retention; a pending delivery overdue by stalled_after (its worker died mid-attempt) is queued again. Replace this function in a migration to change them.';

CREATE OR REPLACE FUNCTION app_private.week_minutes(weekday integer, starts_at time without time zone, ends_at time without time zone)
 RETURNS int4multirange
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  with span as (
    select
      (weekday - 1) * 1440 + extract(epoch from starts_at)::integer / 60 as a,
      (weekday - 1) * 1440 + extract(epoch from ends_at)::integer / 60
        + case when ends_at <= starts_at then 1440 else 0 end as b
  )
  select case
    when b <= 10080 then int4multirange(int4range(a, b))
    else int4multirange(int4range(a, 10080), int4range(0, b - 10080))
  end
  from span;
$function$;
comment on function app_private.week_minutes(integer,time without time zone,time without time zone) is 'An opening interval as minutes of the ISO week [0, 10080), split where Sunday night runs into Monday.';

-- ===========================================================================
-- app_public
-- ===========================================================================

create schema app_public;
grant usage on schema app_public to ticketing_admin;
grant usage on schema app_public to ticketing_agent;
grant usage on schema app_public to ticketing_anonymous;
grant usage on schema app_public to ticketing_customer;
comment on schema app_public is 'Everything the GraphQL API exposes.';
create type app_public.attachment_state as enum ('pending', 'ready', 'rejected');
comment on type app_public.attachment_state is 'Where an attachment is in its life: pending (the upload URL was issued, the bytes are not verified yet), ready (size, checksum and type verified; downloadable), rejected (the stored bytes did not match what was declared; never downloadable).';
create type app_public.notification_preference as (kind text, enabled boolean);
comment on type app_public.notification_preference is 'Whether notification mails of a kind are sent to the signed-in user.';
create type app_public.organization_role as enum ('member', 'manager');
comment on type app_public.organization_role is 'A customer''s role in an organization: member, or manager (sees the organization''s tickets and may comment on, resolve and close them as their requester can).';
create type app_public.participant_kind as enum ('cc', 'follower');
comment on type app_public.participant_kind is 'How a person takes part in a ticket besides its requester: cc (a customer who sees the ticket and its public comments and may reply) or follower (staff who get its events).';
create type app_public.sla_clock as enum ('first_response', 'resolution');
comment on type app_public.sla_clock is 'The two SLA clocks of a ticket: time to the first public staff reply, and time to resolution.';
create type app_public.sla_event_kind as enum ('at_risk', 'breached', 'met');
comment on type app_public.sla_event_kind is 'What happened to an SLA clock: at_risk (at most a quarter of its business minutes left), breached (its due time passed before it was met), met (replied or resolved in time).';
create type app_public.ticket_priority as enum ('low', 'normal', 'high', 'urgent');
comment on type app_public.ticket_priority is 'How urgent a ticket is, from low to urgent. Drives the SLA due times (slaPolicies) and the order of the agents'' queue.';
create type app_public.ticket_status as enum ('open', 'in_progress', 'waiting_on_customer', 'resolved', 'closed');
comment on type app_public.ticket_status is 'Where a ticket is in its lifecycle. Changed only through transitionTicket, assignTicket, takeNextTicket (and a customer reply); allowed moves are the rows of ticketTransitions.';
create type app_public.user_role as enum ('customer', 'agent', 'admin');
comment on type app_public.user_role is 'What a user is: a customer raising tickets, an agent working them, or an admin running the helpdesk.';
create type app_public.webhook_endpoint_secret as (webhook_endpoint_id uuid, secret text);
comment on type app_public.webhook_endpoint_secret is 'An endpoint and its new signing secret, shown this once.';
create type app_public.write_kind as enum ('ticket', 'comment', 'edit');
comment on type app_public.write_kind is 'A kind of write limited by a quota: ticket (a new ticket), comment (a new comment or internal note), edit (a change of a ticket''s subject, description or priority, or of a user''s display name).';

create table app_public.attachment_quotas (
  role app_public.user_role not null,
  max_file_bytes bigint not null,
  max_count integer not null,
  max_bytes bigint not null,
  per_interval interval not null
);
alter table app_public.attachment_quotas enable row level security;
alter table app_public.attachment_quotas add constraint attachment_quotas_max_bytes_range CHECK (max_bytes >= 1 AND max_bytes <= '1099511627776'::bigint);
alter table app_public.attachment_quotas add constraint attachment_quotas_max_count_range CHECK (max_count >= 1 AND max_count <= 100000);
alter table app_public.attachment_quotas add constraint attachment_quotas_max_file_bytes_range CHECK (max_file_bytes >= 1 AND max_file_bytes <= 104857600);
alter table app_public.attachment_quotas add constraint attachment_quotas_per_interval_range CHECK (per_interval >= '00:01:00'::interval AND per_interval <= '7 days'::interval);
alter table app_public.attachment_quotas add constraint attachment_quotas_pkey PRIMARY KEY (role);
create policy select_admin on app_public.attachment_quotas
  for select to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy select_admin on app_public.attachment_quotas is 'Admins read the attachment quotas.';
create policy update_admin on app_public.attachment_quotas
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.attachment_quotas is 'Admins change the numbers of an attachment quota; rows are neither added nor removed.';
grant select on table app_public.attachment_quotas to ticketing_admin;
grant update (max_file_bytes, max_count, max_bytes, per_interval) on table app_public.attachment_quotas to ticketing_admin;
comment on table app_public.attachment_quotas is '@behavior -insert -delete
Attachment quotas: a user of role may upload files of at most maxFileBytes, and at most maxCount files and maxBytes bytes within any perInterval (a sliding window). A larger file is refused with INVALID_INPUT, an upload over the quota with RATE_LIMITED and retryAfterSeconds. Admins read and change the numbers.';
comment on column app_public.attachment_quotas.role is '@behavior -update
The role of the uploader (their stored role).';
comment on column app_public.attachment_quotas.max_file_bytes is 'Largest file, in bytes (at most 100 MiB).';
comment on column app_public.attachment_quotas.max_count is 'Uploads allowed within the window.';
comment on column app_public.attachment_quotas.max_bytes is 'Bytes allowed within the window (declared sizes of all uploads, rejected ones included).';
comment on column app_public.attachment_quotas.per_interval is 'Length of the sliding window, 1 minute to 7 days.';

create table app_public.attachments (
  id uuid default app_private.uuid_generate_v7() not null,
  ticket_id uuid not null,
  comment_id uuid,
  uploader_id uuid default app_public.current_user_id() not null,
  file_name text not null,
  content_type text not null,
  size bigint not null,
  sha256 text not null,
  storage_key text default replace(gen_random_uuid()::text, '-'::text, ''::text) not null,
  state app_public.attachment_state default 'pending'::app_public.attachment_state not null,
  rejection_reason text,
  created_at timestamp with time zone default now() not null,
  completed_at timestamp with time zone
);
alter table app_public.attachments enable row level security;
alter table app_public.attachments add constraint attachments_comment_id_fkey FOREIGN KEY (comment_id) REFERENCES app_public.ticket_comments(id);
alter table app_public.attachments add constraint attachments_completed_iff_not_pending CHECK ((state = 'pending'::app_public.attachment_state) = (completed_at IS NULL));
alter table app_public.attachments add constraint attachments_content_type_allowed CHECK (content_type <> ALL (ARRAY['application/x-msdownload'::text, 'application/x-dosexec'::text, 'application/x-executable'::text, 'application/x-elf'::text, 'application/x-mach-binary'::text, 'application/vnd.microsoft.portable-executable'::text, 'application/x-msi'::text, 'application/x-sh'::text, 'application/x-bat'::text, 'application/java-archive'::text, 'application/x-apple-diskimage'::text]));
alter table app_public.attachments add constraint attachments_content_type_shape CHECK (content_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$'::text);
alter table app_public.attachments add constraint attachments_file_name_safe CHECK (char_length(file_name) >= 1 AND char_length(file_name) <= 200 AND file_name ~ '[^[:space:].]'::text AND file_name !~ '[[:cntrl:]/\\:*?"<>|]'::text AND file_name !~ '^[.[:space:]]'::text);
alter table app_public.attachments add constraint attachments_pkey PRIMARY KEY (id);
alter table app_public.attachments add constraint attachments_rejection_reason_iff_rejected CHECK ((state = 'rejected'::app_public.attachment_state) = (rejection_reason IS NOT NULL) AND char_length(rejection_reason) <= 200);
alter table app_public.attachments add constraint attachments_sha256_shape CHECK (sha256 ~ '^[0-9a-f]{64}$'::text);
alter table app_public.attachments add constraint attachments_size_range CHECK (size >= 1 AND size <= 104857600);
alter table app_public.attachments add constraint attachments_storage_key_shape CHECK (storage_key ~ '^[0-9a-f]{32}$'::text);
alter table app_public.attachments add constraint attachments_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES app_public.tickets(id);
alter table app_public.attachments add constraint attachments_uploader_id_fkey FOREIGN KEY (uploader_id) REFERENCES app_public.users(id);
CREATE INDEX attachments_comment_id_idx ON app_public.attachments USING btree (comment_id);
CREATE UNIQUE INDEX attachments_storage_key_idx ON app_public.attachments USING btree (storage_key);
CREATE INDEX attachments_ticket_idx ON app_public.attachments USING btree (ticket_id, created_at);
CREATE INDEX attachments_unfinished_idx ON app_public.attachments USING btree (created_at) WHERE (state <> 'ready'::app_public.attachment_state);
CREATE INDEX attachments_uploader_time_idx ON app_public.attachments USING btree (uploader_id, created_at) INCLUDE (size);
CREATE TRIGGER _050_attachment_quota BEFORE INSERT ON app_public.attachments FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_attachment_quota();
CREATE TRIGGER _700_announce_ready AFTER INSERT OR UPDATE OF state ON app_public.attachments FOR EACH ROW WHEN (new.state = 'ready'::app_public.attachment_state) EXECUTE FUNCTION app_private.tg_attachments_announce_ready();
create policy insert_uploader on app_public.attachments
  for insert to ticketing_customer, ticketing_agent, ticketing_admin
  with check (uploader_id = (( SELECT app_private.acting_user_id(( SELECT app_private.current_user_role() AS current_user_role)) AS acting_user_id)) AND (( SELECT app_private.current_user_role() AS current_user_role)) IS NOT NULL AND (EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = attachments.ticket_id AND (t.status <> 'closed'::app_public.ticket_status OR (( SELECT app_private.current_user_role() AS current_user_role)) = 'admin'::app_public.user_role))) AND ((( SELECT app_private.current_user_role() AS current_user_role)) <> 'customer'::app_public.user_role OR ( SELECT app_private.customer_writes_on(attachments.ticket_id) AS customer_writes_on)) AND (comment_id IS NULL OR (EXISTS ( SELECT 1
   FROM app_public.ticket_comments c
  WHERE c.id = attachments.comment_id AND c.ticket_id = attachments.ticket_id AND c.author_id = attachments.uploader_id))));
comment on policy insert_uploader on app_public.attachments is 'Signed-in users upload as themselves to tickets they can read that are not closed (admins: any ticket), customers only to tickets they write on (requester, organization manager, cc), and to their own comments of that ticket.';
create policy select_visible_ticket on app_public.attachments
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = attachments.ticket_id
 OFFSET 0)) AND (comment_id IS NULL OR (EXISTS ( SELECT 1
   FROM app_public.ticket_comments c
  WHERE c.id = attachments.comment_id
 OFFSET 0))));
comment on policy select_visible_ticket on app_public.attachments is 'Everybody signed in reads the attachments of the tickets they can read, and of the comments they can read (the tickets and comments policies decide: customers never see the files of internal notes).';
grant select on table app_public.attachments to ticketing_admin;
grant select on table app_public.attachments to ticketing_agent;
grant select on table app_public.attachments to ticketing_customer;
grant insert (ticket_id, comment_id, file_name, content_type, size, sha256) on table app_public.attachments to ticketing_admin;
grant insert (ticket_id, comment_id, file_name, content_type, size, sha256) on table app_public.attachments to ticketing_agent;
grant insert (ticket_id, comment_id, file_name, content_type, size, sha256) on table app_public.attachments to ticketing_customer;
comment on table app_public.attachments is '@behavior -insert -update -delete
A file attached to a ticket or to one of its comments. The bytes are in object storage; a row is visible exactly when its ticket (and, for a comment''s file, that comment) is visible to you, so customers never see the files of internal notes. Created by createAttachmentUpload, verified by completeAttachmentUpload; only ready attachments have a downloadUrl.';
comment on column app_public.attachments.id is 'Attachment id (time-ordered UUID).';
comment on column app_public.attachments.ticket_id is 'The ticket the file belongs to.';
comment on column app_public.attachments.comment_id is 'The comment (or internal note) the file belongs to; null for a file of the ticket itself.';
comment on column app_public.attachments.uploader_id is 'Who uploaded the file.';
comment on column app_public.attachments.file_name is 'File name as given by the uploader, sanitised: no path, no control or reserved characters, at most 200 characters.';
comment on column app_public.attachments.content_type is 'Media type (lower case), declared by the uploader and checked against the bytes when the upload is completed.';
comment on column app_public.attachments.size is 'Size in bytes, declared by the uploader and checked when the upload is completed.';
comment on column app_public.attachments.sha256 is 'SHA-256 of the bytes (64 lower-case hex digits), declared by the uploader and checked when the upload is completed.';
comment on column app_public.attachments.storage_key is '@behavior -*
Where the bytes are in object storage (random; not shown in GraphQL).';
comment on column app_public.attachments.state is 'pending, ready or rejected (see AttachmentState).';
comment on column app_public.attachments.rejection_reason is 'Why the upload was rejected (size, checksum or content type did not match, or nothing was uploaded); null unless rejected.';
comment on column app_public.attachments.created_at is 'When the upload was requested.';
comment on column app_public.attachments.completed_at is 'When the upload was verified (ready) or rejected; null while pending.';

create table app_public.business_calendar_holidays (
  id uuid default app_private.uuid_generate_v7() not null,
  calendar_id uuid not null,
  holiday_date date not null,
  name text default ''::text not null,
  starts_at time without time zone,
  ends_at time without time zone
);
alter table app_public.business_calendar_holidays enable row level security;
alter table app_public.business_calendar_holidays add constraint business_calendar_holidays_calendar_id_fkey FOREIGN KEY (calendar_id) REFERENCES app_public.business_calendars(id);
alter table app_public.business_calendar_holidays add constraint business_calendar_holidays_name_length CHECK (char_length(name) <= 100);
alter table app_public.business_calendar_holidays add constraint business_calendar_holidays_one_per_date UNIQUE (calendar_id, holiday_date);
alter table app_public.business_calendar_holidays add constraint business_calendar_holidays_partial_interval CHECK (starts_at IS NULL AND ends_at IS NULL OR starts_at IS NOT NULL AND ends_at IS NOT NULL AND starts_at < ends_at);
alter table app_public.business_calendar_holidays add constraint business_calendar_holidays_pkey PRIMARY KEY (id);
CREATE TRIGGER _050_write_quota BEFORE INSERT OR UPDATE ON app_public.business_calendar_holidays FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _600_business_time_delete AFTER DELETE ON app_public.business_calendar_holidays REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _600_business_time_insert AFTER INSERT ON app_public.business_calendar_holidays REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _600_business_time_update AFTER UPDATE ON app_public.business_calendar_holidays REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _700_recompute_sla_delete AFTER DELETE ON app_public.business_calendar_holidays REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_insert AFTER INSERT ON app_public.business_calendar_holidays REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_update AFTER UPDATE ON app_public.business_calendar_holidays REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.business_calendar_holidays FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
create policy delete_admin on app_public.business_calendar_holidays
  for delete to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy delete_admin on app_public.business_calendar_holidays is 'Admins remove rows.';
create policy insert_admin on app_public.business_calendar_holidays
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy insert_admin on app_public.business_calendar_holidays is 'Admins add rows.';
create policy select_signed_in on app_public.business_calendar_holidays
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) IS NOT NULL);
comment on policy select_signed_in on app_public.business_calendar_holidays is 'Every signed-in user reads the business calendars and SLA rules (they explain the due times).';
create policy update_admin on app_public.business_calendar_holidays
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.business_calendar_holidays is 'Admins change rows.';
grant delete, select on table app_public.business_calendar_holidays to ticketing_admin;
grant select on table app_public.business_calendar_holidays to ticketing_agent;
grant select on table app_public.business_calendar_holidays to ticketing_customer;
grant insert (calendar_id, holiday_date, name, starts_at, ends_at) on table app_public.business_calendar_holidays to ticketing_admin;
grant update (holiday_date, name, starts_at, ends_at) on table app_public.business_calendar_holidays to ticketing_admin;
comment on table app_public.business_calendar_holidays is 'A local date on which a calendar is closed: the whole day (00:00-24:00 local), or only from startsAt to endsAt (a partial day, e.g. 12:00-24:00 on 24 December). One row per date.';
comment on column app_public.business_calendar_holidays.id is '@behavior -insert -update
Primary key (time-ordered UUID).';
comment on column app_public.business_calendar_holidays.calendar_id is '@behavior -update
The calendar.';
comment on column app_public.business_calendar_holidays.holiday_date is 'The local date.';
comment on column app_public.business_calendar_holidays.name is 'What the day is (up to 100 characters).';
comment on column app_public.business_calendar_holidays.starts_at is 'Start of a partial closure (local); null with endsAt null: the whole day.';
comment on column app_public.business_calendar_holidays.ends_at is 'End of a partial closure (local, up to 24:00).';

create table app_public.business_calendar_hours (
  id uuid default app_private.uuid_generate_v7() not null,
  version_id uuid not null,
  weekday integer not null,
  starts_at time without time zone not null,
  ends_at time without time zone not null
);
alter table app_public.business_calendar_hours enable row level security;
alter table app_public.business_calendar_hours add constraint _100_no_overlap TRIGGER;
alter table app_public.business_calendar_hours add constraint business_calendar_hours_not_empty CHECK (ends_at <> starts_at);
alter table app_public.business_calendar_hours add constraint business_calendar_hours_pkey PRIMARY KEY (id);
alter table app_public.business_calendar_hours add constraint business_calendar_hours_starts_in_day CHECK (starts_at < '24:00:00'::time without time zone);
alter table app_public.business_calendar_hours add constraint business_calendar_hours_version_id_fkey FOREIGN KEY (version_id) REFERENCES app_public.business_calendar_versions(id) ON DELETE CASCADE;
alter table app_public.business_calendar_hours add constraint business_calendar_hours_weekday_iso CHECK (weekday >= 1 AND weekday <= 7);
CREATE INDEX business_calendar_hours_version_idx ON app_public.business_calendar_hours USING btree (version_id, weekday);
CREATE TRIGGER _050_write_quota BEFORE INSERT OR UPDATE ON app_public.business_calendar_hours FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE CONSTRAINT TRIGGER _100_no_overlap AFTER INSERT OR UPDATE ON app_public.business_calendar_hours NOT DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION app_private.tg_business_calendar_hours_no_overlap();
CREATE TRIGGER _600_business_time_delete AFTER DELETE ON app_public.business_calendar_hours REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _600_business_time_insert AFTER INSERT ON app_public.business_calendar_hours REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _600_business_time_update AFTER UPDATE ON app_public.business_calendar_hours REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _700_recompute_sla_delete AFTER DELETE ON app_public.business_calendar_hours REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_insert AFTER INSERT ON app_public.business_calendar_hours REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_update AFTER UPDATE ON app_public.business_calendar_hours REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.business_calendar_hours FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
create policy delete_admin on app_public.business_calendar_hours
  for delete to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy delete_admin on app_public.business_calendar_hours is 'Admins remove rows.';
create policy insert_admin on app_public.business_calendar_hours
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy insert_admin on app_public.business_calendar_hours is 'Admins add rows.';
create policy select_signed_in on app_public.business_calendar_hours
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) IS NOT NULL);
comment on policy select_signed_in on app_public.business_calendar_hours is 'Every signed-in user reads the business calendars and SLA rules (they explain the due times).';
create policy update_admin on app_public.business_calendar_hours
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.business_calendar_hours is 'Admins change rows.';
grant delete, select on table app_public.business_calendar_hours to ticketing_admin;
grant select on table app_public.business_calendar_hours to ticketing_agent;
grant select on table app_public.business_calendar_hours to ticketing_customer;
grant insert (version_id, weekday, starts_at, ends_at) on table app_public.business_calendar_hours to ticketing_admin;
grant update (weekday, starts_at, ends_at) on table app_public.business_calendar_hours to ticketing_admin;
comment on table app_public.business_calendar_hours is 'One opening interval of a calendar version: on an ISO weekday (1 Monday … 7 Sunday), local wall-clock time from startsAt to endsAt. Several per day are allowed; an interval whose end is not after its start runs overnight into the next day (22:00-06:00). 00:00-24:00 is a whole day. Intervals of one version never overlap (checked in weekly time, Sunday night into Monday included).';
comment on column app_public.business_calendar_hours.id is '@behavior -insert -update
Primary key (time-ordered UUID).';
comment on column app_public.business_calendar_hours.version_id is '@behavior -update
The calendar version.';
comment on column app_public.business_calendar_hours.weekday is 'ISO weekday on which the interval starts: 1 Monday … 7 Sunday.';
comment on column app_public.business_calendar_hours.starts_at is 'Local opening time (00:00-23:59:59).';
comment on column app_public.business_calendar_hours.ends_at is 'Local closing time; 24:00 is midnight at the end of the day; earlier than (or equal to) the start means the next day.';

create table app_public.business_calendar_versions (
  id uuid default app_private.uuid_generate_v7() not null,
  calendar_id uuid not null,
  effective_from date not null
);
alter table app_public.business_calendar_versions enable row level security;
alter table app_public.business_calendar_versions add constraint business_calendar_versions_calendar_id_fkey FOREIGN KEY (calendar_id) REFERENCES app_public.business_calendars(id);
alter table app_public.business_calendar_versions add constraint business_calendar_versions_effective_unique UNIQUE (calendar_id, effective_from);
alter table app_public.business_calendar_versions add constraint business_calendar_versions_pkey PRIMARY KEY (id);
CREATE TRIGGER _050_write_quota BEFORE INSERT OR UPDATE ON app_public.business_calendar_versions FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _600_business_time_delete AFTER DELETE ON app_public.business_calendar_versions REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _600_business_time_insert AFTER INSERT ON app_public.business_calendar_versions REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _600_business_time_update AFTER UPDATE ON app_public.business_calendar_versions REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _700_recompute_sla_delete AFTER DELETE ON app_public.business_calendar_versions REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_insert AFTER INSERT ON app_public.business_calendar_versions REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_update AFTER UPDATE ON app_public.business_calendar_versions REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.business_calendar_versions FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
create policy delete_admin on app_public.business_calendar_versions
  for delete to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy delete_admin on app_public.business_calendar_versions is 'Admins remove rows.';
create policy insert_admin on app_public.business_calendar_versions
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy insert_admin on app_public.business_calendar_versions is 'Admins add rows.';
create policy select_signed_in on app_public.business_calendar_versions
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) IS NOT NULL);
comment on policy select_signed_in on app_public.business_calendar_versions is 'Every signed-in user reads the business calendars and SLA rules (they explain the due times).';
grant delete, select on table app_public.business_calendar_versions to ticketing_admin;
grant select on table app_public.business_calendar_versions to ticketing_agent;
grant select on table app_public.business_calendar_versions to ticketing_customer;
grant insert (calendar_id, effective_from) on table app_public.business_calendar_versions to ticketing_admin;
comment on table app_public.business_calendar_versions is '@behavior -update
A set of weekly opening hours valid from a local date (in the calendar''s time zone) until the next version. Days before the first version are closed. Adding a version for a future date changes future due times only, so past compliance is not rewritten.';
comment on column app_public.business_calendar_versions.id is '@behavior -insert
Primary key (time-ordered UUID).';
comment on column app_public.business_calendar_versions.calendar_id is 'The calendar.';
comment on column app_public.business_calendar_versions.effective_from is 'First local date on which these hours apply (-infinity: since always).';

create table app_public.business_calendars (
  id uuid default app_private.uuid_generate_v7() not null,
  name text not null,
  time_zone text not null,
  created_at timestamp with time zone default now() not null
);
alter table app_public.business_calendars enable row level security;
alter table app_public.business_calendars add constraint business_calendars_name_length CHECK (name ~ '[^[:space:]]'::text AND char_length(name) <= 100);
alter table app_public.business_calendars add constraint business_calendars_name_unique UNIQUE (name);
alter table app_public.business_calendars add constraint business_calendars_pkey PRIMARY KEY (id);
alter table app_public.business_calendars add constraint business_calendars_time_zone_known CHECK (app_private.is_time_zone_name(time_zone));
CREATE TRIGGER _050_write_quota BEFORE INSERT OR UPDATE ON app_public.business_calendars FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _600_business_time_insert AFTER INSERT ON app_public.business_calendars REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_business_time_rebuild();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.business_calendars FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
create policy insert_admin on app_public.business_calendars
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy insert_admin on app_public.business_calendars is 'Admins add rows.';
create policy select_signed_in on app_public.business_calendars
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) IS NOT NULL);
comment on policy select_signed_in on app_public.business_calendars is 'Every signed-in user reads the business calendars and SLA rules (they explain the due times).';
create policy update_admin on app_public.business_calendars
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.business_calendars is 'Admins change rows.';
grant select on table app_public.business_calendars to ticketing_admin;
grant select on table app_public.business_calendars to ticketing_agent;
grant select on table app_public.business_calendars to ticketing_customer;
grant insert (name, time_zone) on table app_public.business_calendars to ticketing_admin;
grant update (name) on table app_public.business_calendars to ticketing_admin;
comment on table app_public.business_calendars is '@behavior -delete
A business calendar: a time zone, weekly opening hours (businessCalendarVersions, by effective date) and holidays. SLA policies count their targets in business minutes of a calendar. The calendar named 24x7 is always open. Admins edit calendars; every signed-in user reads them.';
comment on column app_public.business_calendars.id is '@behavior -insert -update
Primary key (time-ordered UUID).';
comment on column app_public.business_calendars.name is 'Unique name, 1-100 characters.';
comment on column app_public.business_calendars.time_zone is '@behavior -update
IANA time zone of the opening hours and holidays (e.g. Europe/Berlin). Fixed at creation: create a new calendar to move to another zone.';
comment on column app_public.business_calendars.created_at is '@behavior -insert -update
When the calendar was created.';

create table app_public.organization_memberships (
  id uuid default app_private.uuid_generate_v7() not null,
  organization_id uuid not null,
  user_id uuid not null,
  role app_public.organization_role default 'member'::app_public.organization_role not null,
  sees_organization_tickets boolean default false not null,
  added_by uuid,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  removed_at timestamp with time zone,
  removed_by uuid
);
alter table app_public.organization_memberships enable row level security;
alter table app_public.organization_memberships add constraint organization_memberships_added_by_fkey FOREIGN KEY (added_by) REFERENCES app_public.users(id);
alter table app_public.organization_memberships add constraint organization_memberships_one_per_user UNIQUE (organization_id, user_id);
alter table app_public.organization_memberships add constraint organization_memberships_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES app_public.organizations(id);
alter table app_public.organization_memberships add constraint organization_memberships_pkey PRIMARY KEY (id);
alter table app_public.organization_memberships add constraint organization_memberships_removed_by_fkey FOREIGN KEY (removed_by) REFERENCES app_public.users(id);
alter table app_public.organization_memberships add constraint organization_memberships_timestamps_ordered CHECK (updated_at >= created_at);
alter table app_public.organization_memberships add constraint organization_memberships_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id);
CREATE INDEX organization_memberships_added_by_idx ON app_public.organization_memberships USING btree (added_by);
CREATE INDEX organization_memberships_removed_by_idx ON app_public.organization_memberships USING btree (removed_by);
CREATE INDEX organization_memberships_user_idx ON app_public.organization_memberships USING btree (user_id, organization_id) INCLUDE (role, sees_organization_tickets, removed_at);
CREATE TRIGGER _050_write_quota_edit BEFORE INSERT OR UPDATE ON app_public.organization_memberships FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON app_public.organization_memberships FOR EACH ROW EXECUTE FUNCTION app_private.tg_set_updated_at();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE ON app_public.organization_memberships FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
CREATE TRIGGER _900_sight_changed AFTER INSERT ON app_public.organization_memberships FOR EACH ROW EXECUTE FUNCTION app_private.tg_sight_changed();
CREATE TRIGGER _900_sight_changed_update AFTER UPDATE OF role, sees_organization_tickets, removed_at ON app_public.organization_memberships FOR EACH ROW WHEN (old.role IS DISTINCT FROM new.role OR old.sees_organization_tickets IS DISTINCT FROM new.sees_organization_tickets OR (old.removed_at IS NULL) IS DISTINCT FROM (new.removed_at IS NULL)) EXECUTE FUNCTION app_private.tg_sight_changed();
create policy select_customer on app_public.organization_memberships
  for select to ticketing_customer
  using (removed_at IS NULL AND (user_id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)) AND (organization_id = ANY ((( SELECT app_private.customer_organization_ids() AS customer_organization_ids))::uuid[])) OR (organization_id = ANY ((( SELECT app_private.customer_managed_organization_ids() AS customer_managed_organization_ids))::uuid[]))));
comment on policy select_customer on app_public.organization_memberships is 'Customers see their own memberships in force of active organizations; managers also see every membership in force of the organizations they manage.';
create policy select_staff on app_public.organization_memberships
  for select to ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) = ANY (ARRAY['agent'::app_public.user_role, 'admin'::app_public.user_role]));
comment on policy select_staff on app_public.organization_memberships is 'Agents and admins see every membership, removed ones included.';
grant select on table app_public.organization_memberships to ticketing_admin;
grant select on table app_public.organization_memberships to ticketing_agent;
grant select on table app_public.organization_memberships to ticketing_customer;
comment on table app_public.organization_memberships is '@behavior -insert -update -delete
A customer''s membership of an organization: member or manager, and whether the member sees the organization''s tickets. Changed only by admins (addOrganizationMember, removeOrganizationMember); a removed membership keeps its row (removedAt) and grants nothing from that moment. Customers see their own memberships, managers those of their organizations.';
comment on column app_public.organization_memberships.id is 'Primary key (time-ordered UUID).';
comment on column app_public.organization_memberships.organization_id is 'The organization.';
comment on column app_public.organization_memberships.user_id is 'The customer who belongs to it.';
comment on column app_public.organization_memberships.role is 'member or manager.';
comment on column app_public.organization_memberships.sees_organization_tickets is 'Whether this member sees the tickets filed for the organization (managers always do).';
comment on column app_public.organization_memberships.added_by is 'Who added (or last changed) the membership; null for auto-join and maintenance.';
comment on column app_public.organization_memberships.created_at is 'When the membership was first made.';
comment on column app_public.organization_memberships.updated_at is 'When the membership last changed.';
comment on column app_public.organization_memberships.removed_at is 'When the membership was removed; null while it is in force.';
comment on column app_public.organization_memberships.removed_by is 'Who removed the membership.';

create table app_public.organization_sla_policies (
  id uuid default app_private.uuid_generate_v7() not null,
  organization_id uuid not null,
  priority app_public.ticket_priority not null,
  first_response_minutes integer not null,
  resolution_minutes integer not null,
  calendar_id uuid default '00000000-0000-7000-8000-000000002407'::uuid not null
);
alter table app_public.organization_sla_policies enable row level security;
alter table app_public.organization_sla_policies add constraint organization_sla_policies_calendar_id_fkey FOREIGN KEY (calendar_id) REFERENCES app_public.business_calendars(id);
alter table app_public.organization_sla_policies add constraint organization_sla_policies_first_response_positive CHECK (first_response_minutes > 0);
alter table app_public.organization_sla_policies add constraint organization_sla_policies_one_per_priority UNIQUE (organization_id, priority);
alter table app_public.organization_sla_policies add constraint organization_sla_policies_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES app_public.organizations(id);
alter table app_public.organization_sla_policies add constraint organization_sla_policies_pkey PRIMARY KEY (id);
alter table app_public.organization_sla_policies add constraint organization_sla_policies_resolution_after_first_response CHECK (resolution_minutes >= first_response_minutes);
CREATE INDEX organization_sla_policies_calendar_idx ON app_public.organization_sla_policies USING btree (calendar_id);
CREATE TRIGGER _050_write_quota BEFORE INSERT OR UPDATE ON app_public.organization_sla_policies FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _700_recompute_sla_delete AFTER DELETE ON app_public.organization_sla_policies REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_insert AFTER INSERT ON app_public.organization_sla_policies REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_update AFTER UPDATE ON app_public.organization_sla_policies REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.organization_sla_policies FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
create policy delete_admin on app_public.organization_sla_policies
  for delete to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy delete_admin on app_public.organization_sla_policies is 'Admins remove an organization''s targets (its tickets return to the defaults).';
create policy insert_admin on app_public.organization_sla_policies
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy insert_admin on app_public.organization_sla_policies is 'Admins add an organization''s targets.';
create policy select_customer on app_public.organization_sla_policies
  for select to ticketing_customer
  using (organization_id = ANY ((( SELECT app_private.customer_organization_ids() AS customer_organization_ids))::uuid[]));
comment on policy select_customer on app_public.organization_sla_policies is 'Customers read the targets of the active organizations they belong to, never another organization''s contract.';
create policy select_staff on app_public.organization_sla_policies
  for select to ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) = ANY (ARRAY['agent'::app_public.user_role, 'admin'::app_public.user_role]));
comment on policy select_staff on app_public.organization_sla_policies is 'Agents and admins read every organization''s targets (they explain due times on any ticket they see).';
create policy update_admin on app_public.organization_sla_policies
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.organization_sla_policies is 'Admins change an organization''s targets.';
grant delete, select on table app_public.organization_sla_policies to ticketing_admin;
grant select on table app_public.organization_sla_policies to ticketing_agent;
grant select on table app_public.organization_sla_policies to ticketing_customer;
grant insert (organization_id, priority, first_response_minutes, resolution_minutes, calendar_id) on table app_public.organization_sla_policies to ticketing_admin;
grant update (first_response_minutes, resolution_minutes, calendar_id) on table app_public.organization_sla_policies to ticketing_admin;
comment on table app_public.organization_sla_policies is 'SLA targets of one organization for one priority, replacing the default policy (slaPolicies) for the tickets filed for that organization; a priority without a row here keeps the default. Due times of unfinished tickets follow every change. Staff read all; customers read those of their organizations; admins edit.';
comment on column app_public.organization_sla_policies.id is 'Primary key (time-ordered UUID).';
comment on column app_public.organization_sla_policies.organization_id is '@behavior -update
The organization whose tickets these targets apply to.';
comment on column app_public.organization_sla_policies.priority is '@behavior -update
The ticket priority these targets apply to (one row per organization and priority).';
comment on column app_public.organization_sla_policies.first_response_minutes is 'Business minutes after creation by which staff must have posted a first public reply.';
comment on column app_public.organization_sla_policies.resolution_minutes is 'Business minutes after creation by which the ticket must be resolved.';
comment on column app_public.organization_sla_policies.calendar_id is 'The business calendar whose open time counts (default: 24x7).';

create table app_public.organizations (
  id uuid default app_private.uuid_generate_v7() not null,
  name text not null,
  domains text[] default '{}'::text[] not null,
  auto_join boolean default false not null,
  is_active boolean default true not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null
);
alter table app_public.organizations enable row level security;
alter table app_public.organizations add constraint organizations_domains_valid CHECK (cardinality(domains) <= 20 AND array_position(domains, NULL::text) IS NULL AND char_length(array_to_string(domains, ' '::text)) <= 2000 AND (cardinality(domains) = 0 OR array_to_string(domains, ' '::text) ~ '^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}( ([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63})*$'::text));
alter table app_public.organizations add constraint organizations_name_key UNIQUE (name);
alter table app_public.organizations add constraint organizations_name_length CHECK (name ~ '[^[:space:]]'::text AND char_length(name) <= 200);
alter table app_public.organizations add constraint organizations_pkey PRIMARY KEY (id);
alter table app_public.organizations add constraint organizations_timestamps_ordered CHECK (updated_at >= created_at);
CREATE TRIGGER _050_write_quota_edit BEFORE INSERT OR UPDATE ON app_public.organizations FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON app_public.organizations FOR EACH ROW EXECUTE FUNCTION app_private.tg_set_updated_at();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE ON app_public.organizations FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
CREATE TRIGGER _900_sight_changed AFTER UPDATE OF is_active ON app_public.organizations FOR EACH ROW WHEN (old.is_active IS DISTINCT FROM new.is_active) EXECUTE FUNCTION app_private.tg_organizations_sight_changed();
create policy select_customer on app_public.organizations
  for select to ticketing_customer
  using (id = ANY ((( SELECT app_private.customer_organization_ids() AS customer_organization_ids))::uuid[]));
comment on policy select_customer on app_public.organizations is 'Customers see the active organizations they belong to.';
create policy select_staff on app_public.organizations
  for select to ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) = ANY (ARRAY['agent'::app_public.user_role, 'admin'::app_public.user_role]));
comment on policy select_staff on app_public.organizations is 'Agents and admins see every organization.';
grant select on table app_public.organizations to ticketing_admin;
grant select on table app_public.organizations to ticketing_agent;
grant select on table app_public.organizations to ticketing_customer;
comment on table app_public.organizations is '@behavior -insert -update -delete
A company whose people are customers. Tickets may be filed for an organization; its managers, and members whose membership shares sight, see them. Admins create and edit organizations (createOrganization, updateOrganization); customers see the active organizations they belong to; agents and admins see all.';
comment on column app_public.organizations.id is 'Primary key (time-ordered UUID).';
comment on column app_public.organizations.name is 'Name shown to users, 1-200 characters, unique.';
comment on column app_public.organizations.domains is 'Email domains of the organization (lower case, at most 20), used for auto-join.';
comment on column app_public.organizations.auto_join is 'When true, a customer account created with an email in one of the domains joins the organization as a member (without shared sight).';
comment on column app_public.organizations.is_active is 'False once deactivated: nobody sees tickets through it any more (requesters still see their own).';
comment on column app_public.organizations.created_at is 'When the organization was created.';
comment on column app_public.organizations.updated_at is 'When the organization row last changed.';

create table app_public.sla_events (
  id uuid default app_private.uuid_generate_v7() not null,
  ticket_id uuid not null,
  clock app_public.sla_clock not null,
  kind app_public.sla_event_kind not null,
  due_at timestamp with time zone not null,
  occurred_at timestamp with time zone default clock_timestamp() not null,
  priority app_public.ticket_priority not null,
  agent_id uuid,
  calendar_id uuid not null,
  organization_id uuid
);
alter table app_public.sla_events enable row level security;
alter table app_public.sla_events add constraint sla_events_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES app_public.users(id);
alter table app_public.sla_events add constraint sla_events_calendar_id_fkey FOREIGN KEY (calendar_id) REFERENCES app_public.business_calendars(id);
alter table app_public.sla_events add constraint sla_events_once UNIQUE (ticket_id, clock, kind, due_at);
alter table app_public.sla_events add constraint sla_events_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES app_public.organizations(id);
alter table app_public.sla_events add constraint sla_events_pkey PRIMARY KEY (id);
alter table app_public.sla_events add constraint sla_events_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES app_public.tickets(id);
CREATE INDEX sla_events_agent_idx ON app_public.sla_events USING btree (agent_id);
CREATE INDEX sla_events_calendar_idx ON app_public.sla_events USING btree (calendar_id);
CREATE INDEX sla_events_occurred_at_idx ON app_public.sla_events USING btree (occurred_at);
CREATE TRIGGER _100_append_only BEFORE DELETE OR UPDATE ON app_public.sla_events FOR EACH ROW EXECUTE FUNCTION app_private.tg_forbid_change();
CREATE TRIGGER _100_append_only_truncate BEFORE TRUNCATE ON app_public.sla_events FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_forbid_change();
CREATE TRIGGER _400_announce AFTER INSERT ON app_public.sla_events FOR EACH ROW EXECUTE FUNCTION app_private.tg_sla_events_announce();
CREATE TRIGGER _500_mail_breach AFTER INSERT ON app_public.sla_events FOR EACH ROW WHEN (new.kind = 'breached'::app_public.sla_event_kind AND new.agent_id IS NOT NULL) EXECUTE FUNCTION app_private.tg_sla_events_mail_breach();
create policy select_staff on app_public.sla_events
  for select to ticketing_agent, ticketing_admin
  using ((EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = sla_events.ticket_id)));
comment on policy select_staff on app_public.sla_events is 'Agents and admins read the SLA events of the tickets they can read.';
revoke delete, truncate, update on table app_public.sla_events from ticketing_owner;
grant select on table app_public.sla_events to ticketing_admin;
grant select on table app_public.sla_events to ticketing_agent;
comment on table app_public.sla_events is '@behavior -insert -update -delete
What happened to the SLA clocks of tickets: at risk, breached, met; written when it happens and by a job every minute for clocks that pass their due time unattended. Append-only. Staff read the events of the tickets they can read.';
comment on column app_public.sla_events.id is 'Identifier (time-ordered UUID).';
comment on column app_public.sla_events.ticket_id is 'The ticket.';
comment on column app_public.sla_events.clock is 'The clock: first_response or resolution.';
comment on column app_public.sla_events.kind is 'at_risk, breached or met.';
comment on column app_public.sla_events.due_at is 'The due time the clock was judged against.';
comment on column app_public.sla_events.occurred_at is 'When it was recorded.';
comment on column app_public.sla_events.priority is 'The ticket''s priority then.';
comment on column app_public.sla_events.agent_id is 'The ticket''s agent then (null: unassigned).';
comment on column app_public.sla_events.calendar_id is 'The business calendar of the priority''s policy then.';
comment on column app_public.sla_events.organization_id is 'The organization the ticket was filed for at the event (null: none, or an event recorded before events named it).';

create table app_public.sla_pause_statuses (
  status app_public.ticket_status not null,
  clock app_public.sla_clock not null
);
alter table app_public.sla_pause_statuses enable row level security;
alter table app_public.sla_pause_statuses add constraint sla_pause_statuses_pkey PRIMARY KEY (status, clock);
CREATE TRIGGER _050_write_quota BEFORE INSERT ON app_public.sla_pause_statuses FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _700_recompute_sla_delete AFTER DELETE ON app_public.sla_pause_statuses REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_insert AFTER INSERT ON app_public.sla_pause_statuses REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_update AFTER UPDATE ON app_public.sla_pause_statuses REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.sla_pause_statuses FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
create policy delete_admin on app_public.sla_pause_statuses
  for delete to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy delete_admin on app_public.sla_pause_statuses is 'Admins remove rows.';
create policy insert_admin on app_public.sla_pause_statuses
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy insert_admin on app_public.sla_pause_statuses is 'Admins add rows.';
create policy select_signed_in on app_public.sla_pause_statuses
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) IS NOT NULL);
comment on policy select_signed_in on app_public.sla_pause_statuses is 'Every signed-in user reads the business calendars and SLA rules (they explain the due times).';
grant delete, insert, select on table app_public.sla_pause_statuses to ticketing_admin;
grant select on table app_public.sla_pause_statuses to ticketing_agent;
grant select on table app_public.sla_pause_statuses to ticketing_customer;
comment on table app_public.sla_pause_statuses is '@behavior -update
Which ticket statuses stop which SLA clock: while a ticket is in such a status, business time does not count towards that target. Defaults: waiting_on_customer pauses both clocks, resolved pauses resolution. Admins add or remove rows; due times of unfinished tickets follow.';
comment on column app_public.sla_pause_statuses.status is 'A ticket status.';
comment on column app_public.sla_pause_statuses.clock is 'The clock it pauses.';

create table app_public.sla_policies (
  priority app_public.ticket_priority not null,
  first_response_minutes integer not null,
  resolution_minutes integer not null,
  calendar_id uuid default '00000000-0000-7000-8000-000000002407'::uuid not null
);
alter table app_public.sla_policies enable row level security;
alter table app_public.sla_policies add constraint sla_policies_calendar_id_fkey FOREIGN KEY (calendar_id) REFERENCES app_public.business_calendars(id);
alter table app_public.sla_policies add constraint sla_policies_first_response_positive CHECK (first_response_minutes > 0);
alter table app_public.sla_policies add constraint sla_policies_pkey PRIMARY KEY (priority);
alter table app_public.sla_policies add constraint sla_policies_resolution_after_first_response CHECK (resolution_minutes >= first_response_minutes);
CREATE INDEX sla_policies_calendar_idx ON app_public.sla_policies USING btree (calendar_id);
CREATE TRIGGER _700_recompute_sla_delete AFTER DELETE ON app_public.sla_policies REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_insert AFTER INSERT ON app_public.sla_policies REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _700_recompute_sla_update AFTER UPDATE ON app_public.sla_policies REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_sla_rules_changed();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.sla_policies FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
create policy select_signed_in on app_public.sla_policies
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) IS NOT NULL);
comment on policy select_signed_in on app_public.sla_policies is 'Every signed-in user reads the SLA targets.';
create policy update_admin on app_public.sla_policies
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.sla_policies is 'Admins change the SLA targets (existing tickets keep their due times).';
grant select on table app_public.sla_policies to ticketing_admin;
grant select on table app_public.sla_policies to ticketing_agent;
grant select on table app_public.sla_policies to ticketing_customer;
grant update (first_response_minutes, resolution_minutes, calendar_id) on table app_public.sla_policies to ticketing_admin;
comment on table app_public.sla_policies is '@behavior -insert -delete
Service-level targets per priority, in business minutes of a calendar. A ticket''s due times are the instants when that many business minutes have passed since creation, not counting the time its status paused the clock (slaPauseStatuses); they are recomputed on every status or priority change and, for unfinished tickets, when a policy or calendar changes. Admins edit policies.';
comment on column app_public.sla_policies.priority is '@behavior -update
The priority this policy applies to (one row per priority).';
comment on column app_public.sla_policies.first_response_minutes is 'Business minutes after creation by which staff must have posted a first public reply.';
comment on column app_public.sla_policies.resolution_minutes is 'Business minutes after creation by which the ticket must be resolved.';
comment on column app_public.sla_policies.calendar_id is 'The business calendar whose open time counts (default: 24x7).';

create table app_public.ticket_assignment_history (
  id uuid default app_private.uuid_generate_v7() not null,
  ticket_id uuid not null,
  from_agent_id uuid,
  to_agent_id uuid,
  changed_by uuid,
  changed_at timestamp with time zone default clock_timestamp() not null
);
alter table app_public.ticket_assignment_history enable row level security;
alter table app_public.ticket_assignment_history add constraint ticket_assignment_history_changed_by_fkey FOREIGN KEY (changed_by) REFERENCES app_public.users(id);
alter table app_public.ticket_assignment_history add constraint ticket_assignment_history_from_agent_id_fkey FOREIGN KEY (from_agent_id) REFERENCES app_public.users(id);
alter table app_public.ticket_assignment_history add constraint ticket_assignment_history_is_change CHECK (from_agent_id IS DISTINCT FROM to_agent_id);
alter table app_public.ticket_assignment_history add constraint ticket_assignment_history_pkey PRIMARY KEY (id);
alter table app_public.ticket_assignment_history add constraint ticket_assignment_history_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES app_public.tickets(id);
alter table app_public.ticket_assignment_history add constraint ticket_assignment_history_to_agent_id_fkey FOREIGN KEY (to_agent_id) REFERENCES app_public.users(id);
CREATE INDEX ticket_assignment_history_changed_by_idx ON app_public.ticket_assignment_history USING btree (changed_by);
CREATE INDEX ticket_assignment_history_from_agent_idx ON app_public.ticket_assignment_history USING btree (from_agent_id);
CREATE INDEX ticket_assignment_history_ticket_idx ON app_public.ticket_assignment_history USING btree (ticket_id, changed_at);
CREATE INDEX ticket_assignment_history_to_agent_idx ON app_public.ticket_assignment_history USING btree (to_agent_id);
CREATE TRIGGER _100_append_only BEFORE DELETE OR UPDATE ON app_public.ticket_assignment_history FOR EACH ROW EXECUTE FUNCTION app_private.tg_forbid_change();
CREATE TRIGGER _100_append_only_truncate BEFORE TRUNCATE ON app_public.ticket_assignment_history FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_forbid_change();
create policy select_visible_ticket on app_public.ticket_assignment_history
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = ticket_assignment_history.ticket_id
 OFFSET 0)));
comment on policy select_visible_ticket on app_public.ticket_assignment_history is 'Everybody signed in reads the assignment history of the tickets they can read (the tickets policies decide which).';
revoke delete, truncate, update on table app_public.ticket_assignment_history from ticketing_owner;
grant select on table app_public.ticket_assignment_history to ticketing_admin;
grant select on table app_public.ticket_assignment_history to ticketing_agent;
grant select on table app_public.ticket_assignment_history to ticketing_customer;
comment on table app_public.ticket_assignment_history is '@behavior -insert -update -delete
Every change of a ticket''s assignee (assign, unassign, take next, agent deactivated), written automatically. Append-only for everybody.';
comment on column app_public.ticket_assignment_history.id is 'Identifier of the change (time-ordered UUID).';
comment on column app_public.ticket_assignment_history.ticket_id is 'The ticket whose assignee changed.';
comment on column app_public.ticket_assignment_history.from_agent_id is 'Previous assignee; null when it was unassigned.';
comment on column app_public.ticket_assignment_history.to_agent_id is 'New assignee; null when unassigned.';
comment on column app_public.ticket_assignment_history.changed_by is 'Who made the change; null for system maintenance.';
comment on column app_public.ticket_assignment_history.changed_at is 'When the change happened.';

create table app_public.ticket_comments (
  id uuid default app_private.uuid_generate_v7() not null,
  ticket_id uuid not null,
  author_id uuid default app_public.current_user_id() not null,
  body text not null,
  is_internal boolean default false not null,
  created_at timestamp with time zone default now() not null,
  search tsvector generated always as (to_tsvector('english'::regconfig, body)) stored not null
);
alter table app_public.ticket_comments enable row level security;
alter table app_public.ticket_comments add constraint ticket_comments_author_id_fkey FOREIGN KEY (author_id) REFERENCES app_public.users(id);
alter table app_public.ticket_comments add constraint ticket_comments_body_length CHECK (body ~ '[^[:space:]]'::text AND char_length(body) <= 20000);
alter table app_public.ticket_comments add constraint ticket_comments_pkey PRIMARY KEY (id);
alter table app_public.ticket_comments add constraint ticket_comments_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES app_public.tickets(id);
CREATE INDEX ticket_comments_author_idx ON app_public.ticket_comments USING btree (author_id);
CREATE INDEX ticket_comments_ticket_created_idx ON app_public.ticket_comments USING btree (ticket_id, created_at) INCLUDE (is_internal);
CREATE TRIGGER _050_write_quota BEFORE INSERT ON app_public.ticket_comments FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('comment');
CREATE TRIGGER _400_notify AFTER INSERT ON app_public.ticket_comments FOR EACH ROW EXECUTE FUNCTION app_private.tg_ticket_comments_notify();
CREATE TRIGGER _450_searchable AFTER INSERT OR UPDATE OF ticket_id, body ON app_public.ticket_comments FOR EACH ROW EXECUTE FUNCTION app_private.tg_ticket_comments_searchable();
CREATE TRIGGER _500_side_effects AFTER INSERT ON app_public.ticket_comments FOR EACH ROW EXECUTE FUNCTION app_private.tg_ticket_comments_side_effects();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE ON app_public.ticket_comments FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
create policy insert_admin on app_public.ticket_comments
  for insert to ticketing_admin
  with check (author_id = (( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)));
comment on policy insert_admin on app_public.ticket_comments is 'Admins write public comments or internal notes, as themselves, on any ticket.';
create policy insert_agent on app_public.ticket_comments
  for insert to ticketing_agent
  with check (author_id = (( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)) AND (EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = ticket_comments.ticket_id AND t.status <> 'closed'::app_public.ticket_status)));
comment on policy insert_agent on app_public.ticket_comments is 'Agents write public comments or internal notes, as themselves, on the tickets they can read (assigned to them or open) that are not closed.';
create policy insert_customer on app_public.ticket_comments
  for insert to ticketing_customer
  with check (author_id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)) AND NOT is_internal AND (EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = ticket_comments.ticket_id AND t.status <> 'closed'::app_public.ticket_status)) AND ( SELECT app_private.customer_writes_on(ticket_comments.ticket_id) AS customer_writes_on));
comment on policy insert_customer on app_public.ticket_comments is 'Customers write public comments, as themselves, on tickets that are not closed and that they requested, manage (organization manager) or are copied in on; members who only share sight read but do not write.';
create policy select_customer on app_public.ticket_comments
  for select to ticketing_customer
  using (NOT is_internal AND (EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = ticket_comments.ticket_id
 OFFSET 0)));
comment on policy select_customer on app_public.ticket_comments is 'Customers read the public comments of the tickets they can read (own, organization, cc), never internal notes.';
create policy select_staff on app_public.ticket_comments
  for select to ticketing_agent, ticketing_admin
  using ((EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = ticket_comments.ticket_id
 OFFSET 0)));
comment on policy select_staff on app_public.ticket_comments is 'Agents and admins read all comments, internal notes included, of the tickets they can read.';
grant select on table app_public.ticket_comments to ticketing_admin;
grant select on table app_public.ticket_comments to ticketing_agent;
grant select on table app_public.ticket_comments to ticketing_customer;
grant insert (ticket_id, body, is_internal) on table app_public.ticket_comments to ticketing_admin;
grant insert (ticket_id, body, is_internal) on table app_public.ticket_comments to ticketing_agent;
grant insert (ticket_id, body) on table app_public.ticket_comments to ticketing_customer;
comment on table app_public.ticket_comments is '@behavior -insert -update -delete
A message on a ticket. Public comments are the conversation with the customer; internal notes (isInternal) are visible to staff only. Write them with addComment; they cannot be edited or deleted.';
comment on column app_public.ticket_comments.id is '@behavior -insert -update
Primary key (time-ordered UUID).';
comment on column app_public.ticket_comments.ticket_id is 'The ticket this comment belongs to.';
comment on column app_public.ticket_comments.author_id is 'Who wrote it (always the signed-in user at the time).';
comment on column app_public.ticket_comments.body is 'The text, 1-20 000 characters.';
comment on column app_public.ticket_comments.is_internal is 'True for an internal note: never shown to customers.';
comment on column app_public.ticket_comments.created_at is 'When it was written.';
comment on column app_public.ticket_comments.search is '@behavior -*
Full-text document of the body; used by searchTickets.';

create table app_public.ticket_participants (
  id uuid default app_private.uuid_generate_v7() not null,
  ticket_id uuid not null,
  user_id uuid not null,
  kind app_public.participant_kind not null,
  added_by uuid,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  removed_at timestamp with time zone,
  removed_by uuid
);
alter table app_public.ticket_participants enable row level security;
alter table app_public.ticket_participants add constraint ticket_participants_added_by_fkey FOREIGN KEY (added_by) REFERENCES app_public.users(id);
alter table app_public.ticket_participants add constraint ticket_participants_one_per_user UNIQUE (ticket_id, user_id);
alter table app_public.ticket_participants add constraint ticket_participants_pkey PRIMARY KEY (id);
alter table app_public.ticket_participants add constraint ticket_participants_removed_by_fkey FOREIGN KEY (removed_by) REFERENCES app_public.users(id);
alter table app_public.ticket_participants add constraint ticket_participants_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES app_public.tickets(id);
alter table app_public.ticket_participants add constraint ticket_participants_timestamps_ordered CHECK (updated_at >= created_at);
alter table app_public.ticket_participants add constraint ticket_participants_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id);
CREATE INDEX ticket_participants_added_by_idx ON app_public.ticket_participants USING btree (added_by);
CREATE INDEX ticket_participants_removed_by_idx ON app_public.ticket_participants USING btree (removed_by);
CREATE INDEX ticket_participants_user_idx ON app_public.ticket_participants USING btree (user_id, ticket_id) INCLUDE (kind, removed_at);
CREATE TRIGGER _050_write_quota_edit BEFORE INSERT OR UPDATE ON app_public.ticket_participants FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON app_public.ticket_participants FOR EACH ROW EXECUTE FUNCTION app_private.tg_set_updated_at();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE ON app_public.ticket_participants FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
CREATE TRIGGER _900_sight_changed AFTER INSERT ON app_public.ticket_participants FOR EACH ROW EXECUTE FUNCTION app_private.tg_sight_changed();
CREATE TRIGGER _900_sight_changed_update AFTER UPDATE OF kind, removed_at ON app_public.ticket_participants FOR EACH ROW WHEN (old.kind IS DISTINCT FROM new.kind OR (old.removed_at IS NULL) IS DISTINCT FROM (new.removed_at IS NULL)) EXECUTE FUNCTION app_private.tg_sight_changed();
create policy select_customer on app_public.ticket_participants
  for select to ticketing_customer
  using (removed_at IS NULL AND (EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = ticket_participants.ticket_id
 OFFSET 0)));
comment on policy select_customer on app_public.ticket_participants is 'Customers see the current participants of the tickets they can read (the tickets policies decide which).';
create policy select_staff on app_public.ticket_participants
  for select to ticketing_agent, ticketing_admin
  using ((EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = ticket_participants.ticket_id
 OFFSET 0)));
comment on policy select_staff on app_public.ticket_participants is 'Agents and admins see the participants, removed ones included, of the tickets they can read.';
grant select on table app_public.ticket_participants to ticketing_admin;
grant select on table app_public.ticket_participants to ticketing_agent;
grant select on table app_public.ticket_participants to ticketing_customer;
comment on table app_public.ticket_participants is '@behavior -insert -update -delete
A person taking part in a ticket besides its requester: cc (a customer) or follower (staff). Added and removed with addTicketParticipant and removeTicketParticipant; a removed participant keeps its row (removedAt), so every change is in the audit log. Visible with the ticket.';
comment on column app_public.ticket_participants.id is 'Primary key (time-ordered UUID).';
comment on column app_public.ticket_participants.ticket_id is 'The ticket.';
comment on column app_public.ticket_participants.user_id is 'The participant.';
comment on column app_public.ticket_participants.kind is 'cc (customers) or follower (agents and admins).';
comment on column app_public.ticket_participants.added_by is 'Who added (or last re-added) the participant.';
comment on column app_public.ticket_participants.created_at is 'When the participant was first added.';
comment on column app_public.ticket_participants.updated_at is 'When the row last changed.';
comment on column app_public.ticket_participants.removed_at is 'When the participant was removed; null while they take part.';
comment on column app_public.ticket_participants.removed_by is 'Who removed the participant.';

create table app_public.ticket_status_history (
  id uuid default app_private.uuid_generate_v7() not null,
  ticket_id uuid not null,
  from_status app_public.ticket_status,
  to_status app_public.ticket_status not null,
  changed_by uuid,
  changed_at timestamp with time zone default clock_timestamp() not null,
  note text
) partition by range (changed_at);
-- partitions (the default one, and monthly ones created at run time) are not listed
alter table app_public.ticket_status_history enable row level security;
alter table app_public.ticket_status_history add constraint ticket_status_history_changed_by_fkey FOREIGN KEY (changed_by) REFERENCES app_public.users(id);
alter table app_public.ticket_status_history add constraint ticket_status_history_is_change CHECK (from_status IS DISTINCT FROM to_status);
alter table app_public.ticket_status_history add constraint ticket_status_history_note_length CHECK (char_length(note) <= 2000);
alter table app_public.ticket_status_history add constraint ticket_status_history_pkey PRIMARY KEY (id, changed_at);
alter table app_public.ticket_status_history add constraint ticket_status_history_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES app_public.tickets(id);
CREATE INDEX ticket_status_history_changed_by_idx ON ONLY app_public.ticket_status_history USING btree (changed_by);
CREATE INDEX ticket_status_history_ticket_idx ON ONLY app_public.ticket_status_history USING btree (ticket_id, changed_at);
CREATE TRIGGER _100_append_only BEFORE DELETE OR UPDATE ON app_public.ticket_status_history FOR EACH ROW EXECUTE FUNCTION app_private.tg_forbid_change();
CREATE TRIGGER _100_append_only_truncate BEFORE TRUNCATE ON app_public.ticket_status_history FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_forbid_change();
create policy select_visible_ticket on app_public.ticket_status_history
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((EXISTS ( SELECT 1
   FROM app_public.tickets t
  WHERE t.id = ticket_status_history.ticket_id
 OFFSET 0)));
comment on policy select_visible_ticket on app_public.ticket_status_history is 'Everybody signed in reads the status history of the tickets they can read (the tickets policies decide which).';
revoke delete, truncate, update on table app_public.ticket_status_history from ticketing_owner;
grant select on table app_public.ticket_status_history to ticketing_admin;
grant select on table app_public.ticket_status_history to ticketing_agent;
grant select on table app_public.ticket_status_history to ticketing_customer;
comment on table app_public.ticket_status_history is '@behavior -insert -update -delete
Every status change of every ticket, creation included (fromStatus null), written automatically. Append-only for everybody. The newest row of a ticket always equals its current status.';
comment on column app_public.ticket_status_history.id is 'Identifier of the change (time-ordered UUID).';
comment on column app_public.ticket_status_history.ticket_id is 'The ticket that changed.';
comment on column app_public.ticket_status_history.from_status is 'Status before the change; null for the creation row.';
comment on column app_public.ticket_status_history.to_status is 'Status after the change.';
comment on column app_public.ticket_status_history.changed_by is 'Who made the change; null for system maintenance.';
comment on column app_public.ticket_status_history.changed_at is 'When the change happened.';
comment on column app_public.ticket_status_history.note is 'Optional note given with the change (or the reason of an automatic change).';

create table app_public.ticket_transitions (
  from_status app_public.ticket_status not null,
  to_status app_public.ticket_status not null,
  allowed_roles app_public.user_role[] not null
);
alter table app_public.ticket_transitions enable row level security;
alter table app_public.ticket_transitions add constraint ticket_transitions_distinct_statuses CHECK (from_status <> to_status);
alter table app_public.ticket_transitions add constraint ticket_transitions_pkey PRIMARY KEY (from_status, to_status);
alter table app_public.ticket_transitions add constraint ticket_transitions_roles_no_nulls CHECK (array_position(allowed_roles, NULL::app_public.user_role) IS NULL);
alter table app_public.ticket_transitions add constraint ticket_transitions_roles_not_empty CHECK (cardinality(allowed_roles) >= 1);
create policy delete_admin on app_public.ticket_transitions
  for delete to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy delete_admin on app_public.ticket_transitions is 'Admins remove allowed moves.';
create policy insert_admin on app_public.ticket_transitions
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy insert_admin on app_public.ticket_transitions is 'Admins add allowed moves.';
create policy select_signed_in on app_public.ticket_transitions
  for select to ticketing_customer, ticketing_agent, ticketing_admin
  using ((( SELECT app_private.current_user_role() AS current_user_role)) IS NOT NULL);
comment on policy select_signed_in on app_public.ticket_transitions is 'Every signed-in user reads the workflow (to know which actions to offer).';
create policy update_admin on app_public.ticket_transitions
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.ticket_transitions is 'Admins change allowed moves.';
grant delete, insert, select, update on table app_public.ticket_transitions to ticketing_admin;
grant select on table app_public.ticket_transitions to ticketing_agent;
grant select on table app_public.ticket_transitions to ticketing_customer;
comment on table app_public.ticket_transitions is 'The workflow: which roles may move a ticket from one status to another with transitionTicket. Admins may add, change or remove rows; the next call obeys them. Leaving closed is always reserved to admins, whatever these rows say.';
comment on column app_public.ticket_transitions.from_status is 'Status the ticket is in.';
comment on column app_public.ticket_transitions.to_status is 'Status the ticket may move to.';
comment on column app_public.ticket_transitions.allowed_roles is 'Roles allowed to make this move (customers only on their own tickets, agents only on tickets assigned to them).';

create table app_public.tickets (
  id uuid default app_private.uuid_generate_v7() not null,
  number bigint generated always as identity not null,
  subject text not null,
  description text default ''::text not null,
  status app_public.ticket_status default 'open'::app_public.ticket_status not null,
  priority app_public.ticket_priority default 'normal'::app_public.ticket_priority not null,
  customer_id uuid default app_public.current_user_id() not null,
  agent_id uuid,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  first_response_due_at timestamp with time zone,
  resolution_due_at timestamp with time zone,
  first_responded_at timestamp with time zone,
  resolved_at timestamp with time zone,
  closed_at timestamp with time zone,
  search tsvector generated always as (setweight(to_tsvector('english'::regconfig, subject), 'A'::"char") || setweight(to_tsvector('english'::regconfig, description), 'B'::"char")) stored not null,
  organization_id uuid,
  status_changed_at timestamp with time zone,
  first_response_at_risk_at timestamp with time zone,
  resolution_at_risk_at timestamp with time zone,
  first_response_paused_seconds_left numeric,
  resolution_paused_seconds_left numeric
);
alter table app_public.tickets enable row level security;
alter table app_public.tickets add constraint tickets_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES app_public.users(id);
alter table app_public.tickets add constraint tickets_closed_after_created CHECK (closed_at >= created_at);
alter table app_public.tickets add constraint tickets_closed_after_resolved CHECK (closed_at >= resolved_at);
alter table app_public.tickets add constraint tickets_closed_at_iff_closed CHECK ((status = 'closed'::app_public.ticket_status) = (closed_at IS NOT NULL));
alter table app_public.tickets add constraint tickets_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES app_public.users(id);
alter table app_public.tickets add constraint tickets_description_length CHECK (char_length(description) <= 20000);
alter table app_public.tickets add constraint tickets_due_after_created CHECK (first_response_due_at >= created_at AND resolution_due_at >= created_at);
alter table app_public.tickets add constraint tickets_first_response_after_created CHECK (first_responded_at >= created_at);
alter table app_public.tickets add constraint tickets_number_key UNIQUE (number);
alter table app_public.tickets add constraint tickets_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES app_public.organizations(id);
alter table app_public.tickets add constraint tickets_pkey PRIMARY KEY (id);
alter table app_public.tickets add constraint tickets_resolved_after_created CHECK (resolved_at >= created_at);
alter table app_public.tickets add constraint tickets_resolved_at_only_when_done CHECK ((status = ANY (ARRAY['resolved'::app_public.ticket_status, 'closed'::app_public.ticket_status])) OR resolved_at IS NULL);
alter table app_public.tickets add constraint tickets_resolved_has_resolved_at CHECK (status <> 'resolved'::app_public.ticket_status OR resolved_at IS NOT NULL);
alter table app_public.tickets add constraint tickets_status_changed_after_created CHECK (status_changed_at >= created_at);
alter table app_public.tickets add constraint tickets_subject_length CHECK (subject ~ '[^[:space:]]'::text AND char_length(subject) <= 200);
alter table app_public.tickets add constraint tickets_updated_after_created CHECK (updated_at >= created_at);
alter table app_public.tickets add constraint tickets_work_has_agent CHECK (agent_id IS NOT NULL OR (status = ANY (ARRAY['open'::app_public.ticket_status, 'resolved'::app_public.ticket_status, 'closed'::app_public.ticket_status])));
CREATE INDEX tickets_agent_due_idx ON app_public.tickets USING btree (agent_id, resolution_due_at) WHERE (status = ANY (ARRAY['open'::app_public.ticket_status, 'in_progress'::app_public.ticket_status, 'waiting_on_customer'::app_public.ticket_status]));
CREATE INDEX tickets_agent_queue_idx ON app_public.tickets USING btree (agent_id, priority DESC, created_at) WHERE (agent_id IS NOT NULL);
CREATE INDEX tickets_customer_list_idx ON app_public.tickets USING btree (customer_id, created_at DESC, id DESC) INCLUDE (organization_id, number, subject, status, priority);
CREATE INDEX tickets_organization_list_idx ON app_public.tickets USING btree (organization_id, created_at DESC, id DESC) INCLUDE (customer_id, number, subject, status, priority);
CREATE INDEX tickets_sight_search_idx ON app_public.tickets USING gin (status, agent_id, search) WITH (gin_pending_list_limit='256');
CREATE INDEX tickets_status_created_idx ON app_public.tickets USING btree (status, created_at DESC);
CREATE INDEX tickets_unassigned_queue_idx ON app_public.tickets USING btree (priority DESC, created_at, id) WHERE ((status = 'open'::app_public.ticket_status) AND (agent_id IS NULL));
CREATE INDEX tickets_unfinished_at_risk_idx ON app_public.tickets USING btree (LEAST(first_response_at_risk_at, resolution_at_risk_at)) WHERE (status = ANY (ARRAY['open'::app_public.ticket_status, 'in_progress'::app_public.ticket_status, 'waiting_on_customer'::app_public.ticket_status]));
CREATE INDEX tickets_unfinished_due_idx ON app_public.tickets USING btree (resolution_due_at, id) WHERE (status = ANY (ARRAY['open'::app_public.ticket_status, 'in_progress'::app_public.ticket_status, 'waiting_on_customer'::app_public.ticket_status]));
CREATE INDEX tickets_visibility_idx ON app_public.tickets USING btree (id) INCLUDE (customer_id, agent_id, status, organization_id);
CREATE TRIGGER _050_write_quota BEFORE INSERT ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('ticket');
CREATE TRIGGER _050_write_quota_edit BEFORE UPDATE OF subject, description, priority, organization_id ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _100_check_people_insert BEFORE INSERT ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_tickets_check_people();
CREATE TRIGGER _100_check_people_update BEFORE UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.customer_id IS DISTINCT FROM new.customer_id OR old.agent_id IS DISTINCT FROM new.agent_id) EXECUTE FUNCTION app_private.tg_tickets_check_people();
CREATE TRIGGER _110_organization_insert BEFORE INSERT ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_tickets_organization();
CREATE TRIGGER _110_organization_update BEFORE UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.organization_id IS DISTINCT FROM new.organization_id OR old.customer_id IS DISTINCT FROM new.customer_id) EXECUTE FUNCTION app_private.tg_tickets_organization();
CREATE TRIGGER _200_status_timestamps_insert BEFORE INSERT ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_tickets_status_timestamps();
CREATE TRIGGER _200_status_timestamps_update BEFORE UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.status IS DISTINCT FROM new.status) EXECUTE FUNCTION app_private.tg_tickets_status_timestamps();
CREATE TRIGGER _250_sla_due_times_insert BEFORE INSERT ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_tickets_sla_due_times();
CREATE TRIGGER _250_sla_due_times_update BEFORE UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.priority IS DISTINCT FROM new.priority OR old.organization_id IS DISTINCT FROM new.organization_id OR old.status IS DISTINCT FROM new.status OR old.first_responded_at IS NULL AND new.first_responded_at IS NOT NULL AND new.first_response_due_at IS NULL) EXECUTE FUNCTION app_private.tg_tickets_sla_due_times();
CREATE TRIGGER _260_sla_at_risk_insert BEFORE INSERT ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_tickets_sla_at_risk();
CREATE TRIGGER _260_sla_at_risk_update BEFORE UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.first_response_due_at IS DISTINCT FROM new.first_response_due_at OR old.resolution_due_at IS DISTINCT FROM new.resolution_due_at OR old.priority IS DISTINCT FROM new.priority OR old.organization_id IS DISTINCT FROM new.organization_id OR old.first_responded_at IS DISTINCT FROM new.first_responded_at) EXECUTE FUNCTION app_private.tg_tickets_sla_at_risk();
CREATE TRIGGER _300_set_updated_at BEFORE UPDATE ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_set_updated_at();
CREATE TRIGGER _450_searchable_comments AFTER UPDATE OF status, agent_id ON app_public.tickets FOR EACH ROW WHEN ((old.status = 'open'::app_public.ticket_status) IS DISTINCT FROM (new.status = 'open'::app_public.ticket_status) OR old.agent_id IS DISTINCT FROM new.agent_id) EXECUTE FUNCTION app_private.tg_tickets_searchable_comments();
CREATE TRIGGER _700_record_sla_events AFTER UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.status IS DISTINCT FROM new.status OR old.first_responded_at IS DISTINCT FROM new.first_responded_at) EXECUTE FUNCTION app_private.tg_tickets_record_sla_events();
CREATE TRIGGER _800_status_history_insert AFTER INSERT ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_tickets_status_history();
CREATE TRIGGER _800_status_history_update AFTER UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.status IS DISTINCT FROM new.status) EXECUTE FUNCTION app_private.tg_tickets_status_history();
CREATE TRIGGER _810_assignment_history_insert AFTER INSERT ON app_public.tickets FOR EACH ROW WHEN (new.agent_id IS NOT NULL) EXECUTE FUNCTION app_private.tg_tickets_assignment_history();
CREATE TRIGGER _810_assignment_history_update AFTER UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.agent_id IS DISTINCT FROM new.agent_id) EXECUTE FUNCTION app_private.tg_tickets_assignment_history();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
CREATE TRIGGER _950_notify_insert AFTER INSERT ON app_public.tickets FOR EACH ROW EXECUTE FUNCTION app_private.tg_tickets_notify();
CREATE TRIGGER _950_notify_update AFTER UPDATE ON app_public.tickets FOR EACH ROW WHEN (old.agent_id IS DISTINCT FROM new.agent_id OR old.status IS DISTINCT FROM new.status OR old.subject IS DISTINCT FROM new.subject OR old.description IS DISTINCT FROM new.description OR old.priority IS DISTINCT FROM new.priority OR old.customer_id IS DISTINCT FROM new.customer_id OR old.organization_id IS DISTINCT FROM new.organization_id) EXECUTE FUNCTION app_private.tg_tickets_notify();
create policy insert_admin on app_public.tickets
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL AND status = 'open'::app_public.ticket_status AND agent_id IS NULL);
comment on policy insert_admin on app_public.tickets is 'Admins create open, unassigned tickets for any customer.';
create policy insert_agent on app_public.tickets
  for insert to ticketing_agent
  with check ((( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)) IS NOT NULL AND status = 'open'::app_public.ticket_status AND agent_id IS NULL);
comment on policy insert_agent on app_public.tickets is 'Agents create open, unassigned tickets for any customer (the customer is checked to be an active customer).';
create policy insert_customer on app_public.tickets
  for insert to ticketing_customer
  with check (customer_id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)) AND status = 'open'::app_public.ticket_status AND agent_id IS NULL);
comment on policy insert_customer on app_public.tickets is 'Customers create open, unassigned tickets for themselves only.';
create policy select_admin on app_public.tickets
  for select to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy select_admin on app_public.tickets is 'Admins read all tickets.';
create policy select_agent on app_public.tickets
  for select to ticketing_agent
  using (agent_id = (( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)) OR status = 'open'::app_public.ticket_status AND (( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy select_agent on app_public.tickets is 'Agents read tickets assigned to them and every open ticket.';
create policy select_customer on app_public.tickets
  for select to ticketing_customer
  using (customer_id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)) OR (organization_id = ANY ((( SELECT app_private.customer_sighted_organization_ids() AS customer_sighted_organization_ids))::uuid[])) OR (id = ANY ((( SELECT app_private.customer_cc_ticket_ids() AS customer_cc_ticket_ids))::uuid[])));
comment on policy select_customer on app_public.tickets is 'Customers read their own tickets, the tickets of the active organizations where their membership shares sight or they are a manager, and the tickets they are copied in on (cc).';
create policy update_admin on app_public.tickets
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.tickets is 'Admins edit subject, description and priority of any ticket.';
create policy update_agent on app_public.tickets
  for update to ticketing_agent
  using (agent_id = (( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)))
  with check (agent_id = (( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)));
comment on policy update_agent on app_public.tickets is 'Agents edit subject, description and priority of tickets assigned to them.';
create policy update_customer on app_public.tickets
  for update to ticketing_customer
  using (customer_id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)) AND status <> 'closed'::app_public.ticket_status)
  with check (customer_id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)) AND status <> 'closed'::app_public.ticket_status);
comment on policy update_customer on app_public.tickets is 'Customers edit the subject and description of their own tickets until they are closed.';
grant select on table app_public.tickets to ticketing_admin;
grant select on table app_public.tickets to ticketing_agent;
grant select on table app_public.tickets to ticketing_customer;
grant insert (subject, description, priority, customer_id, organization_id) on table app_public.tickets to ticketing_admin;
grant insert (subject, description, priority, customer_id, organization_id) on table app_public.tickets to ticketing_agent;
grant insert (subject, description, priority, organization_id) on table app_public.tickets to ticketing_customer;
grant update (subject, description, priority, organization_id) on table app_public.tickets to ticketing_admin;
grant update (subject, description, priority, organization_id) on table app_public.tickets to ticketing_agent;
grant update (subject, description) on table app_public.tickets to ticketing_customer;
comment on table app_public.tickets is '@behavior -delete
A support request. Customers see their own tickets, those of their organizations where their membership shares sight or they are a manager, and those they are copied in on; agents the ones assigned to them plus every open ticket; admins all. Status and assignee change only through transitionTicket, assignTicket and takeNextTicket. Tickets are never deleted (close them).';
comment on column app_public.tickets.id is '@behavior -insert -update
Primary key (time-ordered UUID).';
comment on column app_public.tickets.number is '@behavior -insert -update
Human reference shown to users (e.g. #1042); unique and increasing.';
comment on column app_public.tickets.subject is '@behavior -orderBy -filterBy
One-line summary, 1-200 characters.';
comment on column app_public.tickets.description is 'Full description of the problem, up to 20 000 characters.';
comment on column app_public.tickets.status is '@behavior -insert -update +orderBy
Current status; always equal to the newest row of the ticket''s status history. Change it with transitionTicket.';
comment on column app_public.tickets.priority is '@behavior +orderBy +filterBy
Urgency. Set at creation; afterwards agents (on their tickets) and admins may change it, which recomputes the SLA due times.';
comment on column app_public.tickets.customer_id is '@behavior -update
The customer the ticket is for. Customers cannot set it (it is always themselves); agents and admins give it when creating a ticket for a customer.';
comment on column app_public.tickets.agent_id is '@behavior -insert -update
The agent working the ticket, null while unassigned. Change it with assignTicket or takeNextTicket.';
comment on column app_public.tickets.created_at is '@behavior -insert -update
When the ticket was created.';
comment on column app_public.tickets.updated_at is '@behavior -insert -update +orderBy
When the ticket row last changed.';
comment on column app_public.tickets.first_response_due_at is '@behavior -insert -update +orderBy
SLA: staff must post a first public reply by this time.';
comment on column app_public.tickets.resolution_due_at is '@behavior -insert -update +orderBy
SLA: the ticket must be resolved by this time.';
comment on column app_public.tickets.first_responded_at is '@behavior -insert -update
When staff first replied publicly (null: no reply yet).';
comment on column app_public.tickets.resolved_at is '@behavior -insert -update
When the ticket was (last) resolved; cleared when it is reopened.';
comment on column app_public.tickets.closed_at is '@behavior -insert -update
When the ticket was closed; cleared if an admin reopens it.';
comment on column app_public.tickets.search is '@behavior -*
Full-text document of subject (weight A) and description (weight B); used by searchTickets.';
comment on column app_public.tickets.organization_id is 'The organization the ticket was filed for: one the customer belongs to (by default their first organization that is active), or null. Customers choose among theirs when filing; agents (on tickets assigned to them) and admins may change it.';
comment on column app_public.tickets.status_changed_at is '@behavior -insert -update
When the ticket entered its current status (the changedAt of its newest status history row); null for tickets older than this column.';
comment on column app_public.tickets.first_response_at_risk_at is '@behavior -insert -update
From when the first-response clock is at risk if it keeps running: at most a quarter of its business minutes then remain until firstResponseDueAt (null without a due time or once replied).';
comment on column app_public.tickets.resolution_at_risk_at is '@behavior -insert -update
From when the resolution clock is at risk if it keeps running: at most a quarter of its business minutes then remain until resolutionDueAt (null without a due time).';
comment on column app_public.tickets.first_response_paused_seconds_left is '@behavior -*
While the first-response clock is paused short of its target: the business seconds left until it is reached (the due time is null then); null otherwise (also for a ticket paused before they were kept: its resume is computed in full). Kept by the SLA triggers and recompute_sla_due_times, so that leaving the pause needs no walk over the status history.';
comment on column app_public.tickets.resolution_paused_seconds_left is '@behavior -*
While the resolution clock is paused short of its target: the business seconds left until it is reached (the due time is null then); null otherwise (also for a ticket paused before they were kept: its resume is computed in full). Kept by the SLA triggers and recompute_sla_due_times, so that leaving the pause needs no walk over the status history.';

create table app_public.users (
  id uuid default app_private.uuid_generate_v7() not null,
  display_name text not null,
  role app_public.user_role default 'customer'::app_public.user_role not null,
  is_active boolean default true not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null
);
alter table app_public.users enable row level security;
alter table app_public.users add constraint users_display_name_length CHECK (char_length(display_name) >= 1 AND char_length(display_name) <= 100 AND display_name ~ '[^[:space:]]'::text);
alter table app_public.users add constraint users_display_name_normalized CHECK ((display_name IS NFKC NORMALIZED) AND display_name = btrim(display_name, ' '::text));
alter table app_public.users add constraint users_display_name_visible CHECK (display_name !~ '[\u0001-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\u3164\uFEFF\uFFA0\uFFF9-\uFFFB\U000E0000-\U000E007F]'::text);
alter table app_public.users add constraint users_pkey PRIMARY KEY (id);
alter table app_public.users add constraint users_timestamps_ordered CHECK (updated_at >= created_at);
CREATE INDEX users_role_idx ON app_public.users USING btree (role);
CREATE TRIGGER _050_normalize_display_name BEFORE INSERT OR UPDATE OF display_name ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg_users_normalize_display_name();
CREATE TRIGGER _050_write_quota_edit BEFORE UPDATE OF display_name ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg_enforce_write_quota('edit');
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg_set_updated_at();
CREATE TRIGGER _500_release_tickets AFTER UPDATE ON app_public.users FOR EACH ROW WHEN (old.role = 'agent'::app_public.user_role AND (new.role <> 'agent'::app_public.user_role OR NOT new.is_active)) EXECUTE FUNCTION app_private.tg_users_release_tickets();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg_audit();
CREATE TRIGGER _950_notify AFTER UPDATE ON app_public.users FOR EACH ROW WHEN (old.is_active AND NOT new.is_active OR old.role IS DISTINCT FROM new.role) EXECUTE FUNCTION app_private.tg_users_notify();
create policy select_admin on app_public.users
  for select to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy select_admin on app_public.users is 'Admins see every user.';
create policy select_agent on app_public.users
  for select to ticketing_agent
  using ((( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy select_agent on app_public.users is 'Agents see every user.';
create policy select_customer on app_public.users
  for select to ticketing_customer
  using ((( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)) IS NOT NULL AND (id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)) OR role <> 'customer'::app_public.user_role OR (id = ANY ((( SELECT app_private.customer_colleague_ids() AS customer_colleague_ids))::uuid[]))));
comment on policy select_customer on app_public.users is 'Customers see themselves, staff (agents, admins) and the customers who share an active organization with them; never other customers.';
create policy update_admin on app_public.users
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.users is 'Admins may edit any user''s display_name; role and activity change only through setUserRole/deactivateUser.';
create policy update_agent on app_public.users
  for update to ticketing_agent
  using (id = (( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)))
  with check (id = (( SELECT app_private.acting_user_id('agent'::app_public.user_role) AS acting_user_id)));
comment on policy update_agent on app_public.users is 'Agents may edit only their own row (display_name).';
create policy update_customer on app_public.users
  for update to ticketing_customer
  using (id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)))
  with check (id = (( SELECT app_private.acting_user_id('customer'::app_public.user_role) AS acting_user_id)));
comment on policy update_customer on app_public.users is 'Customers may edit only their own row (display_name is the only updatable column).';
grant select on table app_public.users to ticketing_admin;
grant select on table app_public.users to ticketing_agent;
grant select on table app_public.users to ticketing_customer;
grant update (display_name) on table app_public.users to ticketing_admin;
grant update (display_name) on table app_public.users to ticketing_agent;
grant update (display_name) on table app_public.users to ticketing_customer;
comment on table app_public.users is '@behavior -insert -delete
A person using the helpdesk. Created by register/createUser, never deleted (deactivate instead). Customers see themselves, staff and the customers of their active organizations; agents and admins see everybody.';
comment on column app_public.users.id is '@behavior -insert -update
Primary key (time-ordered UUID).';
comment on column app_public.users.display_name is 'Name shown to other users: 1 to 100 characters, NFKC-normalised, no surrounding spaces, no invisible or control characters. Users may change their own; admins may change anyone''s.';
comment on column app_public.users.role is '@behavior -insert -update
Customer, agent or admin. Changed only by an admin through setUserRole; takes effect immediately, whatever the user''s current token says.';
comment on column app_public.users.is_active is '@behavior -insert -update
False once an admin deactivated the user: their tokens stop working at once and they see nothing.';
comment on column app_public.users.created_at is '@behavior -insert -update
When the user was created.';
comment on column app_public.users.updated_at is '@behavior -insert -update
When the user row last changed.';

create table app_public.webhook_deliveries (
  id uuid default app_private.uuid_generate_v7() not null,
  endpoint_id uuid not null,
  event_id bigint not null,
  event_type text not null,
  payload jsonb not null,
  status text default 'pending'::text not null,
  attempts integer default 0 not null,
  response_code integer,
  latency_ms integer,
  last_error text,
  created_at timestamp with time zone default now() not null,
  last_attempt_at timestamp with time zone,
  next_attempt_at timestamp with time zone,
  succeeded_at timestamp with time zone,
  redelivery_requested_at timestamp with time zone
);
alter table app_public.webhook_deliveries enable row level security;
alter table app_public.webhook_deliveries add constraint webhook_deliveries_attempts_positive CHECK (attempts >= 0);
alter table app_public.webhook_deliveries add constraint webhook_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES app_public.webhook_endpoints(id);
alter table app_public.webhook_deliveries add constraint webhook_deliveries_one_per_event UNIQUE (endpoint_id, event_id);
alter table app_public.webhook_deliveries add constraint webhook_deliveries_pkey PRIMARY KEY (id);
alter table app_public.webhook_deliveries add constraint webhook_deliveries_status_known CHECK (status = ANY (ARRAY['pending'::text, 'succeeded'::text, 'failed'::text]));
CREATE INDEX webhook_deliveries_created_at ON app_public.webhook_deliveries USING btree (created_at);
CREATE TRIGGER _100_redeliver BEFORE UPDATE OF redelivery_requested_at ON app_public.webhook_deliveries FOR EACH ROW EXECUTE FUNCTION app_private.tg_webhook_deliveries_redeliver();
create policy select_admin on app_public.webhook_deliveries
  for select to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy select_admin on app_public.webhook_deliveries is 'Admins read the delivery log.';
create policy update_admin on app_public.webhook_deliveries
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.webhook_deliveries is 'Admins ask for a delivery to be sent again (redeliverWebhook).';
grant select on table app_public.webhook_deliveries to ticketing_admin;
grant update (redelivery_requested_at) on table app_public.webhook_deliveries to ticketing_admin;
comment on table app_public.webhook_deliveries is '@behavior -insert -update -delete
Webhook delivery log: one row per event and endpoint, with the payload sent and the outcome of the last attempt. Admins only; written by the worker. Kept webhook_policy().delivery_retention.';
comment on column app_public.webhook_deliveries.id is 'Delivery id, sent as the webhook-id header (the same on every attempt, so receivers can drop duplicates).';
comment on column app_public.webhook_deliveries.endpoint_id is '@behavior -update
The endpoint delivered to.';
comment on column app_public.webhook_deliveries.event_id is '@behavior -update
The event (realtime_events id) delivered.';
comment on column app_public.webhook_deliveries.event_type is '@behavior -update
The event type, e.g. ticket.commented.';
comment on column app_public.webhook_deliveries.payload is '@behavior -update
The JSON body sent, rendered when the event happened as a staff reader saw it.';
comment on column app_public.webhook_deliveries.status is '@behavior -update
pending (not yet delivered, retries to come), succeeded (a 2xx answer) or failed (attempts used up, or the endpoint disabled).';
comment on column app_public.webhook_deliveries.attempts is '@behavior -update
Attempts made so far.';
comment on column app_public.webhook_deliveries.response_code is '@behavior -update
HTTP status of the last attempt; null when there was no answer.';
comment on column app_public.webhook_deliveries.latency_ms is '@behavior -update
Time of the last attempt, in milliseconds.';
comment on column app_public.webhook_deliveries.last_error is '@behavior -update
Why the last attempt failed (timeout, refused address, status), when it did.';
comment on column app_public.webhook_deliveries.created_at is '@behavior -update
When the event was recorded.';
comment on column app_public.webhook_deliveries.last_attempt_at is '@behavior -update
When the last attempt ended.';
comment on column app_public.webhook_deliveries.next_attempt_at is '@behavior -update
When the next attempt is due (pending deliveries).';
comment on column app_public.webhook_deliveries.succeeded_at is '@behavior -update
When a 2xx answer was received.';
comment on column app_public.webhook_deliveries.redelivery_requested_at is '@behavior -update
When an admin last asked for the delivery to be sent again (redeliverWebhook).';

create table app_public.webhook_endpoints (
  id uuid default app_private.uuid_generate_v7() not null,
  url text not null,
  event_kinds text[] not null,
  include_internal boolean default false not null,
  priorities app_public.ticket_priority[],
  is_active boolean default true not null,
  secret text not null,
  consecutive_failures integer default 0 not null,
  disabled_at timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  secret_rotated_at timestamp with time zone
);
alter table app_public.webhook_endpoints enable row level security;
alter table app_public.webhook_endpoints add constraint webhook_endpoints_consecutive_failures_positive CHECK (consecutive_failures >= 0);
alter table app_public.webhook_endpoints add constraint webhook_endpoints_event_kinds_known CHECK (cardinality(event_kinds) >= 1 AND event_kinds <@ ARRAY['ticket.created'::text, 'ticket.status_changed'::text, 'ticket.assigned'::text, 'ticket.commented'::text, 'ticket.updated'::text, 'ticket.sla_at_risk'::text, 'ticket.sla_breached'::text, 'ticket.sla_met'::text, 'attachment.created'::text, 'user.deactivated'::text, 'user.role_changed'::text]);
alter table app_public.webhook_endpoints add constraint webhook_endpoints_pkey PRIMARY KEY (id);
alter table app_public.webhook_endpoints add constraint webhook_endpoints_secret_format CHECK (secret ~ '^whsec_[A-Za-z0-9+/=]{32,}$'::text);
alter table app_public.webhook_endpoints add constraint webhook_endpoints_url_format CHECK (url ~ '^https?://[^[:space:]/?#]+'::text AND char_length(url) <= 2000);
CREATE TRIGGER _100_reenable BEFORE UPDATE OF is_active ON app_public.webhook_endpoints FOR EACH ROW EXECUTE FUNCTION app_private.tg_webhook_endpoints_reenable();
create policy insert_admin on app_public.webhook_endpoints
  for insert to ticketing_admin
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy insert_admin on app_public.webhook_endpoints is 'Admins register webhook endpoints (createWebhookEndpoint).';
create policy select_admin on app_public.webhook_endpoints
  for select to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy select_admin on app_public.webhook_endpoints is 'Admins read webhook endpoints (never their secrets: no column grant).';
create policy update_admin on app_public.webhook_endpoints
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.webhook_endpoints is 'Admins change an endpoint''s filter and active flag and rotate its secret.';
grant insert (url, event_kinds, include_internal, priorities, secret) on table app_public.webhook_endpoints to ticketing_admin;
grant select (id, url, event_kinds, include_internal, priorities, is_active, consecutive_failures, disabled_at, created_at, secret_rotated_at) on table app_public.webhook_endpoints to ticketing_admin;
grant update (url, event_kinds, include_internal, priorities, is_active, secret, secret_rotated_at) on table app_public.webhook_endpoints to ticketing_admin;
comment on table app_public.webhook_endpoints is '@behavior -insert -delete
Webhook endpoints: where events are delivered, signed with the endpoint''s secret (Standard Webhooks). Admins only; the secret is readable by nobody but the worker.';
comment on column app_public.webhook_endpoints.id is 'Endpoint id.';
comment on column app_public.webhook_endpoints.url is 'Where deliveries are POSTed; https in production, and never a private, loopback or link-local address unless WEBHOOK_ALLOWED_HOSTS names the host.';
comment on column app_public.webhook_endpoints.event_kinds is 'Event types delivered: ticket.created, ticket.status_changed, ticket.assigned, ticket.commented, ticket.updated, ticket.sla_at_risk, ticket.sla_breached, ticket.sla_met, attachment.created, user.deactivated, user.role_changed.';
comment on column app_public.webhook_endpoints.include_internal is 'Internal notes are delivered (ticket.commented) only to endpoints with this set.';
comment on column app_public.webhook_endpoints.priorities is 'Only ticket events of tickets with one of these priorities; null: every priority.';
comment on column app_public.webhook_endpoints.is_active is 'Deliveries are made only to active endpoints; set false after repeated failures (disabledAt says when); setting it true again resets the failure count.';
comment on column app_public.webhook_endpoints.secret is '@behavior -*
Signing secret, whsec_ + base64; shown once by createWebhookEndpoint and rotateWebhookSecret, never readable again.';
comment on column app_public.webhook_endpoints.consecutive_failures is '@behavior -insert -update
Failed attempts since the last success.';
comment on column app_public.webhook_endpoints.disabled_at is '@behavior -insert -update
When the endpoint was disabled for repeated failures.';
comment on column app_public.webhook_endpoints.created_at is '@behavior -insert -update
When the endpoint was registered.';
comment on column app_public.webhook_endpoints.secret_rotated_at is '@behavior -insert -update
When the secret was last rotated.';

create table app_public.write_quotas (
  role app_public.user_role not null,
  kind app_public.write_kind not null,
  max_count integer not null,
  per_interval interval not null
);
alter table app_public.write_quotas enable row level security;
alter table app_public.write_quotas add constraint write_quotas_max_count_range CHECK (max_count >= 1 AND max_count <= 1000000);
alter table app_public.write_quotas add constraint write_quotas_per_interval_range CHECK (per_interval >= '00:01:00'::interval AND per_interval <= '1 day'::interval);
alter table app_public.write_quotas add constraint write_quotas_pkey PRIMARY KEY (role, kind);
create policy select_admin on app_public.write_quotas
  for select to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy select_admin on app_public.write_quotas is 'Admins read the write quotas.';
create policy update_admin on app_public.write_quotas
  for update to ticketing_admin
  using ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL)
  with check ((( SELECT app_private.acting_user_id('admin'::app_public.user_role) AS acting_user_id)) IS NOT NULL);
comment on policy update_admin on app_public.write_quotas is 'Admins change the numbers of a quota (maxCount, perInterval); rows are neither added nor removed.';
grant select on table app_public.write_quotas to ticketing_admin;
grant update (max_count, per_interval) on table app_public.write_quotas to ticketing_admin;
comment on table app_public.write_quotas is '@behavior -insert -delete
Write quotas: a user of role may make at most maxCount writes of kind within any perInterval (a sliding window). The next write is refused with RATE_LIMITED and retryAfterSeconds. Admins read and change the numbers; the next write obeys them.';
comment on column app_public.write_quotas.role is '@behavior -update
The role of the writer (their stored role).';
comment on column app_public.write_quotas.kind is '@behavior -update
What is counted: ticket, comment or edit.';
comment on column app_public.write_quotas.max_count is 'Writes allowed within the window, 1 to 1 000 000.';
comment on column app_public.write_quotas.per_interval is 'Length of the sliding window, 1 minute to 1 day.';

create view app_public.audit_log_entries with (security_barrier=true) as
 SELECT id,
    occurred_at,
    actor_id,
    db_role,
    transaction_id,
    table_name,
    operation,
    record_id,
    old_data,
    new_data
   FROM app_private.audit_log a
  WHERE (( SELECT app_private.current_user_role() AS current_user_role)) = 'admin'::app_public.user_role;
grant select on table app_public.audit_log_entries to ticketing_admin;
comment on view app_public.audit_log_entries is '@primaryKey id
@behavior -insert -update -delete
The audit log (admins only; empty for everybody else): every insert and update of users, tickets and comments with who, when, and old/new values. Read-only.';
comment on column app_public.audit_log_entries.id is 'Identifier of the entry.';
comment on column app_public.audit_log_entries.occurred_at is 'When the change was made.';
comment on column app_public.audit_log_entries.actor_id is 'User who made the change (from their token); null for maintenance.';
comment on column app_public.audit_log_entries.db_role is 'Postgres role the request ran as.';
comment on column app_public.audit_log_entries.transaction_id is 'Transaction id, to group the entries of one operation.';
comment on column app_public.audit_log_entries.table_name is 'Table changed, e.g. app_public.tickets.';
comment on column app_public.audit_log_entries.operation is 'INSERT, UPDATE or DELETE.';
comment on column app_public.audit_log_entries.record_id is 'Primary key of the changed row.';
comment on column app_public.audit_log_entries.old_data is 'Row before an update or a delete (null for inserts).';
comment on column app_public.audit_log_entries.new_data is 'Row after the change (null for a delete).';

CREATE OR REPLACE FUNCTION app_public."current_user"()
 RETURNS app_public.users
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select u.*
  from app_public.users as u
  where u.id = app_private.current_user_id();
$function$;
grant execute on function app_public."current_user"() to ticketing_admin;
grant execute on function app_public."current_user"() to ticketing_agent;
grant execute on function app_public."current_user"() to ticketing_anonymous;
grant execute on function app_public."current_user"() to ticketing_customer;
comment on function app_public."current_user"() is 'The signed-in user, or null when anonymous or deactivated.';

CREATE OR REPLACE FUNCTION app_public.add_business_minutes(calendar_id uuid, from_at timestamp with time zone, minutes numeric)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  seconds_from numeric;
  found_at timestamptz;
begin
  if calendar_id is not null and minutes > 0 then
    -- Inside the materialized horizon: two index probes.
    seconds_from := app_private.business_seconds_at(calendar_id, from_at);
    if seconds_from is not null then
      found_at := app_private.business_instant_at(calendar_id, seconds_from + minutes * 60);
      if found_at is not null then
        return found_at;
      end if;
    end if;
  end if;
  return app_private.add_business_minutes_computed(calendar_id, from_at, minutes);
end;
$function$;
grant execute on function app_public.add_business_minutes(uuid,timestamp with time zone,numeric) to ticketing_admin;
grant execute on function app_public.add_business_minutes(uuid,timestamp with time zone,numeric) to ticketing_agent;
grant execute on function app_public.add_business_minutes(uuid,timestamp with time zone,numeric) to ticketing_customer;
comment on function app_public.add_business_minutes(uuid,timestamp with time zone,numeric) is 'The first instant at which the given business minutes of a calendar have passed since fromAt (fromAt itself for 0): the inverse of businessMinutesBetween. Null when the calendar is not open that long within 50 years.';

CREATE OR REPLACE FUNCTION app_public.add_comment(ticket_id uuid, body text, is_internal boolean DEFAULT false)
 RETURNS app_public.ticket_comments
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  me app_public.users := app_public.current_user();
  ticket app_public.tickets;
  new_comment app_public.ticket_comments;
begin
  if me.id is null then
    raise exception using errcode = 'TKFBD', message = 'Sign in to comment';
  end if;

  -- Read through the caller's policies: a ticket they cannot see does not exist.
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = add_comment.ticket_id;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;
  if coalesce(add_comment.is_internal, false) and me.role = 'customer' then
    raise exception using errcode = 'TKFBD', message = 'Customers cannot write internal notes';
  end if;
  if ticket.status = 'closed' and me.role <> 'admin' then
    raise exception using errcode = 'TKFBD', message = 'This ticket is closed';
  end if;

  begin
    if coalesce(add_comment.is_internal, false) then
      insert into app_public.ticket_comments (ticket_id, body, is_internal)
      values (add_comment.ticket_id, add_comment.body, true)
      returning * into new_comment;
    else
      -- is_internal is not named: customers hold no privilege on that column.
      insert into app_public.ticket_comments (ticket_id, body)
      values (add_comment.ticket_id, add_comment.body)
      returning * into new_comment;
    end if;
  exception
    when insufficient_privilege then
      raise exception using errcode = 'TKFBD', message = 'You cannot comment on this ticket';
  end;

  return new_comment;
end;
$function$;
grant execute on function app_public.add_comment(uuid,text,boolean) to ticketing_admin;
grant execute on function app_public.add_comment(uuid,text,boolean) to ticketing_agent;
grant execute on function app_public.add_comment(uuid,text,boolean) to ticketing_customer;
comment on function app_public.add_comment(uuid,text,boolean) is 'Adds a comment to a ticket you can read. Customers: public comments on their own tickets; agents: public comments or internal notes (isInternal) on tickets they can read; admins: anything. Not on closed tickets (except admins). A customer''s reply on a waiting_on_customer ticket moves it back to in_progress; the first public staff reply sets firstRespondedAt. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT.';

CREATE OR REPLACE FUNCTION app_public.add_organization_member(organization_id uuid, user_id uuid, role app_public.organization_role DEFAULT 'member'::app_public.organization_role, sees_organization_tickets boolean DEFAULT false)
 RETURNS app_public.organization_memberships
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  admin_id uuid := app_private.require_admin();
  membership app_public.organization_memberships;
begin
  if add_organization_member.organization_id is null or add_organization_member.user_id is null then
    raise exception using errcode = 'TKVAL', message = 'organizationId and userId are required';
  end if;
  if not exists (select 1 from app_public.organizations as o where o.id = add_organization_member.organization_id) then
    raise exception using errcode = 'TKNTF', message = 'Organization not found';
  end if;
  -- FOR SHARE: a concurrent role change or deactivation commits first.
  perform 1
  from app_public.users as u
  where u.id = add_organization_member.user_id
    and u.role = 'customer'
    and u.is_active
  for share;
  if not found then
    raise exception using errcode = 'TKVAL', message = 'Only active customers can be members of an organization';
  end if;
  if (
    select count(*)
    from app_public.organization_memberships as m
    where m.user_id = add_organization_member.user_id
      and m.removed_at is null
      and m.organization_id <> add_organization_member.organization_id
  ) >= 20 then
    raise exception using errcode = 'TKVAL', message = 'A customer belongs to at most 20 organizations';
  end if;

  insert into app_public.organization_memberships as m (organization_id, user_id, role, sees_organization_tickets, added_by)
  values (
    add_organization_member.organization_id,
    add_organization_member.user_id,
    coalesce(add_organization_member.role, 'member'),
    coalesce(add_organization_member.sees_organization_tickets, false),
    admin_id
  )
  on conflict on constraint organization_memberships_one_per_user do update
  set role = excluded.role,
      sees_organization_tickets = excluded.sees_organization_tickets,
      added_by = excluded.added_by,
      removed_at = null,
      removed_by = null
  returning m.* into membership;

  return membership;
end;
$function$;
grant execute on function app_public.add_organization_member(uuid,uuid,app_public.organization_role,boolean) to ticketing_admin;
comment on function app_public.add_organization_member(uuid,uuid,app_public.organization_role,boolean) is 'Admins: makes an active customer a member (or manager) of an organization, or changes their role and sight; a removed member comes back. A customer belongs to at most 20 organizations. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT, RATE_LIMITED.';

CREATE OR REPLACE FUNCTION app_public.add_ticket_participant(ticket_id uuid, user_id uuid, kind app_public.participant_kind DEFAULT 'cc'::app_public.participant_kind)
 RETURNS app_public.ticket_participants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  ticket app_public.tickets := app_private.ticket_for_participants(add_ticket_participant.ticket_id);
  caller_role app_public.user_role := app_private.current_user_role();
  person app_public.users;
  participant app_public.ticket_participants;
begin
  if add_ticket_participant.user_id is null or add_ticket_participant.kind is null then
    raise exception using errcode = 'TKVAL', message = 'userId and kind are required';
  end if;

  select u.* into person
  from app_public.users as u
  where u.id = add_ticket_participant.user_id
    and u.is_active;

  if caller_role = 'customer' then
    -- No adding strangers: only colleagues, copied in.
    if add_ticket_participant.kind <> 'cc' then
      raise exception using errcode = 'TKFBD', message = 'Customers can only copy people in (cc)';
    end if;
    if person.id is null or not person.id = any (app_private.customer_colleague_ids()) then
      raise exception using errcode = 'TKFBD', message = 'You can only copy in people of your own organizations';
    end if;
  end if;

  if person.id is null then
    raise exception using errcode = 'TKVAL', message = 'The participant must be an active user';
  end if;
  if add_ticket_participant.kind = 'cc' and person.role <> 'customer' then
    raise exception using errcode = 'TKVAL', message = 'Only customers are copied in (cc); staff follow tickets';
  end if;
  if add_ticket_participant.kind = 'follower' and person.role = 'customer' then
    raise exception using errcode = 'TKVAL', message = 'Only agents and admins follow tickets; customers are copied in (cc)';
  end if;
  if person.id = ticket.customer_id then
    raise exception using errcode = 'TKVAL', message = 'The requester already takes part in the ticket';
  end if;
  if (
    select count(*)
    from app_public.ticket_participants as p
    where p.ticket_id = ticket.id
      and p.removed_at is null
      and p.user_id <> person.id
  ) >= 50 then
    raise exception using errcode = 'TKVAL', message = 'A ticket has at most 50 participants';
  end if;

  insert into app_public.ticket_participants as p (ticket_id, user_id, kind, added_by)
  values (ticket.id, person.id, add_ticket_participant.kind, app_private.current_user_id())
  on conflict on constraint ticket_participants_one_per_user do update
  set kind = excluded.kind,
      added_by = excluded.added_by,
      removed_at = null,
      removed_by = null
  returning p.* into participant;

  return participant;
end;
$function$;
grant execute on function app_public.add_ticket_participant(uuid,uuid,app_public.participant_kind) to ticketing_admin;
grant execute on function app_public.add_ticket_participant(uuid,uuid,app_public.participant_kind) to ticketing_agent;
grant execute on function app_public.add_ticket_participant(uuid,uuid,app_public.participant_kind) to ticketing_customer;
comment on function app_public.add_ticket_participant(uuid,uuid,app_public.participant_kind) is 'Adds a participant to a ticket you act on (as its requester, a manager of its organization, its assigned agent, or an admin): cc (a customer, who then sees the ticket and its public comments and may reply) or follower (an agent or admin, who gets its events). Customers copy in only people of their own organizations. At most 50 participants per ticket; not on closed tickets. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT, RATE_LIMITED.';

CREATE OR REPLACE FUNCTION app_public.assign_ticket(ticket_id uuid, agent_id uuid DEFAULT NULL::uuid)
 RETURNS app_public.tickets
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  caller_id uuid := app_private.current_user_id();
  caller_role app_public.user_role := app_private.current_user_role();
  ticket app_public.tickets;
  new_status app_public.ticket_status;
begin
  if caller_role is null or caller_role = 'customer' then
    raise exception using errcode = 'TKFBD', message = 'Only agents and admins can assign tickets';
  end if;
  if caller_role = 'agent' and assign_ticket.agent_id is distinct from caller_id then
    raise exception using errcode = 'TKFBD', message = 'Agents can only assign tickets to themselves';
  end if;

  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = assign_ticket.ticket_id
  for update;

  if not found
    or (caller_role = 'agent' and ticket.agent_id is distinct from caller_id and ticket.status <> 'open')
  then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;

  if ticket.agent_id is not distinct from assign_ticket.agent_id then
    return ticket;
  end if;

  if ticket.status = 'closed' then
    raise exception using errcode = 'TKINV', message = 'Closed tickets cannot be reassigned';
  end if;

  if caller_role = 'agent' and ticket.agent_id is not null then
    raise exception using errcode = 'TKFBD', message = 'This ticket is already assigned to another agent';
  end if;

  -- Unassigned work goes back to the queue: without an agent an in-progress
  -- ticket would be invisible to every agent.
  new_status := case
    when assign_ticket.agent_id is null and ticket.status in ('in_progress', 'waiting_on_customer') then 'open'
    else ticket.status
  end;

  perform set_config('app.status_note', 'Unassigned: returned to the queue', true);

  update app_public.tickets as tk
  set agent_id = assign_ticket.agent_id,
      status = new_status
  where tk.id = ticket.id
  returning tk.* into ticket;

  perform set_config('app.status_note', '', true);

  return ticket;
end;
$function$;
grant execute on function app_public.assign_ticket(uuid,uuid) to ticketing_admin;
grant execute on function app_public.assign_ticket(uuid,uuid) to ticketing_agent;
grant execute on function app_public.assign_ticket(uuid,uuid) to ticketing_customer;
comment on function app_public.assign_ticket(uuid,uuid) is 'Sets the agent of a ticket. Admins: any active agent, or null to unassign (an unassigned in_progress or waiting_on_customer ticket goes back to open). Agents: only themselves, and only on an unassigned open ticket. Closed tickets cannot be reassigned. Every change is recorded in the assignment history. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT, INVALID_TRANSITION.';

CREATE OR REPLACE FUNCTION app_public.business_minutes_between(calendar_id uuid, from_at timestamp with time zone, to_at timestamp with time zone)
 RETURNS numeric
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if greatest(from_at, to_at) > least(from_at, to_at) + interval '10 years' then
    raise exception using errcode = 'TKVAL', message = 'Business minutes are counted over at most 10 years';
  end if;
  return app_private.business_minutes_between(calendar_id, from_at, to_at);
end;
$function$;
grant execute on function app_public.business_minutes_between(uuid,timestamp with time zone,timestamp with time zone) to ticketing_admin;
grant execute on function app_public.business_minutes_between(uuid,timestamp with time zone,timestamp with time zone) to ticketing_agent;
grant execute on function app_public.business_minutes_between(uuid,timestamp with time zone,timestamp with time zone) to ticketing_customer;
comment on function app_public.business_minutes_between(uuid,timestamp with time zone,timestamp with time zone) is 'Business minutes of a calendar between two instants (exact, fractions for seconds; negative when toAt is before fromAt): the open time by the calendar''s local opening hours, minus holidays, across midnight, time zone changes and calendar versions. Errors: INVALID_INPUT (the instants more than 10 years apart).';

CREATE OR REPLACE FUNCTION app_public.create_attachment_upload(ticket_id uuid, file_name text, content_type text, size bigint, sha256 text, comment_id uuid DEFAULT NULL::uuid)
 RETURNS app_public.attachments
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 INSERT INTO app_public.attachments (ticket_id, comment_id, file_name, content_type, size, sha256)
   VALUES (create_attachment_upload.ticket_id, create_attachment_upload.comment_id, app_private.sanitize_file_name(create_attachment_upload.file_name), lower(btrim(split_part(create_attachment_upload.content_type, ';'::text, 1))), create_attachment_upload.size, lower(create_attachment_upload.sha256))
   RETURNING attachments.id,
     attachments.ticket_id,
     attachments.comment_id,
     attachments.uploader_id,
     attachments.file_name,
     attachments.content_type,
     attachments.size,
     attachments.sha256,
     attachments.storage_key,
     attachments.state,
     attachments.rejection_reason,
     attachments.created_at,
     attachments.completed_at;
END;
grant execute on function app_public.create_attachment_upload(uuid,text,text,bigint,text,uuid) to ticketing_admin;
grant execute on function app_public.create_attachment_upload(uuid,text,text,bigint,text,uuid) to ticketing_agent;
grant execute on function app_public.create_attachment_upload(uuid,text,text,bigint,text,uuid) to ticketing_customer;
comment on function app_public.create_attachment_upload(uuid,text,text,bigint,text,uuid) is 'Starts an upload: records a pending attachment of the ticket (or of your own comment on it, commentId) with the file''s name (sanitised), content type, size in bytes and SHA-256 (hex), and returns it with a short-lived uploadUrl and the uploadHeaders to send with the PUT of the bytes. Then call completeAttachmentUpload. Refused on a ticket you cannot read or that is closed, for a file larger than your role allows (INVALID_INPUT) and beyond your attachment quota (RATE_LIMITED).';

CREATE OR REPLACE FUNCTION app_public.create_organization(name text, domains text[] DEFAULT '{}'::text[], auto_join boolean DEFAULT false)
 RETURNS app_public.organizations
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  created app_public.organizations;
begin
  perform app_private.require_admin();

  insert into app_public.organizations (name, domains, auto_join)
  values (
    btrim(create_organization.name),
    coalesce((select array_agg(distinct lower(btrim(d))) from unnest(create_organization.domains) as d), '{}'),
    coalesce(create_organization.auto_join, false)
  )
  returning * into created;

  return created;
end;
$function$;
grant execute on function app_public.create_organization(text,text[],boolean) to ticketing_admin;
comment on function app_public.create_organization(text,text[],boolean) is 'Admins: creates an organization (name 1-200 characters, unique; up to 20 email domains, stored in lower case; autoJoin: customers registering with one of the domains join it). Errors: FORBIDDEN, INVALID_INPUT, RATE_LIMITED.';

CREATE OR REPLACE FUNCTION app_public.create_webhook_endpoint(url text, event_kinds text[], include_internal boolean DEFAULT false, priorities app_public.ticket_priority[] DEFAULT NULL::app_public.ticket_priority[])
 RETURNS app_public.webhook_endpoint_secret
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  result app_public.webhook_endpoint_secret;
begin
  result.secret := app_public.new_webhook_secret();
  insert into app_public.webhook_endpoints (url, event_kinds, include_internal, priorities, secret)
  values (url, event_kinds, coalesce(include_internal, false), priorities, result.secret)
  returning id into result.webhook_endpoint_id;
  return result;
end;
$function$;
grant execute on function app_public.create_webhook_endpoint(text,text[],boolean,app_public.ticket_priority[]) to ticketing_admin;
comment on function app_public.create_webhook_endpoint(text,text[],boolean,app_public.ticket_priority[]) is '@resultFieldName created
Registers a webhook endpoint (admins) and returns it with its signing secret, which is shown this once.';

CREATE OR REPLACE FUNCTION app_public.current_user_id()
 RETURNS uuid
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select app_private.current_user_id();
$function$;
grant execute on function app_public.current_user_id() to ticketing_admin;
grant execute on function app_public.current_user_id() to ticketing_agent;
grant execute on function app_public.current_user_id() to ticketing_anonymous;
grant execute on function app_public.current_user_id() to ticketing_customer;
comment on function app_public.current_user_id() is 'Id of the signed-in user; null when anonymous, when the token names no valid user, or when the user is deactivated.';

CREATE OR REPLACE FUNCTION app_public.deactivate_user(user_id uuid)
 RETURNS app_public.users
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  target app_public.users;
begin
  if app_private.acting_user_id('admin') is null then
    raise exception using errcode = 'TKFBD', message = 'Only an admin can deactivate users';
  end if;

  select u.* into target
  from app_public.users as u
  where u.id = deactivate_user.user_id
  for update;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No user with this id';
  end if;
  if target.role = 'admin' and target.is_active then
    perform app_private.assert_admin_remains(target.id);
  end if;

  if target.is_active then
    update app_public.users as u
    set is_active = false
    where u.id = target.id
    returning * into target;
  end if;

  perform app_private.revoke_user_sessions(target.id, 'deactivated');
  return target;
end;
$function$;
grant execute on function app_public.deactivate_user(uuid) to ticketing_admin;
comment on function app_public.deactivate_user(uuid) is '@resultFieldName user
Admins: deactivates a user. Their tokens stop working at once (they see nothing) and every session is revoked. Refused when it would leave no active admin. Idempotent.';

CREATE OR REPLACE FUNCTION app_public.my_notification_preferences()
 RETURNS SETOF app_public.notification_preference
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select k.kind, coalesce(p.enabled, true)
  from unnest(array['ticket_created', 'ticket_reply', 'ticket_status', 'ticket_assigned', 'customer_reply', 'sla_breach']) with ordinality as k (kind, n)
  left join app_private.notification_preferences as p
    on p.user_id = app_private.current_user_id() and p.kind = k.kind
  where app_private.current_user_id() is not null
  order by k.n;
$function$;
grant execute on function app_public.my_notification_preferences() to ticketing_admin;
grant execute on function app_public.my_notification_preferences() to ticketing_agent;
grant execute on function app_public.my_notification_preferences() to ticketing_customer;
comment on function app_public.my_notification_preferences() is 'The signed-in user''s notification mails, one row per kind (six rows; none when anonymous).';

CREATE OR REPLACE FUNCTION app_public.my_open_ticket_count()
 RETURNS integer
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select count(*)::integer
  from app_public.tickets as t
  where t.status <> 'closed'
    and app_public.current_user_id() in (t.customer_id, t.agent_id);
$function$;
grant execute on function app_public.my_open_ticket_count() to ticketing_admin;
grant execute on function app_public.my_open_ticket_count() to ticketing_agent;
grant execute on function app_public.my_open_ticket_count() to ticketing_customer;
comment on function app_public.my_open_ticket_count() is 'Number of your tickets that are not closed: the ones you filed (customers) or are assigned to (agents, admins). For badges in the portal and the console.';

CREATE OR REPLACE FUNCTION app_public.my_queue()
 RETURNS SETOF app_public.tickets
 LANGUAGE sql
 STABLE
AS $function$
  select t.*
  from app_public.tickets as t
  where t.status in ('open', 'in_progress', 'waiting_on_customer')
    and (
      t.agent_id = (select app_public.current_user_id())
      or (t.status = 'open' and t.agent_id is null)
    )
  order by t.resolution_due_at, t.id
$function$;
grant execute on function app_public.my_queue() to ticketing_admin;
grant execute on function app_public.my_queue() to ticketing_agent;
comment on function app_public.my_queue() is '@sortable false
Your queue: the unfinished tickets assigned to you and the open, unassigned pool, the nearest resolution deadline first. For agents and admins.';

CREATE OR REPLACE FUNCTION app_public.new_webhook_secret()
 RETURNS text
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select 'whsec_' || encode(
    decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'),
    'base64'
  );
$function$;
grant execute on function app_public.new_webhook_secret() to ticketing_admin;
comment on function app_public.new_webhook_secret() is '@behavior -*
A fresh webhook signing secret: whsec_ followed by the base64 of 32 random bytes (two random UUIDs, 244 random bits).';

CREATE OR REPLACE FUNCTION app_public.redeliver_webhook(delivery_id uuid)
 RETURNS app_public.webhook_deliveries
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  delivery app_public.webhook_deliveries;
begin
  update app_public.webhook_deliveries as d
  set redelivery_requested_at = clock_timestamp()
  where d.id = redeliver_webhook.delivery_id
  returning d.* into delivery;
  if delivery.id is null then
    raise exception 'no such webhook delivery' using errcode = 'TKNTF';
  end if;
  return delivery;
end;
$function$;
grant execute on function app_public.redeliver_webhook(uuid) to ticketing_admin;
comment on function app_public.redeliver_webhook(uuid) is 'Sends a delivery again (admins): it becomes pending and is attempted now, with its original webhook-id and payload; retries follow as for a new delivery.';

CREATE OR REPLACE FUNCTION app_public.remove_organization_member(organization_id uuid, user_id uuid)
 RETURNS app_public.organization_memberships
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  admin_id uuid := app_private.require_admin();
  membership app_public.organization_memberships;
begin
  update app_public.organization_memberships as m
  set removed_at = now(),
      removed_by = admin_id
  where m.organization_id = remove_organization_member.organization_id
    and m.user_id = remove_organization_member.user_id
    and m.removed_at is null
  returning m.* into membership;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Membership not found';
  end if;
  return membership;
end;
$function$;
grant execute on function app_public.remove_organization_member(uuid,uuid) to ticketing_admin;
comment on function app_public.remove_organization_member(uuid,uuid) is 'Admins: ends a membership. From that moment the customer no longer sees the organization''s tickets (their own stay theirs); the row stays, with removedAt, for the audit. Errors: FORBIDDEN, NOT_FOUND, RATE_LIMITED.';

CREATE OR REPLACE FUNCTION app_public.remove_ticket_participant(ticket_id uuid, user_id uuid)
 RETURNS app_public.ticket_participants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  me uuid := app_private.current_user_id();
  ticket app_public.tickets;
  participant app_public.ticket_participants;
begin
  -- Leaving: the caller is signed in (their role matches their token) and takes part in the ticket.
  if me is not null
    and remove_ticket_participant.user_id = me
    and app_private.current_user_role() is not null
  then
    update app_public.ticket_participants as p
    set removed_at = now(),
        removed_by = me
    where p.ticket_id = remove_ticket_participant.ticket_id
      and p.user_id = me
      and p.removed_at is null
    returning p.* into participant;
    if found then
      return participant;
    end if;
  end if;

  ticket := app_private.ticket_for_participants(remove_ticket_participant.ticket_id);

  -- Customers take off the people they may add (cc), not staff who follow the ticket.
  if app_private.current_user_role() = 'customer' and exists (
    select 1
    from app_public.ticket_participants as p
    where p.ticket_id = ticket.id
      and p.user_id = remove_ticket_participant.user_id
      and p.kind = 'follower'
      and p.removed_at is null
  ) then
    raise exception using errcode = 'TKFBD', message = 'Customers cannot remove staff who follow the ticket';
  end if;

  update app_public.ticket_participants as p
  set removed_at = now(),
      removed_by = me
  where p.ticket_id = ticket.id
    and p.user_id = remove_ticket_participant.user_id
    and p.removed_at is null
  returning p.* into participant;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Participant not found';
  end if;
  return participant;
end;
$function$;
grant execute on function app_public.remove_ticket_participant(uuid,uuid) to ticketing_admin;
grant execute on function app_public.remove_ticket_participant(uuid,uuid) to ticketing_agent;
grant execute on function app_public.remove_ticket_participant(uuid,uuid) to ticketing_customer;
comment on function app_public.remove_ticket_participant(uuid,uuid) is 'Removes a participant from a ticket. Anyone who takes part (a cc, a follower) may remove themselves, even from a closed ticket; others are removed by whoever acts on the ticket (requester, organization manager, assigned agent, admin; customers remove cc only, not staff followers; not on closed tickets, except admins). A removed cc no longer sees the ticket. The row stays, with removedAt and removedBy, for the audit. Errors: FORBIDDEN, NOT_FOUND, RATE_LIMITED.';

CREATE OR REPLACE FUNCTION app_public.rotate_webhook_secret(webhook_endpoint_id uuid)
 RETURNS app_public.webhook_endpoint_secret
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  result app_public.webhook_endpoint_secret;
begin
  result.secret := app_public.new_webhook_secret();
  update app_public.webhook_endpoints as e
  set secret = result.secret, secret_rotated_at = now()
  where e.id = rotate_webhook_secret.webhook_endpoint_id
  returning e.id into result.webhook_endpoint_id;
  if result.webhook_endpoint_id is null then
    raise exception 'no such webhook endpoint' using errcode = 'TKNTF';
  end if;
  return result;
end;
$function$;
grant execute on function app_public.rotate_webhook_secret(uuid) to ticketing_admin;
comment on function app_public.rotate_webhook_secret(uuid) is '@resultFieldName rotated
Gives an endpoint a new signing secret (admins), returned this once; deliveries from now on are signed with it.';

CREATE OR REPLACE FUNCTION app_public.search_tickets(query text)
 RETURNS SETOF app_public.tickets
 LANGUAGE sql
 STABLE
BEGIN ATOMIC
 SELECT tk.*::app_public.tickets AS tk
    FROM ((( SELECT m.ticket_id,
             sum(m.rank) FILTER (WHERE (m.comment_id IS NULL)) AS ticket_rank,
             array_agg(m.comment_id) FILTER (WHERE (m.comment_id IS NOT NULL)) AS comment_ids,
             array_agg(m.rank) FILTER (WHERE (m.comment_id IS NOT NULL)) AS comment_ranks
            FROM ( SELECT s.ticket_id,
                     s.comment_id,
                     s.rank
                    FROM app_private.search_matches_within(( SELECT app_private.search_query(search_tickets.query) AS search_query), ARRAY( SELECT t.id
                            FROM app_public.tickets t)) s(ticket_id, comment_id, rank)
                   WHERE (CURRENT_USER = 'ticketing_customer'::name)
                 UNION ALL
                  SELECT s.ticket_id,
                     s.comment_id,
                     s.rank
                    FROM app_private.search_matches_in_sight(( SELECT app_private.search_query(search_tickets.query) AS search_query)) s(ticket_id, comment_id, rank)
                   WHERE (CURRENT_USER = 'ticketing_agent'::name)
                 UNION ALL
                  SELECT s.ticket_id,
                     s.comment_id,
                     s.rank
                    FROM app_private.search_matches(( SELECT app_private.search_query(search_tickets.query) AS search_query)) s(ticket_id, comment_id, rank)
                   WHERE (CURRENT_USER <> ALL (ARRAY['ticketing_customer'::name, 'ticketing_agent'::name]))) m
           GROUP BY m.ticket_id) r
      JOIN app_public.tickets tk ON ((tk.id = r.ticket_id)))
      CROSS JOIN LATERAL ( SELECT sum(c.rank) AS rank
            FROM UNNEST(r.comment_ids, r.comment_ranks) c(id, rank)
           WHERE (EXISTS ( SELECT 1
                    FROM app_public.ticket_comments tc
                   WHERE ((tc.id = c.id) AND (tc.ticket_id = tk.id))
                  OFFSET 0))) readable)
   WHERE ((( SELECT app_private.search_query(search_tickets.query) AS search_query) IS NOT NULL) AND ((r.ticket_rank IS NOT NULL) OR (readable.rank IS NOT NULL)))
   ORDER BY (COALESCE(r.ticket_rank, (0)::real) + COALESCE(readable.rank, (0)::real)) DESC, tk.number DESC;
END;
grant execute on function app_public.search_tickets(text) to ticketing_admin;
grant execute on function app_public.search_tickets(text) to ticketing_agent;
grant execute on function app_public.search_tickets(text) to ticketing_customer;
comment on function app_public.search_tickets(text) is 'Full-text search (web-search syntax: words, "phrases", or, -exclusions) over subject, description and comments of the tickets you can read; internal notes count only for staff. Best matches first. Empty text returns nothing. Errors: INVALID_INPUT (more than 500 characters).';

CREATE OR REPLACE FUNCTION app_public.set_notification_preference(kind text, enabled boolean)
 RETURNS app_public.notification_preference
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  caller uuid := app_private.current_user_id();
  result app_public.notification_preference;
begin
  if caller is null then
    raise exception using errcode = 'TKFBD', message = 'You must be signed in';
  end if;
  -- One row per user and kind (the primary key): changing it again and
  -- again stores nothing more, so there is nothing to exhaust.
  insert into app_private.notification_preferences as p (user_id, kind, enabled)
  values (caller, set_notification_preference.kind, set_notification_preference.enabled)
  on conflict on constraint notification_preferences_pkey do update set enabled = excluded.enabled, updated_at = now();
  result.kind := set_notification_preference.kind;
  result.enabled := set_notification_preference.enabled;
  return result;
end;
$function$;
grant execute on function app_public.set_notification_preference(text,boolean) to ticketing_admin;
grant execute on function app_public.set_notification_preference(text,boolean) to ticketing_agent;
grant execute on function app_public.set_notification_preference(text,boolean) to ticketing_customer;
comment on function app_public.set_notification_preference(text,boolean) is 'Turns the signed-in user''s notification mails of a kind on or off (kinds: see myNotificationPreferences; another kind is INVALID_INPUT).';

CREATE OR REPLACE FUNCTION app_public.set_user_role(user_id uuid, role app_public.user_role)
 RETURNS app_public.users
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  target app_public.users;
begin
  if app_private.acting_user_id('admin') is null then
    raise exception using errcode = 'TKFBD', message = 'Only an admin can change roles';
  end if;

  select u.* into target
  from app_public.users as u
  where u.id = set_user_role.user_id
  for update;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No user with this id';
  end if;
  if target.role = set_user_role.role then
    return target;
  end if;
  if target.role = 'admin' and target.is_active then
    perform app_private.assert_admin_remains(target.id);
  end if;

  update app_public.users as u
  set role = set_user_role.role
  where u.id = target.id
  returning * into target;

  -- Sessions were opened under the old role; the user signs in again.
  perform app_private.revoke_user_sessions(target.id, 'role_changed');
  return target;
end;
$function$;
grant execute on function app_public.set_user_role(uuid,app_public.user_role) to ticketing_admin;
comment on function app_public.set_user_role(uuid,app_public.user_role) is '@resultFieldName user
Admins: changes a user''s role. Takes effect at once (policies read the users row) and ends the user''s sessions. Refused when it would leave no active admin.';

CREATE OR REPLACE FUNCTION app_public.take_next_ticket()
 RETURNS app_public.tickets
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  caller_id uuid := app_private.acting_user_id('agent');
  next_id uuid;
  ticket app_public.tickets;
begin
  if caller_id is null then
    raise exception using errcode = 'TKFBD', message = 'Only agents can take tickets from the queue';
  end if;

  -- SKIP LOCKED: a ticket being claimed by another agent is passed over, so
  -- concurrent callers never wait for each other nor get the same ticket.
  select tk.id into next_id
  from app_public.tickets as tk
  where tk.status = 'open'
    and tk.agent_id is null
  order by tk.priority desc, tk.created_at, tk.id
  limit 1
  for update skip locked;

  if next_id is null then
    return null;
  end if;

  perform set_config('app.status_note', 'Taken from the queue', true);

  update app_public.tickets as tk
  set agent_id = caller_id,
      -- Starting work is part of claiming, unless admins removed that move
      -- from the workflow; then the ticket is only assigned.
      status = case
        when app_private.transition_allowed('open', 'in_progress', 'agent') then 'in_progress'
        else tk.status
      end
  where tk.id = next_id
  returning tk.* into ticket;

  perform set_config('app.status_note', '', true);

  return ticket;
end;
$function$;
grant execute on function app_public.take_next_ticket() to ticketing_admin;
grant execute on function app_public.take_next_ticket() to ticketing_agent;
grant execute on function app_public.take_next_ticket() to ticketing_customer;
comment on function app_public.take_next_ticket() is 'Agents only: claims the most urgent, then oldest, open unassigned ticket, assigns it to you and moves it to in_progress. Safe under concurrency: two agents never get the same ticket and never wait for each other. Returns null when the queue is empty. Errors: FORBIDDEN.';

CREATE OR REPLACE FUNCTION app_public.ticket_comments_refused_attachments(comment app_public.ticket_comments)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select e.refused_attachments
  from app_private.inbound_emails as e
  where e.comment_id = comment.id
    and e.refused_attachments is not null
    and (select app_private.current_user_role()) in ('agent', 'admin')
  order by e.received_at
  limit 1;
$function$;
grant execute on function app_public.ticket_comments_refused_attachments(app_public.ticket_comments) to ticketing_admin;
grant execute on function app_public.ticket_comments_refused_attachments(app_public.ticket_comments) to ticketing_agent;
grant execute on function app_public.ticket_comments_refused_attachments(app_public.ticket_comments) to ticketing_customer;
comment on function app_public.ticket_comments_refused_attachments(app_public.ticket_comments) is 'Staff only: files of the mail that made this comment that were not accepted as attachments, as [{fileName, contentType, size, reason}] (too large, a type not accepted, the sender''s quota, more files than one mail may bring, content not matching its type); null for customers and when none was refused.';

CREATE OR REPLACE FUNCTION app_public.tickets_first_response_at_risk(t app_public.tickets)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (((t).first_response_due_at IS NOT NULL) AND ((t).first_responded_at IS NULL) AND ((t).status <> ALL (ARRAY['resolved'::app_public.ticket_status, 'closed'::app_public.ticket_status])) AND (now() <= (t).first_response_due_at) AND ( SELECT ((app_private.business_minutes_between(p.calendar_id, now(), (tickets_first_response_at_risk.t).first_response_due_at) * (4)::numeric) <= (p.first_response_minutes)::numeric)
            FROM app_private.ticket_sla_policy((tickets_first_response_at_risk.t).organization_id, (tickets_first_response_at_risk.t).priority) p(priority, first_response_minutes, resolution_minutes, calendar_id)));
END;
grant execute on function app_public.tickets_first_response_at_risk(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_first_response_at_risk(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_first_response_at_risk(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_first_response_at_risk(app_public.tickets) is 'True while no staff reply has been posted, the first-response deadline has not passed, and at most a quarter of its business minutes remains until it.';

CREATE OR REPLACE FUNCTION app_public.tickets_first_response_breached(t app_public.tickets)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
RETURN app_private.sla_breached((t).first_response_due_at, COALESCE((t).first_responded_at, (t).resolved_at, (t).closed_at, now()));
grant execute on function app_public.tickets_first_response_breached(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_first_response_breached(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_first_response_breached(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_first_response_breached(app_public.tickets) is 'True when staff replied publicly after firstResponseDueAt, or have not replied and that time has passed (a ticket resolved or closed without a reply counts at that moment).';

CREATE OR REPLACE FUNCTION app_public.tickets_first_response_business_minutes_elapsed(t app_public.tickets)
 RETURNS integer
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (floor(app_private.sla_elapsed_minutes(p.calendar_id, app_private.ticket_sla_active_time((tickets_first_response_business_minutes_elapsed.t).id, (tickets_first_response_business_minutes_elapsed.t).created_at, (tickets_first_response_business_minutes_elapsed.t).status, (tickets_first_response_business_minutes_elapsed.t).status_changed_at, 'first_response'::app_public.sla_clock, (tickets_first_response_business_minutes_elapsed.t).first_responded_at), COALESCE((tickets_first_response_business_minutes_elapsed.t).first_responded_at, (tickets_first_response_business_minutes_elapsed.t).resolved_at, (tickets_first_response_business_minutes_elapsed.t).closed_at, now()))))::integer AS floor
    FROM app_private.ticket_sla_policy((tickets_first_response_business_minutes_elapsed.t).organization_id, (tickets_first_response_business_minutes_elapsed.t).priority) p(priority, first_response_minutes, resolution_minutes, calendar_id);
END;
grant execute on function app_public.tickets_first_response_business_minutes_elapsed(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_first_response_business_minutes_elapsed(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_first_response_business_minutes_elapsed(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_first_response_business_minutes_elapsed(app_public.tickets) is 'Whole business minutes the first-response clock has run: since creation, on the policy''s calendar, not counting paused statuses, until the first public staff reply (or resolution/closing, or now).';

CREATE OR REPLACE FUNCTION app_public.tickets_first_response_business_minutes_left(t app_public.tickets)
 RETURNS integer
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (p.first_response_minutes - app_public.tickets_first_response_business_minutes_elapsed(tickets_first_response_business_minutes_left.t))
    FROM app_private.ticket_sla_policy((tickets_first_response_business_minutes_left.t).organization_id, (tickets_first_response_business_minutes_left.t).priority) p(priority, first_response_minutes, resolution_minutes, calendar_id);
END;
grant execute on function app_public.tickets_first_response_business_minutes_left(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_first_response_business_minutes_left(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_first_response_business_minutes_left(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_first_response_business_minutes_left(app_public.tickets) is 'Business minutes left of the first-response target (negative when overdue by that many), frozen while the clock is paused or stopped.';

CREATE OR REPLACE FUNCTION app_public.tickets_refused_attachments(ticket app_public.tickets)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select e.refused_attachments
  from app_private.inbound_emails as e
  where e.ticket_id = ticket.id
    and e.decision = 'ticket'
    and e.refused_attachments is not null
    and (select app_private.current_user_role()) in ('agent', 'admin')
  order by e.received_at
  limit 1;
$function$;
grant execute on function app_public.tickets_refused_attachments(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_refused_attachments(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_refused_attachments(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_refused_attachments(app_public.tickets) is 'Staff only: files of the mail that opened this ticket that were not accepted as attachments, as [{fileName, contentType, size, reason}]; null for customers and when none was refused.';

CREATE OR REPLACE FUNCTION app_public.tickets_resolution_at_risk(t app_public.tickets)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (((t).resolution_due_at IS NOT NULL) AND ((t).status <> ALL (ARRAY['resolved'::app_public.ticket_status, 'closed'::app_public.ticket_status])) AND (now() <= (t).resolution_due_at) AND ( SELECT ((app_private.business_minutes_between(p.calendar_id, now(), (tickets_resolution_at_risk.t).resolution_due_at) * (4)::numeric) <= (p.resolution_minutes)::numeric)
            FROM app_private.ticket_sla_policy((tickets_resolution_at_risk.t).organization_id, (tickets_resolution_at_risk.t).priority) p(priority, first_response_minutes, resolution_minutes, calendar_id)));
END;
grant execute on function app_public.tickets_resolution_at_risk(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_resolution_at_risk(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_resolution_at_risk(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_resolution_at_risk(app_public.tickets) is 'True while the ticket is unresolved, the resolution deadline has not passed, and at most a quarter of its business minutes remains until it.';

CREATE OR REPLACE FUNCTION app_public.tickets_resolution_breached(t app_public.tickets)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
RETURN app_private.sla_breached((t).resolution_due_at, COALESCE((t).resolved_at, (t).closed_at, now()));
grant execute on function app_public.tickets_resolution_breached(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_resolution_breached(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_resolution_breached(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_resolution_breached(app_public.tickets) is 'True when the ticket was resolved (or closed) after resolutionDueAt, or is still unresolved and that time has passed.';

CREATE OR REPLACE FUNCTION app_public.tickets_resolution_business_minutes_elapsed(t app_public.tickets)
 RETURNS integer
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (floor(app_private.sla_elapsed_minutes(p.calendar_id, app_private.ticket_sla_active_time((tickets_resolution_business_minutes_elapsed.t).id, (tickets_resolution_business_minutes_elapsed.t).created_at, (tickets_resolution_business_minutes_elapsed.t).status, (tickets_resolution_business_minutes_elapsed.t).status_changed_at, 'resolution'::app_public.sla_clock, NULL::timestamp with time zone), COALESCE((tickets_resolution_business_minutes_elapsed.t).resolved_at, (tickets_resolution_business_minutes_elapsed.t).closed_at, now()))))::integer AS floor
    FROM app_private.ticket_sla_policy((tickets_resolution_business_minutes_elapsed.t).organization_id, (tickets_resolution_business_minutes_elapsed.t).priority) p(priority, first_response_minutes, resolution_minutes, calendar_id);
END;
grant execute on function app_public.tickets_resolution_business_minutes_elapsed(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_resolution_business_minutes_elapsed(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_resolution_business_minutes_elapsed(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_resolution_business_minutes_elapsed(app_public.tickets) is 'Whole business minutes the resolution clock has run: since creation, on the policy''s calendar, not counting paused statuses, until resolution (or closing, or now).';

CREATE OR REPLACE FUNCTION app_public.tickets_resolution_business_minutes_left(t app_public.tickets)
 RETURNS integer
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (p.resolution_minutes - app_public.tickets_resolution_business_minutes_elapsed(tickets_resolution_business_minutes_left.t))
    FROM app_private.ticket_sla_policy((tickets_resolution_business_minutes_left.t).organization_id, (tickets_resolution_business_minutes_left.t).priority) p(priority, first_response_minutes, resolution_minutes, calendar_id);
END;
grant execute on function app_public.tickets_resolution_business_minutes_left(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_resolution_business_minutes_left(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_resolution_business_minutes_left(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_resolution_business_minutes_left(app_public.tickets) is 'Business minutes left of the resolution target (negative when overdue by that many), frozen while the clock is paused or stopped.';

CREATE OR REPLACE FUNCTION app_public.tickets_ticket_status_histories(ticket app_public.tickets)
 RETURNS SETOF app_public.ticket_status_history
 LANGUAGE sql
 STABLE
AS $function$
  select h.*
  from app_public.ticket_status_history as h
  where h.ticket_id = ticket.id
    and h.changed_at >= ticket.created_at
$function$;
grant execute on function app_public.tickets_ticket_status_histories(app_public.tickets) to ticketing_admin;
grant execute on function app_public.tickets_ticket_status_histories(app_public.tickets) to ticketing_agent;
grant execute on function app_public.tickets_ticket_status_histories(app_public.tickets) to ticketing_customer;
comment on function app_public.tickets_ticket_status_histories(app_public.tickets) is '@behavior +order +filter +resource:connection:backwards
@uniqueRows
Every status change of this ticket, creation included (fromStatus null). Reads only the months of history from the ticket''s creation on.';

CREATE OR REPLACE FUNCTION app_public.transition_ticket(ticket_id uuid, to_status app_public.ticket_status, note text DEFAULT NULL::text)
 RETURNS app_public.tickets
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  caller_id uuid := app_private.current_user_id();
  caller_role app_public.user_role := app_private.current_user_role();
  ticket app_public.tickets;
begin
  if caller_role is null then
    raise exception using errcode = 'TKFBD', message = 'Sign in to change tickets';
  end if;
  if transition_ticket.ticket_id is null or transition_ticket.to_status is null then
    raise exception using errcode = 'TKVAL', message = 'ticketId and toStatus are required';
  end if;
  -- The note's length is ticket_status_history_note_length's rule, checked
  -- when the history row is written.

  -- Row lock: concurrent transitions of one ticket run one after the other,
  -- each seeing the status the previous one left.
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = transition_ticket.ticket_id
  for update;

  if not found
    or (caller_role = 'customer' and not app_private.acts_on_ticket(ticket))
    or (caller_role = 'agent' and ticket.agent_id is distinct from caller_id and ticket.status <> 'open')
  then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;

  if caller_role = 'agent' and ticket.agent_id is distinct from caller_id then
    raise exception using errcode = 'TKFBD', message = 'Only the agent assigned to this ticket can change its status';
  end if;

  if ticket.status = transition_ticket.to_status then
    raise exception using errcode = 'TKINV', message = format('The ticket is already %s', ticket.status);
  end if;

  -- Closed is final except for admins, whatever the workflow table says.
  if ticket.status = 'closed' and caller_role <> 'admin' then
    raise exception using errcode = 'TKINV', message = 'Closed tickets can only be reopened by an admin';
  end if;

  if not app_private.transition_allowed(ticket.status, transition_ticket.to_status, caller_role) then
    raise exception using
      errcode = 'TKINV',
      message = format('A %s cannot move a ticket from %s to %s', caller_role, ticket.status, transition_ticket.to_status);
  end if;

  if transition_ticket.to_status in ('in_progress', 'waiting_on_customer')
    and (ticket.agent_id is null or not app_private.is_active_agent(ticket.agent_id))
  then
    raise exception using errcode = 'TKINV', message = 'Assign an agent before work on this ticket starts';
  end if;

  perform set_config('app.status_note', coalesce(transition_ticket.note, ''), true);

  update app_public.tickets as tk
  set status = transition_ticket.to_status
  where tk.id = ticket.id
  returning tk.* into ticket;

  perform set_config('app.status_note', '', true);

  return ticket;
end;
$function$;
grant execute on function app_public.transition_ticket(uuid,app_public.ticket_status,text) to ticketing_admin;
grant execute on function app_public.transition_ticket(uuid,app_public.ticket_status,text) to ticketing_agent;
grant execute on function app_public.transition_ticket(uuid,app_public.ticket_status,text) to ticketing_customer;
comment on function app_public.transition_ticket(uuid,app_public.ticket_status,text) is 'Moves a ticket to another status, if ticketTransitions allows it for your role and you may act on the ticket (customers: as its requester or as a manager of its organization; agents: assigned to them; admins: any). Closed tickets can only be reopened by admins; in_progress and waiting_on_customer need an assigned agent. Sets or clears resolvedAt/closedAt and records the change (with the optional note, at most 2000 characters) in the status history. Errors: INVALID_TRANSITION, FORBIDDEN, NOT_FOUND, INVALID_INPUT.';

CREATE OR REPLACE FUNCTION app_public.update_organization(organization_id uuid, name text DEFAULT NULL::text, domains text[] DEFAULT NULL::text[], auto_join boolean DEFAULT NULL::boolean, is_active boolean DEFAULT NULL::boolean)
 RETURNS app_public.organizations
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  changed app_public.organizations;
begin
  perform app_private.require_admin();

  update app_public.organizations as o
  set
    name = coalesce(btrim(update_organization.name), o.name),
    domains = case
      when update_organization.domains is null then o.domains
      else coalesce((select array_agg(distinct lower(btrim(d))) from unnest(update_organization.domains) as d), '{}')
    end,
    auto_join = coalesce(update_organization.auto_join, o.auto_join),
    is_active = coalesce(update_organization.is_active, o.is_active)
  where o.id = update_organization.organization_id
  returning o.* into changed;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Organization not found';
  end if;
  return changed;
end;
$function$;
grant execute on function app_public.update_organization(uuid,text,text[],boolean,boolean) to ticketing_admin;
comment on function app_public.update_organization(uuid,text,text[],boolean,boolean) is 'Admins: changes an organization''s name, domains, auto-join or active flag (arguments left out stay as they are). Deactivating it takes away at once every sight its memberships gave. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT, RATE_LIMITED.';

CREATE OR REPLACE FUNCTION app_public.users_email(u app_public.users)
 RETURNS public.citext
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select a.email
  from app_private.user_accounts as a
  where a.user_id = u.id
    and (
      u.id = app_private.current_user_id()
      or app_private.current_user_role() in ('agent', 'admin')
    );
$function$;
grant execute on function app_public.users_email(app_public.users) to ticketing_admin;
grant execute on function app_public.users_email(app_public.users) to ticketing_agent;
grant execute on function app_public.users_email(app_public.users) to ticketing_anonymous;
grant execute on function app_public.users_email(app_public.users) to ticketing_customer;
comment on function app_public.users_email(app_public.users) is 'The user''s login email: your own, or anyone''s for agents and admins; null otherwise.';

CREATE OR REPLACE FUNCTION app_public.webhook_endpoint_secret_webhook_endpoint(result app_public.webhook_endpoint_secret)
 RETURNS app_public.webhook_endpoints
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select e.id, e.url, e.event_kinds, e.include_internal, e.priorities, e.is_active, null::text,
         e.consecutive_failures, e.disabled_at, e.created_at, e.secret_rotated_at
  from app_public.webhook_endpoints as e
  where e.id = result.webhook_endpoint_id;
$function$;
grant execute on function app_public.webhook_endpoint_secret_webhook_endpoint(app_public.webhook_endpoint_secret) to ticketing_admin;
comment on function app_public.webhook_endpoint_secret_webhook_endpoint(app_public.webhook_endpoint_secret) is '@fieldName webhookEndpoint
@behavior -queryField
The endpoint the secret signs for.';

-- ===========================================================================
-- app_reporting
-- ===========================================================================

create schema app_reporting;
grant usage on schema app_reporting to ticketing_analyst;
comment on schema app_reporting is 'Read-only views for analysts (ticketing_analyst). No password hashes, no emails.';

create view app_reporting.agent_workload as
 SELECT u.id AS agent_id,
    u.display_name,
    u.is_active,
    count(t.id) FILTER (WHERE t.status = 'open'::text)::integer AS open_tickets,
    count(t.id) FILTER (WHERE t.status = 'in_progress'::text)::integer AS in_progress_tickets,
    count(t.id) FILTER (WHERE t.status = 'waiting_on_customer'::text)::integer AS waiting_on_customer_tickets,
    count(t.id) FILTER (WHERE t.resolved_at >= (now() - '7 days'::interval))::integer AS resolved_last_7_days,
    count(t.id) FILTER (WHERE t.resolved_at >= (now() - '30 days'::interval))::integer AS resolved_last_30_days,
    round(percentile_cont(0.5::double precision) WITHIN GROUP (ORDER BY (t.resolution_minutes::double precision)) FILTER (WHERE t.resolved_at >= (now() - '30 days'::interval))::numeric, 2) AS median_resolution_minutes_last_30_days
   FROM app_public.users u
     LEFT JOIN app_reporting.tickets t ON t.agent_id = u.id
  WHERE u.role = 'agent'::app_public.user_role
  GROUP BY u.id;
grant select on table app_reporting.agent_workload to ticketing_analyst;
comment on view app_reporting.agent_workload is 'One row per agent (users whose role is agent, active or not): current tickets by status, tickets resolved recently and the median resolution time. Tickets are credited to their current agent.';
comment on column app_reporting.agent_workload.agent_id is 'Id of the agent.';
comment on column app_reporting.agent_workload.display_name is 'The agent''s display name (staff only; customers'' names are never shown here).';
comment on column app_reporting.agent_workload.is_active is 'False when the agent was deactivated.';
comment on column app_reporting.agent_workload.open_tickets is 'Tickets assigned to the agent and still open (work not started).';
comment on column app_reporting.agent_workload.in_progress_tickets is 'Tickets assigned to the agent and in progress.';
comment on column app_reporting.agent_workload.waiting_on_customer_tickets is 'Tickets assigned to the agent and waiting on the customer.';
comment on column app_reporting.agent_workload.resolved_last_7_days is 'Tickets of the agent with resolved_at in the last 7 days (including those closed since).';
comment on column app_reporting.agent_workload.resolved_last_30_days is 'Tickets of the agent with resolved_at in the last 30 days (including those closed since).';
comment on column app_reporting.agent_workload.median_resolution_minutes_last_30_days is 'Median minutes from creation to resolution of those last-30-days tickets; null when there are none.';

create view app_reporting.attachments as
 SELECT id,
    ticket_id,
    comment_id IS NOT NULL AS on_comment,
    state::text AS state,
    size,
    created_at
   FROM app_public.attachments a;
grant select on table app_reporting.attachments to ticketing_analyst;
comment on view app_reporting.attachments is 'One row per attachment: its ticket, state and size. No file name, content type, uploader or storage location.';
comment on column app_reporting.attachments.id is 'Attachment id.';
comment on column app_reporting.attachments.ticket_id is 'Id of the ticket it belongs to.';
comment on column app_reporting.attachments.on_comment is 'True when it belongs to a comment or internal note rather than to the ticket itself.';
comment on column app_reporting.attachments.state is 'pending, ready or rejected, as plain text.';
comment on column app_reporting.attachments.size is 'Size in bytes (declared; verified when ready).';
comment on column app_reporting.attachments.created_at is 'When the upload was requested.';

create view app_reporting.backlog as
 SELECT s.status,
    p.priority,
    p.priority_rank::integer AS priority_rank,
    count(t.id)::integer AS tickets,
    count(t.id) FILTER (WHERE t.agent_id IS NULL)::integer AS unassigned,
    count(t.id) FILTER (WHERE t.resolution_breached)::integer AS resolution_overdue,
    min(t.created_at) AS oldest_created_at
   FROM unnest('{open,in_progress,waiting_on_customer}'::app_public.ticket_status[]::text[]) s(status)
     CROSS JOIN unnest(enum_range(NULL::app_public.ticket_priority)::text[]) WITH ORDINALITY p(priority, priority_rank)
     LEFT JOIN app_reporting.tickets t ON t.status = s.status AND t.priority = p.priority
  GROUP BY s.status, p.priority, p.priority_rank;
grant select on table app_reporting.backlog to ticketing_analyst;
comment on view app_reporting.backlog is 'Unfinished work now: one row per unfinished status (open, in_progress, waiting_on_customer) and priority, zeros included.';
comment on column app_reporting.backlog.status is 'Unfinished status, as plain text.';
comment on column app_reporting.backlog.priority is 'Priority, as plain text.';
comment on column app_reporting.backlog.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent).';
comment on column app_reporting.backlog.tickets is 'Tickets in that status and priority.';
comment on column app_reporting.backlog.unassigned is 'Of those, tickets without an agent.';
comment on column app_reporting.backlog.resolution_overdue is 'Of those, tickets past their resolution due time.';
comment on column app_reporting.backlog.oldest_created_at is 'Creation time of the oldest of those tickets; null when there are none.';

create view app_reporting.daily_flow as
 WITH per_day AS (
         SELECT (e.happened_at AT TIME ZONE 'UTC'::text)::date AS day,
            count(*) FILTER (WHERE e.kind = 'created'::text)::integer AS created,
            count(*) FILTER (WHERE e.kind = 'resolved'::text)::integer AS resolved,
            count(*) FILTER (WHERE e.kind = 'closed'::text)::integer AS closed
           FROM app_public.tickets t
             CROSS JOIN LATERAL ( VALUES (t.created_at,'created'::text), (t.resolved_at,'resolved'::text), (t.closed_at,'closed'::text)) e(happened_at, kind)
          WHERE e.happened_at IS NOT NULL
          GROUP BY ((e.happened_at AT TIME ZONE 'UTC'::text)::date)
        ), calendar AS (
         SELECT d.d::date AS day
           FROM generate_series((( SELECT min(p_1.day) AS min
                   FROM per_day p_1))::timestamp with time zone, GREATEST(( SELECT max(p_1.day) AS max
                   FROM per_day p_1), (now() AT TIME ZONE 'UTC'::text)::date)::timestamp with time zone, '1 day'::interval) d(d)
        )
 SELECT c.day,
    COALESCE(p.created, 0) AS created,
    COALESCE(p.resolved, 0) AS resolved,
    COALESCE(p.closed, 0) AS closed
   FROM calendar c
     LEFT JOIN per_day p ON p.day = c.day;
grant select on table app_reporting.daily_flow to ticketing_analyst;
comment on view app_reporting.daily_flow is 'Tickets created, resolved and closed per UTC day, one row per day from the first ticket to today (quiet days are zeros).';
comment on column app_reporting.daily_flow.day is 'The day (UTC).';
comment on column app_reporting.daily_flow.created is 'Tickets created that day.';
comment on column app_reporting.daily_flow.resolved is 'Tickets whose resolved_at falls on that day (a ticket reopened since no longer counts).';
comment on column app_reporting.daily_flow.closed is 'Tickets closed that day.';

create view app_reporting.first_response_times as
 SELECT p.priority,
    p.priority_rank::integer AS priority_rank,
    count(t.first_response_minutes)::integer AS tickets,
    round(percentile_cont(0.5::double precision) WITHIN GROUP (ORDER BY (t.first_response_minutes::double precision))::numeric, 2) AS p50_minutes,
    round(percentile_cont(0.9::double precision) WITHIN GROUP (ORDER BY (t.first_response_minutes::double precision))::numeric, 2) AS p90_minutes
   FROM unnest(enum_range(NULL::app_public.ticket_priority)::text[]) WITH ORDINALITY p(priority, priority_rank)
     LEFT JOIN app_reporting.tickets t ON t.priority = p.priority
  GROUP BY p.priority, p.priority_rank;
grant select on table app_reporting.first_response_times to ticketing_analyst;
comment on view app_reporting.first_response_times is 'Time to first public staff reply per priority, over all tickets that have one: median and 90th percentile (interpolated, as percentile_cont).';
comment on column app_reporting.first_response_times.priority is 'Priority as plain text (every priority has a row).';
comment on column app_reporting.first_response_times.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent).';
comment on column app_reporting.first_response_times.tickets is 'Tickets with a first reply.';
comment on column app_reporting.first_response_times.p50_minutes is 'Median minutes from creation to first reply; null without data.';
comment on column app_reporting.first_response_times.p90_minutes is '90th percentile of those minutes; null without data.';

create view app_reporting.organizations as
 SELECT id AS organization_id,
    name AS organization_name,
    is_active,
    created_at,
    ( SELECT count(*)::integer AS count
           FROM app_public.organization_memberships m
          WHERE m.organization_id = o.id AND m.removed_at IS NULL) AS members,
    ( SELECT count(*)::integer AS count
           FROM app_public.organization_memberships m
          WHERE m.organization_id = o.id AND m.removed_at IS NULL AND m.role = 'manager'::app_public.organization_role) AS managers
   FROM app_public.organizations o;
grant select on table app_reporting.organizations to ticketing_analyst;
comment on view app_reporting.organizations is 'One row per organization: id, name, whether it is active, and how many members (managers included) and managers it has now. No domains, no people.';
comment on column app_reporting.organizations.organization_id is 'Id of the organization (joins app_reporting.tickets.organization_id).';
comment on column app_reporting.organizations.organization_name is 'Its name.';
comment on column app_reporting.organizations.is_active is 'False once deactivated.';
comment on column app_reporting.organizations.created_at is 'When it was created.';
comment on column app_reporting.organizations.members is 'Memberships in force (managers included).';
comment on column app_reporting.organizations.managers is 'Managers among them.';

create view app_reporting.resolution_times as
 SELECT p.priority,
    p.priority_rank::integer AS priority_rank,
    count(t.resolution_minutes)::integer AS tickets,
    round(percentile_cont(0.5::double precision) WITHIN GROUP (ORDER BY (t.resolution_minutes::double precision))::numeric, 2) AS p50_minutes,
    round(percentile_cont(0.9::double precision) WITHIN GROUP (ORDER BY (t.resolution_minutes::double precision))::numeric, 2) AS p90_minutes
   FROM unnest(enum_range(NULL::app_public.ticket_priority)::text[]) WITH ORDINALITY p(priority, priority_rank)
     LEFT JOIN app_reporting.tickets t ON t.priority = p.priority
  GROUP BY p.priority, p.priority_rank;
grant select on table app_reporting.resolution_times to ticketing_analyst;
comment on view app_reporting.resolution_times is 'Time to resolution per priority, over all tickets with a resolved_at (closed without resolution and unresolved tickets are left out): median and 90th percentile (interpolated).';
comment on column app_reporting.resolution_times.priority is 'Priority as plain text (every priority has a row).';
comment on column app_reporting.resolution_times.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent).';
comment on column app_reporting.resolution_times.tickets is 'Resolved tickets.';
comment on column app_reporting.resolution_times.p50_minutes is 'Median minutes from creation to resolution; null without data.';
comment on column app_reporting.resolution_times.p90_minutes is '90th percentile of those minutes; null without data.';

create view app_reporting.sla_compliance as
 WITH outcomes AS (
         SELECT date_trunc('week'::text, (t.created_at AT TIME ZONE 'UTC'::text))::date AS week_start,
            t.priority,
            t.priority_rank,
                CASE
                    WHEN t.first_response_breached THEN false
                    WHEN t.first_response_due_at IS NOT NULL AND COALESCE(t.first_responded_at, t.resolved_at, t.closed_at) IS NOT NULL THEN true
                    ELSE NULL::boolean
                END AS first_response_met,
                CASE
                    WHEN t.resolution_breached THEN false
                    WHEN t.resolution_due_at IS NOT NULL AND COALESCE(t.resolved_at, t.closed_at) IS NOT NULL THEN true
                    ELSE NULL::boolean
                END AS resolution_met
           FROM app_reporting.tickets t
        )
 SELECT week_start,
    to_char(week_start::timestamp with time zone, 'IYYY-"W"IW'::text) AS iso_week,
    priority,
    priority_rank,
    count(*)::integer AS tickets,
    count(*) FILTER (WHERE first_response_met)::integer AS first_response_met,
    count(*) FILTER (WHERE NOT first_response_met)::integer AS first_response_breached,
    count(*) FILTER (WHERE first_response_met IS NULL)::integer AS first_response_pending,
    round(count(*) FILTER (WHERE first_response_met)::numeric / NULLIF(count(first_response_met), 0)::numeric, 4) AS first_response_compliance,
    count(*) FILTER (WHERE resolution_met)::integer AS resolution_met,
    count(*) FILTER (WHERE NOT resolution_met)::integer AS resolution_breached,
    count(*) FILTER (WHERE resolution_met IS NULL)::integer AS resolution_pending,
    round(count(*) FILTER (WHERE resolution_met)::numeric / NULLIF(count(resolution_met), 0)::numeric, 4) AS resolution_compliance
   FROM outcomes o
  GROUP BY week_start, priority, priority_rank;
grant select on table app_reporting.sla_compliance to ticketing_analyst;
comment on view app_reporting.sla_compliance is 'SLA outcomes per ISO week of ticket creation (UTC) and priority. A target is met when the reply (first response) or the resolution came in time, or the ticket was resolved or closed in time without one; breached when late, or overdue now; pending while neither. Compliance = met / (met + breached).';
comment on column app_reporting.sla_compliance.week_start is 'Monday of the ISO week (UTC) in which the tickets were created.';
comment on column app_reporting.sla_compliance.iso_week is 'The same week as an ISO label, e.g. 2026-W10.';
comment on column app_reporting.sla_compliance.priority is 'Priority of the tickets, as plain text.';
comment on column app_reporting.sla_compliance.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent).';
comment on column app_reporting.sla_compliance.tickets is 'Tickets created that week with that priority.';
comment on column app_reporting.sla_compliance.first_response_met is 'Tickets whose first-response target was met.';
comment on column app_reporting.sla_compliance.first_response_breached is 'Tickets whose first-response target was breached (late reply, or none and overdue).';
comment on column app_reporting.sla_compliance.first_response_pending is 'Tickets with no first reply yet and time left (or no target).';
comment on column app_reporting.sla_compliance.first_response_compliance is 'first_response_met / (first_response_met + first_response_breached); null when nothing is decided yet.';
comment on column app_reporting.sla_compliance.resolution_met is 'Tickets resolved (or closed) by their resolution due time.';
comment on column app_reporting.sla_compliance.resolution_breached is 'Tickets resolved late, or unresolved past their due time.';
comment on column app_reporting.sla_compliance.resolution_pending is 'Tickets unresolved with time left (or no target).';
comment on column app_reporting.sla_compliance.resolution_compliance is 'resolution_met / (resolution_met + resolution_breached); null when nothing is decided yet.';

create view app_reporting.sla_event_compliance as
 SELECT date_trunc('week'::text, (e.occurred_at AT TIME ZONE 'UTC'::text))::date AS week_start,
    to_char((e.occurred_at AT TIME ZONE 'UTC'::text), 'IYYY-"W"IW'::text) AS iso_week,
    e.clock::text AS clock,
    e.priority::text AS priority,
    e.agent_id,
    e.calendar_id,
    c.name AS calendar_name,
    count(*) FILTER (WHERE e.kind = 'met'::app_public.sla_event_kind)::integer AS met,
    count(*) FILTER (WHERE e.kind = 'breached'::app_public.sla_event_kind)::integer AS breached,
    count(*) FILTER (WHERE e.kind = 'at_risk'::app_public.sla_event_kind)::integer AS at_risk,
    round(count(*) FILTER (WHERE e.kind = 'met'::app_public.sla_event_kind)::numeric / NULLIF(count(*) FILTER (WHERE e.kind = ANY (ARRAY['met'::app_public.sla_event_kind, 'breached'::app_public.sla_event_kind])), 0)::numeric, 4) AS compliance,
    e.organization_id,
    o.name AS organization_name
   FROM app_public.sla_events e
     JOIN app_public.business_calendars c ON c.id = e.calendar_id
     LEFT JOIN app_public.organizations o ON o.id = e.organization_id
  GROUP BY (date_trunc('week'::text, (e.occurred_at AT TIME ZONE 'UTC'::text))::date), (to_char((e.occurred_at AT TIME ZONE 'UTC'::text), 'IYYY-"W"IW'::text)), (e.clock::text), (e.priority::text), e.agent_id, e.calendar_id, c.name, e.organization_id, o.name;
grant select on table app_reporting.sla_event_compliance to ticketing_analyst;
comment on view app_reporting.sla_event_compliance is 'SLA outcomes on business time from the SLA events, per ISO week of the event (UTC), clock, priority, agent, calendar and organization. Compliance = met / (met + breached). Events are never rewritten, so a later change of policy or calendar leaves past weeks as they were.';
comment on column app_reporting.sla_event_compliance.week_start is 'Monday of the ISO week (UTC) of the events.';
comment on column app_reporting.sla_event_compliance.iso_week is 'The same week as an ISO label, e.g. 2026-W22.';
comment on column app_reporting.sla_event_compliance.clock is 'first_response or resolution.';
comment on column app_reporting.sla_event_compliance.priority is 'The ticket''s priority at the event.';
comment on column app_reporting.sla_event_compliance.agent_id is 'The ticket''s agent at the event (null: unassigned).';
comment on column app_reporting.sla_event_compliance.calendar_id is 'The business calendar the clock counted on.';
comment on column app_reporting.sla_event_compliance.calendar_name is 'Its name.';
comment on column app_reporting.sla_event_compliance.met is 'Clocks met in time.';
comment on column app_reporting.sla_event_compliance.breached is 'Clocks that passed their due time.';
comment on column app_reporting.sla_event_compliance.at_risk is 'Clocks that came within a quarter of their target.';
comment on column app_reporting.sla_event_compliance.compliance is 'met / (met + breached); null when nothing is decided.';
comment on column app_reporting.sla_event_compliance.organization_id is 'The organization the tickets were filed for at the events (null: none, or events recorded before events named it).';
comment on column app_reporting.sla_event_compliance.organization_name is 'Its name.';

create view app_reporting.ticket_events as
 SELECT id AS event_id,
    occurred_at,
    kind,
    ticket_id,
    customer_id,
    agent_id
   FROM app_private.realtime_events e
  WHERE ticket_id IS NOT NULL;
grant select on table app_reporting.ticket_events to ticketing_analyst;
comment on view app_reporting.ticket_events is 'Change feed: one row per ticket event of the last week (the event log''s retention), ids, kinds and times only. Read it incrementally with event_id > the last id read; ids increase with time.';
comment on column app_reporting.ticket_events.event_id is 'Event id, increasing: the cursor of an incremental read.';
comment on column app_reporting.ticket_events.occurred_at is 'When the change was made.';
comment on column app_reporting.ticket_events.kind is 'created, status_changed, assigned, commented or updated.';
comment on column app_reporting.ticket_events.ticket_id is 'The ticket that changed (join app_reporting.tickets for its facts).';
comment on column app_reporting.ticket_events.customer_id is 'The ticket''s customer after the change.';
comment on column app_reporting.ticket_events.agent_id is 'The ticket''s agent after the change; null while unassigned.';

create view app_reporting.ticket_status_history as
 SELECT h.id,
    h.ticket_id,
    t.number AS ticket_number,
    h.from_status::text AS from_status,
    h.to_status::text AS to_status,
    h.changed_by,
    h.changed_at
   FROM app_public.ticket_status_history h
     JOIN app_public.tickets t ON t.id = h.ticket_id;
grant select on table app_reporting.ticket_status_history to ticketing_analyst;
comment on view app_reporting.ticket_status_history is 'Every status change of every ticket, creation included (from_status null). The free-text note of a change is left out.';
comment on column app_reporting.ticket_status_history.id is 'Id of the change.';
comment on column app_reporting.ticket_status_history.ticket_id is 'The ticket that changed.';
comment on column app_reporting.ticket_status_history.ticket_number is 'Human reference of that ticket.';
comment on column app_reporting.ticket_status_history.from_status is 'Status before the change, as plain text; null for the creation row.';
comment on column app_reporting.ticket_status_history.to_status is 'Status after the change, as plain text.';
comment on column app_reporting.ticket_status_history.changed_by is 'Id of the user who made the change; null for automatic or maintenance changes.';
comment on column app_reporting.ticket_status_history.changed_at is 'When the change happened.';

create view app_reporting.tickets as
 SELECT id,
    number,
    status::text AS status,
    priority::text AS priority,
    array_position(enum_range(NULL::app_public.ticket_priority), priority) AS priority_rank,
    customer_id,
    agent_id,
    created_at,
    updated_at,
    first_response_due_at,
    resolution_due_at,
    first_responded_at,
    resolved_at,
    closed_at,
    round(EXTRACT(epoch FROM first_responded_at - created_at) / 60::numeric, 2) AS first_response_minutes,
    round(EXTRACT(epoch FROM resolved_at - created_at) / 60::numeric, 2) AS resolution_minutes,
    app_private.sla_breached(first_response_due_at, COALESCE(first_responded_at, resolved_at, closed_at, now())) AS first_response_breached,
    app_private.sla_breached(resolution_due_at, COALESCE(resolved_at, closed_at, now())) AS resolution_breached,
    organization_id,
    ( SELECT o.name
           FROM app_public.organizations o
          WHERE o.id = t.organization_id) AS organization_name
   FROM app_public.tickets t;
grant select on table app_reporting.tickets to ticketing_analyst;
comment on view app_reporting.tickets is 'One row per ticket: identifiers, status, priority, people (ids only), its organization (id and name), timestamps and SLA facts. No subject, description or comments.';
comment on column app_reporting.tickets.id is 'Ticket id (time-ordered UUID).';
comment on column app_reporting.tickets.number is 'Human reference shown to users (e.g. 1042); unique and increasing.';
comment on column app_reporting.tickets.status is 'Current status as plain text: open, in_progress, waiting_on_customer, resolved or closed.';
comment on column app_reporting.tickets.priority is 'Priority as plain text: low, normal, high or urgent (in that order of urgency; sort with array_position(array[''low'', ''normal'', ''high'', ''urgent''], priority)).';
comment on column app_reporting.tickets.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent): order by it to sort by urgency.';
comment on column app_reporting.tickets.customer_id is 'Id of the customer the ticket is for.';
comment on column app_reporting.tickets.agent_id is 'Id of the assigned agent; null while unassigned.';
comment on column app_reporting.tickets.created_at is 'When the ticket was created.';
comment on column app_reporting.tickets.updated_at is 'When the ticket row last changed.';
comment on column app_reporting.tickets.first_response_due_at is 'SLA: first public staff reply due by this time (from the priority''s policy).';
comment on column app_reporting.tickets.resolution_due_at is 'SLA: resolution due by this time.';
comment on column app_reporting.tickets.first_responded_at is 'When staff first replied publicly; null: no reply yet.';
comment on column app_reporting.tickets.resolved_at is 'When the ticket was (last) resolved; null when unresolved, reopened, or closed without resolution.';
comment on column app_reporting.tickets.closed_at is 'When the ticket was closed; null unless closed.';
comment on column app_reporting.tickets.first_response_minutes is 'Minutes from creation to the first public staff reply; null without a reply.';
comment on column app_reporting.tickets.resolution_minutes is 'Minutes from creation to resolved_at; null when not resolved.';
comment on column app_reporting.tickets.first_response_breached is 'True when the first reply came after first_response_due_at, or there is none and that time has passed (a ticket resolved or closed without a reply is judged at that moment).';
comment on column app_reporting.tickets.resolution_breached is 'True when the ticket was resolved (or closed) after resolution_due_at, or is still unresolved and that time has passed.';
comment on column app_reporting.tickets.organization_id is 'Id of the organization the ticket was filed for; null when none.';
comment on column app_reporting.tickets.organization_name is 'Name of that organization (as it is now); null when none.';
