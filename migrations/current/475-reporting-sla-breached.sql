-- The analysts' tickets view states the SLA breach rule through
-- app_private.sla_breached (470) instead of restating it; same columns, same
-- order, same types, so no analyst query changes.
--
-- A function called in a view runs with the reader's rights, so analysts get
-- EXECUTE on this one function: immutable, pure arithmetic on its two
-- arguments, reading no table. They still have no USAGE on app_private and
-- cannot call it by name.

grant execute on function app_private.sla_breached(timestamptz, timestamptz) to ticketing_analyst;

create or replace view app_reporting.tickets as
select
  t.id,
  t.number,
  t.status,
  t.priority,
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
  -- A ticket ended without a reply is judged at the moment it ended.
  app_private.sla_breached(t.first_response_due_at, coalesce(t.first_responded_at, t.resolved_at, t.closed_at, now()))
    as first_response_breached,
  app_private.sla_breached(t.resolution_due_at, coalesce(t.resolved_at, t.closed_at, now()))
    as resolution_breached
from app_public.tickets as t;
