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
