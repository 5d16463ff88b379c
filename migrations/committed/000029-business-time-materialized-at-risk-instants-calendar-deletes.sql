--! Previous: sha1:9bdefd33e6b1c8defefc75e92ce4e92368bcd4ac
--! Hash: sha1:c7380e12653cbd48db73a59cf9246de8760d5d23
--! Message: Business time materialized, at-risk instants, calendar deletes audited, search within sight, ticket history from creation

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 120-business-time-totals.sql
-- Business time materialized: each calendar's business time over a horizon
-- (400 days back, 800 days ahead of when it was last built), as stretches
-- with running totals of business seconds from the horizon's start. Business
-- minutes between two instants, and the instant N business minutes later,
-- become index probes instead of a walk over the calendar rows. The calendar
-- triggers rebuild a calendar's totals after every edit of its hours,
-- versions or holidays (in the same statement, before due times are
-- recomputed); the sla_clock job extends a horizon that nears its end.
-- Outside its horizon a calendar falls back to the computation on the fly,
-- which gives the same results.

create table if not exists app_private.business_time_horizons (
  calendar_id uuid primary key references app_public.business_calendars (id),
  from_at timestamptz not null,
  to_at timestamptz not null,
  constraint business_time_horizons_ordered check (from_at < to_at)
);

comment on table app_private.business_time_horizons is
  'The span of instants [from_at, to_at] over which a calendar''s business time is materialized in business_time_totals.';
comment on column app_private.business_time_horizons.calendar_id is 'The calendar.';
comment on column app_private.business_time_horizons.from_at is 'Start of the horizon: running totals count business seconds from here.';
comment on column app_private.business_time_horizons.to_at is 'End of the horizon.';

create table if not exists app_private.business_time_totals (
  calendar_id uuid not null references app_public.business_calendars (id),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  seconds_before numeric not null,
  seconds_after numeric not null,
  primary key (calendar_id, starts_at),
  constraint business_time_totals_ordered check (starts_at < ends_at)
);

comment on table app_private.business_time_totals is
  'A calendar''s business time within its horizon as maximal UTC stretches (app_private.business_spans), each with the business seconds from the horizon start to its start (seconds_before) and to its end (seconds_after).';
comment on column app_private.business_time_totals.calendar_id is 'The calendar.';
comment on column app_private.business_time_totals.starts_at is 'Start of the business stretch.';
comment on column app_private.business_time_totals.ends_at is 'End of the business stretch.';
comment on column app_private.business_time_totals.seconds_before is 'Business seconds from the horizon start to starts_at.';
comment on column app_private.business_time_totals.seconds_after is 'Business seconds from the horizon start to ends_at.';

-- Tables created in this migration: the build is instant.
-- squawk-ignore require-concurrent-index-creation
create index if not exists business_time_totals_after_idx on app_private.business_time_totals (calendar_id, seconds_after);

-- Internal: read and written only by the owner's functions (the owner is
-- not subject to row-level security; nobody else gets a row).
revoke all on app_private.business_time_horizons, app_private.business_time_totals from public;
alter table app_private.business_time_horizons enable row level security;
alter table app_private.business_time_totals enable row level security;

--------------------------------------------------------------------------------
-- Building
--------------------------------------------------------------------------------
create or replace function app_private.build_business_time(calendar_ids uuid[], from_at timestamptz default null, to_at timestamptz default null)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  horizon_from timestamptz := coalesce(from_at, date_trunc('day', now()) - interval '400 days');
  horizon_to timestamptz := coalesce(to_at, date_trunc('day', now()) + interval '800 days');
begin
  -- One builder per calendar at a time (an edit and the job).
  perform 1 from app_public.business_calendars as c where c.id = any (calendar_ids) order by c.id for no key update;
  delete from app_private.business_time_totals as s where s.calendar_id = any (calendar_ids);
  delete from app_private.business_time_horizons as h where h.calendar_id = any (calendar_ids);
  insert into app_private.business_time_horizons (calendar_id, from_at, to_at)
  select c.id, horizon_from, horizon_to
  from app_public.business_calendars as c
  where c.id = any (calendar_ids);
  insert into app_private.business_time_totals (calendar_id, starts_at, ends_at, seconds_before, seconds_after)
  select c.id, lower(r), upper(r),
    sum(extract(epoch from upper(r) - lower(r))) over w - extract(epoch from upper(r) - lower(r)),
    sum(extract(epoch from upper(r) - lower(r))) over w
  from app_public.business_calendars as c
  cross join lateral unnest(app_private.business_spans(c.id, horizon_from, horizon_to)) as r
  where c.id = any (calendar_ids)
  window w as (partition by c.id order by lower(r));
