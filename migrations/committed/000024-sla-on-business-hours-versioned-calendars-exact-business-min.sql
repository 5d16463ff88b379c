--! Previous: sha1:4928b19fa89f1e348ba0e499b5dd7f9fa3063cf2
--! Hash: sha1:b238092dc099580cbbbd5cffe09edab7739f5ccd
--! Message: SLA on business hours: versioned calendars, exact business-minute functions, due times from the status history with pausing statuses, SLA events

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 300-business-calendars.sql
-- Business calendars: named time zones with weekly opening hours (versioned by
-- effective date) and holidays; SLA policies name a calendar and count their
-- targets in business minutes; which statuses pause which SLA clock is data.

--------------------------------------------------------------------------------
-- Helpers
--------------------------------------------------------------------------------
create or replace function app_private.is_time_zone_name(zone text)
returns boolean
language sql
-- The IANA names a server knows change only with its tz database; a check
-- constraint needs an immutable function.
immutable
set search_path = pg_catalog, pg_temp
as $$
  select exists (select 1 from pg_catalog.pg_timezone_names as z where z.name = zone)
    and zone !~* '^(posix|right)/';
$$;

comment on function app_private.is_time_zone_name(text) is
  'True when zone is an IANA time zone name the server knows (e.g. Europe/Berlin), not an abbreviation or POSIX rule.';

revoke all on function app_private.is_time_zone_name(text) from public;
-- The check constraint runs it with the writer's rights; only admins write calendars.
grant execute on function app_private.is_time_zone_name(text) to ticketing_admin;

do $$
begin
  if to_regtype('app_public.sla_clock') is null then
    create type app_public.sla_clock as enum ('first_response', 'resolution');
  end if;
end;
$$;

comment on type app_public.sla_clock is
  'The two SLA clocks of a ticket: time to the first public staff reply, and time to resolution.';

--------------------------------------------------------------------------------
-- Calendars
--------------------------------------------------------------------------------
create table if not exists app_public.business_calendars (
  id uuid primary key default app_private.uuid_generate_v7(),
  name text not null
    constraint business_calendars_name_length check (name ~ '[^[:space:]]' and char_length(name) <= 100),
  time_zone text not null
    constraint business_calendars_time_zone_known check (app_private.is_time_zone_name(time_zone)),
  created_at timestamptz not null default now(),
  constraint business_calendars_name_unique unique (name)
);

comment on table app_public.business_calendars is
  E'@behavior -delete\nA business calendar: a time zone, weekly opening hours (businessCalendarVersions, by effective date) and holidays. SLA policies count their targets in business minutes of a calendar. The calendar named 24x7 is always open. Admins edit calendars; every signed-in user reads them.';
comment on column app_public.business_calendars.id is E'@behavior -insert -update\nPrimary key (time-ordered UUID).';
comment on column app_public.business_calendars.name is 'Unique name, 1-100 characters.';
comment on column app_public.business_calendars.time_zone is E'@behavior -update\nIANA time zone of the opening hours and holidays (e.g. Europe/Berlin). Fixed at creation: create a new calendar to move to another zone.';
comment on column app_public.business_calendars.created_at is E'@behavior -insert -update\nWhen the calendar was created.';

create table if not exists app_public.business_calendar_versions (
  id uuid primary key default app_private.uuid_generate_v7(),
  calendar_id uuid not null references app_public.business_calendars (id),
  effective_from date not null,
  constraint business_calendar_versions_effective_unique unique (calendar_id, effective_from)
);

comment on table app_public.business_calendar_versions is
  E'@behavior -update\nA set of weekly opening hours valid from a local date (in the calendar''s time zone) until the next version. Days before the first version are closed. Adding a version for a future date changes future due times only, so past compliance is not rewritten.';
comment on column app_public.business_calendar_versions.id is E'@behavior -insert\nPrimary key (time-ordered UUID).';
comment on column app_public.business_calendar_versions.calendar_id is 'The calendar.';
comment on column app_public.business_calendar_versions.effective_from is 'First local date on which these hours apply (-infinity: since always).';

