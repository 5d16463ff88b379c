-- Reporting: each ticket names its organization (id and name), so reports per
-- company are plain SQL (`group by organization_id, organization_name`). Names
-- of organizations are labels chosen by admins, not free text written by
-- customers; nothing else of the organization (domains) is shown.

create or replace view app_reporting.tickets as
select
  t.id,
  t.number,
  t.status::text as status,
  t.priority::text as priority,
  array_position(enum_range(null::app_public.ticket_priority), t.priority) as priority_rank,
  t.customer_id,
  t.agent_id,
  t.created_at,
  t.updated_at,
  t.first_response_due_at,
  t.resolution_due_at,
  t.first_responded_at,
  t.resolved_at,
  t.closed_at,
  round(extract(epoch from t.first_responded_at - t.created_at) / 60::numeric, 2) as first_response_minutes,
  round(extract(epoch from t.resolved_at - t.created_at) / 60::numeric, 2) as resolution_minutes,
  app_private.sla_breached(t.first_response_due_at, coalesce(t.first_responded_at, t.resolved_at, t.closed_at, now())) as first_response_breached,
  app_private.sla_breached(t.resolution_due_at, coalesce(t.resolved_at, t.closed_at, now())) as resolution_breached,
  t.organization_id,
  -- A scalar subquery rather than a join: the view keeps its shape (one row
  -- per ticket, simple enough that writes through it are refused on privileges).
  (select o.name from app_public.organizations as o where o.id = t.organization_id) as organization_name
from app_public.tickets as t;

comment on view app_reporting.tickets is 'One row per ticket: identifiers, status, priority, people (ids only), its organization (id and name), timestamps and SLA facts. No subject, description or comments.';
comment on column app_reporting.tickets.organization_id is 'Id of the organization the ticket was filed for; null when none.';
comment on column app_reporting.tickets.organization_name is 'Name of that organization (as it is now); null when none.';

create or replace view app_reporting.organizations as
select
  o.id as organization_id,
  o.name as organization_name,
  o.is_active,
  o.created_at,
  (
    select count(*)::integer
    from app_public.organization_memberships as m
    where m.organization_id = o.id
      and m.removed_at is null
  ) as members,
  (
    select count(*)::integer
    from app_public.organization_memberships as m
    where m.organization_id = o.id
      and m.removed_at is null
      and m.role = 'manager'
  ) as managers
from app_public.organizations as o;

comment on view app_reporting.organizations is 'One row per organization: id, name, whether it is active, and how many members (managers included) and managers it has now. No domains, no people.';
comment on column app_reporting.organizations.organization_id is 'Id of the organization (joins app_reporting.tickets.organization_id).';
comment on column app_reporting.organizations.organization_name is 'Its name.';
comment on column app_reporting.organizations.is_active is 'False once deactivated.';
comment on column app_reporting.organizations.created_at is 'When it was created.';
comment on column app_reporting.organizations.members is 'Memberships in force (managers included).';
comment on column app_reporting.organizations.managers is 'Managers among them.';

grant select on app_reporting.organizations to ticketing_analyst;
