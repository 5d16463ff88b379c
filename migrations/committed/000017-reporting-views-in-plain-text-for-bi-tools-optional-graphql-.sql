--! Previous: sha1:445a4ffa13fe8676900b0bd993dfebc9ab69f6c6
--! Hash: sha1:89c67a7befc658d4370b145a1bd0421c7bcc6ab9
--! Message: reporting views in plain text for BI tools, optional GraphQL arguments

--! split: 500-reporting-plain-text.sql
-- Reporting views speak plain text (BI tools).
--
-- The app_reporting views of 000007 exposed status and priority with the
-- app_public enum types. BI tools such as Metabase filter with a cast to the
-- column's type ('open'::app_public.ticket_status), and analysts have no
-- USAGE on app_public, so every such filter failed with "permission denied
-- for schema app_public". The views now expose those columns as plain text:
-- `where status = 'open'` and `where status = 'open'::pg_catalog.text` both
-- work for an analyst. Column names, rows and figures are unchanged; a new
-- priority_rank column (1 = low … 4 = urgent) keeps the order of urgency that
-- the enum gave, for sorting.
--
-- CREATE OR REPLACE VIEW cannot change a column's type, so the views are
-- dropped (dependants first) and created again with their comments and
-- grants. graphile-migrate re-runs this file on every change in watch mode;
-- dropping and creating again makes that safe. The rules of 000007 ("No free
-- text", owner's rights, no function calls, UTC days) still hold.

drop view if exists app_reporting.resolution_times;
drop view if exists app_reporting.first_response_times;
drop view if exists app_reporting.sla_compliance;
drop view if exists app_reporting.agent_workload;
drop view if exists app_reporting.backlog;
drop view if exists app_reporting.daily_flow;
drop view if exists app_reporting.ticket_status_history;
drop view if exists app_reporting.tickets;

--------------------------------------------------------------------------------
-- Tickets
--------------------------------------------------------------------------------
create view app_reporting.tickets as
select
  t.id,
  t.number,
  t.status::text as status,
  t.priority::text as priority,
  array_position(enum_range(null::app_public.ticket_priority), t.priority)::integer as priority_rank,
  t.customer_id,
  t.agent_id,
  t.created_at,
  t.updated_at,
  t.first_response_due_at,
  t.resolution_due_at,
  t.first_responded_at,
  t.resolved_at,
  t.closed_at,
  round(extract(epoch from t.first_responded_at - t.created_at) / 60, 2) as first_response_minutes,
  round(extract(epoch from t.resolved_at - t.created_at) / 60, 2) as resolution_minutes,
  -- The SLA rule of the ticket fields, app_private.sla_breached (470); a
  -- ticket ended without a reply is judged at the moment it ended.
  app_private.sla_breached(t.first_response_due_at, coalesce(t.first_responded_at, t.resolved_at, t.closed_at, now()))
    as first_response_breached,
  app_private.sla_breached(t.resolution_due_at, coalesce(t.resolved_at, t.closed_at, now()))
    as resolution_breached
from app_public.tickets as t;

comment on view app_reporting.tickets is
  'One row per ticket: identifiers, status, priority, people (ids only), timestamps and SLA facts. No subject, description or comments.';
comment on column app_reporting.tickets.id is 'Ticket id (time-ordered UUID).';
comment on column app_reporting.tickets.number is 'Human reference shown to users (e.g. 1042); unique and increasing.';
comment on column app_reporting.tickets.status is 'Current status as plain text: open, in_progress, waiting_on_customer, resolved or closed.';
comment on column app_reporting.tickets.priority is 'Priority as plain text: low, normal, high or urgent (in that order of urgency; sort with array_position(array[''low'', ''normal'', ''high'', ''urgent''], priority)).';
comment on column app_reporting.tickets.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent): order by it to sort by urgency.';
comment on column app_reporting.tickets.customer_id is 'Id of the customer the ticket is for.';
comment on column app_reporting.tickets.agent_id is 'Id of the assigned agent; null while unassigned.';
comment on column app_reporting.tickets.created_at is 'When the ticket was created.';
comment on column app_reporting.tickets.updated_at is 'When the ticket row last changed.';
comment on column app_reporting.tickets.first_response_due_at is 'SLA: first public staff reply due by this time (from the priority''s policy).';
comment on column app_reporting.tickets.resolution_due_at is 'SLA: resolution due by this time.';
comment on column app_reporting.tickets.first_responded_at is 'When staff first replied publicly; null: no reply yet.';
comment on column app_reporting.tickets.resolved_at is 'When the ticket was (last) resolved; null when unresolved, reopened, or closed without resolution.';
comment on column app_reporting.tickets.closed_at is 'When the ticket was closed; null unless closed.';
comment on column app_reporting.tickets.first_response_minutes is 'Minutes from creation to the first public staff reply; null without a reply.';
comment on column app_reporting.tickets.resolution_minutes is 'Minutes from creation to resolved_at; null when not resolved.';
comment on column app_reporting.tickets.first_response_breached is 'True when the first reply came after first_response_due_at, or there is none and that time has passed (a ticket resolved or closed without a reply is judged at that moment).';
comment on column app_reporting.tickets.resolution_breached is 'True when the ticket was resolved (or closed) after resolution_due_at, or is still unresolved and that time has passed.';

