--! Previous: sha1:531091eaac4e7fc1a1630182c4e584987e4eb56c
--! Hash: sha1:6fc29a54760578ff857225421223748e4001b649
--! Message: write quotas per user and kind, pruning of expired security rows

--! split: 240-write-quotas.sql
-- Write quotas: how many tickets, comments and edits one user may write in a
-- sliding window, by role. One customer must not be able to fill the disk
-- (500 createTicket aliases in one request, a script posting comments in a
-- loop); the defaults are far above what an honest user does.
--
-- Where the rule lives: BEFORE triggers on the written tables, so every path
-- (GraphQL mutations, addComment, a future function) is counted and a refused
-- write never reaches the table. Only requests running as a web role are
-- counted: migrations, maintenance, demo data and the owner's tools write
-- freely.
--
-- How it is counted: each counted write adds one narrow row to
-- app_private.write_events; the check reads at most max_count index entries
-- of (user, kind) in the window, so its cost does not grow with history.
-- Housekeeping (250-security-housekeeping.sql) deletes events older than the
-- longest window.

--------------------------------------------------------------------------------
-- What is counted
--------------------------------------------------------------------------------
do $$
begin
  if to_regtype('app_public.write_kind') is null then
    create type app_public.write_kind as enum ('ticket', 'comment', 'edit');
  end if;
end
$$;

comment on type app_public.write_kind is
  'A kind of write limited by a quota: ticket (a new ticket), comment (a new comment or internal note), edit (a change of a ticket''s subject, description or priority, or of a user''s display name).';

--------------------------------------------------------------------------------
-- Quotas as data (admins edit the numbers)
--------------------------------------------------------------------------------
create table if not exists app_public.write_quotas (
  role app_public.user_role not null,
  kind app_public.write_kind not null,
  max_count integer not null
    constraint write_quotas_max_count_range check (max_count between 1 and 1000000),
  per_interval interval not null
    constraint write_quotas_per_interval_range check (per_interval between interval '1 minute' and interval '1 day'),
  primary key (role, kind)
);

comment on table app_public.write_quotas is
  E'@behavior -insert -delete\nWrite quotas: a user of role may make at most maxCount writes of kind within any perInterval (a sliding window). The next write is refused with RATE_LIMITED and retryAfterSeconds. Admins read and change the numbers; the next write obeys them.';
comment on column app_public.write_quotas.role is E'@behavior -update\nThe role of the writer (their stored role).';
comment on column app_public.write_quotas.kind is E'@behavior -update\nWhat is counted: ticket, comment or edit.';
comment on column app_public.write_quotas.max_count is 'Writes allowed within the window, 1 to 1 000 000.';
comment on column app_public.write_quotas.per_interval is 'Length of the sliding window, 1 minute to 1 day.';

insert into app_public.write_quotas (role, kind, max_count, per_interval)
values
  ('customer', 'ticket', 30, interval '1 hour'),
  ('customer', 'comment', 120, interval '1 hour'),
  ('customer', 'edit', 300, interval '1 hour'),
  ('agent', 'ticket', 300, interval '1 hour'),
  ('agent', 'comment', 1200, interval '1 hour'),
  ('agent', 'edit', 3000, interval '1 hour'),
  ('admin', 'ticket', 300, interval '1 hour'),
  ('admin', 'comment', 1200, interval '1 hour'),
  ('admin', 'edit', 3000, interval '1 hour')
on conflict (role, kind) do nothing;

alter table app_public.write_quotas enable row level security;

revoke all on app_public.write_quotas from public;
grant select on app_public.write_quotas to ticketing_admin;
grant update (max_count, per_interval) on app_public.write_quotas to ticketing_admin;

drop policy if exists select_admin on app_public.write_quotas;
create policy select_admin on app_public.write_quotas
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.write_quotas is 'Admins read the write quotas.';

drop policy if exists update_admin on app_public.write_quotas;
create policy update_admin on app_public.write_quotas
  for update
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy update_admin on app_public.write_quotas is 'Admins change the numbers of a quota (maxCount, perInterval); rows are neither added nor removed.';

--------------------------------------------------------------------------------
-- Counted writes
--------------------------------------------------------------------------------
-- No foreign key to users: users are never deleted, and a key check per write
-- would cost more than the row itself.
create table if not exists app_private.write_events (
  user_id uuid not null,
  kind app_public.write_kind not null,
  occurred_at timestamptz not null default now()
);

comment on table app_private.write_events is
  'One row per write counted by a write quota (who, what, when). Read only by the quota check; rows older than the longest quota window are deleted by app_private.prune_security_rows().';
comment on column app_private.write_events.user_id is 'The user who wrote.';
comment on column app_private.write_events.kind is 'What was written: ticket, comment or edit.';
comment on column app_private.write_events.occurred_at is 'When (transaction time).';

-- The quota check: newest events of one user and kind.
create index if not exists write_events_user_kind_time_idx
  on app_private.write_events (user_id, kind, occurred_at);
-- Pruning by age: rows arrive in time order, so a BRIN index is tiny and enough.
create index if not exists write_events_time_brin
  on app_private.write_events using brin (occurred_at);

alter table app_private.write_events enable row level security;

revoke all on app_private.write_events from public;

--------------------------------------------------------------------------------
-- The check
--------------------------------------------------------------------------------
create or replace function app_private.tg_enforce_write_quota()
returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.tg_enforce_write_quota() is
  'Trigger (argument: the write_kind): before a ticket, comment or edit written by an API request, refuses it with TKRAT (hint retry_after=<seconds>) when the writer used up the write_quotas row of their role and that kind within its window; otherwise counts it in write_events. Writes made outside a web role (migrations, maintenance, the owner) are not counted.';

drop trigger if exists _050_write_quota on app_public.tickets;
create trigger _050_write_quota
  before insert on app_public.tickets
  for each row
  execute function app_private.tg_enforce_write_quota('ticket');

comment on trigger _050_write_quota on app_public.tickets is 'Write quota: new tickets per user (write_quotas, kind ticket).';

-- UPDATE OF fires whenever the statement names the column, changed or not,
-- so repeated no-op updates are counted too; the lifecycle functions never
-- name these columns.
drop trigger if exists _050_write_quota_edit on app_public.tickets;
create trigger _050_write_quota_edit
  before update of subject, description, priority on app_public.tickets
  for each row
  execute function app_private.tg_enforce_write_quota('edit');

comment on trigger _050_write_quota_edit on app_public.tickets is 'Write quota: edits of a ticket''s subject, description or priority per user (kind edit).';

drop trigger if exists _050_write_quota on app_public.ticket_comments;
create trigger _050_write_quota
  before insert on app_public.ticket_comments
  for each row
  execute function app_private.tg_enforce_write_quota('comment');

comment on trigger _050_write_quota on app_public.ticket_comments is 'Write quota: new comments and internal notes per user (kind comment).';

drop trigger if exists _050_write_quota_edit on app_public.users;
create trigger _050_write_quota_edit
  before update of display_name on app_public.users
  for each row
  execute function app_private.tg_enforce_write_quota('edit');

comment on trigger _050_write_quota_edit on app_public.users is 'Write quota: display-name changes per user, whoever''s name it is (kind edit).';

--! split: 250-security-housekeeping.sql
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
