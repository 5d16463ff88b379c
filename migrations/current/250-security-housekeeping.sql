-- Housekeeping of append-mostly security rows: login attempts, refresh
-- tokens and counted writes are deleted once the window they serve has
-- passed, so tables, indexes and the checks that read them stay flat however
-- long the service runs. app_private.prune_security_rows() does it; the API
-- calls it every few minutes (src/database/housekeeping.ts) and
-- `npm run db:maintain` calls it too. The audit log and the ticket histories
-- are records, never pruned.

--------------------------------------------------------------------------------
-- Retention, in one place
--------------------------------------------------------------------------------
create or replace function app_private.housekeeping_policy(
  out login_attempt_retention interval,
  out refused_login_retention interval,
  out ended_session_retention interval,
  out rotated_token_retention interval,
  out rotated_tokens_per_session integer
)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select interval '7 days', interval '1 hour', interval '7 days', interval '7 days', 1000;
$$;

comment on function app_private.housekeeping_policy() is
  'Retention of security rows, in one place: login attempts are kept login_attempt_retention (the lockout and per-address windows need minutes; the rest is for investigation), attempts refused by the rate limit (which count for nothing) refused_login_retention; a session (refresh-token family) that can no longer be used is deleted ended_session_retention after it ended; in a live session a rotated token is kept rotated_token_retention after its rotation and at most the newest rotated_tokens_per_session, for reuse detection. Replace this function in a migration to change them.';

revoke all on function app_private.housekeeping_policy() from public;

--------------------------------------------------------------------------------
-- Indexes that keep the checks and the pruning flat
--------------------------------------------------------------------------------
-- The per-address login limit counts only attempts that count: without this
-- index every refused attempt in the window was visited (and filtered out)
-- by each check, so a flood slowed every login down.
-- (Not CONCURRENTLY: graphile-migrate runs the migration in one transaction,
-- where it is impossible; these security tables are kept small by the
-- pruning below — days of rows, not years — so the build holds writes back
-- for a moment only, and only on the deploy that adds it.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists login_attempts_ip_counted_idx
  on app_private.login_attempts (ip, attempted_at)
  where reason <> 'rate_limited';

-- Pruning by age (rows arrive in time order).
-- (Not CONCURRENTLY: graphile-migrate runs the migration in one transaction,
-- where it is impossible; these security tables are kept small by the
-- pruning below — days of rows, not years — so the build holds writes back
-- for a moment only, and only on the deploy that adds it.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists login_attempts_time_brin
  on app_private.login_attempts using brin (attempted_at);

-- Rotated tokens of live sessions, oldest first, for pruning.
-- (Not CONCURRENTLY: graphile-migrate runs the migration in one transaction,
-- where it is impossible; these security tables are kept small by the
-- pruning below — days of rows, not years — so the build holds writes back
-- for a moment only, and only on the deploy that adds it.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists refresh_tokens_rotated_idx
  on app_private.refresh_tokens (family_id, rotated_at)
  where rotated_at is not null and revoked_at is null;

--------------------------------------------------------------------------------
-- Pruning
--------------------------------------------------------------------------------
create or replace function app_private.prune_security_rows()
returns table (table_name text, deleted_rows bigint)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.prune_security_rows() is
  'Deletes security rows past their retention (housekeeping_policy): old login attempts, ended sessions, rotated tokens of live sessions beyond the reuse-detection window, counted writes older than the longest write quota, and per-address authentication events older than the longest address rate limit. Returns the rows deleted per table; returns nothing when another instance is pruning at the same moment. Run every few minutes by the API and by db:maintain.';

grant execute on function app_private.prune_security_rows() to ticketing_authenticator;
