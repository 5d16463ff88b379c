-- One SLA breach rule: app_private.sla_breached(due, done).
--
-- The ticket fields firstResponseBreached / resolutionBreached and the
-- analysts' app_reporting.tickets view each stated "late when done after due"
-- in their own words. Now they call this function with what ends the target
-- (first reply, resolution, …) or now() while nothing has (the view: 475).
--
-- Immutable and written as an SQL-standard body without SET, so the planner
-- inlines it; the body is stored resolved, as are the bodies that call it.
-- Web roles need EXECUTE on it but no USAGE on app_private: a stored call is
-- never looked up by name again.

create or replace function app_private.sla_breached(due timestamptz, done timestamptz)
returns boolean
language sql
immutable
parallel safe
return due is not null and done > due;

comment on function app_private.sla_breached(timestamptz, timestamptz) is
  'The SLA rule: a target due at `due` is breached when `done` (when it was met, or the time of judgement, usually now(), while it is not) comes after it. No target (due null): never breached.';

revoke all on function app_private.sla_breached(timestamptz, timestamptz) from public;
grant execute on function app_private.sla_breached(timestamptz, timestamptz)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- The ticket fields
--------------------------------------------------------------------------------
create or replace function app_public.tickets_first_response_breached(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
return app_private.sla_breached(t.first_response_due_at, coalesce(t.first_responded_at, t.resolved_at, t.closed_at, now()));

comment on function app_public.tickets_first_response_breached(app_public.tickets) is
  'True when staff replied publicly after firstResponseDueAt, or have not replied and that time has passed (a ticket resolved or closed without a reply counts at that moment).';

create or replace function app_public.tickets_resolution_breached(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
return app_private.sla_breached(t.resolution_due_at, coalesce(t.resolved_at, t.closed_at, now()));

comment on function app_public.tickets_resolution_breached(app_public.tickets) is
  'True when the ticket was resolved (or closed) after resolutionDueAt, or is still unresolved and that time has passed.';