create table if not exists app_public.business_calendar_hours (
  id uuid primary key default app_private.uuid_generate_v7(),
  version_id uuid not null references app_public.business_calendar_versions (id) on delete cascade,
  weekday integer not null
    constraint business_calendar_hours_weekday_iso check (weekday between 1 and 7),
  starts_at time not null
    constraint business_calendar_hours_starts_in_day check (starts_at < time '24:00'),
  ends_at time not null,
  constraint business_calendar_hours_not_empty check (ends_at <> starts_at)
);

comment on table app_public.business_calendar_hours is
  'One opening interval of a calendar version: on an ISO weekday (1 Monday … 7 Sunday), local wall-clock time from startsAt to endsAt. Several per day are allowed; an interval whose end is not after its start runs overnight into the next day (22:00-06:00). 00:00-24:00 is a whole day. Intervals of one version never overlap (checked in weekly time, Sunday night into Monday included).';
comment on column app_public.business_calendar_hours.id is E'@behavior -insert -update\nPrimary key (time-ordered UUID).';
comment on column app_public.business_calendar_hours.version_id is E'@behavior -update\nThe calendar version.';
comment on column app_public.business_calendar_hours.weekday is 'ISO weekday on which the interval starts: 1 Monday … 7 Sunday.';
comment on column app_public.business_calendar_hours.starts_at is 'Local opening time (00:00-23:59:59).';
comment on column app_public.business_calendar_hours.ends_at is 'Local closing time; 24:00 is midnight at the end of the day; earlier than (or equal to) the start means the next day.';

create index if not exists business_calendar_hours_version_idx on app_public.business_calendar_hours (version_id, weekday);

create table if not exists app_public.business_calendar_holidays (
  id uuid primary key default app_private.uuid_generate_v7(),
  calendar_id uuid not null references app_public.business_calendars (id),
  holiday_date date not null,
  name text not null default ''
    constraint business_calendar_holidays_name_length check (char_length(name) <= 100),
  starts_at time,
  ends_at time,
  constraint business_calendar_holidays_one_per_date unique (calendar_id, holiday_date),
  constraint business_calendar_holidays_partial_interval check (
    (starts_at is null and ends_at is null)
    or (starts_at is not null and ends_at is not null and starts_at < ends_at)
  )
);

comment on table app_public.business_calendar_holidays is
  'A local date on which a calendar is closed: the whole day (00:00-24:00 local), or only from startsAt to endsAt (a partial day, e.g. 12:00-24:00 on 24 December). One row per date.';
comment on column app_public.business_calendar_holidays.id is E'@behavior -insert -update\nPrimary key (time-ordered UUID).';
comment on column app_public.business_calendar_holidays.calendar_id is E'@behavior -update\nThe calendar.';
comment on column app_public.business_calendar_holidays.holiday_date is 'The local date.';
comment on column app_public.business_calendar_holidays.name is 'What the day is (up to 100 characters).';
comment on column app_public.business_calendar_holidays.starts_at is 'Start of a partial closure (local); null with endsAt null: the whole day.';
comment on column app_public.business_calendar_holidays.ends_at is 'End of a partial closure (local, up to 24:00).';

--------------------------------------------------------------------------------
-- Opening intervals of one version never overlap (weekly minutes, wrapping)
--------------------------------------------------------------------------------
create or replace function app_private.week_minutes(weekday integer, starts_at time, ends_at time)
returns int4multirange
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  with span as (
    select
      (weekday - 1) * 1440 + extract(epoch from starts_at)::integer / 60 as a,
      (weekday - 1) * 1440 + extract(epoch from ends_at)::integer / 60
        + case when ends_at <= starts_at then 1440 else 0 end as b
  )
  select case
    when b <= 10080 then int4multirange(int4range(a, b))
    else int4multirange(int4range(a, 10080), int4range(0, b - 10080))
  end
  from span;
$$;

comment on function app_private.week_minutes(integer, time, time) is
  'An opening interval as minutes of the ISO week [0, 10080), split where Sunday night runs into Monday.';

revoke all on function app_private.week_minutes(integer, time, time) from public;

