--! Previous: sha1:b238092dc099580cbbbd5cffe09edab7739f5ccd
--! Hash: sha1:ce7eb1752dac43dc62a794909bf269710ca800ab
--! Message: Email: outbox and send jobs, password reset, verified addresses, notifications with preferences and templates, inbound replies, SLA breach mails

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 400-mail-outbox.sql
-- Outbound mail (docs/email.md): every mail is a row of
-- app_private.outbound_mails, written in the transaction of its cause, with a
-- graphile-worker job send_mail queued in that same transaction: a change that
-- rolls back sends nothing, a change that commits is sent at least once. The
-- worker (src/worker/mail-delivery.ts) renders the template with the row's
-- parameters, sends it (SMTP, or the local outbox in development) and reports
-- each attempt to app_private.record_mail_attempt, which schedules retries.

--------------------------------------------------------------------------------
-- Policy: retries and retention, in one place
--------------------------------------------------------------------------------
create or replace function app_private.mail_policy(
  out max_attempts integer,
  out first_retry interval,
  out max_retry interval,
  out retention interval
)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select 15, interval '10 seconds', interval '1 hour', interval '30 days';
$$;

comment on function app_private.mail_policy() is
  'Outbound mail policy, in one place: a mail is attempted at most max_attempts times; the n-th retry waits first_retry * 2^(n-1), at most max_retry; finished mails are kept retention. Replace this function in a migration to change them.';

revoke all on function app_private.mail_policy() from public;

--------------------------------------------------------------------------------
-- Templates as data
--------------------------------------------------------------------------------
create table if not exists app_private.mail_templates (
  kind text primary key
    constraint mail_templates_kind_format check (kind ~ '^[a-z][a-z_]{1,40}$'),
  subject text not null
    constraint mail_templates_subject_line check (subject !~ '[\r\n]' and char_length(subject) <= 300),
  text_body text not null,
  html_body text not null
);

comment on table app_private.mail_templates is
  'One template per kind of mail. {{name}} is replaced by the mail''s parameter name: as is in the text body, HTML-escaped in the HTML body, without line breaks in the subject. Change a template with an update as the owner (in a migration). Owner only.';
comment on column app_private.mail_templates.kind is 'What the mail is for, e.g. password_reset, ticket_reply.';
comment on column app_private.mail_templates.subject is 'Subject line; ticket mails get [#number] put in front by the sender.';
comment on column app_private.mail_templates.text_body is 'Plain-text body.';
comment on column app_private.mail_templates.html_body is 'HTML body; parameters are escaped when inserted.';

alter table app_private.mail_templates enable row level security;
revoke all on app_private.mail_templates from public;

--------------------------------------------------------------------------------
-- The outbox
--------------------------------------------------------------------------------
create table if not exists app_private.outbound_mails (
  id uuid primary key default app_private.uuid_generate_v7(),
  kind text not null references app_private.mail_templates (kind),
  user_id uuid references app_public.users (id),
  to_address text not null
    constraint outbound_mails_to_address_format check (to_address ~ '^[^@[:space:]]+@[^@[:space:]]+$' and char_length(to_address) <= 320),
  ticket_id uuid references app_public.tickets (id),
  params jsonb not null default '{}'
    constraint outbound_mails_params_object check (jsonb_typeof(params) = 'object'),
  status text not null default 'pending'
    constraint outbound_mails_status_known check (status in ('pending', 'sent', 'failed', 'discarded')),
  attempts integer not null default 0
    constraint outbound_mails_attempts_positive check (attempts >= 0),
  last_error text,
  created_at timestamptz not null default now(),
  next_attempt_at timestamptz,
  sent_at timestamptz
);

comment on table app_private.outbound_mails is
  'Every mail the application sends, from its cause to its delivery. Its parameters (which may hold a one-time link) are cleared once it is sent or given up. Owner only: the worker reads and reports through the functions below.';
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

