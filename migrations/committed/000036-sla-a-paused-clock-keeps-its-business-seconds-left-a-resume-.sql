--! Previous: sha1:c543d0d7bf590b8f8078a0434915a888540663d7
--! Hash: sha1:5c89d1d84a2a7d77ab8d77e100af0dce3dbb5671
--! Message: SLA: a paused clock keeps its business seconds left, a resume adds them; the active time built once; history read from creation; events only when at-risk instants move

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 150-sla-active-time-from-creation.sql
-- A status change's SLA recomputation reads the ticket's history from its
-- creation on.
--
-- ticket_sla_active_time runs with one generic plan, pruned at run time by
-- `changed_at < status_since` only: every monthly partition before the
-- ticket's creation was still probed (26 index probes for a ticket of this
-- month at two years of history, twice per resume, once per clock). A
-- ticket's status history starts at its creation (the constraint
-- tickets_status_changed_after_created and the history trigger, migration
-- 000029), so `changed_at >= created_at` hides nothing and prunes the months
-- before it, as Ticket.ticketStatusHistories already does.

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
set plan_cache_mode = force_generic_plan
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
      and h.changed_at >= ticket_sla_active_time.created_at
      and h.changed_at < coalesce(ticket_sla_active_time.status_since, 'infinity')
    union all
    -- The change being made (its history row is written after the ticket row).
    select ticket_sla_active_time.status, ticket_sla_active_time.status_since, 1
    where ticket_sla_active_time.status_since is not null
  ) as x;
end;

comment on function app_private.ticket_sla_active_time(uuid, timestamptz, app_public.ticket_status, timestamptz, app_public.sla_clock, timestamptz) is
  'A ticket''s active time for an SLA clock (sla_active_time), from its status history (the months from created_at on) up to status_since and its current status from then on.';