create or replace function app_private.tg_business_calendar_hours_no_overlap()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- One version's intervals are checked one writer at a time.
  perform 1 from app_public.business_calendar_versions as v where v.id = new.version_id for update;
  if exists (
    select 1
    from app_public.business_calendar_hours as h
    where h.version_id = new.version_id
      and h.id <> new.id
      and app_private.week_minutes(h.weekday, h.starts_at, h.ends_at)
        && app_private.week_minutes(new.weekday, new.starts_at, new.ends_at)
  ) then
    raise exception using errcode = 'TKVAL', message = 'Opening hours overlap another interval of the same calendar version';
  end if;
  return null;
end;
$$;

comment on function app_private.tg_business_calendar_hours_no_overlap() is
  'Constraint trigger: refuses (TKVAL) an opening interval that overlaps another of the same calendar version.';

drop trigger if exists _100_no_overlap on app_public.business_calendar_hours;
create constraint trigger _100_no_overlap
  after insert or update on app_public.business_calendar_hours
  for each row
  execute function app_private.tg_business_calendar_hours_no_overlap();

--------------------------------------------------------------------------------
-- The 24x7 calendar, and policies on calendars
--------------------------------------------------------------------------------
insert into app_public.business_calendars (id, name, time_zone)
values ('00000000-0000-7000-8000-000000002407', '24x7', 'UTC')
on conflict do nothing;

insert into app_public.business_calendar_versions (id, calendar_id, effective_from)
values ('00000000-0000-7000-8000-000000002408', '00000000-0000-7000-8000-000000002407', '-infinity')
on conflict do nothing;

insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at)
select '00000000-0000-7000-8000-000000002408', d, time '00:00', time '24:00'
from generate_series(1, 7) as d
where not exists (
  select 1 from app_public.business_calendar_hours where version_id = '00000000-0000-7000-8000-000000002408'
);

create or replace function app_private.default_business_calendar_id()
returns uuid
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$ select '00000000-0000-7000-8000-000000002407'::uuid $$;

comment on function app_private.default_business_calendar_id() is 'The id of the 24x7 calendar, the default of every SLA policy.';

-- sla_policies has one row per priority: adding a column with a constant
-- default is instant and the foreign key checks four rows.
-- squawk-ignore adding-foreign-key-constraint
alter table app_public.sla_policies add column if not exists calendar_id uuid not null default '00000000-0000-7000-8000-000000002407' references app_public.business_calendars (id);

comment on table app_public.sla_policies is
  E'@behavior -insert -delete\nService-level targets per priority, in business minutes of a calendar. A ticket''s due times are the instants when that many business minutes have passed since creation, not counting the time its status paused the clock (slaPauseStatuses); they are recomputed on every status or priority change and, for unfinished tickets, when a policy or calendar changes. Admins edit policies.';
comment on column app_public.sla_policies.first_response_minutes is 'Business minutes after creation by which staff must have posted a first public reply.';
comment on column app_public.sla_policies.resolution_minutes is 'Business minutes after creation by which the ticket must be resolved.';
comment on column app_public.sla_policies.calendar_id is 'The business calendar whose open time counts (default: 24x7).';

-- sla_policies has one row per priority: the build is instant.
-- squawk-ignore require-concurrent-index-creation
create index if not exists sla_policies_calendar_idx on app_public.sla_policies (calendar_id);

create table if not exists app_public.sla_pause_statuses (
  status app_public.ticket_status not null,
  clock app_public.sla_clock not null,
  primary key (status, clock)
);

comment on table app_public.sla_pause_statuses is
  E'@behavior -update\nWhich ticket statuses stop which SLA clock: while a ticket is in such a status, business time does not count towards that target. Defaults: waiting_on_customer pauses both clocks, resolved pauses resolution. Admins add or remove rows; due times of unfinished tickets follow.';
comment on column app_public.sla_pause_statuses.status is 'A ticket status.';
comment on column app_public.sla_pause_statuses.clock is 'The clock it pauses.';

insert into app_public.sla_pause_statuses (status, clock)
values ('waiting_on_customer', 'first_response'), ('waiting_on_customer', 'resolution'), ('resolved', 'resolution')
on conflict do nothing;

