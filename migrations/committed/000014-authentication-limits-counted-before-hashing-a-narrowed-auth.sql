--! Previous: sha1:f71bfed81dbf2ad7021fe7f5bf7ce3629390c761
--! Hash: sha1:531091eaac4e7fc1a1630182c4e584987e4eb56c
--! Message: authentication limits counted before hashing, a narrowed authenticator, one input rule for emails and names

--! split: 200-account-input-rules.sql
-- One input rule for emails and display names, on every path.
--
-- register, createUser, the user:create command and updateUser (a plain
-- update of app_public.users through GraphQL) all end in an insert or update
-- of app_public.users or app_private.user_accounts, so the rules live here,
-- as constraints, and nowhere else:
--
-- * normalisation: NFKC, then surrounding spaces removed. A trigger does it
--   before each write, so fullwidth letters and compatibility forms become
--   the ordinary characters (ＡＤＭＩＮ@example.com is admin@example.com) and
--   a look-alike written that way meets the existing account.
-- * nothing invisible: control characters, zero-width characters, bidi
--   overrides and isolates, invisible fillers and tag characters are refused.
-- * emails are printable ASCII (no internationalised addresses), so Cyrillic
--   or Greek look-alikes of an existing address are refused.
-- * lengths count the normalised value: display names 1 to 100 characters,
--   emails at most 320. Input far longer than any allowed value is not
--   normalised at all (so a 900 KB name padded with spaces costs nothing to
--   refuse): the length constraint refuses it as it is.

--------------------------------------------------------------------------------
-- Normalisation, one definition for the triggers and the login lookup
--------------------------------------------------------------------------------
create or replace function app_private.normalized_input(value text, max_length integer)
returns text
language sql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
  -- Four bytes per character is the most UTF-8 needs: longer input cannot fit
  -- once normalised either, and is left as it is for the constraints to refuse.
  select case
    when octet_length(value) > 4 * max_length + 64 then value
    else btrim(normalize(value, nfkc), ' ')
  end;
$$;

comment on function app_private.normalized_input(text, integer) is
  'NFKC-normalises a typed value and removes surrounding spaces, unless it is longer than 4 * max_length + 64 bytes (too long to be valid however normalised: returned unchanged, so the length check refuses it without work).';

-- (The invisible characters are listed once, in the users_display_name_visible
-- constraint below; a constraint cannot call an app_private function, which
-- the web roles may not execute.)
drop function if exists app_private.has_hidden_characters(text);

--------------------------------------------------------------------------------
-- Normalisation before each write
--------------------------------------------------------------------------------
create or replace function app_private.tg_users_normalize_display_name()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  new.display_name := app_private.normalized_input(new.display_name, 100);
  return new;
end;
$$;

comment on function app_private.tg_users_normalize_display_name() is
  'Before insert or update of users: NFKC-normalises display_name and removes surrounding spaces (app_private.normalized_input); the constraints then check the result.';

drop trigger if exists _050_normalize_display_name on app_public.users;
create trigger _050_normalize_display_name
  before insert or update of display_name on app_public.users
  for each row
  execute function app_private.tg_users_normalize_display_name();

create or replace function app_private.tg_user_accounts_normalize_email()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  new.email := app_private.normalized_input(new.email::text, 320);
  return new;
end;
$$;

comment on function app_private.tg_user_accounts_normalize_email() is
  'Before insert or update of user_accounts: NFKC-normalises email and removes surrounding spaces (app_private.normalized_input); the constraints then check the result.';

drop trigger if exists _050_normalize_email on app_private.user_accounts;
create trigger _050_normalize_email
  before insert or update of email on app_private.user_accounts
  for each row
  execute function app_private.tg_user_accounts_normalize_email();

--------------------------------------------------------------------------------
-- Existing rows take the normal form, so the constraints below can be validated
--------------------------------------------------------------------------------
update app_public.users as u
set display_name = u.display_name
where u.display_name is distinct from app_private.normalized_input(u.display_name, 100);

