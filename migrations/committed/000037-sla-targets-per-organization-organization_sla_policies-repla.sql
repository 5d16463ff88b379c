--! Previous: sha1:5c89d1d84a2a7d77ab8d77e100af0dce3dbb5671
--! Hash: sha1:0d9ad289caa0e87d0c088888675307efa0e5f9fd
--! Message: SLA targets per organization: organization_sla_policies replaces the default row for its tickets (sla_policy_for, the one rule every computation asks); a ticket's organization change recomputes; SLA events and the compliance report name the organization

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-organization-sla-policies.sql
-- SLA targets per organization.
--
-- A customer organization's contract may promise other targets than the
-- defaults (a premium customer: a first reply within 30 business minutes on
-- its own calendar). A row here replaces, for the tickets filed for that
-- organization and of that priority, the default row of sla_policies; a
-- priority the organization has no row for keeps the default. Which policy
-- holds for a ticket is decided in one place, app_private.sla_policy_for.

create table if not exists app_public.organization_sla_policies (
  id uuid not null default app_private.uuid_generate_v7(),
  organization_id uuid not null,
  priority app_public.ticket_priority not null,
  first_response_minutes integer not null,
  resolution_minutes integer not null,
  calendar_id uuid not null default '00000000-0000-7000-8000-000000002407',
  constraint organization_sla_policies_pkey primary key (id),
  constraint organization_sla_policies_one_per_priority unique (organization_id, priority),
  constraint organization_sla_policies_organization_id_fkey
    foreign key (organization_id) references app_public.organizations (id),
  constraint organization_sla_policies_calendar_id_fkey
    foreign key (calendar_id) references app_public.business_calendars (id),
  constraint organization_sla_policies_first_response_positive check (first_response_minutes > 0),
  constraint organization_sla_policies_resolution_after_first_response
    check (resolution_minutes >= first_response_minutes)
);

-- The foreign key to calendars: a calendar delete checks it by this index.
create index if not exists organization_sla_policies_calendar_idx
  on app_public.organization_sla_policies (calendar_id);

comment on table app_public.organization_sla_policies is
  'SLA targets of one organization for one priority, replacing the default policy (slaPolicies) for the tickets filed for that organization; a priority without a row here keeps the default. Due times of unfinished tickets follow every change. Staff read all; customers read those of their organizations; admins edit.';
comment on column app_public.organization_sla_policies.id is
  'Primary key (time-ordered UUID).';
comment on column app_public.organization_sla_policies.organization_id is
  E'@behavior -update\nThe organization whose tickets these targets apply to.';
comment on column app_public.organization_sla_policies.priority is
  E'@behavior -update\nThe ticket priority these targets apply to (one row per organization and priority).';
comment on column app_public.organization_sla_policies.first_response_minutes is
  'Business minutes after creation by which staff must have posted a first public reply.';
comment on column app_public.organization_sla_policies.resolution_minutes is
  'Business minutes after creation by which the ticket must be resolved.';
comment on column app_public.organization_sla_policies.calendar_id is
  'The business calendar whose open time counts (default: 24x7).';
comment on constraint organization_sla_policies_one_per_priority on app_public.organization_sla_policies is
  'One set of targets per organization and priority.';

alter table app_public.organization_sla_policies enable row level security;

drop policy if exists select_staff on app_public.organization_sla_policies;
create policy select_staff on app_public.organization_sla_policies
  for select to ticketing_agent, ticketing_admin
  using ((select app_private.current_user_role()) in ('agent', 'admin'));
comment on policy select_staff on app_public.organization_sla_policies is
  'Agents and admins read every organization''s targets (they explain due times on any ticket they see).';

drop policy if exists select_customer on app_public.organization_sla_policies;
create policy select_customer on app_public.organization_sla_policies
  for select to ticketing_customer
  using (organization_id = any ((select app_private.customer_organization_ids())::uuid[]));
comment on policy select_customer on app_public.organization_sla_policies is
  'Customers read the targets of the active organizations they belong to, never another organization''s contract.';

drop policy if exists insert_admin on app_public.organization_sla_policies;
create policy insert_admin on app_public.organization_sla_policies
  for insert to ticketing_admin
  with check ((select app_private.acting_user_id('admin')) is not null);
comment on policy insert_admin on app_public.organization_sla_policies is 'Admins add an organization''s targets.';

drop policy if exists update_admin on app_public.organization_sla_policies;
create policy update_admin on app_public.organization_sla_policies
  for update to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);
comment on policy update_admin on app_public.organization_sla_policies is 'Admins change an organization''s targets.';

drop policy if exists delete_admin on app_public.organization_sla_policies;
create policy delete_admin on app_public.organization_sla_policies
  for delete to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);