--------------------------------------------------------------------------------
-- Security: every signed-in user reads; admins write
--------------------------------------------------------------------------------
alter table app_public.business_calendars enable row level security;
alter table app_public.business_calendar_versions enable row level security;
alter table app_public.business_calendar_hours enable row level security;
alter table app_public.business_calendar_holidays enable row level security;
alter table app_public.sla_pause_statuses enable row level security;

revoke all on app_public.business_calendars from public;
revoke all on app_public.business_calendar_versions from public;
revoke all on app_public.business_calendar_hours from public;
revoke all on app_public.business_calendar_holidays from public;
revoke all on app_public.sla_pause_statuses from public;

grant select on app_public.business_calendars, app_public.business_calendar_versions,
  app_public.business_calendar_hours, app_public.business_calendar_holidays, app_public.sla_pause_statuses
  to ticketing_customer, ticketing_agent, ticketing_admin;
grant insert (name, time_zone), update (name) on app_public.business_calendars to ticketing_admin;
grant insert (calendar_id, effective_from), delete on app_public.business_calendar_versions to ticketing_admin;
grant insert (version_id, weekday, starts_at, ends_at), update (weekday, starts_at, ends_at), delete
  on app_public.business_calendar_hours to ticketing_admin;
grant insert (calendar_id, holiday_date, name, starts_at, ends_at), update (holiday_date, name, starts_at, ends_at), delete
  on app_public.business_calendar_holidays to ticketing_admin;
grant insert, delete on app_public.sla_pause_statuses to ticketing_admin;
grant update (calendar_id) on app_public.sla_policies to ticketing_admin;

do $$
declare
  t text;
begin
  foreach t in array array['business_calendars', 'business_calendar_versions', 'business_calendar_hours', 'business_calendar_holidays', 'sla_pause_statuses'] loop
    execute format('drop policy if exists select_signed_in on app_public.%I', t);
    execute format(
      'create policy select_signed_in on app_public.%I for select to ticketing_customer, ticketing_agent, ticketing_admin using ((select app_private.current_user_role()) is not null)',
      t
    );
    execute format('comment on policy select_signed_in on app_public.%I is %L', t, 'Every signed-in user reads the business calendars and SLA rules (they explain the due times).');
    execute format('drop policy if exists insert_admin on app_public.%I', t);
    execute format(
      'create policy insert_admin on app_public.%I for insert to ticketing_admin with check ((select app_private.acting_user_id(''admin'')) is not null)',
      t
    );
    execute format('comment on policy insert_admin on app_public.%I is %L', t, 'Admins add rows.');
  end loop;
  foreach t in array array['business_calendars', 'business_calendar_hours', 'business_calendar_holidays'] loop
    execute format('drop policy if exists update_admin on app_public.%I', t);
    execute format(
      'create policy update_admin on app_public.%I for update to ticketing_admin using ((select app_private.acting_user_id(''admin'')) is not null) with check ((select app_private.acting_user_id(''admin'')) is not null)',
      t
    );
    execute format('comment on policy update_admin on app_public.%I is %L', t, 'Admins change rows.');
  end loop;
  foreach t in array array['business_calendar_versions', 'business_calendar_hours', 'business_calendar_holidays', 'sla_pause_statuses'] loop
    execute format('drop policy if exists delete_admin on app_public.%I', t);
    execute format(
      'create policy delete_admin on app_public.%I for delete to ticketing_admin using ((select app_private.acting_user_id(''admin'')) is not null)',
      t
    );
    execute format('comment on policy delete_admin on app_public.%I is %L', t, 'Admins remove rows.');
  end loop;
end;
$$;

-- Every edit is in the audit log.
drop trigger if exists _900_audit on app_public.business_calendars;
create trigger _900_audit after insert or update on app_public.business_calendars
  for each row execute function app_private.tg_audit();
drop trigger if exists _900_audit on app_public.business_calendar_versions;
create trigger _900_audit after insert or update on app_public.business_calendar_versions
  for each row execute function app_private.tg_audit();
