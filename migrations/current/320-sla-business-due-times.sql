-- SLA due times on business time: a clock runs from the ticket's creation,
-- only while its status does not pause it (sla_pause_statuses, read from the
-- append-only status history), and only in the business time of its
-- policy's calendar. Stored due times are recomputed on every status or
-- priority change and, set-based for unfinished tickets, when a policy,
-- calendar or pause rule changes.

--------------------------------------------------------------------------------
-- When the status last changed: the instant the status history records
--------------------------------------------------------------------------------
-- A nullable column without a default is added without rewriting the table.
alter table app_public.tickets add column if not exists status_changed_at timestamptz;

comment on column app_public.tickets.status_changed_at is
  E'@behavior -insert -update\nWhen the ticket entered its current status (the changedAt of its newest status history row); null for tickets older than this column.';

create or replace function app_private.tg_tickets_status_history()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  insert into app_public.ticket_status_history (ticket_id, from_status, to_status, changed_by, changed_at, note)
  values (
    new.id,
    case when tg_op = 'UPDATE' then old.status end,
    new.status,
    app_private.current_user_id(),
    -- Creation is dated like the ticket; a change at the instant the ticket
    -- row recorded (the wall clock, so several changes in one transaction
    -- still come out in order), which its SLA due times were computed with.
    case when tg_op = 'INSERT' then new.created_at else coalesce(new.status_changed_at, clock_timestamp()) end,
    -- transition_ticket and the automatic changes pass their note this way.
    nullif(current_setting('app.status_note', true), '')
  );
  return null;
end;
$$;

comment on function app_private.tg_tickets_status_history() is
  'Trigger: writes one ticket_status_history row for the creation and for every status change of a ticket, whoever or whatever made it, dated by tickets.status_changed_at.';

--------------------------------------------------------------------------------
-- Pure pieces: active time of a clock, due instant, elapsed business time
--------------------------------------------------------------------------------
create or replace function app_private.sla_active_time(
  created_at timestamptz,
  statuses app_public.ticket_status[],
  changed_ats timestamptz[],
  clock app_public.sla_clock,
  responded_at timestamptz default null
)
returns tstzmultirange
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  with timeline as (
    select
      u.status,
      u.at,
      u.ord,
      -- null: unbounded (the current status holds from then on).
      lead(u.at) over (order by u.at, u.ord) as next_at,
      -- Position of the last status that is not resolved or closed.
      max(case when u.status not in ('resolved', 'closed') then u.ord end) over () as last_working
    from unnest(sla_active_time.statuses, sla_active_time.changed_ats) with ordinality as u (status, at, ord)
  ),
  stop as (
    -- The clock stops for good when the ticket entered its final run of
    -- resolved/closed statuses (or, for the first response, at the reply):
    -- from then on it counts as running, so the due time stays the one the
    -- ticket was judged by.
    select least(
      (select min(t.at) from timeline as t where t.ord > coalesce(t.last_working, 0)),
      case when sla_active_time.clock = 'first_response' then sla_active_time.responded_at end
    ) as at
  )
  select (
    coalesce(
      range_agg(tstzrange(t.at, t.next_at)) filter (
        -- The creation row never pauses: a ticket created directly in a later
        -- status (an import) runs its clock until its first recorded change.
        where t.ord = 1 or not exists (
          select 1 from app_public.sla_pause_statuses as p
          where p.status = t.status and p.clock = sla_active_time.clock
        )
      ),
      '{}'::tstzmultirange
    )
    + coalesce((select tstzmultirange(tstzrange(stop.at, null)) from stop where stop.at is not null), '{}'::tstzmultirange)
  ) * tstzmultirange(tstzrange(sla_active_time.created_at, null))
  from timeline as t;
end;