comment on policy delete_admin on app_public.organization_sla_policies is
  'Admins remove an organization''s targets (its tickets return to the defaults).';

revoke all on app_public.organization_sla_policies from public;
grant select on app_public.organization_sla_policies to ticketing_customer, ticketing_agent, ticketing_admin;
grant insert (organization_id, priority, first_response_minutes, resolution_minutes, calendar_id)
  on app_public.organization_sla_policies to ticketing_admin;
grant update (first_response_minutes, resolution_minutes, calendar_id)
  on app_public.organization_sla_policies to ticketing_admin;
grant delete on app_public.organization_sla_policies to ticketing_admin;

drop trigger if exists _050_write_quota on app_public.organization_sla_policies;
create trigger _050_write_quota
  before insert or update on app_public.organization_sla_policies
  for each row
  execute function app_private.tg_enforce_write_quota('edit');

-- Policy edits recompute every unfinished ticket, as for the defaults.
drop trigger if exists _700_recompute_sla_insert on app_public.organization_sla_policies;
create trigger _700_recompute_sla_insert
  after insert on app_public.organization_sla_policies
  referencing new table as changed_rows
  for each statement
  execute function app_private.tg_sla_rules_changed();

drop trigger if exists _700_recompute_sla_update on app_public.organization_sla_policies;
create trigger _700_recompute_sla_update
  after update on app_public.organization_sla_policies
  referencing new table as changed_rows
  for each statement
  execute function app_private.tg_sla_rules_changed();

drop trigger if exists _700_recompute_sla_delete on app_public.organization_sla_policies;
create trigger _700_recompute_sla_delete
  after delete on app_public.organization_sla_policies
  referencing old table as changed_rows
  for each statement
  execute function app_private.tg_sla_rules_changed();

drop trigger if exists _900_audit on app_public.organization_sla_policies;
create trigger _900_audit
  after insert or update or delete on app_public.organization_sla_policies
  for each row
  execute function app_private.tg_audit();

--------------------------------------------------------------------------------
-- The one rule: which targets hold for a ticket
--------------------------------------------------------------------------------
-- A plain SQL function (no security definer, no settings), so the planner
-- inlines it: the row triggers' cached plans and the set-based recomputation
-- join the two tables instead of calling a function per ticket. The
-- organization's row, when there is one, replaces the default row whole (its
-- columns are never null, so coalescing column by column takes all of it or
-- none). Every priority has a default row (sla_policies holds one per
-- priority; nobody may insert or delete there).
create or replace function app_private.sla_policy_for(organization_id uuid, priority app_public.ticket_priority)
returns setof app_public.sla_policies
language sql
stable
rows 1
as $$
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
$$;

comment on function app_private.sla_policy_for(uuid, app_public.ticket_priority) is
  'The SLA targets and calendar that hold for a ticket of this organization (may be null) and priority: the organization''s own row of organization_sla_policies, else the default row of sla_policies. Inlined where it is called; with the caller''s rights (ticket_sla_policy is the one for the web roles).';

revoke all on function app_private.sla_policy_for(uuid, app_public.ticket_priority) from public;

-- The ticket fields run with the caller's rights: a customer's fields
-- (business minutes left, at risk) use the targets of the ticket's
-- organization even when the customer has left it, without their reading
-- that organization's row.
create or replace function app_private.ticket_sla_policy(organization_id uuid, priority app_public.ticket_priority)
returns setof app_public.sla_policies
language sql
stable
security definer
rows 1
set search_path = pg_catalog, public, pg_temp
as $$
  select * from app_private.sla_policy_for(ticket_sla_policy.organization_id, ticket_sla_policy.priority);
$$;

comment on function app_private.ticket_sla_policy(uuid, app_public.ticket_priority) is
  'sla_policy_for with the owner''s rights, for the ticket fields the web roles read (a customer sees the targets of their ticket''s organization, never its row).';

revoke all on function app_private.ticket_sla_policy(uuid, app_public.ticket_priority) from public;
grant execute on function app_private.ticket_sla_policy(uuid, app_public.ticket_priority)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--! split: 210-sla-targets-of-the-ticket-s-organization.sql
-- Every SLA computation takes its targets from app_private.sla_policy_for
-- (the ticket's organization's row, else the default), in place of a direct
-- read of sla_policies by priority: the row triggers, the set-based
-- recomputation, the event recorder and the ticket fields. The bodies are
-- those of migrations 000024, 000029 and 000036 with that one change, and a
-- change of a ticket's organization now recomputes its due times like a
-- change of priority (the organization may have other targets).

create or replace function app_private.tg_tickets_sla_due_times()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.tg_tickets_sla_due_times() is
  'Trigger: sets first_response_due_at and resolution_due_at, in business time of the calendar of the policy that holds for it (sla_policy_for), when a ticket is created and when its priority, organization, status or first reply changes (null when no policy holds, or while a pausing status holds the clock short of its target, when the seconds left are kept in *_paused_seconds_left and added back on leaving the pause).';