update app_private.user_accounts as a
set email = a.email
where a.email::text is distinct from app_private.normalized_input(a.email::text, 320);

--------------------------------------------------------------------------------
-- Display names
--------------------------------------------------------------------------------
alter table app_public.users drop constraint if exists users_display_name_length;
alter table app_public.users add constraint users_display_name_length
  check (char_length(display_name) between 1 and 100 and display_name ~ '[^[:space:]]') not valid;
-- (Validated in the same migration: users holds one row per person, so the
-- scan under the lock taken by the add above lasts a moment; the rule then
-- holds for every existing row, not only for new writes.)
-- squawk-ignore constraint-missing-not-valid
alter table app_public.users validate constraint users_display_name_length;

alter table app_public.users drop constraint if exists users_display_name_normalized;
alter table app_public.users add constraint users_display_name_normalized
  check (display_name is nfkc normalized and display_name = btrim(display_name, ' ')) not valid;
-- (Validated in the same migration: users holds one row per person, so the
-- scan under the lock taken by the add above lasts a moment; the rule then
-- holds for every existing row, not only for new writes.)
-- squawk-ignore constraint-missing-not-valid
alter table app_public.users validate constraint users_display_name_normalized;

-- Control characters (C0, DEL, C1), soft hyphen, combining grapheme joiner,
-- Arabic letter mark, Hangul and Khmer fillers, Mongolian vowel separator,
-- zero-width space/joiners, directional marks, line and paragraph
-- separators, bidi embeddings/overrides/isolates, invisible operators,
-- byte-order mark, halfwidth Hangul filler, interlinear annotations and the
-- tag characters. Existing names lose them first, so the constraint can be
-- validated.
do $$
declare
  hidden constant text := '[\u0001-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\u3164\uFEFF\uFFA0\uFFF9-\uFFFB\U000E0000-\U000E007F]';
begin
  update app_public.users as u
  set display_name = coalesce(nullif(btrim(regexp_replace(u.display_name, hidden, '', 'g'), ' '), ''), 'User')
  where u.display_name ~ hidden;

  alter table app_public.users drop constraint if exists users_display_name_visible;
  execute format(
    'alter table app_public.users add constraint users_display_name_visible check (display_name !~ %L) not valid',
    hidden
  );
end;
$$;
-- (Validated in the same migration: users holds one row per person, so the
-- scan under the lock taken by the add above lasts a moment; the rule then
-- holds for every existing row, not only for new writes.)
-- squawk-ignore constraint-missing-not-valid
alter table app_public.users validate constraint users_display_name_visible;

comment on constraint users_display_name_length on app_public.users is
  'Display names are 1 to 100 characters (after normalisation) and not only white space.';
comment on constraint users_display_name_normalized on app_public.users is
  'Display names are stored NFKC-normalised without surrounding spaces (the _050_normalize_display_name trigger makes them so).';
comment on constraint users_display_name_visible on app_public.users is
  'Display names hold no control, zero-width, bidi-override or other invisible characters.';
comment on column app_public.users.display_name is
  'Name shown to other users: 1 to 100 characters, NFKC-normalised, no surrounding spaces, no invisible or control characters. Users may change their own; admins may change anyone''s.';

--------------------------------------------------------------------------------
-- Emails
--------------------------------------------------------------------------------
alter table app_private.user_accounts drop constraint if exists user_accounts_email_format;
-- One @ between two non-empty runs of printable ASCII (no space, no second @).
alter table app_private.user_accounts add constraint user_accounts_email_format
  check (char_length(email) <= 320 and email::text ~ '^[!-?A-~]+@[!-?A-~]+$') not valid;
-- (Validated in the same migration: user_accounts holds one row per person, so the
-- scan under the lock taken by the add above lasts a moment; the rule then
-- holds for every existing row, not only for new writes.)
-- squawk-ignore constraint-missing-not-valid
alter table app_private.user_accounts validate constraint user_accounts_email_format;

comment on constraint user_accounts_email_format on app_private.user_accounts is
  'Emails are at most 320 printable ASCII characters with exactly one @ between non-empty parts; ASCII only, so look-alike letters from other scripts cannot imitate an address.';