end;
$$;

comment on function app_private.build_business_time(uuid[], timestamptz, timestamptz) is
  'Materializes the business time of the calendars over [from_at, to_at] (default: 400 days before today to 800 days after) with running totals, replacing what was there.';

revoke all on function app_private.build_business_time(uuid[], timestamptz, timestamptz) from public;

create or replace function app_private.extend_business_time()
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  stale uuid[];
begin
  -- Calendars whose horizon ends within 400 days (or that have none yet).
  select array_agg(c.id) into stale
  from app_public.business_calendars as c
  left join app_private.business_time_horizons as h on h.calendar_id = c.id
  where h.to_at is null or h.to_at < now() + interval '400 days';
  if stale is null then
    return 0;
  end if;
  perform app_private.build_business_time(stale);
  return cardinality(stale);
end;
$$;

comment on function app_private.extend_business_time() is
  'Rebuilds the materialized business time of every calendar whose horizon ends within 400 days, or that has none; returns how many. Called by the sla_clock job.';

revoke all on function app_private.extend_business_time() from public;

--------------------------------------------------------------------------------
-- Probing
--------------------------------------------------------------------------------
-- The two probes are SQL-standard bodies without SET (names resolved when
-- created), so the planner inlines them into the statements that call them.
create or replace function app_private.business_seconds_at(calendar_id uuid, at_time timestamptz)
returns numeric
language sql
stable
begin atomic
  -- Business seconds from the horizon start to at_time; null outside the horizon.
  select coalesce((
      select s.seconds_before + least(extract(epoch from business_seconds_at.at_time - s.starts_at), s.seconds_after - s.seconds_before)
      from app_private.business_time_totals as s
      where s.calendar_id = h.calendar_id and s.starts_at <= business_seconds_at.at_time
      order by s.starts_at desc
      limit 1
    ), 0)
  from app_private.business_time_horizons as h
  where h.calendar_id = business_seconds_at.calendar_id
    and business_seconds_at.at_time between h.from_at and h.to_at;
end;

comment on function app_private.business_seconds_at(uuid, timestamptz) is
  'Business seconds of the calendar from its materialized horizon''s start to at_time (one index probe); null when at_time lies outside the horizon.';

revoke all on function app_private.business_seconds_at(uuid, timestamptz) from public;

