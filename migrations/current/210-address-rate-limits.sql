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
