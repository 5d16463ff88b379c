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