drop trigger if exists _900_audit on app_public.business_calendar_hours;
create trigger _900_audit after insert or update on app_public.business_calendar_hours
  for each row execute function app_private.tg_audit();
drop trigger if exists _900_audit on app_public.business_calendar_holidays;
create trigger _900_audit after insert or update on app_public.business_calendar_holidays
  for each row execute function app_private.tg_audit();

-- Admins' edits count against their write quota (kind edit).
drop trigger if exists _050_write_quota on app_public.business_calendars;
create trigger _050_write_quota before insert or update on app_public.business_calendars
  for each row execute function app_private.tg_enforce_write_quota('edit');
drop trigger if exists _050_write_quota on app_public.business_calendar_versions;
create trigger _050_write_quota before insert or update on app_public.business_calendar_versions
  for each row execute function app_private.tg_enforce_write_quota('edit');
drop trigger if exists _050_write_quota on app_public.business_calendar_hours;
create trigger _050_write_quota before insert or update on app_public.business_calendar_hours
  for each row execute function app_private.tg_enforce_write_quota('edit');
drop trigger if exists _050_write_quota on app_public.business_calendar_holidays;
create trigger _050_write_quota before insert or update on app_public.business_calendar_holidays
  for each row execute function app_private.tg_enforce_write_quota('edit');
drop trigger if exists _050_write_quota on app_public.sla_pause_statuses;
create trigger _050_write_quota before insert on app_public.sla_pause_statuses
  for each row execute function app_private.tg_enforce_write_quota('edit');

-- Pause rules and policy edits are in the audit log too (record id null: keyed by status and clock, or priority).
drop trigger if exists _900_audit on app_public.sla_pause_statuses;
create trigger _900_audit after insert or update on app_public.sla_pause_statuses
  for each row execute function app_private.tg_audit();
drop trigger if exists _900_audit on app_public.sla_policies;
create trigger _900_audit after insert or update on app_public.sla_policies
  for each row execute function app_private.tg_audit();

--! split: 310-business-time-functions.sql
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

--! split: 320-sla-business-due-times.sql
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

--! split: 330-sla-events.sql
-- SLA events: an append-only record of each SLA clock becoming at risk,
-- breached or met, written when it happens (a reply, a resolution, a status
-- change) and by the `sla_clock` job every minute for what happens with no
-- write (a clock passing its due time). Each event also goes into the event
-- log, so subscriptions and webhooks hear it.

do $$
begin
  if to_regtype('app_public.sla_event_kind') is null then
    create type app_public.sla_event_kind as enum ('at_risk', 'breached', 'met');
  end if;
end;
$$;

comment on type app_public.sla_event_kind is
  'What happened to an SLA clock: at_risk (at most a quarter of its business minutes left), breached (its due time passed before it was met), met (replied or resolved in time).';

create table if not exists app_public.sla_events (
  id uuid primary key default app_private.uuid_generate_v7(),
  ticket_id uuid not null references app_public.tickets (id),
  clock app_public.sla_clock not null,
  kind app_public.sla_event_kind not null,
  due_at timestamptz not null,
  occurred_at timestamptz not null default clock_timestamp(),
  priority app_public.ticket_priority not null,
  agent_id uuid references app_public.users (id),
  calendar_id uuid not null references app_public.business_calendars (id),
  -- Once per clock, kind and due time: the job may look again and again.
  constraint sla_events_once unique (ticket_id, clock, kind, due_at)
);

comment on table app_public.sla_events is
  E'@behavior -insert -update -delete\nWhat happened to the SLA clocks of tickets: at risk, breached, met; written when it happens and by a job every minute for clocks that pass their due time unattended. Append-only. Staff read the events of the tickets they can read.';
comment on column app_public.sla_events.id is 'Identifier (time-ordered UUID).';
comment on column app_public.sla_events.ticket_id is 'The ticket.';
comment on column app_public.sla_events.clock is 'The clock: first_response or resolution.';
comment on column app_public.sla_events.kind is 'at_risk, breached or met.';
comment on column app_public.sla_events.due_at is 'The due time the clock was judged against.';
comment on column app_public.sla_events.occurred_at is 'When it was recorded.';
comment on column app_public.sla_events.priority is 'The ticket''s priority then.';
comment on column app_public.sla_events.agent_id is 'The ticket''s agent then (null: unassigned).';
comment on column app_public.sla_events.calendar_id is 'The business calendar of the priority''s policy then.';