--------------------------------------------------------------------------------
-- Status history
--------------------------------------------------------------------------------
create view app_reporting.ticket_status_history as
select
  h.id,
  h.ticket_id,
  t.number as ticket_number,
  h.from_status::text as from_status,
  h.to_status::text as to_status,
  h.changed_by,
  h.changed_at
from app_public.ticket_status_history as h
join app_public.tickets as t on t.id = h.ticket_id;

comment on view app_reporting.ticket_status_history is
  'Every status change of every ticket, creation included (from_status null). The free-text note of a change is left out.';
comment on column app_reporting.ticket_status_history.id is 'Id of the change.';
comment on column app_reporting.ticket_status_history.ticket_id is 'The ticket that changed.';
comment on column app_reporting.ticket_status_history.ticket_number is 'Human reference of that ticket.';
comment on column app_reporting.ticket_status_history.from_status is 'Status before the change, as plain text; null for the creation row.';
comment on column app_reporting.ticket_status_history.to_status is 'Status after the change, as plain text.';
comment on column app_reporting.ticket_status_history.changed_by is 'Id of the user who made the change; null for automatic or maintenance changes.';
comment on column app_reporting.ticket_status_history.changed_at is 'When the change happened.';

--------------------------------------------------------------------------------
-- Daily flow
--------------------------------------------------------------------------------
-- From the tickets' own timestamps rather than the history, so "resolved" means
-- what resolved_at means everywhere else (a reopened ticket no longer counts).
create view app_reporting.daily_flow as
with per_day as (
  select
    (e.happened_at at time zone 'UTC')::date as day,
    count(*) filter (where e.kind = 'created')::integer as created,
    count(*) filter (where e.kind = 'resolved')::integer as resolved,
    count(*) filter (where e.kind = 'closed')::integer as closed
  from app_public.tickets as t
  cross join lateral (
    values
      (t.created_at, 'created'),
      (t.resolved_at, 'resolved'),
      (t.closed_at, 'closed')
  ) as e (happened_at, kind)
  where e.happened_at is not null
  group by 1
),
-- Every day from the first ticket to today, so quiet days show as zeros.
calendar as (
  select d::date as day
  from generate_series(
    (select min(p.day) from per_day as p),
    greatest((select max(p.day) from per_day as p), (now() at time zone 'UTC')::date),
    interval '1 day'
  ) as d
)
select
  c.day,
  coalesce(p.created, 0) as created,
  coalesce(p.resolved, 0) as resolved,
  coalesce(p.closed, 0) as closed
from calendar as c
left join per_day as p on p.day = c.day;

comment on view app_reporting.daily_flow is
  'Tickets created, resolved and closed per UTC day, one row per day from the first ticket to today (quiet days are zeros).';
comment on column app_reporting.daily_flow.day is 'The day (UTC).';
comment on column app_reporting.daily_flow.created is 'Tickets created that day.';
comment on column app_reporting.daily_flow.resolved is 'Tickets whose resolved_at falls on that day (a ticket reopened since no longer counts).';
comment on column app_reporting.daily_flow.closed is 'Tickets closed that day.';