create or replace function app_private.business_instant_at(calendar_id uuid, seconds numeric)
returns timestamptz
language sql
stable
begin atomic
  -- The first instant at which the running total reaches seconds: in the
  -- first stretch whose total at its end reaches it (a total reached exactly
  -- at a stretch's end gives that end).
  select s.starts_at + make_interval(secs => business_instant_at.seconds - s.seconds_before)
  from app_private.business_time_totals as s
  where s.calendar_id = business_instant_at.calendar_id
    and s.seconds_after >= business_instant_at.seconds
  order by s.seconds_after
  limit 1;
end;

comment on function app_private.business_instant_at(uuid, numeric) is
  'The first instant at which the calendar''s running total of business seconds (from its horizon''s start) reaches seconds (one index probe); null beyond the horizon.';

revoke all on function app_private.business_instant_at(uuid, numeric) from public;

--------------------------------------------------------------------------------
-- The public functions: index probes inside the horizon, the computation on
-- the fly outside it
--------------------------------------------------------------------------------
create or replace function app_private.business_minutes_computed(calendar_id uuid, from_at timestamptz, to_at timestamptz)
returns numeric
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select case
    when from_at <= to_at then app_private.multirange_minutes(app_private.business_spans(calendar_id, from_at, to_at))
    else -app_private.multirange_minutes(app_private.business_spans(calendar_id, to_at, from_at))
  end;
$$;

comment on function app_private.business_minutes_computed(uuid, timestamptz, timestamptz) is
  'business_minutes_between computed on the fly from the calendar rows (outside the materialized horizon).';

revoke all on function app_private.business_minutes_computed(uuid, timestamptz, timestamptz) from public;

create or replace function app_public.business_minutes_between(calendar_id uuid, from_at timestamptz, to_at timestamptz)
returns numeric
language plpgsql
stable
-- Calendars are readable by every signed-in user; the owner's rights reach
-- the internal helpers.
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  seconds_from numeric := app_private.business_seconds_at(calendar_id, from_at);
  seconds_to numeric := app_private.business_seconds_at(calendar_id, to_at);
begin
  if seconds_from is not null and seconds_to is not null then
    -- Inside the materialized horizon: two index probes.
    return trim_scale((seconds_to - seconds_from) / 60);
  end if;
  return app_private.business_minutes_computed(calendar_id, from_at, to_at);
end;
$$;

create or replace function app_private.add_business_minutes_computed(calendar_id uuid, from_at timestamptz, minutes numeric)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  remaining numeric := minutes * 60;
  window_start timestamptz := from_at;
  -- A first window long enough for a working week of 40 hours in 168.
  window_length interval := greatest(interval '7 days', make_interval(mins => least(minutes, 10000000)::integer * 5));
  span tstzrange;
  span_seconds numeric;
begin
  if calendar_id is null or from_at is null or minutes is null then
    return null;
  end if;
  if minutes < 0 then
    raise exception using errcode = 'TKVAL', message = 'minutes must not be negative';
  end if;
  if remaining = 0 then
    return from_at;
  end if;

  -- Widening windows; a calendar open less than that within 50 years never
  -- reaches the target (null).
  while window_start < from_at + interval '50 years' loop
    for span in
      select r from unnest(app_private.business_spans(calendar_id, window_start, window_start + window_length)) as r order by lower(r)
    loop
      span_seconds := extract(epoch from upper(span) - lower(span));
      if span_seconds >= remaining then
        return lower(span) + make_interval(secs => remaining);
      end if;
      remaining := remaining - span_seconds;
    end loop;
    window_start := window_start + window_length;
    window_length := least(greatest(window_length * 2, interval '14 days'), interval '400 days');
  end loop;
  return null;
end;
$$;

comment on function app_private.add_business_minutes_computed(uuid, timestamptz, numeric) is
  'add_business_minutes computed on the fly from the calendar rows, in widening windows (outside the materialized horizon).';

revoke all on function app_private.add_business_minutes_computed(uuid, timestamptz, numeric) from public;

create or replace function app_public.add_business_minutes(calendar_id uuid, from_at timestamptz, minutes numeric)
returns timestamptz
language plpgsql
stable
-- Calendars are readable by every signed-in user; the owner's rights reach
-- the internal helpers.
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  seconds_from numeric;
  found_at timestamptz;
begin
  if calendar_id is not null and minutes > 0 then
    -- Inside the materialized horizon: two index probes.
    seconds_from := app_private.business_seconds_at(calendar_id, from_at);
    if seconds_from is not null then
      found_at := app_private.business_instant_at(calendar_id, seconds_from + minutes * 60);
      if found_at is not null then
        return found_at;
      end if;
    end if;
  end if;
  return app_private.add_business_minutes_computed(calendar_id, from_at, minutes);
end;
$$;

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
  seconds_from numeric;
  seconds_to numeric;
  materialized boolean;
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
        return app_private.business_instant_at(calendar_id, seconds_from + remaining);
      end if;
      remaining := remaining - stretch_seconds;
    end loop;
    if not materialized then
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
  end if;
  if running_from is null then
    -- Paused now, target not reached: no due time until the clock runs again.
    return null;
  end if;
  return app_public.add_business_minutes(calendar_id, running_from, remaining / 60);
end;
$$;

--------------------------------------------------------------------------------
-- Kept up to date by the calendar edits
--------------------------------------------------------------------------------
create or replace function app_private.tg_business_time_rebuild()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  calendar_ids uuid[];
begin
  case tg_table_name
    when 'business_calendars' then
      select array_agg(distinct r.id) into calendar_ids from changed_rows as r;
    when 'business_calendar_hours' then
      select array_agg(distinct v.calendar_id) into calendar_ids
      from changed_rows as r
      join app_public.business_calendar_versions as v on v.id = r.version_id;
    else
      select array_agg(distinct r.calendar_id) into calendar_ids from changed_rows as r;
  end case;
  if calendar_ids is not null then
    perform app_private.build_business_time(calendar_ids);
  end if;
  return null;
end;
$$;

comment on function app_private.tg_business_time_rebuild() is
  'Statement trigger: after an edit of calendars, hours, versions or holidays, rebuilds the materialized business time of the calendars it touched (before the due times are recomputed from it).';

do $$
declare
  t text;
begin
  -- _600: before the due-time recomputation (_700_recompute_sla_*), which reads it.
  foreach t in array array['business_calendars', 'business_calendar_hours', 'business_calendar_versions', 'business_calendar_holidays'] loop
    execute format('drop trigger if exists _600_business_time_insert on app_public.%I', t);
    execute format('drop trigger if exists _600_business_time_update on app_public.%I', t);
    execute format('drop trigger if exists _600_business_time_delete on app_public.%I', t);
    execute format(
      'create trigger _600_business_time_insert after insert on app_public.%I referencing new table as changed_rows for each statement execute function app_private.tg_business_time_rebuild()', t);
    -- A calendar's own row changes only its name.
    if t <> 'business_calendars' then
      execute format(
        'create trigger _600_business_time_update after update on app_public.%I referencing new table as changed_rows for each statement execute function app_private.tg_business_time_rebuild()', t);
      execute format(
        'create trigger _600_business_time_delete after delete on app_public.%I referencing old table as changed_rows for each statement execute function app_private.tg_business_time_rebuild()', t);
    end if;
  end loop;
end;
$$;

-- The calendars there are now.
select app_private.build_business_time(array_agg(c.id)) from app_public.business_calendars as c;

--! split: 121-sla-at-risk-instants.sql
-- At-risk instants: when a ticket's due times are set, the instant from which
-- at most a quarter of the target's business minutes remain until the due
-- time is stored with them. The sla_clock job picks, by one index, the
-- unfinished tickets whose at-risk instant has passed (overdue ones included,
-- as the instant is never after the due time), however far ahead their due
-- time was; before, it looked only at tickets due within a day. A status
-- change records SLA events only when it can bring one (resolved, closed, a
-- first reply, or a clock already at risk).

-- Nullable columns without a default are added without rewriting the table.
alter table app_public.tickets add column if not exists first_response_at_risk_at timestamptz;
alter table app_public.tickets add column if not exists resolution_at_risk_at timestamptz;

comment on column app_public.tickets.first_response_at_risk_at is
  E'@behavior -insert -update\nFrom when the first-response clock is at risk if it keeps running: at most a quarter of its business minutes then remain until firstResponseDueAt (null without a due time or once replied).';
comment on column app_public.tickets.resolution_at_risk_at is
  E'@behavior -insert -update\nFrom when the resolution clock is at risk if it keeps running: at most a quarter of its business minutes then remain until resolutionDueAt (null without a due time).';

create or replace function app_private.sla_at_risk_at(calendar_id uuid, target_minutes numeric, due_at timestamptz)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  due_seconds numeric;
  at_risk_seconds numeric;
begin
  if due_at is null or target_minutes is null or calendar_id is null then
    return null;
  end if;
  -- The first instant t with business_minutes_between(t, due_at) * 4 <= target:
  -- the running total of business seconds at due_at less a quarter of the target.
  due_seconds := app_private.business_seconds_at(calendar_id, due_at);
  at_risk_seconds := due_seconds - target_minutes * 15;
  if at_risk_seconds > 0 then
    return app_private.business_instant_at(calendar_id, at_risk_seconds);
  end if;
  -- Outside the materialized horizon: at risk as far as the job is
  -- concerned, which checks the business minutes left itself.
  return '-infinity';
end;
$$;

comment on function app_private.sla_at_risk_at(uuid, numeric, timestamptz) is
  'The instant from which at most a quarter of target_minutes business minutes of the calendar remain until due_at (-infinity when due_at lies outside the materialized business time: checked every time); null without a due time.';

revoke all on function app_private.sla_at_risk_at(uuid, numeric, timestamptz) from public;

create or replace function app_private.tg_tickets_sla_at_risk()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  sla app_public.sla_policies;
begin
  select p.* into sla from app_public.sla_policies as p where p.priority = new.priority;
  -- A replied ticket's first-response clock is done: never at risk again.
  new.first_response_at_risk_at := case when new.first_responded_at is null
    then app_private.sla_at_risk_at(sla.calendar_id, sla.first_response_minutes, new.first_response_due_at) end;
  new.resolution_at_risk_at := app_private.sla_at_risk_at(sla.calendar_id, sla.resolution_minutes, new.resolution_due_at);
  return new;
end;
$$;

comment on function app_private.tg_tickets_sla_at_risk() is
  'Trigger: sets first_response_at_risk_at (null once replied) and resolution_at_risk_at whenever a due time is set or changes, or the first reply comes (after the due times are computed, by the row trigger or the set-based recomputation).';

drop trigger if exists _260_sla_at_risk_insert on app_public.tickets;
create trigger _260_sla_at_risk_insert
  before insert on app_public.tickets
  for each row
  execute function app_private.tg_tickets_sla_at_risk();

drop trigger if exists _260_sla_at_risk_update on app_public.tickets;
create trigger _260_sla_at_risk_update
  before update on app_public.tickets
  for each row
  when (
    old.first_response_due_at is distinct from new.first_response_due_at
    or old.resolution_due_at is distinct from new.resolution_due_at
    or old.priority is distinct from new.priority
    or old.first_responded_at is distinct from new.first_responded_at
  )
  execute function app_private.tg_tickets_sla_at_risk();

-- The unfinished tickets that already have due times.
update app_public.tickets as t
set first_response_at_risk_at = case when t.first_responded_at is null
      then app_private.sla_at_risk_at(p.calendar_id, p.first_response_minutes, t.first_response_due_at) end,
    resolution_at_risk_at = app_private.sla_at_risk_at(p.calendar_id, p.resolution_minutes, t.resolution_due_at)
from app_public.sla_policies as p
where p.priority = t.priority
  and t.status in ('open', 'in_progress', 'waiting_on_customer')
  and (t.first_response_due_at is not null or t.resolution_due_at is not null)
  and t.first_response_at_risk_at is null
  and t.resolution_at_risk_at is null;

-- The job's scan: unfinished tickets by their earlier at-risk instant.
-- The index the clock job finds them by, tickets_unfinished_at_risk_idx, is
-- built concurrently in the migration after this one (tickets may be big).

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
  insert into app_public.sla_events (ticket_id, clock, kind, due_at, priority, agent_id, calendar_id)
  select t.id, c.clock, k.kind, c.due_at, t.priority, t.agent_id, p.calendar_id
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
  join app_public.sla_policies as p on p.priority = t.priority
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

create or replace function app_private.tg_tickets_record_sla_events()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- Only a resolution or closing (met or breached), a first reply (met or
  -- breached) or a clock whose at-risk instant has passed (at risk or
  -- breached) brings an event: a pause or a resume before that brings none.
  if new.status in ('resolved', 'closed')
    or (old.first_responded_at is null and new.first_responded_at is not null)
    or least(new.first_response_at_risk_at, new.resolution_at_risk_at) <= now()
  then
    perform app_private.record_sla_events(array[new.id]);
  end if;
  return null;
end;
$$;

--! split: 122-audit-calendar-deletes.sql
-- Deletes of calendar rows are audited: removing opening hours, a holiday, a
-- calendar version (with its hours) or a pause rule changes due times as much
-- as adding one, so the audit log keeps the removed row (old_data, no
-- new_data) with who removed it.

-- The log keeps rows for good; the wider rule checks new rows now and is
-- validated in the next migration (the old rule implies it).
alter table app_private.audit_log drop constraint if exists audit_log_operation;
alter table app_private.audit_log add constraint audit_log_operation
  check (operation in ('INSERT', 'UPDATE', 'DELETE')) not valid;

-- Dropping NOT NULL only relaxes the catalog; no scan, no rewrite. Only
-- deletes leave it null (the check below), and the one reader, the view
-- audit_log_entries, already exposes it as nullable.
-- squawk-ignore ban-drop-not-null
alter table app_private.audit_log alter column new_data drop not null;
alter table app_private.audit_log drop constraint if exists audit_log_new_data_present;
alter table app_private.audit_log add constraint audit_log_new_data_present
  check (operation = 'DELETE' or new_data is not null) not valid;

comment on column app_private.audit_log.operation is 'INSERT, UPDATE or DELETE.';
comment on column app_private.audit_log.new_data is 'Row after the change (null for a delete).';
comment on column app_public.audit_log_entries.operation is 'INSERT, UPDATE or DELETE.';
comment on column app_public.audit_log_entries.old_data is 'Row before an update or a delete (null for inserts).';
comment on column app_public.audit_log_entries.new_data is 'Row after the change (null for a delete).';

create or replace function app_private.tg_audit()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- The generated search vectors are derived data: left out of the log.
  new_row jsonb;
  old_row jsonb;
begin
  if tg_op in ('INSERT', 'UPDATE') then
    new_row := to_jsonb(new) - 'search';
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    old_row := to_jsonb(old) - 'search';
  end if;
  if tg_op = 'UPDATE' and old_row = new_row then
    return null;
  end if;

  insert into app_private.audit_log (actor_id, db_role, table_name, operation, record_id, old_data, new_data)
  values (
    app_private.jwt_user_id(),
    nullif(current_setting('role'), 'none'),
    tg_table_schema || '.' || tg_table_name,
    tg_op,
    (coalesce(new_row, old_row) ->> 'id')::uuid,
    old_row,
    new_row
  );
  return null;
end;
$$;

comment on function app_private.tg_audit() is
  'Trigger: records an insert, a real update (old and new values) or a delete (the removed row) in app_private.audit_log with the acting user and Postgres role.';

-- The calendar rows admins may remove: hours, holidays, versions (their hours
-- go with them, each audited), pause rules; policies and calendars are never
-- deleted through the API, but a removal by maintenance is recorded too.
do $$
declare
  t text;
begin
  foreach t in array array[
    'business_calendars', 'business_calendar_versions', 'business_calendar_hours', 'business_calendar_holidays',
    'sla_pause_statuses', 'sla_policies'
  ] loop
    execute format('drop trigger if exists _900_audit on app_public.%I', t);
    execute format('create trigger _900_audit after insert or update or delete on app_public.%I for each row execute function app_private.tg_audit()', t);
  end loop;
end;
$$;

--! split: 123-sla-active-time-loop.sql
-- The active time of an SLA clock in one pass over the status timeline: the
-- same stretches as the set-based query (window functions, range_agg, a
-- pause-rule lookup per row) it replaces, at a fraction of the cost on the
-- few rows of a ticket's history. A resume computes it for both clocks.

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
  active tstzmultirange := '{}';
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
      active := active + tstzmultirange(tstzrange(previous_at, change.at));
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
    active := active + tstzmultirange(tstzrange(previous_at, null));
  end if;

  -- From the stop (or, for the first response, the reply) it counts as
  -- running, so a finished ticket keeps the due time it was judged by.
  stop_at := least(stop_at, case when clock = 'first_response' then responded_at end);
  if stop_at is not null then
    active := active + tstzmultirange(tstzrange(stop_at, null));
  end if;
  return active * tstzmultirange(tstzrange(created_at, null));
end;
$$;

-- A ticket's timeline with one generic plan, pruned at run time: planning a
-- custom plan over every partition of the status history on each call cost
-- three times its execution. (An SQL-standard body, so the ticket fields,
-- which run with the caller's rights, still reach it without USAGE on
-- app_private.)
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
      and h.changed_at < coalesce(ticket_sla_active_time.status_since, 'infinity')
    union all
    -- The change being made (its history row is written after the ticket row).
    select ticket_sla_active_time.status, ticket_sla_active_time.status_since, 1
    where ticket_sla_active_time.status_since is not null
  ) as x;
