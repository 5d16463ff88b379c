--! Previous: sha1:aba6866fbe2eae36a2ac5507d7bc6a00fdc84213
--! Hash: sha1:1581e91795ba26cb641462b533cc188e31ecba7d
--! Message: authentication: accounts, login attempts, lockout, sessions, admin user functions

-- Authentication: login attempts, lockout, per-IP rate limit, refresh-token
-- sessions, account creation, and the admin functions setUserRole and
-- deactivateUser. DESIGN.md "Authentication".
--
-- Division of labour: the API tier hashes and verifies passwords (argon2id, so
-- database CPU is not spent on hashing); everything else about login lives
-- here. The API calls the app_private functions below as its connection role
-- ticketing_authenticator, outside any per-request role switch; that role gets
-- USAGE on app_private and EXECUTE on exactly these functions. The web roles
-- never get USAGE on app_private.
--
-- Rules (one place to change them: app_private.login_policy()):
-- * lockout: 5 failed logins of an account within 15 minutes lock it for 15
--   minutes. Failures while locked are recorded but do not extend the lock.
--   ACCOUNT_LOCKED is only ever reported after a correct password.
-- * rate limit: 30 login attempts from one IP address within 5 minutes; further
--   attempts are refused before any password is checked. Counted in SQL so
--   every API instance shares the same count.
-- * refresh tokens live 30 days from their issue; each use rotates them; using
--   a rotated token again revokes its whole family.

--------------------------------------------------------------------------------
-- Clock: every time-based rule reads app_private.auth_now(), so tests can move
-- time forward (as the owner) instead of sleeping.
--------------------------------------------------------------------------------
create table app_private.auth_clock (
  singleton boolean primary key default true
    constraint auth_clock_singleton check (singleton),
  offset_by interval not null default interval '0'
);

comment on table app_private.auth_clock is
  'One row: an offset added to now() by app_private.auth_now(). Always zero in production; tests shift it to expire locks and tokens without sleeping. Only the owner can change it.';
comment on column app_private.auth_clock.singleton is 'Always true: keeps the table to a single row.';
comment on column app_private.auth_clock.offset_by is 'Added to the transaction time by auth_now().';

insert into app_private.auth_clock (singleton, offset_by)
values (true, interval '0');

alter table app_private.auth_clock enable row level security;

create function app_private.auth_now()
returns timestamptz
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select now() + coalesce((select c.offset_by from app_private.auth_clock as c), interval '0');
$$;

comment on function app_private.auth_now() is
  'The current time as the authentication rules see it: now() plus the auth_clock offset (zero outside tests).';