comment on function app_private.sla_active_time(timestamptz, app_public.ticket_status[], timestamptz[], app_public.sla_clock, timestamptz) is
  'The time an SLA clock runs: from created_at on, every stretch of the status timeline (statuses[i] from changed_ats[i] to the next change, the last one open-ended) whose status does not pause the clock (sla_pause_statuses; the creation row never pauses); from the instant the clock stopped for good (the ticket entered its final run of resolved/closed statuses, or for the first response the reply at responded_at) it counts as running, so a finished ticket keeps the due time it was judged by.';

create or replace function app_private.sla_due_at(calendar_id uuid, target_minutes numeric, active tstzmultirange)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  running_from timestamptz;
  finished tstzmultirange;
  counted tstzmultirange;
  remaining numeric := target_minutes * 60;
  stretch tstzrange;
  stretch_seconds numeric;
begin
  if calendar_id is null or target_minutes is null then
    return null;
  end if;
  -- The open-ended stretch (the clock runs now), and the finished ones before it.
  select lower(r) into running_from from unnest(active) as r where upper_inf(r);
  finished := case
    when running_from is null then active
    else active - tstzmultirange(tstzrange(running_from, null))
  end;
  if not isempty(finished) then
    -- Business time of all finished stretches in one pass over the calendar.
    counted := app_private.business_spans(calendar_id, lower(finished), upper(finished)) * finished;
    for stretch in select r from unnest(counted) as r order by lower(r) loop
      stretch_seconds := extract(epoch from upper(stretch) - lower(stretch));
      if stretch_seconds >= remaining then
        return lower(stretch) + make_interval(secs => remaining);
      end if;
      remaining := remaining - stretch_seconds;
    end loop;
  end if;
  if running_from is null then
    -- Paused now, target not reached: no due time until the clock runs again.
    return null;
  end if;
  return app_public.add_business_minutes(calendar_id, running_from, remaining / 60);
end;
$$;

comment on function app_private.sla_due_at(uuid, numeric, tstzmultirange) is
  'The instant at which target_minutes business minutes of the calendar have passed within the active time; null while the clock is paused short of the target.';

create or replace function app_private.sla_elapsed_minutes(calendar_id uuid, active tstzmultirange, until_at timestamptz)
returns numeric
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select coalesce(sum(app_public.business_minutes_between(
    sla_elapsed_minutes.calendar_id, lower(r), least(upper(r), sla_elapsed_minutes.until_at)
  )), 0)
  from unnest(sla_elapsed_minutes.active) as r
  where lower(r) < sla_elapsed_minutes.until_at;
end;

comment on function app_private.sla_elapsed_minutes(uuid, tstzmultirange, timestamptz) is
  'Business minutes of the calendar within the active time before until_at.';

create or replace function app_private.ticket_sla_active_time(
  ticket_id uuid,
  created_at timestamptz,
  status app_public.ticket_status,
  status_since timestamptz,
  clock app_public.sla_clock,
  responded_at timestamptz
)
returns tstzmultirange
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select app_private.sla_active_time(
    ticket_sla_active_time.created_at,
    coalesce(array_agg(x.status order by x.at, x.ord), '{}'),
    coalesce(array_agg(x.at order by x.at, x.ord), '{}'),
    ticket_sla_active_time.clock,
    ticket_sla_active_time.responded_at
  )
  from (
    select h.to_status as status, h.changed_at as at, 0 as ord
    from app_public.ticket_status_history as h
    where h.ticket_id = ticket_sla_active_time.ticket_id
      and h.changed_at < coalesce(ticket_sla_active_time.status_since, 'infinity')
    union all
    -- The change being made (its history row is written after the ticket row).
    select ticket_sla_active_time.status, ticket_sla_active_time.status_since, 1
    where ticket_sla_active_time.status_since is not null
  ) as x;
end;

comment on function app_private.ticket_sla_active_time(uuid, timestamptz, app_public.ticket_status, timestamptz, app_public.sla_clock, timestamptz) is
  'A ticket''s active time for an SLA clock (sla_active_time), from its status history up to status_since and its current status from then on.';