end;

--! split: 140-search-within-sight.sql
-- Search matches only within what the caller may read.
--
-- Until now search_tickets matched through the GIN indexes of every ticket and
-- comment (app_private.search_matches, ignoring rights) and only then kept the
-- rows the caller's policies let through. A customer's search therefore cost
-- as much as the word's matches in everybody's tickets: a word found in the
-- tickets of thousands of other customers read thousands of buffers, an absent
-- word a few dozen, which both grows with the data and tells a customer, by
-- its time, whether other customers wrote a word.
--
-- Customers now search within the tickets their own policy returns: the
-- tickets policy (own, organizations with sight, cc) picks them through its
-- indexes (customer_id, organization_id, id), and only those tickets and
-- their comments are tested for the text (search_matches_within, by ticket,
-- never through the text indexes). As before, a comment counts only when the
-- comments policy lets the caller read it (no internal notes) and the ticket
-- only when the tickets policy does: nothing here restates who sees what. The
-- cost is that of the caller's own tickets and comments, the same for any word
-- (a word absent from the whole database costs what a word in every other
-- customer's ticket costs).
--
-- Staff keep the GIN matching of search_matches, filtered by their policies:
-- admins read everything, and an agent's sight (every open ticket plus their
-- own) is too wide to be read ticket by ticket. Their cost still follows the
-- word's matches in all tickets (docs/performance.md, "What is left").
--
-- Why not the text test as the caller: the match operator (@@) is not
-- leakproof, so PostgreSQL evaluates it only after a row's policy, on every
-- comment of the caller's tickets, each comment paying its policy's probe of
-- the ticket (twice the buffers of this shape, measured).

