-- Business time, exactly: which instants a calendar is open, how many business
-- minutes lie between two instants, and the instant N business minutes later.
--
-- An instant is business time when its local wall-clock time (in the
-- calendar's zone) lies in an opening interval of the version in force on the
-- local date the interval starts, and not in a holiday closure of its local
-- date. So a 01:00-03:00 interval on a spring-forward night lasts one real
-- hour, and on a fall-back night three; 09:00-17:00 on those days lasts 8.
-- Local intervals are mapped to UTC piecewise, over stretches of constant UTC
-- offset (time zone transitions are found to the minute, as every modern tz
-- database transition falls on a whole minute).

create or replace function app_private.utc_offset_at(zone text, at_time timestamptz)
returns interval
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$ select (at_time at time zone zone) - (at_time at time zone 'UTC') $$;

comment on function app_private.utc_offset_at(text, timestamptz) is
  'The UTC offset of zone at an instant (local wall-clock time minus UTC).';

revoke all on function app_private.utc_offset_at(text, timestamptz) from public;

create or replace function app_private.business_spans(calendar_id uuid, from_at timestamptz, to_at timestamptz)
returns tstzmultirange
language plpgsql
stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  zone text;
  first_day date;
  last_day date;
  local_open tsmultirange;
  closures tsmultirange;
  spans tstzmultirange;
begin
  if from_at is null or to_at is null or from_at >= to_at then
    return '{}'::tstzmultirange;
  end if;
  if not isfinite(from_at) or not isfinite(to_at) then
    raise exception using errcode = 'TKVAL', message = 'Business time is counted between finite instants';
  end if;

  select c.time_zone into zone from app_public.business_calendars as c where c.id = business_spans.calendar_id;
  if zone is null then
    raise exception using errcode = 'TKNTF', message = 'Calendar not found';
  end if;

  -- Local dates that can hold an opening interval reaching [from_at, to_at).
  first_day := (from_at at time zone zone)::date - 2;
  last_day := (to_at at time zone zone)::date + 1;

  -- Opening intervals as local wall-clock ranges, each from the version in
  -- force on the local date it starts.
  select coalesce(range_agg(tsrange(
      d.day + h.starts_at,
      case when h.ends_at > h.starts_at then d.day + h.ends_at else d.day + 1 + h.ends_at end
    )), '{}'::tsmultirange)
  into local_open
  from (
    select g::date as day
    from generate_series(first_day::timestamp, last_day::timestamp, interval '1 day') as g
  ) as d
  cross join lateral (
    select v.id
    from app_public.business_calendar_versions as v
    where v.calendar_id = business_spans.calendar_id
      and v.effective_from <= d.day
    order by v.effective_from desc
    limit 1
  ) as v
  join app_public.business_calendar_hours as h
    on h.version_id = v.id
   and h.weekday = extract(isodow from d.day);

  select coalesce(range_agg(tsrange(
      ho.holiday_date + coalesce(ho.starts_at, time '00:00'),
      ho.holiday_date + coalesce(ho.ends_at, time '24:00')
    )), '{}'::tsmultirange)
  into closures
  from app_public.business_calendar_holidays as ho
  where ho.calendar_id = business_spans.calendar_id
    and ho.holiday_date between first_day and last_day + 1;

  local_open := local_open - closures;

  -- Stretches of constant UTC offset covering [from_at, to_at): sample the
  -- offset every 24 hours and find each change to the minute.
  with samples as (
    select s.at, app_private.utc_offset_at(zone, s.at) as utc_offset
    from (
      select g as at from generate_series(from_at, to_at, interval '24 hours') as g
      union
      select to_at
    ) as s
  ),
  steps as (
    select at, utc_offset, lead(at) over (order by at) as next_at, lead(utc_offset) over (order by at) as next_offset
    from samples
  ),
  changes as (
    select (
      select min(m)
      from generate_series(date_trunc('minute', st.at) + interval '1 minute', st.next_at, interval '1 minute') as m
      where app_private.utc_offset_at(zone, m) = st.next_offset
    ) as at
    from steps as st
    where st.next_at is not null and st.next_offset <> st.utc_offset
  ),
  bounds as (
    select from_at as at
    union
    select at from changes where at > from_at and at < to_at
    union
    select to_at
  ),
  pieces as (
    select at as piece_from, lead(at) over (order by at) as piece_to, app_private.utc_offset_at(zone, at) as utc_offset
    from bounds
  ),
  mapped as (
    select
      greatest(p.piece_from, (lower(r) - p.utc_offset) at time zone 'UTC') as lo,
      least(p.piece_to, (upper(r) - p.utc_offset) at time zone 'UTC') as hi
    from pieces as p
    cross join unnest(local_open) as r
    where p.piece_to is not null
  )
  select coalesce(range_agg(tstzrange(lo, hi)), '{}'::tstzmultirange)
  into spans
  from mapped
  where lo < hi;

  return spans;
end;
$$;

comment on function app_private.business_spans(uuid, timestamptz, timestamptz) is
  'The business time of a calendar within [from_at, to_at), as UTC ranges: opening intervals (of the version in force on each local date) minus holiday closures, mapped from local wall-clock time to instants across time zone transitions.';

revoke all on function app_private.business_spans(uuid, timestamptz, timestamptz) from public;

create or replace function app_private.multirange_minutes(spans tstzmultirange)
returns numeric
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  -- Exact: seconds (with microseconds) over 60, without trailing zeros.
  select trim_scale(coalesce(sum(extract(epoch from upper(r) - lower(r))), 0) / 60)
  from unnest(spans) as r;
$$;

comment on function app_private.multirange_minutes(tstzmultirange) is 'Total length of finite UTC ranges, in minutes.';

revoke all on function app_private.multirange_minutes(tstzmultirange) from public;

create or replace function app_public.business_minutes_between(calendar_id uuid, from_at timestamptz, to_at timestamptz)
returns numeric
language sql
stable
-- Calendars are readable by every signed-in user; the owner's rights reach
-- the internal helpers.
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select case
    when from_at <= to_at then app_private.multirange_minutes(app_private.business_spans(calendar_id, from_at, to_at))
    else -app_private.multirange_minutes(app_private.business_spans(calendar_id, to_at, from_at))
  end;
$$;

comment on function app_public.business_minutes_between(uuid, timestamptz, timestamptz) is
  'Business minutes of a calendar between two instants (exact, fractions for seconds; negative when toAt is before fromAt): the open time by the calendar''s local opening hours, minus holidays, across midnight, time zone changes and calendar versions.';

grant execute on function app_public.business_minutes_between(uuid, timestamptz, timestamptz)
  to ticketing_customer, ticketing_agent, ticketing_admin;

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
  remaining numeric := minutes * 60;
  window_start timestamptz := from_at;
  window_length interval := interval '7 days';
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
    window_length := least(window_length * 2, interval '400 days');
  end loop;
  return null;
end;
$$;

comment on function app_public.add_business_minutes(uuid, timestamptz, numeric) is
  'The first instant at which the given business minutes of a calendar have passed since fromAt (fromAt itself for 0): the inverse of businessMinutesBetween. Null when the calendar is not open that long within 50 years.';

grant execute on function app_public.add_business_minutes(uuid, timestamptz, numeric)
  to ticketing_customer, ticketing_agent, ticketing_admin;