--------------------------------------------------------------------------------
-- Backlog
--------------------------------------------------------------------------------
create view app_reporting.backlog as
select
  s.status,
  p.priority,
  p.priority_rank::integer as priority_rank,
  count(t.id)::integer as tickets,
  count(t.id) filter (where t.agent_id is null)::integer as unassigned,
  count(t.id) filter (where t.resolution_breached)::integer as resolution_overdue,
  min(t.created_at) as oldest_created_at
from unnest('{open,in_progress,waiting_on_customer}'::app_public.ticket_status[]::text[]) as s (status)
cross join unnest(enum_range(null::app_public.ticket_priority)::text[]) with ordinality as p (priority, priority_rank)
left join app_reporting.tickets as t on t.status = s.status and t.priority = p.priority
group by s.status, p.priority, p.priority_rank;

comment on view app_reporting.backlog is
  'Unfinished work now: one row per unfinished status (open, in_progress, waiting_on_customer) and priority, zeros included.';
comment on column app_reporting.backlog.status is 'Unfinished status, as plain text.';
comment on column app_reporting.backlog.priority is 'Priority, as plain text.';
comment on column app_reporting.backlog.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent).';
comment on column app_reporting.backlog.tickets is 'Tickets in that status and priority.';
comment on column app_reporting.backlog.unassigned is 'Of those, tickets without an agent.';
comment on column app_reporting.backlog.resolution_overdue is 'Of those, tickets past their resolution due time.';
comment on column app_reporting.backlog.oldest_created_at is 'Creation time of the oldest of those tickets; null when there are none.';

--------------------------------------------------------------------------------
-- Agent workload
--------------------------------------------------------------------------------
create view app_reporting.agent_workload as
select
  u.id as agent_id,
  u.display_name,
  u.is_active,
  count(t.id) filter (where t.status = 'open')::integer as open_tickets,
  count(t.id) filter (where t.status = 'in_progress')::integer as in_progress_tickets,
  count(t.id) filter (where t.status = 'waiting_on_customer')::integer as waiting_on_customer_tickets,
  count(t.id) filter (where t.resolved_at >= now() - interval '7 days')::integer as resolved_last_7_days,
  count(t.id) filter (where t.resolved_at >= now() - interval '30 days')::integer as resolved_last_30_days,
  round(
    (percentile_cont(0.5) within group (order by t.resolution_minutes::double precision)
      filter (where t.resolved_at >= now() - interval '30 days'))::numeric,
    2
  ) as median_resolution_minutes_last_30_days
from app_public.users as u
left join app_reporting.tickets as t on t.agent_id = u.id
-- Agents only: display names of customers never leave app_public.
where u.role = 'agent'
group by u.id;

comment on view app_reporting.agent_workload is
  'One row per agent (users whose role is agent, active or not): current tickets by status, tickets resolved recently and the median resolution time. Tickets are credited to their current agent.';
comment on column app_reporting.agent_workload.agent_id is 'Id of the agent.';
comment on column app_reporting.agent_workload.display_name is 'The agent''s display name (staff only; customers'' names are never shown here).';
comment on column app_reporting.agent_workload.is_active is 'False when the agent was deactivated.';
comment on column app_reporting.agent_workload.open_tickets is 'Tickets assigned to the agent and still open (work not started).';
comment on column app_reporting.agent_workload.in_progress_tickets is 'Tickets assigned to the agent and in progress.';
comment on column app_reporting.agent_workload.waiting_on_customer_tickets is 'Tickets assigned to the agent and waiting on the customer.';
comment on column app_reporting.agent_workload.resolved_last_7_days is 'Tickets of the agent with resolved_at in the last 7 days (including those closed since).';
comment on column app_reporting.agent_workload.resolved_last_30_days is 'Tickets of the agent with resolved_at in the last 30 days (including those closed since).';
comment on column app_reporting.agent_workload.median_resolution_minutes_last_30_days is 'Median minutes from creation to resolution of those last-30-days tickets; null when there are none.';

