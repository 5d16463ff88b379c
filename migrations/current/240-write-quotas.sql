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