--------------------------------------------------------------------------------
-- The query text, checked once
--------------------------------------------------------------------------------
create or replace function app_private.search_query(query text)
returns tsquery
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  tsq tsquery;
begin
  if search_query.query is null or btrim(search_query.query) = '' then
    return null;
  end if;
  if char_length(search_query.query) > 500 then
    raise exception using errcode = 'TKVAL', message = 'The search text is too long (at most 500 characters)';
  end if;
  -- websearch syntax never fails: any input is just text ("quotes", or, -not).
  -- A query of stop words alone has no node and matches nothing.
  tsq := websearch_to_tsquery('english', search_query.query);
  return case when numnode(tsq) = 0 then null else tsq end;
end;
$$;

comment on function app_private.search_query(text) is
  'The full-text query of a search text (web-search syntax, English configuration); null when the text is empty or only stop words. Errors: TKVAL over 500 characters. Runs with the caller''s rights: it reads no table.';

revoke all on function app_private.search_query(text) from public;
-- Callable inside search_tickets (a SQL-standard body: no USAGE on app_private needed).
grant execute on function app_private.search_query(text)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Staff matching: the GIN indexes, from a checked query
--------------------------------------------------------------------------------
drop function if exists app_public.search_tickets(text);
drop function if exists app_private.search_matches(text);
drop function if exists app_private.search_matches(tsquery);
drop function if exists app_private.search_matches_within(tsquery, uuid[]);