create function app_private.login_policy(
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
  select 5, interval '15 minutes', interval '15 minutes', 30, interval '5 minutes', interval '30 days';
$$;

comment on function app_private.login_policy() is
  'The login rules in one place: lock an account for lock_duration after max_failures failed logins within failure_window; refuse an IP after ip_max_attempts attempts within ip_window; refresh tokens expire after refresh_token_lifetime. Replace this function in a migration to change them.';

--------------------------------------------------------------------------------
-- Login attempts
--------------------------------------------------------------------------------
create table app_private.login_attempts (
  id uuid primary key default app_private.uuid_generate_v7(),
  email citext not null
    constraint login_attempts_email_length check (char_length(email) <= 320),
  user_id uuid references app_public.users (id) on delete set null,
  ip inet,
  success boolean not null,
  reason text not null
    constraint login_attempts_reason check (reason in ('success', 'invalid_credentials', 'locked', 'rate_limited')),
  attempted_at timestamptz not null default app_private.auth_now(),
  constraint login_attempts_success_reason check (success = (reason = 'success'))
);

comment on table app_private.login_attempts is
  'Every login attempt (and every current-password check of changePassword), successful or not. Drives lockout and the per-IP rate limit; kept for investigation.';
comment on column app_private.login_attempts.id is 'Primary key (time-ordered UUID).';
comment on column app_private.login_attempts.email is 'Email as typed (at most 320 characters), whether or not an account has it.';
comment on column app_private.login_attempts.user_id is 'The account the email belongs to, null when no active account has it.';
comment on column app_private.login_attempts.ip is 'Client IP address as seen by the API, null when unknown.';
comment on column app_private.login_attempts.success is 'True when the password was right and the account not locked.';
comment on column app_private.login_attempts.reason is 'success, invalid_credentials (unknown email or wrong password), locked (account locked at the time) or rate_limited (refused before any check).';
comment on column app_private.login_attempts.attempted_at is 'When the attempt was made (auth_now()).';

create index login_attempts_user_idx on app_private.login_attempts (user_id, attempted_at);
create index login_attempts_ip_idx on app_private.login_attempts (ip, attempted_at);

alter table app_private.login_attempts enable row level security;

revoke all on app_private.login_attempts from public;

--------------------------------------------------------------------------------
-- Refresh tokens (sessions)
--------------------------------------------------------------------------------
create table app_private.refresh_tokens (
  id uuid primary key default app_private.uuid_generate_v7(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  family_id uuid not null,
  token_digest bytea not null unique
    constraint refresh_tokens_digest_length check (octet_length(token_digest) = 32),
  created_at timestamptz not null default app_private.auth_now(),
  expires_at timestamptz not null,
  rotated_at timestamptz,
  replaced_by uuid references app_private.refresh_tokens (id),
  revoked_at timestamptz,
  revoked_reason text
    constraint refresh_tokens_revoked_reason check (
      revoked_reason in ('logout', 'reuse', 'password_change', 'deactivated', 'role_changed', 'inactive')
    ),
  constraint refresh_tokens_expiry_after_creation check (expires_at > created_at),
  constraint refresh_tokens_revocation_has_reason check ((revoked_at is null) = (revoked_reason is null))
);

comment on table app_private.refresh_tokens is
  'Refresh tokens, one row per issued token, stored only as SHA-256 digests. A family is one login session: each refresh rotates the token within the family; presenting a rotated token again revokes the whole family.';
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

create index refresh_tokens_family_idx on app_private.refresh_tokens (family_id);
create index refresh_tokens_user_idx on app_private.refresh_tokens (user_id) where revoked_at is null;

alter table app_private.refresh_tokens enable row level security;

revoke all on app_private.refresh_tokens from public;

--------------------------------------------------------------------------------
-- Sessions
--------------------------------------------------------------------------------
create function app_private.revoke_user_sessions(user_id uuid, reason text, except_family_id uuid default null)
returns integer
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.revoke_user_sessions(uuid, text, uuid) is
  'Revokes every live refresh token of a user, except the session except_family_id if given; returns how many. Used on password change, deactivation and role change.';

create function app_private.start_session(user_id uuid, token_digest bytea)
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
  account_user app_public.users;
  token_id uuid := app_private.uuid_generate_v7();
begin
  select u.* into account_user
  from app_public.users as u
  where u.id = start_session.user_id
    and u.is_active;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No active user with this id';
  end if;

  insert into app_private.refresh_tokens (id, user_id, family_id, token_digest, expires_at)
  values (
    token_id,
    account_user.id,
    token_id,
    start_session.token_digest,
    app_private.auth_now() + (app_private.login_policy()).refresh_token_lifetime
  )
  returning refresh_tokens.expires_at into refresh_expires_at;

  session_id := token_id;
  user_role := account_user.role;
  user_record := account_user;
  return next;
end;
$$;

comment on function app_private.start_session(uuid, bytea) is
  'Opens a session for an active user: stores the first refresh token (by digest) of a new family and returns the claims (session id, role) and the user row.';

create function app_private.rotate_refresh_token(token_digest bytea, new_token_digest bytea)
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
begin
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

  if presented.expires_at <= app_private.auth_now() then
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

  insert into app_private.refresh_tokens (id, user_id, family_id, token_digest, expires_at)
  values (
    successor_id,
    presented.user_id,
    presented.family_id,
    rotate_refresh_token.new_token_digest,
    app_private.auth_now() + (app_private.login_policy()).refresh_token_lifetime
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

comment on function app_private.rotate_refresh_token(bytea, bytea) is
  'Exchanges a refresh token (by digest) for a new one in the same family. outcome: rotated (with claims and user row), reused (the token was already rotated: the whole family is now revoked) or invalid (unknown, revoked, expired, or the user is inactive).';

create function app_private.revoke_refresh_token(token_digest bytea)
returns boolean
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.revoke_refresh_token(bytea) is
  'Logout: revokes the session (the whole family) of the given refresh token. Returns whether a live session was ended.';

--------------------------------------------------------------------------------
-- Login
--------------------------------------------------------------------------------
create function app_private.find_login_account(email citext)
returns table (user_id uuid, password_hash text)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select a.user_id, a.password_hash
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.email = find_login_account.email
    and u.is_active
    and a.password_hash is not null;
$$;

comment on function app_private.find_login_account(citext) is
  'The account that may log in with this email: user id and argon2id hash; no row when the email is unknown, the user inactive or password login disabled (all answered alike).';

create function app_private.find_user_account(user_id uuid)
returns table (email citext, password_hash text)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select a.email, a.password_hash
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.user_id = find_user_account.user_id
    and u.is_active
    and a.password_hash is not null;
$$;

comment on function app_private.find_user_account(uuid) is
  'Email and argon2id hash of an active user (for changePassword); no row when inactive or without a password.';

create function app_private.login_rate_limited(email citext, ip inet)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  policy record;
  recent integer;
begin
  if ip is null then
    return false;
  end if;
  select * into policy from app_private.login_policy();
  select count(*) into recent
  from app_private.login_attempts as l
  where l.ip = login_rate_limited.ip
    and l.attempted_at > app_private.auth_now() - policy.ip_window
    and l.reason <> 'rate_limited';
  if recent < policy.ip_max_attempts then
    return false;
  end if;
  insert into app_private.login_attempts (email, ip, success, reason)
  values (left(login_rate_limited.email, 320), login_rate_limited.ip, false, 'rate_limited');
  return true;
end;
$$;

comment on function app_private.login_rate_limited(citext, inet) is
  'Per-IP rate limit, checked before any password work: true (and the refusal recorded) when the IP made ip_max_attempts attempts within ip_window (login_policy). Refused attempts do not count, so the limit lifts when the window has passed.';

create function app_private.record_login_attempt(email citext, user_id uuid, ip inet, password_ok boolean)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  policy record;
  account app_private.user_accounts;
  result text;
  recent_failures integer;
begin
  select * into policy from app_private.login_policy();
  if user_id is not null then
    -- Row lock: concurrent attempts on one account count one after the other.
    select a.* into account
    from app_private.user_accounts as a
    where a.user_id = record_login_attempt.user_id
    for update;
  end if;

  if account.user_id is null then
    result := 'invalid_credentials';
  elsif account.locked_until > app_private.auth_now() then
    result := 'locked';
  elsif password_ok then
    result := 'success';
  else
    result := 'invalid_credentials';
  end if;

  insert into app_private.login_attempts (email, user_id, ip, success, reason)
  values (left(record_login_attempt.email, 320), account.user_id, record_login_attempt.ip, result = 'success', result);

  if result = 'success' then
    update app_private.user_accounts as a
    set failed_login_count = 0,
        locked_until = null,
        last_login_at = app_private.auth_now()
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

comment on function app_private.record_login_attempt(citext, uuid, inet, boolean) is
  'Records a login attempt whose password the API has checked, applies the lockout rule (login_policy) and returns success, invalid_credentials or locked. locked is returned only for a correct password; failures counted are those since the last success or lock, within failure_window.';

create function app_private.rehash_password(user_id uuid, old_hash text, new_hash text)
returns boolean
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  with changed as (
    update app_private.user_accounts as a
    set password_hash = rehash_password.new_hash
    where a.user_id = rehash_password.user_id
      and a.password_hash = rehash_password.old_hash
    returning 1
  )
  select count(*) > 0 from changed;
$$;

comment on function app_private.rehash_password(uuid, text, text) is
  'Replaces a hash made with older argon2 parameters after a successful login; only if the stored hash is still old_hash (a concurrent password change wins).';

create function app_private.change_password(user_id uuid, new_hash text, keep_session_id uuid)
returns app_public.users
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  account_user app_public.users;
begin
  select u.* into account_user
  from app_public.users as u
  where u.id = change_password.user_id
    and u.is_active;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No active user with this id';
  end if;

  update app_private.user_accounts as a
  set password_hash = change_password.new_hash,
      failed_login_count = 0,
      locked_until = null
  where a.user_id = change_password.user_id;

  perform app_private.revoke_user_sessions(change_password.user_id, 'password_change', keep_session_id);
  return account_user;
end;
$$;

comment on function app_private.change_password(uuid, text, uuid) is
  'Stores a new argon2id hash (verified and computed by the API) and revokes every other session of the user; keep_session_id (the caller''s session) stays valid.';

--------------------------------------------------------------------------------
-- Creating users
--------------------------------------------------------------------------------
create function app_private.create_user_account(
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
$$;

comment on function app_private.create_user_account(citext, text, app_public.user_role, text) is
  'Creates a user and their account with an argon2id hash computed by the caller. Raises TKEML when the email is taken. Owner only (the user:create command); the API goes through register_customer or admin_create_user.';

create function app_private.register_customer(email citext, display_name text, password_hash text)
returns app_public.users
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select * from app_private.create_user_account(email, display_name, 'customer', password_hash);
$$;

comment on function app_private.register_customer(citext, text, text) is
  'Self-registration: creates an active customer. Raises TKEML when the email is taken.';

create function app_private.is_acting_admin(actor_id uuid, actor_role text)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  -- The token's role must still be the stored role: a demoted admin's token is refused.
  select exists (
    select 1
    from app_public.users as u
    where u.id = is_acting_admin.actor_id
      and u.is_active
      and u.role = 'admin'
      and is_acting_admin.actor_role = 'ticketing_admin'
  );
$$;

comment on function app_private.is_acting_admin(uuid, text) is
  'True when actor_id is an active admin and actor_role (the role claim of their token) is ticketing_admin. The API asks before it validates and hashes a createUser request.';

create function app_private.admin_create_user(
  actor_id uuid,
  actor_role text,
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
  if not app_private.is_acting_admin(actor_id, actor_role) then
    raise exception using errcode = 'TKFBD', message = 'Only an admin can create users';
  end if;
  -- The audit trigger on users reads the actor from this setting.
  perform set_config('jwt.claims.user_id', actor_id::text, true);
  return app_private.create_user_account(email, display_name, role, password_hash);
end;
$$;

comment on function app_private.admin_create_user(uuid, text, citext, text, app_public.user_role, text) is
  'createUser: an active admin (actor_id, with the token role actor_role) creates a user of any role. Raises TKFBD for anyone else, TKEML when the email is taken.';

--------------------------------------------------------------------------------
-- Admin mutations exposed by GraphQL (setUserRole, deactivateUser)
--------------------------------------------------------------------------------
create function app_private.assert_admin_remains(target_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.assert_admin_remains(uuid) is
  'Raises TKVAL when demoting or deactivating target_id would leave no active admin.';

create function app_public.set_user_role(user_id uuid, role app_public.user_role)
returns app_public.users
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_public.set_user_role(uuid, app_public.user_role) is
  E'@resultFieldName user\nAdmins: changes a user''s role. Takes effect at once (policies read the users row) and ends the user''s sessions. Refused when it would leave no active admin.';

create function app_public.deactivate_user(user_id uuid)
returns app_public.users
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_public.deactivate_user(uuid) is
  E'@resultFieldName user\nAdmins: deactivates a user. Their tokens stop working at once (they see nothing) and every session is revoked. Refused when it would leave no active admin. Idempotent.';

--------------------------------------------------------------------------------
-- Grants
--------------------------------------------------------------------------------
revoke all on function app_private.auth_now() from public;
revoke all on function app_private.login_policy() from public;

grant usage on schema app_private to ticketing_authenticator;

grant execute on function app_private.find_login_account(citext) to ticketing_authenticator;
grant execute on function app_private.find_user_account(uuid) to ticketing_authenticator;
grant execute on function app_private.login_rate_limited(citext, inet) to ticketing_authenticator;
grant execute on function app_private.record_login_attempt(citext, uuid, inet, boolean) to ticketing_authenticator;
grant execute on function app_private.rehash_password(uuid, text, text) to ticketing_authenticator;
grant execute on function app_private.change_password(uuid, text, uuid) to ticketing_authenticator;
grant execute on function app_private.start_session(uuid, bytea) to ticketing_authenticator;
grant execute on function app_private.rotate_refresh_token(bytea, bytea) to ticketing_authenticator;
grant execute on function app_private.revoke_refresh_token(bytea) to ticketing_authenticator;
grant execute on function app_private.register_customer(citext, text, text) to ticketing_authenticator;
grant execute on function app_private.is_acting_admin(uuid, text) to ticketing_authenticator;
grant execute on function app_private.admin_create_user(uuid, text, citext, text, app_public.user_role, text)
  to ticketing_authenticator;

grant execute on function app_public.set_user_role(uuid, app_public.user_role) to ticketing_admin;
grant execute on function app_public.deactivate_user(uuid) to ticketing_admin;

-- register/login/refreshSession return the user to an anonymous request;
-- User.email is then null (it shows only to the user or staff), not an error.
grant execute on function app_public.users_email(app_public.users) to ticketing_anonymous;
