--! Previous: sha1:2efcf2695b95cff1fac3efedb5d1e843bae7984b
--! Hash: sha1:842e9a842f2f6a61cb6062291896dc55808f4e2c
--! Message: foundation: schemas, uuid v7, users, accounts, identity helpers

-- Foundation: schemas, privilege defaults, UUID v7, enums, users, accounts,
-- identity helpers used by every policy.
--
-- Runs as ticketing_owner, so every object below is owned by it. Web roles get
-- only what is granted explicitly in these files.

-- Functions are executable by PUBLIC by default; nothing here should be, so the
-- default is removed before the first function is created. Every function that a
-- web role may call gets an explicit grant next to it.
alter default privileges revoke execute on functions from public;

-- PostgreSQL 15+ already denies CREATE on schema public; kept explicit so older
-- clusters or a restored dump cannot let a web role plant objects there.
-- USAGE stays: the citext type and its operators live in public.
revoke create on schema public from public;

create extension if not exists citext with schema public;

create schema app_public;
create schema app_private;
create schema app_reporting;

comment on schema app_public is 'Everything the GraphQL API exposes.';
comment on schema app_private is 'Secrets and internals (accounts, audit log, helpers). No web role has USAGE on it.';
comment on schema app_reporting is 'Read-only views for analysts (ticketing_analyst). No password hashes, no emails.';

revoke all on schema app_public from public;
revoke all on schema app_private from public;
revoke all on schema app_reporting from public;

grant usage on schema app_public to ticketing_anonymous, ticketing_customer, ticketing_agent, ticketing_admin;
grant usage on schema app_reporting to ticketing_analyst;

--------------------------------------------------------------------------------
-- Time-ordered UUIDs (RFC 9562 version 7) on every supported PostgreSQL version.
-- PostgreSQL 18 has uuidv7(), 15-17 do not; one implementation keeps keys
-- identical in shape everywhere.
--------------------------------------------------------------------------------
create function app_private.uuid_generate_v7()
returns uuid
language plpgsql
volatile
parallel safe
set search_path = pg_catalog, pg_temp
as $$
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
$$;

comment on function app_private.uuid_generate_v7() is
  'Returns a version 7 UUID: 48-bit Unix millisecond timestamp, 12-bit sub-millisecond fraction, 62 random bits. Default of every primary key, so keys sort by creation time and index inserts stay local.';

-- Column defaults run with the inserting role's rights, so the web roles need
-- EXECUTE; without USAGE on app_private they still cannot call it by name.
grant execute on function app_private.uuid_generate_v7() to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Types
--------------------------------------------------------------------------------
create type app_public.user_role as enum ('customer', 'agent', 'admin');

comment on type app_public.user_role is
  'What a user is: a customer raising tickets, an agent working them, or an admin running the helpdesk.';

create type app_public.ticket_status as enum ('open', 'in_progress', 'waiting_on_customer', 'resolved', 'closed');

comment on type app_public.ticket_status is
  'Where a ticket is in its lifecycle. Changed only through transitionTicket, assignTicket, takeNextTicket (and a customer reply); allowed moves are the rows of ticketTransitions.';

-- Declared from least to most urgent so `order by priority desc` is "most urgent first".
create type app_public.ticket_priority as enum ('low', 'normal', 'high', 'urgent');

comment on type app_public.ticket_priority is
  'How urgent a ticket is, from low to urgent. Drives the SLA due times (slaPolicies) and the order of the agents'' queue.';

--------------------------------------------------------------------------------
-- Users
--------------------------------------------------------------------------------
create table app_public.users (
  id uuid primary key default app_private.uuid_generate_v7(),
  display_name text not null
    constraint users_display_name_length check (char_length(btrim(display_name)) between 1 and 100),
  role app_public.user_role not null default 'customer',
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_timestamps_ordered check (updated_at >= created_at)
);

comment on table app_public.users is
  E'@behavior -insert -delete\nA person using the helpdesk. Created by register/createUser, never deleted (deactivate instead). Customers see themselves and staff; agents and admins see everybody.';