-- squawk-ignore require-concurrent-index-creation
create index if not exists sla_events_occurred_at_idx on app_public.sla_events (occurred_at);
-- squawk-ignore require-concurrent-index-creation
create index if not exists sla_events_agent_idx on app_public.sla_events (agent_id);
-- squawk-ignore require-concurrent-index-creation
create index if not exists sla_events_calendar_idx on app_public.sla_events (calendar_id);

select app_private.make_append_only('app_public.sla_events');

alter table app_public.sla_events enable row level security;
grant select on app_public.sla_events to ticketing_agent, ticketing_admin;

drop policy if exists select_staff on app_public.sla_events;
create policy select_staff on app_public.sla_events
  for select to ticketing_agent, ticketing_admin
  using (exists (select 1 from app_public.tickets as t where t.id = ticket_id));

comment on policy select_staff on app_public.sla_events is
  'Agents and admins read the SLA events of the tickets they can read.';

--------------------------------------------------------------------------------
-- Recording
--------------------------------------------------------------------------------
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
  -- The given tickets, or (the job) every unfinished ticket whose due time
  -- has passed or comes within a day: at risk needs business minutes, which
  -- are counted only for those.
  insert into app_public.sla_events (ticket_id, clock, kind, due_at, priority, agent_id, calendar_id)
  select t.id, c.clock, k.kind, c.due_at, t.priority, t.agent_id, p.calendar_id
  from app_public.tickets as t
  join app_public.sla_policies as p on p.priority = t.priority
  cross join lateral (
    values
      ('first_response'::app_public.sla_clock, t.first_response_due_at,
        coalesce(t.first_responded_at, t.resolved_at, t.closed_at), p.first_response_minutes),
      ('resolution'::app_public.sla_clock, t.resolution_due_at,
        coalesce(t.resolved_at, t.closed_at), p.resolution_minutes)
  ) as c (clock, due_at, done_at, target)
  cross join lateral (
    select case
      when c.due_at is null then null
      when c.done_at is not null and not app_private.sla_breached(c.due_at, c.done_at) then 'met'
      when app_private.sla_breached(c.due_at, coalesce(c.done_at, now())) then 'breached'
      when c.done_at is null and c.due_at < now() + interval '1 day'
        and app_public.business_minutes_between(p.calendar_id, now(), c.due_at) * 4 <= c.target then 'at_risk'
    end::app_public.sla_event_kind as kind
  ) as k
  where k.kind is not null
    and (
      t.id = any (ticket_ids)
      or (
        ticket_ids is null
        and t.status in ('open', 'in_progress', 'waiting_on_customer')
        and (t.first_response_due_at < now() + interval '1 day' or t.resolution_due_at < now() + interval '1 day')
      )
    )
  on conflict on constraint sla_events_once do nothing;
  get diagnostics recorded = row_count;
  return recorded;
end;
$$;

comment on function app_private.record_sla_events(uuid[]) is
  'Records the SLA events due now (met, breached, at risk) of the given tickets, or, with null (the sla_clock job, every minute), of every unfinished ticket due within a day or overdue; each once per clock, kind and due time. Returns how many it recorded.';

revoke all on function app_private.record_sla_events(uuid[]) from public;

create or replace function app_private.tg_tickets_record_sla_events()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform app_private.record_sla_events(array[new.id]);
  return null;
end;
$$;

comment on function app_private.tg_tickets_record_sla_events() is
  'Trigger: after a reply, a resolution or a status change, records the SLA events it brings (met, breached, at risk).';

drop trigger if exists _700_record_sla_events on app_public.tickets;
create trigger _700_record_sla_events
  after update on app_public.tickets
  for each row
  when (
    old.status is distinct from new.status
    or old.first_responded_at is distinct from new.first_responded_at
  )
  execute function app_private.tg_tickets_record_sla_events();