revoke all on function app_private.sla_active_time(timestamptz, app_public.ticket_status[], timestamptz[], app_public.sla_clock, timestamptz) from public;
revoke all on function app_private.sla_due_at(uuid, numeric, tstzmultirange) from public;
revoke all on function app_private.sla_elapsed_minutes(uuid, tstzmultirange, timestamptz) from public;
revoke all on function app_private.ticket_sla_active_time(uuid, timestamptz, app_public.ticket_status, timestamptz, app_public.sla_clock, timestamptz) from public;
-- The ticket fields (elapsed and remaining business minutes) run with the
-- caller's rights and call these through pre-parsed bodies.
grant execute on function app_private.sla_active_time(timestamptz, app_public.ticket_status[], timestamptz[], app_public.sla_clock, timestamptz),
  app_private.sla_elapsed_minutes(uuid, tstzmultirange, timestamptz),
  app_private.ticket_sla_active_time(uuid, timestamptz, app_public.ticket_status, timestamptz, app_public.sla_clock, timestamptz)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Stored due times
--------------------------------------------------------------------------------
create or replace function app_private.sla_clock_runs_in(status app_public.ticket_status, clock app_public.sla_clock)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select sla_clock_runs_in.status not in ('resolved', 'closed')
    and not exists (
      select 1 from app_public.sla_pause_statuses as p
      where p.status = sla_clock_runs_in.status and p.clock = sla_clock_runs_in.clock
    );
end;

comment on function app_private.sla_clock_runs_in(app_public.ticket_status, app_public.sla_clock) is
  'True when a ticket in this status is working time for the clock: not paused by sla_pause_statuses, not resolved or closed.';

revoke all on function app_private.sla_clock_runs_in(app_public.ticket_status, app_public.sla_clock) from public;

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
begin
  if tg_op = 'INSERT' then
    new.status_changed_at := new.created_at;
  elsif old.status is distinct from new.status then
    new.status_changed_at := clock_timestamp();
  end if;

  select p.* into sla
  from app_public.sla_policies as p
  where p.priority = new.priority;

  -- Due times count from creation, also after a priority change: raising the
  -- priority of an old ticket makes it due (or overdue) sooner.
  everything := tg_op = 'INSERT' or old.priority is distinct from new.priority;

  -- A status change only matters to a clock that stops or starts running
  -- (what the full computation from the history would find anyway): from
  -- working time into working time or into resolved/closed (where the clock
  -- stops for good and counts as running) nothing moves; from working time
  -- into a pause the due time stays if it was reached already, else there is
  -- none. Anything else (leaving a pause, reopening) is computed in full.
  if not everything and old.status is distinct from new.status then
    was_running := app_private.sla_clock_runs_in(old.status, 'first_response');
    goes_on := app_private.sla_clock_runs_in(new.status, 'first_response') or new.status in ('resolved', 'closed');
    pauses := not goes_on;
  end if;
  if everything
    or (old.first_responded_at is null and new.first_responded_at is not null and new.first_response_due_at is null)
    or (old.first_responded_at is null and old.status is distinct from new.status and not was_running)
  then
    new.first_response_due_at := app_private.sla_due_at(
      sla.calendar_id, sla.first_response_minutes,
      app_private.ticket_sla_active_time(new.id, new.created_at, new.status, new.status_changed_at, 'first_response', new.first_responded_at)
    );
  elsif old.first_responded_at is null and old.status is distinct from new.status and pauses
    and not coalesce(new.first_response_due_at <= new.status_changed_at, false) then
    new.first_response_due_at := null;
  end if;

  if not everything and old.status is distinct from new.status then
    was_running := app_private.sla_clock_runs_in(old.status, 'resolution');
    goes_on := app_private.sla_clock_runs_in(new.status, 'resolution') or new.status in ('resolved', 'closed');
    pauses := not goes_on;
  end if;
  if everything or (old.status is distinct from new.status and not was_running) then
    new.resolution_due_at := app_private.sla_due_at(
      sla.calendar_id, sla.resolution_minutes,
      app_private.ticket_sla_active_time(new.id, new.created_at, new.status, new.status_changed_at, 'resolution', null)
    );
  elsif old.status is distinct from new.status and pauses
    and not coalesce(new.resolution_due_at <= new.status_changed_at, false) then
    new.resolution_due_at := null;
  end if;
  return new;
