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
  bounds timestamptz[];
  offsets interval[];
  sample_at timestamptz;
  sample_offset interval;
  next_at timestamptz;
  next_offset interval;
  low_at timestamptz;
  high_at timestamptz;
  middle_at timestamptz;
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

  -- Stretches of constant UTC offset covering [from_at, to_at): the offset
  -- sampled every 24 hours, each change found to the minute by bisection.
  sample_at := from_at;
  sample_offset := app_private.utc_offset_at(zone, from_at);
  bounds := array[from_at];
  offsets := array[sample_offset];
  while sample_at < to_at loop
    next_at := least(sample_at + interval '24 hours', to_at);
    next_offset := app_private.utc_offset_at(zone, next_at);
    if next_offset <> sample_offset then
      -- The first whole minute after sample_at with the new offset.
      low_at := date_trunc('minute', sample_at);
      high_at := date_trunc('minute', next_at) + case when next_at > date_trunc('minute', next_at) then interval '1 minute' else interval '0' end;
      while high_at - low_at > interval '1 minute' loop
        middle_at := low_at + date_trunc('minute', (high_at - low_at) / 2);
        if app_private.utc_offset_at(zone, middle_at) = next_offset then
          high_at := middle_at;
        else
          low_at := middle_at;
        end if;
      end loop;
      if high_at > from_at and high_at < to_at then
        bounds := bounds || high_at;
        offsets := offsets || next_offset;
      end if;
    end if;
    sample_at := next_at;
    sample_offset := next_offset;
  end loop;
  bounds := bounds || to_at;

  with pieces as (
    select b.piece_from, b.piece_to, o.utc_offset
    from unnest(bounds[1:cardinality(bounds) - 1], bounds[2:]) with ordinality as b (piece_from, piece_to, n)
    join unnest(offsets) with ordinality as o (utc_offset, n) using (n)
  ),
  mapped as (
    select
      greatest(p.piece_from, (lower(r) - p.utc_offset) at time zone 'UTC') as lo,
      least(p.piece_to, (upper(r) - p.utc_offset) at time zone 'UTC') as hi
    from pieces as p
    cross join unnest(local_open) as r
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

comment on function app_public.add_business_minutes(uuid, timestamptz, numeric) is
  'The first instant at which the given business minutes of a calendar have passed since fromAt (fromAt itself for 0): the inverse of businessMinutesBetween. Null when the calendar is not open that long within 50 years.';

grant execute on function app_public.add_business_minutes(uuid, timestamptz, numeric)
  to ticketing_customer, ticketing_agent, ticketing_admin;