create or replace function app_private.search_matches(tsq tsquery)
returns table (ticket_id uuid, comment_id uuid, rank real)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select tk.id, null::uuid, ts_rank(tk.search, search_matches.tsq)
  from app_public.tickets as tk
  where tk.search @@ search_matches.tsq
  union all
  -- A match in the conversation counts, a bit less than one in the ticket.
  select c.ticket_id, c.id, (ts_rank(c.search, search_matches.tsq) * 0.5)::real
  from app_public.ticket_comments as c
  where c.search @@ search_matches.tsq;
$$;

comment on function app_private.search_matches(tsquery) is
  'Candidate matches of a staff search, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, through the GIN indexes. Only search_tickets uses it, for agents and admins, and filters the result through the caller''s policies.';

revoke all on function app_private.search_matches(tsquery) from public;
grant execute on function app_private.search_matches(tsquery)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Customer matching: within the tickets the caller's policy returned
--------------------------------------------------------------------------------
create or replace function app_private.search_matches_within(tsq tsquery, ticket_ids uuid[])
returns table (ticket_id uuid, comment_id uuid, rank real)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  -- ts_match_vq is @@ spelt as a function: never an index condition, so the
  -- rows are found by their ticket (primary key, ticket_id index) whatever
  -- the word, and the text is tested on those rows only. Through the GIN
  -- indexes, the plan and its cost would follow the word's frequency in
  -- everybody's tickets.
  select tk.id, null::uuid, ts_rank(tk.search, search_matches_within.tsq)
  from app_public.tickets as tk
  where tk.id = any (search_matches_within.ticket_ids)
    and ts_match_vq(tk.search, search_matches_within.tsq)
  union all
  select c.ticket_id, c.id, (ts_rank(c.search, search_matches_within.tsq) * 0.5)::real
  from app_public.ticket_comments as c
  where c.ticket_id = any (search_matches_within.ticket_ids)
    and ts_match_vq(c.search, search_matches_within.tsq);
