--! Previous: sha1:99a8eaa6028c5efc42ed7220e8a9dd55907e241b
--! Hash: sha1:4d051ddfad8d1ed1096c4033119e588ecfe01051
--! Message: add_business_minutes stops at a calendar's closure instead of walking 50 years

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-closed-calendar-stops-the-walk.sql
-- add_business_minutes stops at a calendar's closure.
--
-- A due time beyond the materialized horizon, or one the calendar never
-- reaches there, is computed on the fly in widening windows for up to 50
-- years. A calendar whose latest version has no opening hours is closed for
-- good from that version's date (holidays only take time away), yet the walk
-- went on to the 50-year limit: about 50 windows of up to 400 days, 60 ms a
-- call, for every SLA due time on that calendar that falls after the
-- closure (test/database/business-time-properties.test.ts spent 16 s there,
-- 600 calls). The walk now ends two local days after the closing version
-- starts (an opening interval of the day before may run past midnight;
-- the zone's offset is within a day), and a calendar without any version,
-- never open, returns null at once. Results are unchanged: null where the
-- target is not reached.
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
  -- A calendar open less than the target within 50 years never reaches it (null).
  walk_until timestamptz := from_at + interval '50 years';
  latest_from date;
  latest_open boolean;
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

  -- The latest version decides whether the calendar is ever open again.
  select v.effective_from, exists (select 1 from app_public.business_calendar_hours as h where h.version_id = v.id)
  into latest_from, latest_open
  from app_public.business_calendar_versions as v
  where v.calendar_id = add_business_minutes_computed.calendar_id
  order by v.effective_from desc
  limit 1;
  if not found then
    return null;
  end if;
  if not latest_open then
    select least(walk_until, (latest_from + 2)::timestamp at time zone c.time_zone)
    into walk_until
    from app_public.business_calendars as c
    where c.id = add_business_minutes_computed.calendar_id;
  end if;

  -- Widening windows until the limit (a closed calendar has no spans past it).
  while window_start < walk_until loop
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
  'add_business_minutes computed on the fly from the calendar rows, in widening windows (outside the materialized horizon), up to 50 years, or to two local days after the start of a latest version without opening hours (the calendar is closed from there on).';