--! split: 155-sla-active-time-built-once.sql
-- An SLA clock's active time built once, not grown one stretch at a time.
--
-- sla_active_time added each running stretch to a multirange as it walked
-- the status timeline; every addition copies the multirange, so a ticket
-- with n status rows cost n² (a ticket paused and resumed a hundred times,
-- as the benchmark's moved tickets are, spent most of a resume there). The
-- stretches are now collected in an array and the multirange is built from
-- them once, which merges adjacent stretches the same way.

create or replace function app_private.sla_active_time(
  created_at timestamptz,
  statuses app_public.ticket_status[],
  changed_ats timestamptz[],
  clock app_public.sla_clock,
  responded_at timestamptz default null
)
returns tstzmultirange
language plpgsql
stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  pausing app_public.ticket_status[];
  -- Position of the last status that is not resolved or closed.
  last_working bigint := 0;
  stop_at timestamptz;
  stretches tstzrange[] := '{}';
  previous_at timestamptz;
  previous_runs boolean := false;
  change record;
begin
  select coalesce(array_agg(p.status), '{}') into pausing
  from app_public.sla_pause_statuses as p
  where p.clock = sla_active_time.clock;

  select coalesce(max(u.ord), 0) into last_working
  from unnest(statuses, changed_ats) with ordinality as u (status, at, ord)
  where u.status not in ('resolved', 'closed');

  for change in
    select u.status, u.at, u.ord
    from unnest(statuses, changed_ats) with ordinality as u (status, at, ord)
    order by u.at, u.ord
  loop
    -- The previous status held until this change.
    if previous_runs then
      stretches := stretches || tstzrange(previous_at, change.at);
    end if;
    -- The clock stops for good when the ticket entered its final run of
    -- resolved/closed statuses.
    if change.ord > last_working and change.at is not null and (stop_at is null or change.at < stop_at) then
      stop_at := change.at;
    end if;
    previous_at := change.at;
    -- The creation row never pauses: a ticket created directly in a later
    -- status (an import) runs its clock until its first recorded change.
    previous_runs := change.ord = 1 or change.status is null or not (change.status = any (pausing));
  end loop;
  if previous_runs then
    stretches := stretches || tstzrange(previous_at, null);
  end if;

  -- From the stop (or, for the first response, the reply) it counts as
  -- running, so a finished ticket keeps the due time it was judged by.
  stop_at := least(stop_at, case when clock = 'first_response' then responded_at end);
  if stop_at is not null then
    stretches := stretches || tstzrange(stop_at, null);
  end if;
  return tstzmultirange(variadic stretches) * tstzmultirange(tstzrange(created_at, null));
end;
$$;

--! split: 160-sla-clock-paused-seconds-left.sql
-- A paused SLA clock keeps the business seconds it has left, so leaving the
-- pause costs two index probes instead of a walk over the status history.
--
-- Until now a ticket leaving a pause (waiting on the customer, back in
-- progress) recomputed each clock in full: its status history read, every
-- finished stretch of running time measured with two probes of the
-- materialized business time, then the remaining minutes added from the
-- resume. That cost grows with the pauses a ticket has had (a ticket paused
-- and resumed seven times took about 1 ms more per resume than on its first)
-- and made a pause and resume run at 0.7 of a status change without SLA work.
--
-- Now the pause records, per clock, the business seconds left until the due
-- time it had (the running total at the due time less the running total at
-- the pause, both materialized), and the resume adds them to the running
-- total at the resume: the same instant the full computation finds, because
-- the due time was the first instant at which the running time reached the
-- target. The history stays the definition: the full computation
-- (app_private.sla_clock_state) gives the due time and the seconds left
-- alike, is used whenever a probe falls outside the materialized horizon,
-- on creation, on priority changes and on every calendar or rule edit
-- (recompute_sla_due_times), and `recompute_sla_due_times()` changing
-- nothing proves the stored values true.

--------------------------------------------------------------------------------
-- The stored seconds left
--------------------------------------------------------------------------------
-- Nullable without a default: adding them rewrites nothing.
alter table app_public.tickets add column if not exists first_response_paused_seconds_left numeric;
alter table app_public.tickets add column if not exists resolution_paused_seconds_left numeric;

comment on column app_public.tickets.first_response_paused_seconds_left is
  E'@behavior -*\nWhile the first-response clock is paused short of its target: the business seconds left until it is reached (the due time is null then); null otherwise (also for a ticket paused before they were kept: its resume is computed in full). Kept by the SLA triggers and recompute_sla_due_times, so that leaving the pause needs no walk over the status history.';
comment on column app_public.tickets.resolution_paused_seconds_left is
  E'@behavior -*\nWhile the resolution clock is paused short of its target: the business seconds left until it is reached (the due time is null then); null otherwise (also for a ticket paused before they were kept: its resume is computed in full). Kept by the SLA triggers and recompute_sla_due_times, so that leaving the pause needs no walk over the status history.';

--------------------------------------------------------------------------------
-- The full computation, giving both
--------------------------------------------------------------------------------
-- sla_due_at's walk, which also returns the seconds left when the clock is
-- paused short of its target. sla_due_at stays, as its due time.
create or replace function app_private.sla_clock_state(
  calendar_id uuid,
  target_minutes numeric,
  active tstzmultirange,
  out due_at timestamptz,
  out paused_seconds_left numeric
)
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
  seconds_from numeric;
  seconds_to numeric;
  materialized boolean;
begin
  if calendar_id is null or target_minutes is null then
    return;
  end if;
  -- The open-ended stretch (the clock runs now), and the finished ones before it.
  select lower(r) into running_from from unnest(active) as r where upper_inf(r);
  finished := case
    when running_from is null then active
    else active - tstzmultirange(tstzrange(running_from, null))
  end;
  if not isempty(finished) then
    -- Each finished stretch by two index probes of the materialized business
    -- time; a stretch outside its horizon sends the whole count to the
    -- computation on the fly.
    materialized := true;
    for stretch in select r from unnest(finished) as r order by lower(r) loop
      seconds_from := app_private.business_seconds_at(calendar_id, lower(stretch));
      seconds_to := app_private.business_seconds_at(calendar_id, upper(stretch));
      if seconds_from is null or seconds_to is null then
        materialized := false;
        remaining := target_minutes * 60;
        exit;
      end if;
      stretch_seconds := seconds_to - seconds_from;
      if stretch_seconds > 0 and stretch_seconds >= remaining then
        due_at := app_private.business_instant_at(calendar_id, seconds_from + remaining);
        return;
      end if;
      remaining := remaining - stretch_seconds;
    end loop;
    if not materialized then
      -- Business time of all finished stretches in one pass over the calendar.
      counted := app_private.business_spans(calendar_id, lower(finished), upper(finished)) * finished;
      for stretch in select r from unnest(counted) as r order by lower(r) loop
        stretch_seconds := extract(epoch from upper(stretch) - lower(stretch));
        if stretch_seconds >= remaining then
          due_at := lower(stretch) + make_interval(secs => remaining);
          return;
        end if;
        remaining := remaining - stretch_seconds;
      end loop;
    end if;
  end if;
  if running_from is null then
    -- Paused now, target not reached: no due time until the clock runs again.
    paused_seconds_left := remaining;
    return;
  end if;
  due_at := app_public.add_business_minutes(calendar_id, running_from, remaining / 60);
end;
$$;

comment on function app_private.sla_clock_state(uuid, numeric, tstzmultirange) is
  'An SLA clock from its active time: due_at, the instant at which target_minutes business minutes of the calendar have passed within it (null while the clock is paused short of the target), and paused_seconds_left, the business seconds still to run while it is paused short of the target (null otherwise).';

revoke all on function app_private.sla_clock_state(uuid, numeric, tstzmultirange) from public;

create or replace function app_private.sla_due_at(calendar_id uuid, target_minutes numeric, active tstzmultirange)
returns timestamptz
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select (app_private.sla_clock_state(sla_due_at.calendar_id, sla_due_at.target_minutes, sla_due_at.active)).due_at;
end;

--------------------------------------------------------------------------------
-- A pause keeps the seconds left, a resume adds them
--------------------------------------------------------------------------------
-- The business seconds from `from_at` to a due time at `due_at`; null when
-- either lies outside the materialized horizon (the caller then computes in
-- full).
create or replace function app_private.sla_seconds_until(calendar_id uuid, from_at timestamptz, due_at timestamptz)
returns numeric
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select app_private.business_seconds_at(sla_seconds_until.calendar_id, sla_seconds_until.due_at)
       - app_private.business_seconds_at(sla_seconds_until.calendar_id, sla_seconds_until.from_at);
end;

comment on function app_private.sla_seconds_until(uuid, timestamptz, timestamptz) is
  'Business seconds of the calendar from from_at to due_at, from the materialized running totals (two index probes); null outside the horizon.';

-- The instant `seconds` business seconds after `from_at`; null outside the
-- horizon.
create or replace function app_private.sla_instant_after(calendar_id uuid, from_at timestamptz, seconds numeric)
returns timestamptz
language sql
stable
set search_path = pg_catalog, public, pg_temp
begin atomic
  select app_private.business_instant_at(sla_instant_after.calendar_id,
    app_private.business_seconds_at(sla_instant_after.calendar_id, sla_instant_after.from_at) + sla_instant_after.seconds);
end;

comment on function app_private.sla_instant_after(uuid, timestamptz, numeric) is
  'The first instant at which seconds business seconds of the calendar have passed after from_at, from the materialized running totals (two index probes); null outside the horizon.';

revoke all on function app_private.sla_seconds_until(uuid, timestamptz, timestamptz) from public;
revoke all on function app_private.sla_instant_after(uuid, timestamptz, numeric) from public;

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
  'Trigger: sets first_response_due_at and resolution_due_at, in business time of the priority''s policy calendar, when a ticket is created and when its priority, status or first reply changes (null when the priority has no policy, or while a pausing status holds the clock short of its target, when the seconds left are kept in *_paused_seconds_left and added back on leaving the pause).';

--------------------------------------------------------------------------------
-- The set-based recomputation keeps them too
--------------------------------------------------------------------------------
-- As before, with the seconds left of paused clocks stored beside the due
-- times (and a ticket counted as changed when they differ). Tickets paused
-- before this migration hold null there: their resume is computed in full,
-- and the next recomputation (a calendar or rule edit) fills them in.
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
  'Recomputes the stored SLA due times, and the seconds left of paused clocks, of every unfinished ticket whose policy uses one of the calendars (all calendars when null), in one statement; returns how many tickets changed.';

--! split: 170-sla-events-when-at-risk-instants-move.sql
-- A status change looks for at-risk and breached SLA events only when it
-- moves an at-risk instant.
--
-- Until now every status change of a ticket whose at-risk instant had passed
-- ran record_sla_events, which found nothing new on all but the first: an
-- overdue ticket paused and resumed paid about 1 ms per change for a lookup
-- whose events were recorded long before. Those events come from time
-- passing, not from the write: when a change leaves both at-risk instants
-- where they were, whatever they bring was due before it, and the sla_clock
-- job (every minute) records it, as it does for tickets nobody writes to. A
-- change that moves an at-risk instant (a resume, a priority change) still
-- records at once what the new one brings, and a resolution, a closing or a
-- first reply their met or breached events, as before.

create or replace function app_private.tg_tickets_record_sla_events()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if new.status in ('resolved', 'closed')
    or (old.first_responded_at is null and new.first_responded_at is not null)
    or ((old.first_response_at_risk_at is distinct from new.first_response_at_risk_at
        or old.resolution_at_risk_at is distinct from new.resolution_at_risk_at)
      and least(new.first_response_at_risk_at, new.resolution_at_risk_at) <= now())
  then
    perform app_private.record_sla_events(array[new.id]);
  end if;
  return null;
end;
$$;

comment on function app_private.tg_tickets_record_sla_events() is
  'Trigger: after a reply, a resolution or a status change, records the SLA events it brings: met or breached on a first reply, a resolution or a closing; at risk or breached when the change moved an at-risk instant that has passed (those of unmoved instants come from the sla_clock job within a minute).';