end;
$$;

comment on function app_private.tg_tickets_sla_due_times() is
  'Trigger: sets first_response_due_at and resolution_due_at, in business time of the priority''s policy calendar, when a ticket is created and when its priority, status or first reply changes (null when the priority has no policy, or while a pausing status holds the clock short of its target).';

drop trigger if exists _250_sla_due_times_update on app_public.tickets;
create trigger _250_sla_due_times_update
  before update on app_public.tickets
  for each row
  when (
    old.priority is distinct from new.priority
    or old.status is distinct from new.status
    -- A first reply while the clock was paused: the first-response due time
    -- counts on from the reply (a reply while it ran leaves it as it was).
    or (old.first_responded_at is null and new.first_responded_at is not null and new.first_response_due_at is null)
  )
  execute function app_private.tg_tickets_sla_due_times();

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
    join app_public.sla_policies as p on p.priority = t.priority
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
    join app_public.sla_policies as p on p.priority = t.priority
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
      coalesce(q.first_response_quick, app_private.sla_due_at(q.calendar_id, q.first_response_minutes,
        app_private.ticket_sla_active_time(q.id, q.created_at, q.status, q.status_changed_at, 'first_response', q.first_responded_at))) as first_response_due_at,
      coalesce(q.resolution_quick, app_private.sla_due_at(q.calendar_id, q.resolution_minutes,
        app_private.ticket_sla_active_time(q.id, q.created_at, q.status, q.status_changed_at, 'resolution', null))) as resolution_due_at
    from quick as q
  )
  update app_public.tickets as t
  set first_response_due_at = due.first_response_due_at,
      resolution_due_at = due.resolution_due_at
  from due
  where t.id = due.id
    and (t.first_response_due_at is distinct from due.first_response_due_at
      or t.resolution_due_at is distinct from due.resolution_due_at);
  get diagnostics changed = row_count;
  return changed;
end;
$$;

comment on function app_private.recompute_sla_due_times(uuid[]) is
  'Recomputes the stored SLA due times of every unfinished ticket whose policy uses one of the calendars (all calendars when null), in one statement; returns how many tickets changed.';

revoke all on function app_private.recompute_sla_due_times(uuid[]) from public;

create or replace function app_private.tg_sla_rules_changed()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  calendar_ids uuid[];
begin
  case tg_table_name
    when 'business_calendar_hours' then
      select array_agg(distinct v.calendar_id) into calendar_ids
      from changed_rows as r
      join app_public.business_calendar_versions as v on v.id = r.version_id;
    when 'business_calendar_versions' then
      select array_agg(distinct r.calendar_id) into calendar_ids from changed_rows as r;
    when 'business_calendar_holidays' then
      select array_agg(distinct r.calendar_id) into calendar_ids from changed_rows as r;
    else
      -- Policies and pause rules: every calendar.
      calendar_ids := null;
  end case;
  if tg_table_name in ('business_calendar_hours', 'business_calendar_versions', 'business_calendar_holidays')
    and calendar_ids is null then
    return null;
  end if;
  perform app_private.recompute_sla_due_times(calendar_ids);
  return null;
end;
$$;

comment on function app_private.tg_sla_rules_changed() is
  'Statement trigger: after an edit of calendar hours, versions, holidays, SLA policies or pause rules, recomputes the due times of the unfinished tickets it can affect.';

do $$
declare
  t text;