comment on column app_private.user_accounts.email is
  'Login email, unique case-insensitively, stored NFKC-normalised and trimmed (fullwidth and other compatibility forms meet the same account); printable ASCII only.';

--! split: 210-address-rate-limits.sql
-- Per-address limits of the authentication flows, counted in SQL so that
-- every API instance shares the same counts, and checked before any work:
--
--   login            attempts from one address (every outcome)
--   login_email      unresolved or failed attempts on one email, from anywhere
--   register         registrations from one address (refused ones included)
--   refresh          refreshSession calls from one address
--   password_change  changePassword calls from one address
--
-- A refusal raises SQLSTATE TKRAT with HINT 'retry_after=<seconds>', which the
-- API answers as RATE_LIMITED with extensions.retryAfterSeconds. An unknown
-- client address (null) is one shared bucket, never "no limit".
--
-- The limits are rows of app_private.address_rate_limits: change them with an
-- update as the owner (in a migration), no code change needed.

--------------------------------------------------------------------------------
-- The limits
--------------------------------------------------------------------------------
create table if not exists app_private.address_rate_limits (
  action text primary key
    constraint address_rate_limits_action check (action in ('login', 'login_email', 'register', 'refresh', 'password_change')),
  max_count integer not null
    constraint address_rate_limits_max_count_positive check (max_count > 0),
  per_interval interval not null
    constraint address_rate_limits_interval_positive check (per_interval > interval '0')
);

comment on table app_private.address_rate_limits is
  'How often each authentication action may happen: at most max_count within per_interval, per client address (per email for login_email). Read by app_private.take_address_quota and begin_login. Owner only.';
comment on column app_private.address_rate_limits.action is
  'login (attempts per address), login_email (unresolved or failed attempts per email), register, refresh or password_change (per address).';
comment on column app_private.address_rate_limits.max_count is 'Allowed occurrences within per_interval.';
comment on column app_private.address_rate_limits.per_interval is 'The sliding window the count covers.';

insert into app_private.address_rate_limits (action, max_count, per_interval)
values
  ('login', 30, interval '5 minutes'),
  ('login_email', 10, interval '15 minutes'),
  ('register', 20, interval '1 hour'),
  ('refresh', 60, interval '1 minute'),
  ('password_change', 10, interval '1 hour')
on conflict (action) do nothing;

alter table app_private.address_rate_limits enable row level security;
revoke all on app_private.address_rate_limits from public;

-- The per-IP login rule of login_policy() now reads the row above: one place.
create or replace function app_private.login_policy(
  out max_failures integer,
  out failure_window interval,
  out lock_duration interval,
  out ip_max_attempts integer,
  out ip_window interval,
  out refresh_token_lifetime interval
)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select 5, interval '15 minutes', interval '15 minutes', l.max_count, l.per_interval, interval '30 days'
  from app_private.address_rate_limits as l
  where l.action = 'login';
$$;

comment on function app_private.login_policy() is
  'The login rules in one place: lock an account for lock_duration after max_failures failed logins within failure_window; refresh tokens expire after refresh_token_lifetime. ip_max_attempts and ip_window are the ''login'' row of app_private.address_rate_limits.';

--------------------------------------------------------------------------------
-- Occurrences of the actions counted here (login attempts are counted in
-- app_private.login_attempts)
--------------------------------------------------------------------------------
create table if not exists app_private.address_events (
  id uuid primary key default app_private.uuid_generate_v7(),
  action text not null
    constraint address_events_action check (action in ('register', 'refresh', 'password_change')),
  ip inet,
  occurred_at timestamptz not null default app_private.auth_now()
);

comment on table app_private.address_events is
  'One row per register, refreshSession or changePassword call that passed its per-address limit: what the limits count. Append-only; old rows may be pruned once past the longest window.';
comment on column app_private.address_events.id is 'Primary key (time-ordered UUID).';
comment on column app_private.address_events.action is 'register, refresh or password_change.';
comment on column app_private.address_events.ip is 'Client address as seen by the API; null when unknown (all unknown addresses share one count).';
comment on column app_private.address_events.occurred_at is 'When it happened (auth_now()).';