$$;

comment on function app_private.search_matches_within(tsquery, uuid[]) is
  'Candidate matches of a search among the given tickets and their comments, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, found by ticket, never through the text indexes, so the cost is that of the given tickets whatever the word. Only search_tickets uses it, for customers, with the tickets their policy returns, and filters the result through the caller''s policies.';

revoke all on function app_private.search_matches_within(tsquery, uuid[]) from public;
grant execute on function app_private.search_matches_within(tsquery, uuid[])
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- search_tickets: customers within their sight, staff through search_matches
--------------------------------------------------------------------------------
-- Security invoker, SQL-standard body. Which branch runs is a choice of plan
-- only (the role is a one-time condition, evaluated before either branch):
-- both return exactly the rows the caller's policies let through.
create or replace function app_public.search_tickets(query text)
returns setof app_public.tickets
language sql
stable
begin atomic
  select tk
  from (
    select m.ticket_id, sum(m.rank) as rank
    from (
      -- Customers: the tickets their policy returns are the candidates; comments
      -- kept when readable (no internal notes), tickets checked below.
      select s.ticket_id, s.rank
      from app_private.search_matches_within(
        (select app_private.search_query(search_tickets.query)),
        array(select t.id from app_public.tickets as t)
      ) as s
      where current_user = 'ticketing_customer'
        and (s.comment_id is null or exists (select 1 from app_public.ticket_comments as c where c.id = s.comment_id))
      union all
      -- Staff: the GIN matches, kept when the comment is readable (the ticket is checked below).
      select s.ticket_id, s.rank
      from app_private.search_matches((select app_private.search_query(search_tickets.query))) as s
      where current_user <> 'ticketing_customer'
        and (s.comment_id is null or exists (select 1 from app_public.ticket_comments as c where c.id = s.comment_id))
    ) as m
    group by m.ticket_id
  ) as r
  join app_public.tickets as tk on tk.id = r.ticket_id
  -- Checked first, whatever the caller can read: an over-long text is refused.
  where (select app_private.search_query(search_tickets.query)) is not null
  order by r.rank desc, tk.number desc;