comment on column app_public.users.id is E'@behavior -insert -update\nPrimary key (time-ordered UUID).';
comment on column app_public.users.display_name is 'Name shown to other users, 1-100 characters. Users may change their own; admins may change anyone''s.';
comment on column app_public.users.role is E'@behavior -insert -update\nCustomer, agent or admin. Changed only by an admin through setUserRole; takes effect immediately, whatever the user''s current token says.';
comment on column app_public.users.is_active is E'@behavior -insert -update\nFalse once an admin deactivated the user: their tokens stop working at once and they see nothing.';
comment on column app_public.users.created_at is E'@behavior -insert -update\nWhen the user was created.';
comment on column app_public.users.updated_at is E'@behavior -insert -update\nWhen the user row last changed.';

create index users_role_idx on app_public.users (role);

--------------------------------------------------------------------------------
-- Accounts (secrets): never visible to any web role.
--------------------------------------------------------------------------------
create table app_private.user_accounts (
  user_id uuid primary key references app_public.users (id) on delete cascade,
  email citext not null unique
    constraint user_accounts_email_format check (char_length(email) <= 320 and email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  password_hash text,
  failed_login_count integer not null default 0
    constraint user_accounts_failed_login_count_positive check (failed_login_count >= 0),
  locked_until timestamptz,
  last_login_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint user_accounts_timestamps_ordered check (updated_at >= created_at)
);

comment on table app_private.user_accounts is 'Login data of a user (one row per user). Only security definer functions read it.';
comment on column app_private.user_accounts.user_id is 'The user this account belongs to.';
comment on column app_private.user_accounts.email is 'Login email, unique case-insensitively.';
comment on column app_private.user_accounts.password_hash is 'argon2id hash computed by the API tier; null means password login is disabled.';
comment on column app_private.user_accounts.failed_login_count is 'Consecutive failed logins since the last success; drives lockout.';
comment on column app_private.user_accounts.locked_until is 'Login refused until this time (null: not locked).';
comment on column app_private.user_accounts.last_login_at is 'Time of the last successful login.';
comment on column app_private.user_accounts.created_at is 'When the account was created.';
comment on column app_private.user_accounts.updated_at is 'When the account row last changed.';

-- Defence in depth: even a mistaken grant would expose no row.
alter table app_private.user_accounts enable row level security;

--------------------------------------------------------------------------------
-- Identity helpers. The JWT only says who the caller claims to be; the users row
-- decides what they are now, so deactivation and role changes apply at once.
--------------------------------------------------------------------------------
create function app_private.jwt_user_id()
returns uuid
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  -- A malformed claim is treated as no claim rather than raising a cast error.
  select case
    when claim ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then claim::uuid
  end
  from (select nullif(current_setting('jwt.claims.user_id', true), '') as claim) as c;
$$;

comment on function app_private.jwt_user_id() is
  'The user id claimed by the request (jwt.claims.user_id), null when missing or not a UUID. Not proof of anything by itself: used for audit actors; access checks use current_user_id()/acting_user_id().';

create function app_private.current_user_id()
returns uuid
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select u.id
  from app_public.users as u
  where u.id = app_private.jwt_user_id()
    and u.is_active;
$$;

comment on function app_private.current_user_id() is
  'Id of the requesting user if their users row exists and is active, else null. Security definer so it can read users whatever the caller''s policies are.';

create function app_private.current_user_role()
returns app_public.user_role
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  -- The Postgres role the request runs as (set by the API from the token) must
  -- match the role stored in the users row; a stale token of a demoted user
  -- yields null, i.e. no rights at all.
  select u.role
  from app_public.users as u
  where u.id = app_private.jwt_user_id()
    and u.is_active
    and current_setting('role') = 'ticketing_' || u.role::text;
$$;

comment on function app_private.current_user_role() is
  'Role of the requesting user from their users row, null when anonymous, inactive, or when the Postgres role of the request does not match the stored role (stale token after a role change).';

create function app_private.acting_user_id(as_role app_public.user_role)
returns uuid
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select u.id
  from app_public.users as u
  where u.id = app_private.jwt_user_id()
    and u.is_active
    and u.role = as_role
    and current_setting('role') = 'ticketing_' || as_role::text;
$$;

comment on function app_private.acting_user_id(app_public.user_role) is
  'Policy helper: the requesting user''s id when they are active, stored with role as_role, and the request runs as the matching Postgres role; otherwise null. Policies call it as (select app_private.acting_user_id(...)) so it runs once per statement.';

-- Policies are stored as parse trees, so at run time PostgreSQL checks only
-- EXECUTE on the helper, never USAGE on app_private: the web roles can use the
-- helpers inside policies, but cannot call them by name.
grant execute on function app_private.acting_user_id(app_public.user_role)
  to ticketing_customer, ticketing_agent, ticketing_admin;
grant execute on function app_private.current_user_role()
  to ticketing_customer, ticketing_agent, ticketing_admin;

create function app_public.current_user_id()
returns uuid
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select app_private.current_user_id();
$$;

comment on function app_public.current_user_id() is
  'Id of the signed-in user; null when anonymous, when the token names no valid user, or when the user is deactivated.';

grant execute on function app_public.current_user_id()
  to ticketing_anonymous, ticketing_customer, ticketing_agent, ticketing_admin;

create function app_public.current_user()
returns app_public.users
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select u.*
  from app_public.users as u
  where u.id = app_private.current_user_id();
$$;

comment on function app_public.current_user() is
  'The signed-in user, or null when anonymous or deactivated.';

grant execute on function app_public.current_user()
  to ticketing_anonymous, ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Generic triggers
--------------------------------------------------------------------------------
create function app_private.tg_set_updated_at()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  -- Never move backwards (clock_timestamp within a long transaction, or rows
  -- created later in the same transaction).
  new.updated_at := greatest(now(), old.updated_at);
  return new;
end;
$$;

comment on function app_private.tg_set_updated_at() is 'Trigger: keeps updated_at current on every update.';

create trigger _100_set_updated_at
  before update on app_public.users
  for each row
  execute function app_private.tg_set_updated_at();

create trigger _100_set_updated_at
  before update on app_private.user_accounts
  for each row
  execute function app_private.tg_set_updated_at();

create function app_private.tg_forbid_change()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception using
    errcode = 'TKFBD',
    message = format('%s is append-only: rows can be added but never changed or removed', tg_table_name);
end;
$$;

comment on function app_private.tg_forbid_change() is
  'Trigger: refuses UPDATE, DELETE and TRUNCATE on append-only tables (history, audit log), whoever runs them, the owner included.';

--------------------------------------------------------------------------------
-- Email as a computed field of User
--------------------------------------------------------------------------------
create function app_public.users_email(u app_public.users)
returns citext
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select a.email
  from app_private.user_accounts as a
  where a.user_id = u.id
    and (
      u.id = app_private.current_user_id()
      or app_private.current_user_role() in ('agent', 'admin')
    );
$$;

comment on function app_public.users_email(app_public.users) is
  'The user''s login email: your own, or anyone''s for agents and admins; null otherwise.';

grant execute on function app_public.users_email(app_public.users)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Users: row-level security and grants
--------------------------------------------------------------------------------
alter table app_public.users enable row level security;

revoke all on app_public.users from public;
grant select on app_public.users to ticketing_customer, ticketing_agent, ticketing_admin;
grant update (display_name) on app_public.users to ticketing_customer, ticketing_agent, ticketing_admin;
-- No INSERT/DELETE for any web role: users are created by register/createUser
-- (security definer) and deactivated, never deleted.

create policy select_customer on app_public.users
  for select
  to ticketing_customer
  using (
    (select app_private.acting_user_id('customer')) is not null
    and (id = (select app_private.acting_user_id('customer')) or role <> 'customer')
  );

comment on policy select_customer on app_public.users is 'Customers see themselves and staff (agents, admins), never other customers.';

create policy select_agent on app_public.users
  for select
  to ticketing_agent
  using ((select app_private.acting_user_id('agent')) is not null);

comment on policy select_agent on app_public.users is 'Agents see every user.';

create policy select_admin on app_public.users
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.users is 'Admins see every user.';

create policy update_customer on app_public.users
  for update
  to ticketing_customer
  using (id = (select app_private.acting_user_id('customer')))
  with check (id = (select app_private.acting_user_id('customer')));

comment on policy update_customer on app_public.users is 'Customers may edit only their own row (display_name is the only updatable column).';

create policy update_agent on app_public.users
  for update
  to ticketing_agent
  using (id = (select app_private.acting_user_id('agent')))
  with check (id = (select app_private.acting_user_id('agent')));

comment on policy update_agent on app_public.users is 'Agents may edit only their own row (display_name).';

create policy update_admin on app_public.users
  for update
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy update_admin on app_public.users is 'Admins may edit any user''s display_name; role and activity change only through setUserRole/deactivateUser.';
