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