-- (Not CONCURRENTLY: the table is created by this same migration, which
-- graphile-migrate runs in one transaction; it is empty when the index is built.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists outbound_mails_created_at_idx on app_private.outbound_mails (created_at);
comment on index app_private.outbound_mails_created_at_idx is 'Pruning by age; the newest mails first.';

-- squawk-ignore require-concurrent-index-creation
create index if not exists outbound_mails_ticket_idx on app_private.outbound_mails (ticket_id) where ticket_id is not null;
comment on index app_private.outbound_mails_ticket_idx is 'The mails of a ticket (threading, inbound matching).';

alter table app_private.outbound_mails enable row level security;
revoke all on app_private.outbound_mails from public;

--------------------------------------------------------------------------------
-- Queueing, in the transaction of the cause
--------------------------------------------------------------------------------
create or replace function app_private.queue_mail_attempt(mail_id uuid, run_at timestamptz default null)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform graphile_worker.add_job(
    'send_mail',
    json_build_object('mailId', mail_id),
    run_at => coalesce(run_at, now()),
    max_attempts => 1,
    job_key => 'mail:' || mail_id::text
  );
end;
$$;

comment on function app_private.queue_mail_attempt(uuid, timestamptz) is
  'Queues the graphile-worker job send_mail for one attempt of a mail at run_at (now by default); one job per mail (job key). Retries are queued by record_mail_attempt, following mail_policy().';

revoke all on function app_private.queue_mail_attempt(uuid, timestamptz) from public;

create or replace function app_private.queue_mail(
  kind text,
  to_address text,
  user_id uuid default null,
  ticket_id uuid default null,
  params jsonb default '{}'
)
returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  mail_id uuid;
begin
  insert into app_private.outbound_mails (kind, to_address, user_id, ticket_id, params, next_attempt_at)
  values (queue_mail.kind, queue_mail.to_address, queue_mail.user_id, queue_mail.ticket_id, coalesce(queue_mail.params, '{}'), now())
  returning id into mail_id;
  perform app_private.queue_mail_attempt(mail_id);
  return mail_id;
end;
$$;

comment on function app_private.queue_mail(text, text, uuid, uuid, jsonb) is
  'Records a mail of a kind (template) to an address, with its template parameters, and queues its first attempt, in the caller''s transaction. Returns the mail id.';

revoke all on function app_private.queue_mail(text, text, uuid, uuid, jsonb) from public;

--------------------------------------------------------------------------------
-- What the worker reads and reports
--------------------------------------------------------------------------------
create or replace function app_private.mail_to_send(mail_id uuid)
returns table (
  id uuid,
  kind text,
  to_address text,
  subject text,
  text_body text,
  html_body text,
  params jsonb,
  ticket_id uuid,
  ticket_number bigint,
  attempts integer
)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select m.id, m.kind, m.to_address, tpl.subject, tpl.text_body, tpl.html_body, m.params,
         m.ticket_id, t.number, m.attempts
  from app_private.outbound_mails as m
  join app_private.mail_templates as tpl on tpl.kind = m.kind
  left join app_public.tickets as t on t.id = m.ticket_id
  where m.id = mail_to_send.mail_id
    and m.status = 'pending';
$$;

comment on function app_private.mail_to_send(uuid) is
  'Worker: a pending mail with its template and parameters, and the number of its ticket; nothing once it is sent or given up.';

revoke all on function app_private.mail_to_send(uuid) from public;

create or replace function app_private.record_mail_attempt(mail_id uuid, outcome text, error text)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
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
$$;

comment on function app_private.record_mail_attempt(uuid, text, text) is
  'Worker: records one attempt of a mail: sent, discarded (mail disabled) or failed (error); a failure is retried with exponential backoff while mail_policy().max_attempts allow, then the mail is failed. Parameters are cleared once the mail is finished. Returns the mail''s status.';

revoke all on function app_private.record_mail_attempt(uuid, text, text) from public;

create or replace function app_private.prune_outbound_mails(max_rows integer default 10000)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
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
$$;

comment on function app_private.prune_outbound_mails(integer) is
  'Housekeeping: deletes finished mails older than mail_policy().retention, at most max_rows per call. Returns how many.';

revoke all on function app_private.prune_outbound_mails(integer) from public;

--! split: 410-email-tokens-password-reset.sql
-- One-time links sent by mail (password reset, email verification) and the
-- password reset itself (docs/email.md, docs/authentication.md).
--
-- A link carries a random token (244 random bits); only its SHA-256 digest is
-- stored, with its lifetime and when it was used. requestPasswordReset answers
-- the same whether or not the email has an account: the per-address limit
-- (address_rate_limits 'password_reset') raises RATE_LIMITED for anyone,
-- the per-account limit (email_token_policy) silently sends nothing more.

--------------------------------------------------------------------------------
-- Limits
--------------------------------------------------------------------------------
alter table app_private.address_rate_limits drop constraint if exists address_rate_limits_action;
-- address_rate_limits has one row per action: the check is instant.
-- squawk-ignore constraint-missing-not-valid
alter table app_private.address_rate_limits add constraint address_rate_limits_action
  check (action in ('login', 'login_email', 'register', 'refresh', 'password_change', 'password_reset', 'email_verification'));

alter table app_private.address_events drop constraint if exists address_events_action;
-- (address_events is a pruned security table — days of rows, not years — and
-- graphile-migrate runs the migration in one transaction, where a separate
-- validation is impossible; the scan lasts a moment, on the deploy that adds it only.)
-- squawk-ignore constraint-missing-not-valid
alter table app_private.address_events add constraint address_events_action
  check (action in ('register', 'refresh', 'password_change', 'password_reset', 'email_verification'));

comment on column app_private.address_rate_limits.action is
  'login (attempts per address), login_email (unresolved or failed attempts per email), register, refresh, password_change, password_reset (requestPasswordReset and resetPassword calls) or email_verification (verifyEmail calls), per address.';

insert into app_private.address_rate_limits (action, max_count, per_interval)
values
  ('password_reset', 10, interval '1 hour'),
  ('email_verification', 20, interval '1 hour')
on conflict (action) do nothing;

create or replace function app_private.email_token_policy(
  out reset_lifetime interval,
  out verification_lifetime interval,
  out per_account_max integer,
  out per_account_window interval
)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select interval '30 minutes', interval '7 days', 3, interval '1 hour';
$$;

comment on function app_private.email_token_policy() is
  'One-time mail links, in one place: a password reset link lives reset_lifetime, a verification link verification_lifetime; at most per_account_max links of one kind are sent to one account within per_account_window (more requests are answered the same and send nothing). Replace this function in a migration to change them.';

revoke all on function app_private.email_token_policy() from public;

--------------------------------------------------------------------------------
-- Verified addresses
--------------------------------------------------------------------------------
-- (now() is stable, so PostgreSQL stores the default once instead of rewriting
-- the table: accounts that exist already count as verified from now on.)
alter table app_private.user_accounts add column if not exists email_verified_at timestamptz default now();

comment on column app_private.user_accounts.email_verified_at is
  'When the address was proven or vouched for; null: not verified (a self-registered account whose verification link was not followed yet: it cannot sign in). Accounts made by an admin or the operator, and those that existed before verification, count as verified from their creation.';

--------------------------------------------------------------------------------
-- Tokens
--------------------------------------------------------------------------------
create table if not exists app_private.email_tokens (
  id uuid primary key default app_private.uuid_generate_v7(),
  purpose text not null
    constraint email_tokens_purpose check (purpose in ('password_reset', 'email_verification')),
  user_id uuid not null references app_public.users (id) on delete cascade,
  email citext not null,
  token_digest bytea not null
    constraint email_tokens_digest_unique unique,
  created_at timestamptz not null default app_private.auth_now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  constraint email_tokens_expiry_after_creation check (expires_at > created_at)
);

comment on table app_private.email_tokens is
  'One-time links sent by mail: password resets and email verifications, by SHA-256 digest of the token (the token itself is only in the mail). Owner only; pruned once expired.';
comment on column app_private.email_tokens.id is 'Primary key (time-ordered UUID).';
comment on column app_private.email_tokens.purpose is 'password_reset or email_verification.';
comment on column app_private.email_tokens.user_id is 'The account the link is for.';
comment on column app_private.email_tokens.email is 'The address the link was sent to (the one a verification proves).';
comment on column app_private.email_tokens.token_digest is 'SHA-256 of the token.';
comment on column app_private.email_tokens.created_at is 'When the link was made.';
comment on column app_private.email_tokens.expires_at is 'The link is refused after this time.';
comment on column app_private.email_tokens.used_at is 'When the link was used, or made void by a newer use; a link works once.';

-- (Not CONCURRENTLY: the table is created by this same migration.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists email_tokens_user_idx on app_private.email_tokens (user_id, purpose, created_at);
comment on index app_private.email_tokens_user_idx is 'The per-account limit counts an account''s recent links.';

alter table app_private.email_tokens enable row level security;
revoke all on app_private.email_tokens from public;

create or replace function app_private.new_email_token(purpose text, user_id uuid, email citext)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.new_email_token(text, uuid, citext) is
  'Makes a one-time link token of purpose for an account and address; stores its digest and returns the token (64 hex digits, 244 random bits) for the mail.';

revoke all on function app_private.new_email_token(text, uuid, citext) from public;

create or replace function app_private.account_links_exhausted(purpose text, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select count(*) >= (select p.per_account_max from app_private.email_token_policy() as p)
  from app_private.email_tokens as t
  where t.user_id = account_links_exhausted.user_id
    and t.purpose = account_links_exhausted.purpose
    and t.created_at > app_private.auth_now() - (select p.per_account_window from app_private.email_token_policy() as p);
$$;

comment on function app_private.account_links_exhausted(text, uuid) is
  'Whether an account already got email_token_policy().per_account_max links of purpose within the window.';

revoke all on function app_private.account_links_exhausted(text, uuid) from public;

--------------------------------------------------------------------------------
-- Mail templates
--------------------------------------------------------------------------------
insert into app_private.mail_templates (kind, subject, text_body, html_body)
values (
  'password_reset',
  'Reset your password',
  E'Hello {{displayName}},\n\nSomeone (hopefully you) asked to reset the password of your helpdesk account. Open this link within {{minutes}} minutes to choose a new password:\n\n{{appUrl}}/reset-password?token={{token}}\n\nIf you did not ask for this, ignore this mail: your password stays as it is.\n',
  E'<p>Hello {{displayName}},</p>\n<p>Someone (hopefully you) asked to reset the password of your helpdesk account. Open this link within {{minutes}} minutes to choose a new password:</p>\n<p><a href="{{appUrl}}/reset-password?token={{token}}">Reset my password</a></p>\n<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>\n'
)
on conflict (kind) do nothing;

--------------------------------------------------------------------------------
-- requestPasswordReset
--------------------------------------------------------------------------------
create or replace function app_private.request_password_reset(email text, ip inet)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.request_password_reset(text, inet) is
  'requestPasswordReset: counts the call against the ''password_reset'' limit of ip (TKRAT beyond it); for an active account with this email, unless it reached the per-account limit, makes a reset link and queues its mail. Returns nothing either way, so the answer never tells whether the email has an account.';

--------------------------------------------------------------------------------
-- resetPassword: check the link before hashing, then apply
--------------------------------------------------------------------------------
create or replace function app_private.valid_email_token(purpose text, token_digest bytea)
returns app_private.email_tokens
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select t.*
  from app_private.email_tokens as t
  join app_public.users as u on u.id = t.user_id
  where t.token_digest = valid_email_token.token_digest
    and t.purpose = valid_email_token.purpose
    and t.used_at is null
    and t.expires_at > app_private.auth_now()
    and u.is_active;
$$;

comment on function app_private.valid_email_token(text, bytea) is
  'The unused, unexpired link of purpose with this digest, for an active user; null otherwise.';

revoke all on function app_private.valid_email_token(text, bytea) from public;

create or replace function app_private.begin_password_reset(token_digest bytea, ip inet, out email text)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.begin_password_reset(bytea, inet) is
  'Step 1 of resetPassword, before any hashing: counts the call against the ''password_reset'' limit of ip (TKRAT beyond it) and checks the link (TKTOK when unknown, used or expired); returns the account''s email, for the password policy.';

create or replace function app_private.reset_password(token_digest bytea, new_hash text)
returns app_public.users
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.reset_password(bytea, text) is
  'Step 2 of resetPassword: for a valid reset link (TKTOK otherwise), stores the new argon2id hash computed by the API, clears the lockout, marks the address verified, voids the account''s reset links, revokes every session and writes the audit log. Returns the user.';

revoke all on function app_private.request_password_reset(text, inet) from public;
revoke all on function app_private.begin_password_reset(bytea, inet) from public;
revoke all on function app_private.reset_password(bytea, text) from public;
grant execute on function app_private.request_password_reset(text, inet) to ticketing_authenticator;
grant execute on function app_private.begin_password_reset(bytea, inet) to ticketing_authenticator;
grant execute on function app_private.reset_password(bytea, text) to ticketing_authenticator;

create or replace function app_private.prune_email_tokens(max_rows integer default 10000)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.prune_email_tokens(integer) is
  'Housekeeping: deletes mail links expired more than a day ago, at most max_rows per call. Returns how many.';

revoke all on function app_private.prune_email_tokens(integer) from public;

--! split: 420-email-verification.sql
-- Verified addresses and a register that does not tell whether an email is
-- taken (docs/authentication.md, docs/email.md).
--
-- register answers the same in every case: a free email gets an unverified
-- customer and a verification link; a taken one gets a mail to its owner
-- saying someone tried to register with it. An unverified account cannot sign
-- in (login answers as for an unknown email, so trying the password one just
-- registered with tells nothing either); verifyEmail proves the address and
-- signs the account in.

--------------------------------------------------------------------------------
-- Templates
--------------------------------------------------------------------------------
insert into app_private.mail_templates (kind, subject, text_body, html_body)
values
  (
    'email_verification',
    'Confirm your email address',
    E'Hello {{displayName}},\n\nPlease confirm that this is your address by opening this link within {{days}} days:\n\n{{appUrl}}/verify-email?token={{token}}\n\nIf you did not register, ignore this mail: no account is used without the link.\n',
    E'<p>Hello {{displayName}},</p>\n<p>Please confirm that this is your address by opening this link within {{days}} days:</p>\n<p><a href="{{appUrl}}/verify-email?token={{token}}">Confirm my address</a></p>\n<p>If you did not register, ignore this mail: no account is used without the link.</p>\n'
  ),
  (
    'registration_attempt',
    'Someone tried to register with your address',
    E'Hello {{displayName}},\n\nSomeone tried to create a new helpdesk account with this address, which already has one. Nothing was changed.\n\nIf it was you: sign in as usual, or reset your password at {{appUrl}}/forgot-password.\nIf it was not you, you need not do anything.\n',
    E'<p>Hello {{displayName}},</p>\n<p>Someone tried to create a new helpdesk account with this address, which already has one. Nothing was changed.</p>\n<p>If it was you: sign in as usual, or <a href="{{appUrl}}/forgot-password">reset your password</a>.<br>\nIf it was not you, you need not do anything.</p>\n'
  )
on conflict (kind) do nothing;

--------------------------------------------------------------------------------
-- register
--------------------------------------------------------------------------------
create or replace function app_private.register_account(email text, display_name text, password_hash text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.register_account(text, text, text) is
  'register: for a free email, creates an unverified customer with the argon2id hash computed by the API and mails a verification link; for a taken one, mails its owner that someone tried to register (at most email_token_policy().per_account_max such mails per window). Returns nothing either way; input that breaks a rule raises 23514 in both cases. The caller counts the registration first (reserve_registration).';

revoke all on function app_private.register_account(text, text, text) from public;
grant execute on function app_private.register_account(text, text, text) to ticketing_authenticator;

-- The old one-step registration made a verified account with a session.
revoke execute on function app_private.register_customer(text, text, text, bytea, inet) from ticketing_authenticator;

--------------------------------------------------------------------------------
-- login: an unverified account is as good as none
--------------------------------------------------------------------------------
create or replace function app_private.begin_login(
  email text,
  ip inet,
  out attempt_id uuid,
  out password_salt text,
  out hash_length integer
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.begin_login(text, inet) is
  'Step 1 of login, before any hashing: refuses (TKRAT, with a retry hint) when the address or the email reached its limit, otherwise reserves the attempt (pending) and returns its id with the salt and parameters of the account''s hash (null when no active, verified account with a password has the email: an unverified account fails like an unknown email). Never returns the hash.';

--------------------------------------------------------------------------------
-- verifyEmail
--------------------------------------------------------------------------------
create or replace function app_private.verify_email(token_digest bytea, session_token_digest bytea, ip inet)
returns table (
  session_id uuid,
  user_role app_public.user_role,
  refresh_expires_at timestamptz,
  user_record app_public.users
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.verify_email(bytea, bytea, inet) is
  'verifyEmail: counts the call against the ''email_verification'' limit of ip (TKRAT beyond it); for a valid verification link (TKTOK otherwise) marks the address verified, uses the link up and opens a session (the first refresh token''s digest given by the API), recorded in login_attempts.';

revoke all on function app_private.verify_email(bytea, bytea, inet) from public;
grant execute on function app_private.verify_email(bytea, bytea, inet) to ticketing_authenticator;

--! split: 430-mail-notifications.sql
-- Mail notifications from the event log (docs/email.md): a trigger on
-- app_private.realtime_events queues, in the event's transaction, the mails
-- that event means:
--
-- | event                                   | to                   | kind            |
-- |-----------------------------------------|----------------------|-----------------|
-- | ticket created                          | its customer         | ticket_created  |
-- | public comment by someone else          | its customer         | ticket_reply    |
-- | status now waiting_on_customer/resolved | its customer         | ticket_status   |
-- | assigned                                | the new agent        | ticket_assigned |
-- | public comment by the customer          | the assigned agent   | customer_reply  |
--
-- An internal note never causes a mail to anyone but staff, and its text is
-- never in a customer's mail. Nobody is mailed about their own action. Only
-- active users with a verified address are mailed, and only for kinds they
-- did not turn off (set_notification_preference).

--------------------------------------------------------------------------------
-- Preferences
--------------------------------------------------------------------------------
create table if not exists app_private.notification_preferences (
  user_id uuid not null references app_public.users (id) on delete cascade,
  kind text not null
    constraint notification_preferences_kind check (kind in ('ticket_created', 'ticket_reply', 'ticket_status', 'ticket_assigned', 'customer_reply', 'sla_breach')),
  enabled boolean not null,
  updated_at timestamptz not null default now(),
  primary key (user_id, kind)
);

comment on table app_private.notification_preferences is
  'A user''s choice per kind of notification mail; a kind without a row is on. At most one row per user and kind. Owner only: users read and change their own through my_notification_preferences and set_notification_preference.';
comment on column app_private.notification_preferences.user_id is 'Whose choice.';
comment on column app_private.notification_preferences.kind is 'ticket_created, ticket_reply, ticket_status (customers), ticket_assigned, customer_reply, sla_breach (agents and admins).';
comment on column app_private.notification_preferences.enabled is 'Whether mails of this kind are sent to the user.';
comment on column app_private.notification_preferences.updated_at is 'When the choice was last made.';

alter table app_private.notification_preferences enable row level security;
revoke all on app_private.notification_preferences from public;

drop type if exists app_public.notification_preference cascade;
create type app_public.notification_preference as (
  kind text,
  enabled boolean
);

comment on type app_public.notification_preference is 'Whether notification mails of a kind are sent to the signed-in user.';
comment on column app_public.notification_preference.kind is 'ticket_created, ticket_reply, ticket_status, ticket_assigned, customer_reply or sla_breach.';
comment on column app_public.notification_preference.enabled is 'On unless turned off.';

create or replace function app_public.my_notification_preferences()
returns setof app_public.notification_preference
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select k.kind, coalesce(p.enabled, true)
  from unnest(array['ticket_created', 'ticket_reply', 'ticket_status', 'ticket_assigned', 'customer_reply', 'sla_breach']) with ordinality as k (kind, n)
  left join app_private.notification_preferences as p
    on p.user_id = app_private.current_user_id() and p.kind = k.kind
  where app_private.current_user_id() is not null
  order by k.n;
$$;

comment on function app_public.my_notification_preferences() is
  'The signed-in user''s notification mails, one row per kind (six rows; none when anonymous).';

revoke all on function app_public.my_notification_preferences() from public;
grant execute on function app_public.my_notification_preferences() to ticketing_customer, ticketing_agent, ticketing_admin;

create or replace function app_public.set_notification_preference(kind text, enabled boolean)
returns app_public.notification_preference
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_public.set_notification_preference(text, boolean) is
  'Turns the signed-in user''s notification mails of a kind on or off (kinds: see myNotificationPreferences; another kind is INVALID_INPUT).';

revoke all on function app_public.set_notification_preference(text, boolean) from public;
grant execute on function app_public.set_notification_preference(text, boolean) to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Templates
--------------------------------------------------------------------------------
insert into app_private.mail_templates (kind, subject, text_body, html_body)
values
  (
    'ticket_created',
    'We received your request: {{subject}}',
    E'Hello {{displayName}},\n\nWe received your request and gave it the number {{number}}. Reply to this mail to add to it.\n\nSubject: {{subject}}\n\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>Hello {{displayName}},</p>\n<p>We received your request and gave it the number <strong>{{number}}</strong>. Reply to this mail to add to it.</p>\n<p>Subject: {{subject}}</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">See your request</a></p>\n'
  ),
  (
    'ticket_reply',
    '{{subject}}',
    E'{{authorName}} wrote:\n\n{{body}}\n\nReply to this mail to answer.\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>{{authorName}} wrote:</p>\n<blockquote>{{body}}</blockquote>\n<p>Reply to this mail to answer. <a href="{{appUrl}}/tickets/{{number}}">See your request</a></p>\n'
  ),
  (
    'ticket_status',
    '{{subject}} ({{statusText}})',
    E'Hello {{displayName}},\n\nYour request {{number}} is now {{statusText}}.\n\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>Hello {{displayName}},</p>\n<p>Your request {{number}} is now <strong>{{statusText}}</strong>.</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">See your request</a></p>\n'
  ),
  (
    'ticket_assigned',
    'Assigned to you: {{subject}}',
    E'Hello {{displayName}},\n\nTicket {{number}} ({{priority}} priority) is now assigned to you.\n\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>Hello {{displayName}},</p>\n<p>Ticket {{number}} ({{priority}} priority) is now assigned to you.</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">Open the ticket</a></p>\n'
  ),
  (
    'customer_reply',
    'Customer replied: {{subject}}',
    E'{{authorName}} wrote on ticket {{number}}:\n\n{{body}}\n\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>{{authorName}} wrote on ticket {{number}}:</p>\n<blockquote>{{body}}</blockquote>\n<p><a href="{{appUrl}}/tickets/{{number}}">Open the ticket</a></p>\n'
  )
on conflict (kind) do nothing;

--------------------------------------------------------------------------------
-- From event to mail, in the event's transaction
--------------------------------------------------------------------------------
drop function if exists app_private.notify_user(text, uuid, app_public.tickets, jsonb);

-- Queues one notification of a kind about a ticket to a user, if they are
-- active, verified, not the actor and did not turn the kind off.
create or replace function app_private.notify_user(
  kind text,
  recipient_id uuid,
  ticket app_public.tickets,
  params jsonb default '{}',
  even_to_actor boolean default false
)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.notify_user(text, uuid, app_public.tickets, jsonb, boolean) is
  'Queues a notification mail of kind about ticket to recipient_id, with the ticket''s number, subject, priority and status and params as template parameters; nothing when the recipient is inactive, unverified, turned the kind off, or is the acting user (unless even_to_actor: a receipt).';

revoke all on function app_private.notify_user(text, uuid, app_public.tickets, jsonb, boolean) from public;

create or replace function app_private.tg_realtime_events_queue_mail()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.tg_realtime_events_queue_mail() is
  'Trigger: queues the notification mails of a ticket event (see the table at the top of this migration): receipts, public replies and status changes to the customer; assignments and customer replies to the agent. Never for internal notes.';

drop trigger if exists _400_queue_mail on app_private.realtime_events;
create trigger _400_queue_mail
  after insert on app_private.realtime_events
  for each row execute function app_private.tg_realtime_events_queue_mail();

--! split: 440-inbound-email.sql
-- Inbound mail (docs/email.md): POST /inbound/email hands a parsed message to
-- app_private.route_inbound_email, which decides what it is (a reply to a
-- ticket, a new ticket, or nothing) and logs the decision; the API then acts
-- as the sender, under the sender's own policies (add_comment, or a ticket
-- insert), and records the outcome with app_private.record_inbound_outcome.
-- Every message gets exactly one row in app_private.inbound_emails.

--------------------------------------------------------------------------------
-- The log
--------------------------------------------------------------------------------
create table if not exists app_private.inbound_emails (
  id uuid primary key default app_private.uuid_generate_v7(),
  received_at timestamptz not null default now(),
  message_id text
    constraint inbound_emails_message_id_length check (char_length(message_id) <= 1000),
  sender text
    constraint inbound_emails_sender_length check (char_length(sender) <= 320),
  subject text
    constraint inbound_emails_subject_length check (char_length(subject) <= 300),
  decision text not null
    constraint inbound_emails_decision check (decision in ('comment', 'ticket', 'ignored', 'refused')),
  reason text,
  user_id uuid references app_public.users (id) on delete set null,
  ticket_id uuid references app_public.tickets (id) on delete set null,
  comment_id uuid
);

comment on table app_private.inbound_emails is
  'Every message posted to /inbound/email and what was decided: comment (added to a ticket), ticket (opened one), ignored (auto-reply, bounce, duplicate, over the sender''s limit) or refused (unknown sender, not allowed), with the reason. Owner only.';
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

-- (Not CONCURRENTLY: the table is created by this same migration.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists inbound_emails_sender_idx on app_private.inbound_emails (sender, received_at);
comment on index app_private.inbound_emails_sender_idx is 'The per-sender limit counts a sender''s recent messages.';

-- squawk-ignore require-concurrent-index-creation
create index if not exists inbound_emails_message_id_idx on app_private.inbound_emails (message_id);
comment on index app_private.inbound_emails_message_id_idx is 'Duplicates are found by Message-ID.';

alter table app_private.inbound_emails enable row level security;
revoke all on app_private.inbound_emails from public;

create or replace function app_private.inbound_email_policy(out sender_max integer, out sender_window interval, out retention interval)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select 30, interval '1 hour', interval '30 days';
$$;

comment on function app_private.inbound_email_policy() is
  'Inbound mail limits, in one place: once sender_max messages from one sender were logged within sender_window, further ones are ignored (and logged); the log is kept retention.';

revoke all on function app_private.inbound_email_policy() from public;

--------------------------------------------------------------------------------
-- Deciding
--------------------------------------------------------------------------------
create or replace function app_private.route_inbound_email(
  sender text,
  display_name text,
  message_id text,
  subject text,
  mail_ids uuid[],
  ticket_ids uuid[],
  ticket_numbers bigint[],
  auto_reason text,
  unknown_sender text
)
returns table (inbound_id uuid, action text, user_id uuid, user_role app_public.user_role, ticket_id uuid, reason text)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.route_inbound_email(text, text, text, text, uuid[], uuid[], bigint[], text, text) is
  'POST /inbound/email: decides what a parsed message is and logs it: ignored (auto_reason given: auto-reply or bounce; a Message-ID seen before; over the sender''s limit), comment (a reply, its ticket found by a mail of ours it answers, the ticket''s thread id, the reply address''s number or [#number], from an active account), ticket (a new message from a customer, or from an unknown sender when unknown_sender is create: an unverified customer is made) or refused. The API then acts as the returned user.';

create or replace function app_private.record_inbound_outcome(
  inbound_id uuid,
  decision text,
  reason text,
  ticket_id uuid,
  comment_id uuid
)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  update app_private.inbound_emails as e
  set decision = record_inbound_outcome.decision,
      reason = coalesce(record_inbound_outcome.reason, e.reason),
      ticket_id = coalesce(record_inbound_outcome.ticket_id, e.ticket_id),
      comment_id = record_inbound_outcome.comment_id
  where e.id = record_inbound_outcome.inbound_id;
$$;

comment on function app_private.record_inbound_outcome(uuid, text, text, uuid, uuid) is
  'POST /inbound/email: the outcome of acting as the sender (the comment or ticket made, or refused by the sender''s rights), on the message''s log row.';

create or replace function app_private.prune_inbound_emails(max_rows integer default 10000)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.prune_inbound_emails(integer) is
  'Housekeeping: deletes inbound log rows older than inbound_email_policy().retention, at most max_rows per call. Returns how many.';

revoke all on function app_private.route_inbound_email(text, text, text, text, uuid[], uuid[], bigint[], text, text) from public;
revoke all on function app_private.record_inbound_outcome(uuid, text, text, uuid, uuid) from public;
revoke all on function app_private.prune_inbound_emails(integer) from public;
grant execute on function app_private.route_inbound_email(text, text, text, text, uuid[], uuid[], bigint[], text, text) to ticketing_authenticator;
grant execute on function app_private.record_inbound_outcome(uuid, text, text, uuid, uuid) to ticketing_authenticator;

--! split: 450-email-change.sql
-- Changing the email of an account (docs/authentication.md): the signed-in
-- user proves their current password (begin_password_check and finish_login,
-- as changePassword does), then a verification link goes to the new address;
-- the account's email changes only when that link is followed (verifyEmail).
-- The old address is told. A new address that another account holds is
-- answered the same, and nothing is sent.

insert into app_private.mail_templates (kind, subject, text_body, html_body)
values
  (
    'email_change',
    'Confirm your new email address',
    E'Hello {{displayName}},\n\nTo make this the address of your helpdesk account, open this link within {{days}} days:\n\n{{appUrl}}/verify-email?token={{token}}\n\nIf you did not ask for this, ignore this mail: nothing changes without the link.\n',
    E'<p>Hello {{displayName}},</p>\n<p>To make this the address of your helpdesk account, open this link within {{days}} days:</p>\n<p><a href="{{appUrl}}/verify-email?token={{token}}">Confirm my new address</a></p>\n<p>If you did not ask for this, ignore this mail: nothing changes without the link.</p>\n'
  ),
  (
    'email_change_notice',
    'Your email address is about to change',
    E'Hello {{displayName}},\n\nSomeone signed in to your helpdesk account asked to change its address to {{newEmail}}. It changes only when the link sent there is followed.\n\nIf this was not you, reset your password now: {{appUrl}}/forgot-password\n',
    E'<p>Hello {{displayName}},</p>\n<p>Someone signed in to your helpdesk account asked to change its address to {{newEmail}}. It changes only when the link sent there is followed.</p>\n<p>If this was not you, <a href="{{appUrl}}/forgot-password">reset your password now</a>.</p>\n'
  )
on conflict (kind) do nothing;

create or replace function app_private.request_email_change(attempt_id uuid, new_email text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.request_email_change(uuid, text) is
  'requestEmailChange: for a successful current-password check made in this same transaction (begin_password_check, finish_login), mails a verification link to the new address (verifyEmail then makes it the account''s email) and a notice to the old one. TKVAL for a malformed address; an unchanged address, one held by another account or an account over its link limit is answered the same with nothing sent.';

revoke all on function app_private.request_email_change(uuid, text) from public;
grant execute on function app_private.request_email_change(uuid, text) to ticketing_authenticator;

--! split: 460-sla-breach-mails.sql
-- SLA breach mails (docs/email.md): the assigned agent is told when an SLA
-- clock breaches. A breach is recorded once, as an app_public.sla_events row
-- (by the status change that finds it, or by the sla_clock job for a clock
-- that passes its due time unattended; docs/business-hours.md); each such
-- row mails the ticket's agent, in the row's transaction, subject to their
-- preferences. Nothing else looks for breaches.
insert into app_private.mail_templates (kind, subject, text_body, html_body)
values (
  'sla_breach',
  'SLA missed ({{targetText}}): {{subject}}',
  E'Hello {{displayName}},\n\nTicket {{number}} ({{priority}} priority), assigned to you, missed its {{targetText}} target.\n\n{{appUrl}}/tickets/{{number}}\n',
  E'<p>Hello {{displayName}},</p>\n<p>Ticket {{number}} ({{priority}} priority), assigned to you, missed its <strong>{{targetText}}</strong> target.</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">Open the ticket</a></p>\n'
)
on conflict (kind) do nothing;

create or replace function app_private.tg_sla_events_mail_breach()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform app_private.notify_user(
    'sla_breach',
    new.agent_id,
    (select t from app_public.tickets as t where t.id = new.ticket_id),
    jsonb_build_object('targetText', replace(new.clock::text, '_', ' '))
  );
  return null;
end;
$$;

comment on function app_private.tg_sla_events_mail_breach() is
  'Trigger: a breached SLA event of an assigned ticket mails its agent (sla_breach, subject to their preferences), once per event.';

revoke all on function app_private.tg_sla_events_mail_breach() from public;

drop trigger if exists _500_mail_breach on app_public.sla_events;
create trigger _500_mail_breach
  after insert on app_public.sla_events
  for each row
  when (new.kind = 'breached' and new.agent_id is not null)
  execute function app_private.tg_sla_events_mail_breach();
