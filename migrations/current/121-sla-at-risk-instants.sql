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