create or replace function app_private.recompute_sla_due_times(calendar_ids uuid[] default null)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.recompute_sla_due_times(uuid[]) is
  'Recomputes the stored SLA due times, and the seconds left of paused clocks, of every unfinished ticket whose policy (sla_policy_for) uses one of the calendars (all calendars when null), in one statement; returns how many tickets changed.';

create or replace function app_private.tg_tickets_sla_at_risk()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

comment on function app_private.tg_tickets_sla_at_risk() is
  'Trigger: sets first_response_at_risk_at (null once replied) and resolution_at_risk_at whenever a due time is set or changes, or the first reply comes (after the due times are computed, by the row trigger or the set-based recomputation).';

-- The row triggers run on a change of organization too.
drop trigger if exists _250_sla_due_times_update on app_public.tickets;
create trigger _250_sla_due_times_update
  before update on app_public.tickets
  for each row
  when (
    old.priority is distinct from new.priority
    or old.organization_id is distinct from new.organization_id
    or old.status is distinct from new.status
    -- A first reply while the clock was paused: the first-response due time
    -- counts on from the reply (a reply while it ran leaves it as it was).
    or (old.first_responded_at is null and new.first_responded_at is not null and new.first_response_due_at is null)
  )
  execute function app_private.tg_tickets_sla_due_times();

drop trigger if exists _260_sla_at_risk_update on app_public.tickets;
create trigger _260_sla_at_risk_update
  before update on app_public.tickets
  for each row
  when (
    old.first_response_due_at is distinct from new.first_response_due_at
    or old.resolution_due_at is distinct from new.resolution_due_at
    or old.priority is distinct from new.priority
    or old.organization_id is distinct from new.organization_id
    or old.first_responded_at is distinct from new.first_responded_at
  )
  execute function app_private.tg_tickets_sla_at_risk();

--------------------------------------------------------------------------------
-- Ticket fields: the targets of the policy that holds for the ticket
--------------------------------------------------------------------------------
-- Through ticket_sla_policy, the rule with the owner's rights. All are
-- SQL-standard bodies (begin atomic): their references are resolved when
-- they are created, so the web roles call it without usage on the
-- app_private schema.
create or replace function app_public.tickets_first_response_business_minutes_elapsed(t app_public.tickets)
returns integer
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select floor(app_private.sla_elapsed_minutes(
    p.calendar_id,
    app_private.ticket_sla_active_time(t.id, t.created_at, t.status, t.status_changed_at, 'first_response', t.first_responded_at),
    coalesce(t.first_responded_at, t.resolved_at, t.closed_at, now())
  ))::integer
  from app_private.ticket_sla_policy(t.organization_id, t.priority) as p;
end;

comment on function app_public.tickets_first_response_business_minutes_elapsed(app_public.tickets) is
  'Whole business minutes the first-response clock has run: since creation, on the policy''s calendar, not counting paused statuses, until the first public staff reply (or resolution/closing, or now).';

create or replace function app_public.tickets_first_response_business_minutes_left(t app_public.tickets)
returns integer
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select p.first_response_minutes - app_public.tickets_first_response_business_minutes_elapsed(t)
  from app_private.ticket_sla_policy(t.organization_id, t.priority) as p;
end;

comment on function app_public.tickets_first_response_business_minutes_left(app_public.tickets) is
  'Business minutes left of the first-response target (negative when overdue by that many), frozen while the clock is paused or stopped.';

create or replace function app_public.tickets_resolution_business_minutes_elapsed(t app_public.tickets)
returns integer
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select floor(app_private.sla_elapsed_minutes(
    p.calendar_id,
    app_private.ticket_sla_active_time(t.id, t.created_at, t.status, t.status_changed_at, 'resolution', null),
    coalesce(t.resolved_at, t.closed_at, now())
  ))::integer
  from app_private.ticket_sla_policy(t.organization_id, t.priority) as p;
end;

comment on function app_public.tickets_resolution_business_minutes_elapsed(app_public.tickets) is
  'Whole business minutes the resolution clock has run: since creation, on the policy''s calendar, not counting paused statuses, until resolution (or closing, or now).';

create or replace function app_public.tickets_resolution_business_minutes_left(t app_public.tickets)
returns integer
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select p.resolution_minutes - app_public.tickets_resolution_business_minutes_elapsed(t)
  from app_private.ticket_sla_policy(t.organization_id, t.priority) as p;
end;

comment on function app_public.tickets_resolution_business_minutes_left(app_public.tickets) is
  'Business minutes left of the resolution target (negative when overdue by that many), frozen while the clock is paused or stopped.';