--------------------------------------------------------------------------------
-- SLA compliance
--------------------------------------------------------------------------------
create view app_reporting.sla_compliance as
with outcomes as (
  select
    date_trunc('week', t.created_at at time zone 'UTC')::date as week_start,
    t.priority,
    t.priority_rank,
    -- true: met, false: breached, null: not decided yet (or no target).
    case
      when t.first_response_breached then false
      when t.first_response_due_at is not null
        and coalesce(t.first_responded_at, t.resolved_at, t.closed_at) is not null then true
    end as first_response_met,
    case
      when t.resolution_breached then false
      when t.resolution_due_at is not null
        and coalesce(t.resolved_at, t.closed_at) is not null then true
    end as resolution_met
  from app_reporting.tickets as t
)
select
  o.week_start,
  to_char(o.week_start, 'IYYY-"W"IW') as iso_week,
  o.priority,
  o.priority_rank,
  count(*)::integer as tickets,
  count(*) filter (where o.first_response_met)::integer as first_response_met,
  count(*) filter (where not o.first_response_met)::integer as first_response_breached,
  count(*) filter (where o.first_response_met is null)::integer as first_response_pending,
  round(count(*) filter (where o.first_response_met) / nullif(count(o.first_response_met), 0)::numeric, 4)
    as first_response_compliance,
  count(*) filter (where o.resolution_met)::integer as resolution_met,
  count(*) filter (where not o.resolution_met)::integer as resolution_breached,
  count(*) filter (where o.resolution_met is null)::integer as resolution_pending,
  round(count(*) filter (where o.resolution_met) / nullif(count(o.resolution_met), 0)::numeric, 4)
    as resolution_compliance
from outcomes as o
group by o.week_start, o.priority, o.priority_rank;

comment on view app_reporting.sla_compliance is
  'SLA outcomes per ISO week of ticket creation (UTC) and priority. A target is met when the reply (first response) or the resolution came in time, or the ticket was resolved or closed in time without one; breached when late, or overdue now; pending while neither. Compliance = met / (met + breached).';
comment on column app_reporting.sla_compliance.week_start is 'Monday of the ISO week (UTC) in which the tickets were created.';
comment on column app_reporting.sla_compliance.iso_week is 'The same week as an ISO label, e.g. 2026-W10.';
comment on column app_reporting.sla_compliance.priority is 'Priority of the tickets, as plain text.';
comment on column app_reporting.sla_compliance.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent).';
comment on column app_reporting.sla_compliance.tickets is 'Tickets created that week with that priority.';
comment on column app_reporting.sla_compliance.first_response_met is 'Tickets whose first-response target was met.';
comment on column app_reporting.sla_compliance.first_response_breached is 'Tickets whose first-response target was breached (late reply, or none and overdue).';
comment on column app_reporting.sla_compliance.first_response_pending is 'Tickets with no first reply yet and time left (or no target).';
comment on column app_reporting.sla_compliance.first_response_compliance is 'first_response_met / (first_response_met + first_response_breached); null when nothing is decided yet.';
comment on column app_reporting.sla_compliance.resolution_met is 'Tickets resolved (or closed) by their resolution due time.';
comment on column app_reporting.sla_compliance.resolution_breached is 'Tickets resolved late, or unresolved past their due time.';
comment on column app_reporting.sla_compliance.resolution_pending is 'Tickets unresolved with time left (or no target).';
comment on column app_reporting.sla_compliance.resolution_compliance is 'resolution_met / (resolution_met + resolution_breached); null when nothing is decided yet.';

--------------------------------------------------------------------------------
-- Time distributions
--------------------------------------------------------------------------------
create view app_reporting.first_response_times as
select
  p.priority,
  p.priority_rank::integer as priority_rank,
  count(t.first_response_minutes)::integer as tickets,
  round((percentile_cont(0.5) within group (order by t.first_response_minutes::double precision))::numeric, 2)
    as p50_minutes,
  round((percentile_cont(0.9) within group (order by t.first_response_minutes::double precision))::numeric, 2)
    as p90_minutes
from unnest(enum_range(null::app_public.ticket_priority)::text[]) with ordinality as p (priority, priority_rank)
left join app_reporting.tickets as t on t.priority = p.priority
group by p.priority, p.priority_rank;

comment on view app_reporting.first_response_times is
  'Time to first public staff reply per priority, over all tickets that have one: median and 90th percentile (interpolated, as percentile_cont).';