begin
  foreach t in array array['business_calendar_hours', 'business_calendar_versions', 'business_calendar_holidays', 'sla_policies', 'sla_pause_statuses'] loop
    execute format('drop trigger if exists _700_recompute_sla_insert on app_public.%I', t);
    execute format('drop trigger if exists _700_recompute_sla_update on app_public.%I', t);
    execute format('drop trigger if exists _700_recompute_sla_delete on app_public.%I', t);
    execute format(
      'create trigger _700_recompute_sla_insert after insert on app_public.%I referencing new table as changed_rows for each statement execute function app_private.tg_sla_rules_changed()', t);
    execute format(
      'create trigger _700_recompute_sla_update after update on app_public.%I referencing new table as changed_rows for each statement execute function app_private.tg_sla_rules_changed()', t);
    execute format(
      'create trigger _700_recompute_sla_delete after delete on app_public.%I referencing old table as changed_rows for each statement execute function app_private.tg_sla_rules_changed()', t);
  end loop;
end;
$$;

--------------------------------------------------------------------------------
-- Ticket fields: elapsed and remaining business minutes
--------------------------------------------------------------------------------
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
  from app_public.sla_policies as p
  where p.priority = t.priority;
end;

comment on function app_public.tickets_first_response_business_minutes_elapsed(app_public.tickets) is
  'Whole business minutes the first-response clock has run: since creation, on the policy''s calendar, not counting paused statuses, until the first public staff reply (or resolution/closing, or now).';

create or replace function app_public.tickets_first_response_business_minutes_left(t app_public.tickets)
returns integer
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select p.first_response_minutes - app_public.tickets_first_response_business_minutes_elapsed(t)
  from app_public.sla_policies as p
  where p.priority = t.priority;
$$;

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
  from app_public.sla_policies as p
  where p.priority = t.priority;
end;

comment on function app_public.tickets_resolution_business_minutes_elapsed(app_public.tickets) is
  'Whole business minutes the resolution clock has run: since creation, on the policy''s calendar, not counting paused statuses, until resolution (or closing, or now).';

create or replace function app_public.tickets_resolution_business_minutes_left(t app_public.tickets)
returns integer
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select p.resolution_minutes - app_public.tickets_resolution_business_minutes_elapsed(t)
  from app_public.sla_policies as p
  where p.priority = t.priority;
$$;

comment on function app_public.tickets_resolution_business_minutes_left(app_public.tickets) is
  'Business minutes left of the resolution target (negative when overdue by that many), frozen while the clock is paused or stopped.';

grant execute on function app_public.tickets_first_response_business_minutes_elapsed(app_public.tickets),
  app_public.tickets_first_response_business_minutes_left(app_public.tickets),
  app_public.tickets_resolution_business_minutes_elapsed(app_public.tickets),
  app_public.tickets_resolution_business_minutes_left(app_public.tickets)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- At risk: less than a quarter of the target's business minutes left
--------------------------------------------------------------------------------
create or replace function app_public.tickets_first_response_at_risk(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select t.first_response_due_at is not null
    and t.first_responded_at is null
    and t.status not in ('resolved', 'closed')
    and now() <= t.first_response_due_at
    and (
      select app_public.business_minutes_between(p.calendar_id, now(), t.first_response_due_at) * 4 <= p.first_response_minutes
      from app_public.sla_policies as p
      where p.priority = t.priority
    );
$$;

comment on function app_public.tickets_first_response_at_risk(app_public.tickets) is
  'True while no staff reply has been posted, the first-response deadline has not passed, and at most a quarter of its business minutes remains until it.';

create or replace function app_public.tickets_resolution_at_risk(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select t.resolution_due_at is not null
    and t.status not in ('resolved', 'closed')
    and now() <= t.resolution_due_at
    and (
      select app_public.business_minutes_between(p.calendar_id, now(), t.resolution_due_at) * 4 <= p.resolution_minutes
      from app_public.sla_policies as p
      where p.priority = t.priority
    );
$$;

comment on function app_public.tickets_resolution_at_risk(app_public.tickets) is
  'True while the ticket is unresolved, the resolution deadline has not passed, and at most a quarter of its business minutes remains until it.';