create or replace function app_public.tickets_first_response_at_risk(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select t.first_response_due_at is not null
    and t.first_responded_at is null
    and t.status not in ('resolved', 'closed')
    and now() <= t.first_response_due_at
    and (
      select app_public.business_minutes_between(p.calendar_id, now(), t.first_response_due_at) * 4 <= p.first_response_minutes
      from app_private.ticket_sla_policy(t.organization_id, t.priority) as p
    );
end;

comment on function app_public.tickets_first_response_at_risk(app_public.tickets) is
  'True while no staff reply has been posted, the first-response deadline has not passed, and at most a quarter of its business minutes remains until it.';

create or replace function app_public.tickets_resolution_at_risk(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select t.resolution_due_at is not null
    and t.status not in ('resolved', 'closed')
    and now() <= t.resolution_due_at
    and (
      select app_public.business_minutes_between(p.calendar_id, now(), t.resolution_due_at) * 4 <= p.resolution_minutes
      from app_private.ticket_sla_policy(t.organization_id, t.priority) as p
    );
end;

comment on function app_public.tickets_resolution_at_risk(app_public.tickets) is
  'True while the ticket is unresolved, the resolution deadline has not passed, and at most a quarter of its business minutes remains until it.';

--! split: 220-sla-events-name-the-organization.sql
-- SLA events name the ticket's organization at the event, and the weekly
-- compliance report counts per organization too (the issue's "per
-- organization, if present"). Events recorded before this migration have
-- none: events are never rewritten, and the ticket's organization then is
-- not known for certain (it may have changed since).

alter table app_public.sla_events add column if not exists organization_id uuid;

comment on column app_public.sla_events.organization_id is
  'The organization the ticket was filed for at the event (null: none, or an event recorded before events named it).';

-- sla_events may be big: the key is added without a scan (the migration after
-- this one validates it, in its own transaction, without blocking writes).
-- Organizations are never deleted (they are deactivated), so the key needs no
-- index of its own.
alter table app_public.sla_events drop constraint if exists sla_events_organization_id_fkey;
alter table app_public.sla_events
  add constraint sla_events_organization_id_fkey
  foreign key (organization_id) references app_public.organizations (id) not valid;

create or replace function app_private.record_sla_events(ticket_ids uuid[] default null)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
        and app_public.business_minutes_between(p.calendar_id, now(), c.due_at) * 4 <= c.target then 'at_risk'
    end::app_public.sla_event_kind as kind
  ) as k
  where k.kind is not null
  on conflict on constraint sla_events_once do nothing;
  get diagnostics recorded = row_count;
  return recorded;
end;
$$;

comment on function app_private.record_sla_events(uuid[]) is
  'Records the SLA events due now (met, breached, at risk) of the given tickets, or, with null (the sla_clock job, every minute), of every unfinished ticket whose at-risk instant has passed, however far its due time; each once per clock, kind and due time. With null it first extends the materialized business time of calendars whose horizon nears its end. Returns how many it recorded.';


--------------------------------------------------------------------------------
-- Reporting: compliance per week, priority, agent, calendar and organization
--------------------------------------------------------------------------------
-- The new columns come last (a view's existing columns keep their places).
create or replace view app_reporting.sla_event_compliance as
select
  (date_trunc('week', e.occurred_at at time zone 'UTC'))::date as week_start,
  to_char(e.occurred_at at time zone 'UTC', 'IYYY-"W"IW') as iso_week,
  e.clock::text as clock,
  e.priority::text as priority,
  e.agent_id,
  e.calendar_id,
  c.name as calendar_name,
  count(*) filter (where e.kind = 'met')::integer as met,
  count(*) filter (where e.kind = 'breached')::integer as breached,
  count(*) filter (where e.kind = 'at_risk')::integer as at_risk,
  round(
    count(*) filter (where e.kind = 'met')::numeric
      / nullif(count(*) filter (where e.kind in ('met', 'breached')), 0),
    4
  ) as compliance,
  e.organization_id,
  o.name as organization_name
from app_public.sla_events as e
join app_public.business_calendars as c on c.id = e.calendar_id
left join app_public.organizations as o on o.id = e.organization_id
group by 1, 2, 3, 4, 5, 6, 7, e.organization_id, o.name;

comment on view app_reporting.sla_event_compliance is
  'SLA outcomes on business time from the SLA events, per ISO week of the event (UTC), clock, priority, agent, calendar and organization. Compliance = met / (met + breached). Events are never rewritten, so a later change of policy or calendar leaves past weeks as they were.';
comment on column app_reporting.sla_event_compliance.organization_id is
  'The organization the tickets were filed for at the events (null: none, or events recorded before events named it).';
comment on column app_reporting.sla_event_compliance.organization_name is 'Its name.';