comment on column app_reporting.first_response_times.priority is 'Priority as plain text (every priority has a row).';
comment on column app_reporting.first_response_times.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent).';
comment on column app_reporting.first_response_times.tickets is 'Tickets with a first reply.';
comment on column app_reporting.first_response_times.p50_minutes is 'Median minutes from creation to first reply; null without data.';
comment on column app_reporting.first_response_times.p90_minutes is '90th percentile of those minutes; null without data.';

create view app_reporting.resolution_times as
select
  p.priority,
  p.priority_rank::integer as priority_rank,
  count(t.resolution_minutes)::integer as tickets,
  round((percentile_cont(0.5) within group (order by t.resolution_minutes::double precision))::numeric, 2)
    as p50_minutes,
  round((percentile_cont(0.9) within group (order by t.resolution_minutes::double precision))::numeric, 2)
    as p90_minutes
from unnest(enum_range(null::app_public.ticket_priority)::text[]) with ordinality as p (priority, priority_rank)
left join app_reporting.tickets as t on t.priority = p.priority
group by p.priority, p.priority_rank;

comment on view app_reporting.resolution_times is
  'Time to resolution per priority, over all tickets with a resolved_at (closed without resolution and unresolved tickets are left out): median and 90th percentile (interpolated).';
comment on column app_reporting.resolution_times.priority is 'Priority as plain text (every priority has a row).';
comment on column app_reporting.resolution_times.priority_rank is 'Position of the priority from 1 (low) to 4 (urgent).';
comment on column app_reporting.resolution_times.tickets is 'Resolved tickets.';
comment on column app_reporting.resolution_times.p50_minutes is 'Median minutes from creation to resolution; null without data.';
comment on column app_reporting.resolution_times.p90_minutes is '90th percentile of those minutes; null without data.';

--------------------------------------------------------------------------------
-- Grants: SELECT on the views, nothing else. Tables and views are never
-- granted to PUBLIC by default; the explicit revoke documents the intent.
--------------------------------------------------------------------------------
revoke all on app_reporting.tickets from public;
revoke all on app_reporting.ticket_status_history from public;
revoke all on app_reporting.daily_flow from public;
revoke all on app_reporting.backlog from public;
revoke all on app_reporting.agent_workload from public;
revoke all on app_reporting.sla_compliance from public;
revoke all on app_reporting.first_response_times from public;
revoke all on app_reporting.resolution_times from public;

grant select on app_reporting.tickets to ticketing_analyst;
grant select on app_reporting.ticket_status_history to ticketing_analyst;
grant select on app_reporting.daily_flow to ticketing_analyst;
grant select on app_reporting.backlog to ticketing_analyst;
grant select on app_reporting.agent_workload to ticketing_analyst;
grant select on app_reporting.sla_compliance to ticketing_analyst;
grant select on app_reporting.first_response_times to ticketing_analyst;
grant select on app_reporting.resolution_times to ticketing_analyst;

--! split: 510-graphql-optional-arguments.sql
-- GraphQL arguments: required means non-null.
--
-- The API builds its schema with pgStrictFunctions (src/graphql/preset.ts):
-- an argument of an app_public function without a default is required and
-- non-null in GraphQL (`transitionTicket(input: {ticketId: null})` is refused
-- before it reaches the database); an argument with a default is optional.
-- assign_ticket's agent_id is null on purpose ("unassign"), so it gets a
-- default of null and stays nullable: `assignTicket(input: {ticketId, agentId:
-- null})` and leaving agentId out both unassign.
--
-- Only the argument list changes. The function's body, comment and grants stay
-- as the migration that last defined it left them: its definition is read from
-- the catalog and created again with the default added, so the body is stated
-- in one place only. Running this twice changes nothing (the default is then
-- present and the statement is skipped).
do $$
declare
  definition text := pg_catalog.pg_get_functiondef('app_public.assign_ticket(uuid, uuid)'::pg_catalog.regprocedure);
  signature text := pg_catalog.split_part(definition, E'\n', 1);
begin
  if pg_catalog.strpos(signature, 'DEFAULT') = 0 then
    if pg_catalog.strpos(signature, 'agent_id uuid)') = 0 then
      raise exception 'unexpected signature of app_public.assign_ticket: %', signature;
    end if;
    execute pg_catalog.replace(definition, signature,
      pg_catalog.replace(signature, 'agent_id uuid)', 'agent_id uuid DEFAULT NULL::uuid)'));
  end if;
end;
$$;