end;

comment on function app_public.search_tickets(text) is
  'Full-text search (web-search syntax: words, "phrases", or, -exclusions) over subject, description and comments of the tickets you can read; internal notes count only for staff. Best matches first. Empty text returns nothing. Errors: INVALID_INPUT (more than 500 characters).';

revoke all on function app_public.search_tickets(text) from public;
grant execute on function app_public.search_tickets(text)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--! split: 150-ticket-history-from-creation.sql
-- A ticket's status history starts at its creation. The history is
-- partitioned by month of changed_at, and a ticket id prunes nothing: reading
-- one ticket's history through the foreign key probed the ticket index of
-- every monthly partition (25 at two years of history). Ticket.ticketStatusHistories
-- now reads through a computed field that also says `changed_at >= created_at`
-- of the ticket; PostgreSQL inlines it into the detail query, where the
-- ticket's created_at is a run-time parameter, and skips every month before it.
--
-- For that filter to hide nothing, no history row may predate its ticket. The
-- history trigger (app_private.tg_tickets_status_history) is the one writer:
-- it dates the creation row with created_at and every later change with
-- status_changed_at, the instant the ticket row recorded it. The constraint
-- below makes that instant never precede the creation, like resolved_at and
-- closed_at already cannot (tickets_resolved_after_created,
-- tickets_closed_after_created). Rows loaded directly (demo data, the
-- benchmark's seeder) keep the rule themselves, as their tests check.

-- Checked for new and changed rows at once; validated in the next migration
-- (docs/conventions.md: a new constraint on a big table). Tickets older than
-- status_changed_at hold null there, which passes.
alter table app_public.tickets drop constraint if exists tickets_status_changed_after_created;
alter table app_public.tickets add constraint tickets_status_changed_after_created
  check (status_changed_at >= created_at) not valid;

comment on constraint tickets_status_changed_after_created on app_public.tickets is
  'A ticket enters a status no earlier than its creation, so its status history starts at created_at (Ticket.ticketStatusHistories reads the months from there on).';

-- The computed field takes the relation's field name; the relation itself
-- stays for TicketStatusHistory.ticket, only its field on Ticket goes.
comment on constraint ticket_status_history_ticket_id_fkey on app_public.ticket_status_history is
  '@backwardBehavior -*';

-- SQL, stable, not strict, not security definer and one select: PostgreSQL
-- inlines it into the caller's query, so the history's own policy still
-- applies and the planner sees both conditions.
create or replace function app_public.tickets_ticket_status_histories(ticket app_public.tickets)
returns setof app_public.ticket_status_history
language sql
stable
as $$
  select h.*
  from app_public.ticket_status_history as h
  where h.ticket_id = ticket.id
    and h.changed_at >= ticket.created_at
$$;

comment on function app_public.tickets_ticket_status_histories(app_public.tickets) is
  E'@behavior +order +filter +resource:connection:backwards\n@uniqueRows\nEvery status change of this ticket, creation included (fromStatus null). Reads only the months of history from the ticket''s creation on.';

revoke all on function app_public.tickets_ticket_status_histories(app_public.tickets) from public;
grant execute on function app_public.tickets_ticket_status_histories(app_public.tickets)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--! split: 190-validate-constraints-added-not-valid.sql
-- The constraints the previous migration added NOT VALID (checked for new
-- rows at once, without a long lock) are validated here, in their own
-- migration: VALIDATE CONSTRAINT reads the existing rows under a SHARE UPDATE
-- EXCLUSIVE lock, so reads and writes go on meanwhile. Validating an already
-- valid constraint does nothing, so this runs twice safely.
alter table app_private.realtime_events validate constraint realtime_events_kind_known;
alter table app_private.realtime_events validate constraint realtime_events_subject;
alter table app_private.realtime_events validate constraint realtime_events_attachment_only_when_added;
alter table app_public.webhook_endpoints validate constraint webhook_endpoints_event_kinds_known;
alter table app_private.inbound_emails validate constraint inbound_emails_refused_attachments_list;