create index if not exists address_events_action_ip_idx on app_private.address_events (action, ip, occurred_at);

alter table app_private.address_events enable row level security;
revoke all on app_private.address_events from public;

-- Per-email login counts (login_email) scan by email and time.
-- (login_attempts and refresh_tokens are pruned security tables — days of
-- rows, not years — and graphile-migrate runs the migration in one
-- transaction, where CONCURRENTLY and a separate validation are impossible;
-- the scan lasts a moment, on the deploy that adds it only.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists login_attempts_email_idx on app_private.login_attempts (email, attempted_at);

--------------------------------------------------------------------------------
-- Refusal
--------------------------------------------------------------------------------
create or replace function app_private.raise_rate_limited(message text, retry_at timestamptz)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception using
    errcode = 'TKRAT',
    message = raise_rate_limited.message,
    hint = 'retry_after=' || greatest(1, ceil(extract(epoch from (retry_at - app_private.auth_now()))))::integer;
end;
$$;

comment on function app_private.raise_rate_limited(text, timestamptz) is
  'Raises TKRAT (RATE_LIMITED) with HINT retry_after=<seconds until retry_at>, at least 1.';

--------------------------------------------------------------------------------
-- Counting and reserving
--------------------------------------------------------------------------------
create or replace function app_private.take_address_quota(action text, ip inet)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.take_address_quota(text, inet) is
  'Counts one occurrence of action (register, refresh, password_change) from ip, or raises TKRAT with a retry hint when the address_rate_limits row for it is already reached. A null ip is one shared bucket.';

create or replace function app_private.reserve_registration(ip inet)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select app_private.take_address_quota('register', reserve_registration.ip);
$$;

comment on function app_private.reserve_registration(inet) is
  'register: counts a registration from ip before the password is hashed (refused attempts, such as a taken email, count too), or raises TKRAT when the address reached its limit.';

revoke all on function app_private.raise_rate_limited(text, timestamptz) from public;
revoke all on function app_private.take_address_quota(text, inet) from public;
revoke all on function app_private.reserve_registration(inet) from public;
grant execute on function app_private.reserve_registration(inet) to ticketing_authenticator;

--! split: 220-login-reserved-before-hashing.sql
-- Login in two steps around the password check, with the limits first and a
-- proof of the password instead of a claim:
--
-- 1. begin_login(email, ip): checks the per-address and per-email limits and
--    reserves the attempt (a 'pending' row) in the same statement, before any
--    hashing. It returns the attempt id and the hash's parameters and salt,
--    never the hash itself.
-- 2. The API computes argon2id(password, salt) and calls
--    finish_login(attempt, computed hash): the database compares it with the
--    stored hash, so only someone who knows the password can make an attempt
--    succeed. Lockout is applied (and cleared) here only.
-- 3. start_session(attempt, token digest), in the same transaction as
--    finish_login, opens a session for a fresh, unused success.
--
-- changePassword does the same with begin_password_check and change_password.
-- So the API's database role can neither read a hash, nor open a session or
-- clear a lockout without the password.

--------------------------------------------------------------------------------
-- Attempts can be reserved, proven, consumed
--------------------------------------------------------------------------------
alter table app_private.login_attempts add column if not exists purpose text not null default 'login';
alter table app_private.login_attempts add column if not exists decided_xact xid8;
alter table app_private.login_attempts add column if not exists consumed_at timestamptz;
alter table app_private.login_attempts add column if not exists session_id uuid;

alter table app_private.login_attempts drop constraint if exists login_attempts_purpose;
-- (login_attempts and refresh_tokens are pruned security tables — days of
-- rows, not years — and graphile-migrate runs the migration in one
-- transaction, where CONCURRENTLY and a separate validation are impossible;
-- the scan lasts a moment, on the deploy that adds it only.)
-- squawk-ignore constraint-missing-not-valid
alter table app_private.login_attempts add constraint login_attempts_purpose
  check (purpose in ('login', 'password_change', 'registration'));

alter table app_private.login_attempts drop constraint if exists login_attempts_reason;
-- (login_attempts and refresh_tokens are pruned security tables — days of
-- rows, not years — and graphile-migrate runs the migration in one
-- transaction, where CONCURRENTLY and a separate validation are impossible;
-- the scan lasts a moment, on the deploy that adds it only.)
-- squawk-ignore constraint-missing-not-valid
alter table app_private.login_attempts add constraint login_attempts_reason
  check (reason in ('pending', 'success', 'invalid_credentials', 'locked', 'rate_limited'));

comment on table app_private.login_attempts is
  'Every login attempt, every current-password check of changePassword and every registration, from its reservation (pending, before any hashing) to its outcome. Drives lockout and the per-address and per-email limits; records which session each success started.';
comment on column app_private.login_attempts.purpose is 'login, password_change (the current-password check of changePassword) or registration (the new account''s first session).';
comment on column app_private.login_attempts.reason is 'pending (reserved, password not yet checked), success, invalid_credentials (unknown email or wrong password), locked (account locked at the time) or rate_limited (refused before any check; older rows only).';
comment on column app_private.login_attempts.decided_xact is 'Transaction that recorded the success: a session starts only in that same transaction.';
comment on column app_private.login_attempts.consumed_at is 'When the success was used (a session started or the password changed); a success is used at most once.';
comment on column app_private.login_attempts.session_id is 'The session (refresh-token family) this success started: the audit trail of session starts.';

--------------------------------------------------------------------------------
-- Old functions: hashes by id, a claim of success, sessions without proof
--------------------------------------------------------------------------------
drop function if exists app_private.find_login_account(citext);
drop function if exists app_private.find_user_account(uuid);
drop function if exists app_private.login_rate_limited(citext, inet);
drop function if exists app_private.record_login_attempt(citext, uuid, inet, boolean);
drop function if exists app_private.rehash_password(uuid, text, text);
drop function if exists app_private.start_session(uuid, bytea);
drop function if exists app_private.change_password(uuid, text, uuid);
drop function if exists app_private.register_customer(citext, text, text);
drop function if exists app_private.rotate_refresh_token(bytea, bytea);

--------------------------------------------------------------------------------
-- Helpers
--------------------------------------------------------------------------------
create or replace function app_private.password_salt(password_hash text, out salt text, out hash_length integer)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  -- A PHC string: $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>; base64 without padding.
  select substring(password_hash from '^(.*)\$[^$]*$'),
         (char_length(substring(password_hash from '\$([^$]*)$')) * 3) / 4;
$$;

comment on function app_private.password_salt(text) is
  'Splits a PHC argon2 string into what recomputing it needs (everything up to the last $: algorithm, version, parameters, salt) and the length in bytes of the hash it ends with.';

create or replace function app_private.address_login_limit_reached(ip inet)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
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
$$;

comment on function app_private.address_login_limit_reached(inet) is
  'When the ''login'' limit of the address is reached: the time it lifts; null otherwise. A null ip counts the attempts of unknown addresses together.';

create or replace function app_private.email_login_limit_reached(email citext)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
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
$$;

comment on function app_private.email_login_limit_reached(citext) is
  'When the ''login_email'' limit of the email is reached (unresolved or failed attempts, from any address): the time it lifts; null otherwise. Known and unknown emails are counted alike.';

--------------------------------------------------------------------------------
-- Login
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
    and a.password_hash is not null;

  insert into app_private.login_attempts (email, user_id, ip, success, reason, purpose)
  values (left(typed_email::text, 320), account_user_id, begin_login.ip, false, 'pending', 'login')
  returning id into attempt_id;

  select s.salt, s.hash_length into password_salt, hash_length
  from app_private.password_salt(account_hash) as s;
end;
$$;

comment on function app_private.begin_login(text, inet) is
  'Step 1 of login, before any hashing: refuses (TKRAT, with a retry hint) when the address or the email reached its limit, otherwise reserves the attempt (pending) and returns its id with the salt and parameters of the account''s hash (null when no active account with a password has the email). Never returns the hash.';

create or replace function app_private.decide_attempt(attempt_id uuid, presented_hash text, upgraded_hash text)
returns text
language plpgsql
volatile
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.decide_attempt(uuid, text, text) is
  'Decides a pending attempt: success only when presented_hash (argon2id of the typed password with the stored salt, computed by the API) equals the stored hash and the account is not locked; applies the lockout rule (login_policy), clears it on success and stores upgraded_hash if given. Returns success, invalid_credentials or locked (locked only for the right password). Internal: reached through finish_login.';

create or replace function app_private.finish_login(attempt_id uuid, presented_hash text, upgraded_hash text default null)
returns text
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select app_private.decide_attempt(finish_login.attempt_id, finish_login.presented_hash, finish_login.upgraded_hash);
$$;

comment on function app_private.finish_login(uuid, text, text) is
  'Step 2 of login and of changePassword''s password check: decides the reserved attempt from the hash the API computed (see decide_attempt). An unknown, decided or stale attempt is invalid_credentials.';

--------------------------------------------------------------------------------
-- Sessions
--------------------------------------------------------------------------------
alter table app_private.refresh_tokens add column if not exists session_started_at timestamptz;

update app_private.refresh_tokens as t
set session_started_at = coalesce(
  (select root.created_at from app_private.refresh_tokens as root where root.id = t.family_id),
  t.created_at
)
where t.session_started_at is null;

-- (login_attempts and refresh_tokens are pruned security tables — days of
-- rows, not years — and graphile-migrate runs the migration in one
-- transaction, where CONCURRENTLY and a separate validation are impossible;
-- the scan lasts a moment, on the deploy that adds it only.)
-- squawk-ignore adding-not-nullable-field
alter table app_private.refresh_tokens alter column session_started_at set not null;

comment on column app_private.refresh_tokens.session_started_at is
  'When the session (family) began; copied to each rotated token. refreshSession refuses a family older than the maximum session age.';

create or replace function app_private.open_session(user_id uuid, token_digest bytea)
returns table (
  session_id uuid,
  user_role app_public.user_role,
  refresh_expires_at timestamptz,
  user_record app_public.users
)
language plpgsql
volatile
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.open_session(uuid, bytea) is
  'Stores the first refresh token (by digest) of a new session and returns its claims and the user row. Internal: only start_session (after a proven login) and register_customer reach it.';

create or replace function app_private.start_session(attempt_id uuid, token_digest bytea)
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
$$;

comment on function app_private.start_session(uuid, bytea) is
  'Step 3 of login: opens a session for the user of a successful login attempt recorded by finish_login in this same transaction and not used before; records the session on the attempt. Raises TKFBD otherwise.';

--------------------------------------------------------------------------------
-- Registration: the account and its first session, one statement
--------------------------------------------------------------------------------
create or replace function app_private.register_customer(email text, display_name text, password_hash text, token_digest bytea, ip inet)
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
$$;

comment on function app_private.register_customer(text, text, text, bytea, inet) is
  'Self-registration: creates an active customer and opens their first session, all or nothing; the session start is recorded in login_attempts (purpose registration). Raises TKEML when the email is taken, 23514 when the input breaks a rule. The caller counts the registration first (reserve_registration).';

--------------------------------------------------------------------------------
-- Refresh, with the per-address limit and the maximum session age
--------------------------------------------------------------------------------
create or replace function app_private.rotate_refresh_token(
  token_digest bytea,
  new_token_digest bytea,
  ip inet,
  session_max_age interval
)
returns table (
  outcome text,
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
$$;

comment on function app_private.rotate_refresh_token(bytea, bytea, inet, interval) is
  'refreshSession: counts the call against the ''refresh'' limit of ip (TKRAT beyond it), then exchanges a refresh token (by digest) for a new one in the same family. outcome: rotated (with claims and user row), reused (the token was already rotated: the whole family is now revoked) or invalid (unknown, revoked, expired, the session older than session_max_age (at most 365 days), or the user inactive).';

--------------------------------------------------------------------------------
-- changePassword
--------------------------------------------------------------------------------
create or replace function app_private.begin_password_check(
  user_id uuid,
  ip inet,
  out attempt_id uuid,
  out email text,
  out password_salt text,
  out hash_length integer
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.begin_password_check(uuid, inet) is
  'Step 1 of changePassword, before any hashing: counts the call against the ''password_change'' limit of ip (TKRAT beyond it), reserves a check of the user''s current password and returns its id, the email (for the password policy) and the salt and parameters of the hash (never the hash). TKFBD for an inactive user or one without a password.';

create or replace function app_private.change_password(attempt_id uuid, new_hash text, keep_session_id uuid)
returns app_public.users
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.change_password(uuid, text, uuid) is
  'Step 3 of changePassword: stores a new argon2id hash (computed by the API) for the user of a successful password check (finish_login) in this same transaction, not used before, and revokes every other session of the user; keep_session_id (the caller''s session) stays valid.';

--------------------------------------------------------------------------------
-- Grants: exactly the steps above, nothing that returns a hash or claims a
-- success
--------------------------------------------------------------------------------
revoke all on function app_private.password_salt(text) from public;
revoke all on function app_private.address_login_limit_reached(inet) from public;
revoke all on function app_private.email_login_limit_reached(citext) from public;
revoke all on function app_private.begin_login(text, inet) from public;
revoke all on function app_private.decide_attempt(uuid, text, text) from public;
revoke all on function app_private.finish_login(uuid, text, text) from public;
revoke all on function app_private.open_session(uuid, bytea) from public;
revoke all on function app_private.start_session(uuid, bytea) from public;
revoke all on function app_private.register_customer(text, text, text, bytea, inet) from public;
revoke all on function app_private.rotate_refresh_token(bytea, bytea, inet, interval) from public;
revoke all on function app_private.begin_password_check(uuid, inet) from public;
revoke all on function app_private.change_password(uuid, text, uuid) from public;

grant execute on function app_private.begin_login(text, inet) to ticketing_authenticator;
grant execute on function app_private.finish_login(uuid, text, text) to ticketing_authenticator;
grant execute on function app_private.start_session(uuid, bytea) to ticketing_authenticator;
grant execute on function app_private.register_customer(text, text, text, bytea, inet) to ticketing_authenticator;
grant execute on function app_private.rotate_refresh_token(bytea, bytea, inet, interval) to ticketing_authenticator;
grant execute on function app_private.begin_password_check(uuid, inet) to ticketing_authenticator;
grant execute on function app_private.change_password(uuid, text, uuid) to ticketing_authenticator;

--! split: 230-admin-create-user-needs-live-session.sql
-- createUser: the API's database role passed only the acting admin's id and
-- token role, both of which it could make up (an admin's id is no secret), and
-- so create an admin with a password of its choosing. The acting admin's
-- session id (the `sid` of their access token) must now name a live session
-- of theirs: session ids are random, never readable by that role, and known
-- only to someone holding the admin's token.

drop function if exists app_private.admin_create_user(uuid, text, citext, text, app_public.user_role, text);

create or replace function app_private.admin_create_user(
  actor_id uuid,
  actor_role text,
  actor_session_id uuid,
  email citext,
  display_name text,
  role app_public.user_role,
  password_hash text
)
returns app_public.users
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.admin_create_user(uuid, text, uuid, citext, text, app_public.user_role, text) is
  'createUser: an active admin (actor_id, with the token role actor_role) in a live session actor_session_id (the token''s sid) creates a user of any role. Raises TKFBD for anyone else or without a live session of the admin, TKEML when the email is taken, 23514 when the input breaks a rule.';

revoke all on function app_private.admin_create_user(uuid, text, uuid, citext, text, app_public.user_role, text) from public;
grant execute on function app_private.admin_create_user(uuid, text, uuid, citext, text, app_public.user_role, text)
  to ticketing_authenticator;
