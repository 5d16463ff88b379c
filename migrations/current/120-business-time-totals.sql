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