--------------------------------------------------------------------------------
-- Into the event log: subscriptions and webhooks hear sla_at_risk,
-- sla_breached and sla_met
--------------------------------------------------------------------------------
-- realtime_events keeps about an hour of rows; the new rule checks new rows
-- now and is validated in the next migration.
alter table app_private.realtime_events drop constraint if exists realtime_events_kind_known;
alter table app_private.realtime_events add constraint realtime_events_kind_known check (
  kind in (
    'created', 'status_changed', 'assigned', 'commented', 'updated', 'deactivated', 'role_changed',
    'sla_at_risk', 'sla_breached', 'sla_met'
  )
) not valid;

alter table app_public.webhook_endpoints drop constraint if exists webhook_endpoints_event_kinds_known;
alter table app_public.webhook_endpoints add constraint webhook_endpoints_event_kinds_known check (
  cardinality(event_kinds) >= 1
  and event_kinds <@ array[
    'ticket.created', 'ticket.status_changed', 'ticket.assigned', 'ticket.commented', 'ticket.updated',
    'ticket.sla_at_risk', 'ticket.sla_breached', 'ticket.sla_met',
    'user.deactivated', 'user.role_changed'
  ]
) not valid;

comment on column app_public.webhook_endpoints.event_kinds is
  'Event types delivered: ticket.created, ticket.status_changed, ticket.assigned, ticket.commented, ticket.updated, ticket.sla_at_risk, ticket.sla_breached, ticket.sla_met, user.deactivated, user.role_changed.';

create or replace function app_private.tg_sla_events_announce()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  ticket app_public.tickets;
begin
  select t.* into ticket from app_public.tickets as t where t.id = new.ticket_id;
  perform app_private.notify_ticket_event(ticket, 'sla_' || new.kind::text);
  return null;
end;
$$;

comment on function app_private.tg_sla_events_announce() is
  'Trigger: puts each new SLA event into the event log (kind sla_at_risk, sla_breached or sla_met) for subscriptions and webhooks.';

drop trigger if exists _400_announce on app_public.sla_events;
create trigger _400_announce
  after insert on app_public.sla_events
  for each row
  execute function app_private.tg_sla_events_announce();

--------------------------------------------------------------------------------
-- Reporting: compliance per week, priority, agent and calendar
--------------------------------------------------------------------------------
drop view if exists app_reporting.sla_event_compliance;
create view app_reporting.sla_event_compliance as
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
  ) as compliance
from app_public.sla_events as e
join app_public.business_calendars as c on c.id = e.calendar_id
group by 1, 2, 3, 4, 5, 6, 7;

comment on view app_reporting.sla_event_compliance is
  'SLA outcomes on business time from the SLA events, per ISO week of the event (UTC), clock, priority, agent and calendar. Compliance = met / (met + breached). Events are never rewritten, so a later change of policy or calendar leaves past weeks as they were.';
comment on column app_reporting.sla_event_compliance.week_start is 'Monday of the ISO week (UTC) of the events.';
comment on column app_reporting.sla_event_compliance.iso_week is 'The same week as an ISO label, e.g. 2026-W22.';
comment on column app_reporting.sla_event_compliance.clock is 'first_response or resolution.';
comment on column app_reporting.sla_event_compliance.priority is 'The ticket''s priority at the event.';
comment on column app_reporting.sla_event_compliance.agent_id is 'The ticket''s agent at the event (null: unassigned).';
comment on column app_reporting.sla_event_compliance.calendar_id is 'The business calendar the clock counted on.';
comment on column app_reporting.sla_event_compliance.calendar_name is 'Its name.';
comment on column app_reporting.sla_event_compliance.met is 'Clocks met in time.';
comment on column app_reporting.sla_event_compliance.breached is 'Clocks that passed their due time.';
comment on column app_reporting.sla_event_compliance.at_risk is 'Clocks that came within a quarter of their target.';
comment on column app_reporting.sla_event_compliance.compliance is 'met / (met + breached); null when nothing is decided.';

revoke all on app_reporting.sla_event_compliance from public;
grant select on app_reporting.sla_event_compliance to ticketing_analyst;
