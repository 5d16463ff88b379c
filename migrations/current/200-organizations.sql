-- Organizations (B2B customers) and their memberships. Rows are never
-- deleted: a removed membership keeps its row with removed_at set, so every
-- change (insert, role change, removal, return) is an INSERT or UPDATE that
-- the audit log records. Written only through the functions of
-- 220-organization-mutations.sql; no web role may write these tables directly.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_type where typname = 'organization_role' and typnamespace = 'app_public'::regnamespace) then
    create type app_public.organization_role as enum ('member', 'manager');
  end if;
end;
$$;

comment on type app_public.organization_role is 'A customer''s role in an organization: member, or manager (sees the organization''s tickets and may comment on, resolve and close them as their requester can).';

create table if not exists app_public.organizations (
  id uuid primary key default app_private.uuid_generate_v7(),
  name text not null,
  domains text[] not null default '{}',
  auto_join boolean not null default false,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint organizations_name_length check (name ~ '[^[:space:]]' and char_length(name) <= 200),
  constraint organizations_name_key unique (name),
  constraint organizations_domains_valid check (
    cardinality(domains) <= 20
    and array_position(domains, null) is null
    and char_length(array_to_string(domains, ' ')) <= 2000
    and (
      cardinality(domains) = 0
      or array_to_string(domains, ' ') ~ '^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}( ([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63})*$'
    )
  ),
  constraint organizations_timestamps_ordered check (updated_at >= created_at)
);

alter table app_public.organizations enable row level security;

drop trigger if exists _050_write_quota_edit on app_public.organizations;
create trigger _050_write_quota_edit before insert or update on app_public.organizations
  for each row execute function app_private.tg_enforce_write_quota('edit');

drop trigger if exists _100_set_updated_at on app_public.organizations;
create trigger _100_set_updated_at before update on app_public.organizations
  for each row execute function app_private.tg_set_updated_at();

drop trigger if exists _900_audit on app_public.organizations;
create trigger _900_audit after insert or update on app_public.organizations
  for each row execute function app_private.tg_audit();

comment on table app_public.organizations is '@behavior -insert -update -delete
A company whose people are customers. Tickets may be filed for an organization; its managers, and members whose membership shares sight, see them. Admins create and edit organizations (createOrganization, updateOrganization); customers see the active organizations they belong to; agents and admins see all.';
comment on column app_public.organizations.id is 'Primary key (time-ordered UUID).';
comment on column app_public.organizations.name is 'Name shown to users, 1-200 characters, unique.';
comment on column app_public.organizations.domains is 'Email domains of the organization (lower case, at most 20), used for auto-join.';
comment on column app_public.organizations.auto_join is 'When true, a customer account created with an email in one of the domains joins the organization as a member (without shared sight).';
comment on column app_public.organizations.is_active is 'False once deactivated: nobody sees tickets through it any more (requesters still see their own).';
comment on column app_public.organizations.created_at is 'When the organization was created.';
comment on column app_public.organizations.updated_at is 'When the organization row last changed.';

create table if not exists app_public.organization_memberships (
  id uuid primary key default app_private.uuid_generate_v7(),
  organization_id uuid not null references app_public.organizations (id),
  user_id uuid not null references app_public.users (id),
  role app_public.organization_role not null default 'member',
  sees_organization_tickets boolean not null default false,
  added_by uuid references app_public.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  removed_at timestamptz,
  removed_by uuid references app_public.users (id),
  constraint organization_memberships_one_per_user unique (organization_id, user_id),
  constraint organization_memberships_timestamps_ordered check (updated_at >= created_at)
);

alter table app_public.organization_memberships enable row level security;

-- The tables are created in this migration: the builds are instant.
-- squawk-ignore require-concurrent-index-creation
create index if not exists organization_memberships_user_idx
  on app_public.organization_memberships (user_id, organization_id)
  include (role, sees_organization_tickets, removed_at);
-- squawk-ignore require-concurrent-index-creation
create index if not exists organization_memberships_added_by_idx on app_public.organization_memberships (added_by);
-- squawk-ignore require-concurrent-index-creation
create index if not exists organization_memberships_removed_by_idx on app_public.organization_memberships (removed_by);

drop trigger if exists _050_write_quota_edit on app_public.organization_memberships;
create trigger _050_write_quota_edit before insert or update on app_public.organization_memberships
  for each row execute function app_private.tg_enforce_write_quota('edit');

drop trigger if exists _100_set_updated_at on app_public.organization_memberships;
create trigger _100_set_updated_at before update on app_public.organization_memberships
  for each row execute function app_private.tg_set_updated_at();

drop trigger if exists _900_audit on app_public.organization_memberships;
create trigger _900_audit after insert or update on app_public.organization_memberships
  for each row execute function app_private.tg_audit();

comment on table app_public.organization_memberships is '@behavior -insert -update -delete
A customer''s membership of an organization: member or manager, and whether the member sees the organization''s tickets. Changed only by admins (addOrganizationMember, removeOrganizationMember); a removed membership keeps its row (removedAt) and grants nothing from that moment. Customers see their own memberships, managers those of their organizations.';
comment on column app_public.organization_memberships.id is 'Primary key (time-ordered UUID).';
comment on column app_public.organization_memberships.organization_id is 'The organization.';
comment on column app_public.organization_memberships.user_id is 'The customer who belongs to it.';
comment on column app_public.organization_memberships.role is 'member or manager.';
comment on column app_public.organization_memberships.sees_organization_tickets is 'Whether this member sees the tickets filed for the organization (managers always do).';
comment on column app_public.organization_memberships.added_by is 'Who added (or last changed) the membership; null for auto-join and maintenance.';
comment on column app_public.organization_memberships.created_at is 'When the membership was first made.';
comment on column app_public.organization_memberships.updated_at is 'When the membership last changed.';
comment on column app_public.organization_memberships.removed_at is 'When the membership was removed; null while it is in force.';
comment on column app_public.organization_memberships.removed_by is 'Who removed the membership.';

do $$
begin
  if not exists (select 1 from pg_catalog.pg_type where typname = 'participant_kind' and typnamespace = 'app_public'::regnamespace) then
    create type app_public.participant_kind as enum ('cc', 'follower');
  end if;
end;
$$;

comment on type app_public.participant_kind is 'How a person takes part in a ticket besides its requester: cc (a customer who sees the ticket and its public comments and may reply) or follower (staff who get its events).';

create table if not exists app_public.ticket_participants (
  id uuid primary key default app_private.uuid_generate_v7(),
  ticket_id uuid not null references app_public.tickets (id),
  user_id uuid not null references app_public.users (id),
  kind app_public.participant_kind not null,
  added_by uuid references app_public.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  removed_at timestamptz,
  removed_by uuid references app_public.users (id),
  constraint ticket_participants_one_per_user unique (ticket_id, user_id),
  constraint ticket_participants_timestamps_ordered check (updated_at >= created_at)
);

alter table app_public.ticket_participants enable row level security;

-- squawk-ignore require-concurrent-index-creation
create index if not exists ticket_participants_user_idx
  on app_public.ticket_participants (user_id, ticket_id)
  include (kind, removed_at);
-- squawk-ignore require-concurrent-index-creation
create index if not exists ticket_participants_added_by_idx on app_public.ticket_participants (added_by);
-- squawk-ignore require-concurrent-index-creation
create index if not exists ticket_participants_removed_by_idx on app_public.ticket_participants (removed_by);

drop trigger if exists _050_write_quota_edit on app_public.ticket_participants;
create trigger _050_write_quota_edit before insert or update on app_public.ticket_participants
  for each row execute function app_private.tg_enforce_write_quota('edit');

drop trigger if exists _100_set_updated_at on app_public.ticket_participants;
create trigger _100_set_updated_at before update on app_public.ticket_participants
  for each row execute function app_private.tg_set_updated_at();

drop trigger if exists _900_audit on app_public.ticket_participants;
create trigger _900_audit after insert or update on app_public.ticket_participants
  for each row execute function app_private.tg_audit();

comment on table app_public.ticket_participants is '@behavior -insert -update -delete
A person taking part in a ticket besides its requester: cc (a customer) or follower (staff). Added and removed with addTicketParticipant and removeTicketParticipant; a removed participant keeps its row (removedAt), so every change is in the audit log. Visible with the ticket.';
comment on column app_public.ticket_participants.id is 'Primary key (time-ordered UUID).';
comment on column app_public.ticket_participants.ticket_id is 'The ticket.';
comment on column app_public.ticket_participants.user_id is 'The participant.';
comment on column app_public.ticket_participants.kind is 'cc (customers) or follower (agents and admins).';
comment on column app_public.ticket_participants.added_by is 'Who added (or last re-added) the participant.';
comment on column app_public.ticket_participants.created_at is 'When the participant was first added.';
comment on column app_public.ticket_participants.updated_at is 'When the row last changed.';
comment on column app_public.ticket_participants.removed_at is 'When the participant was removed; null while they take part.';
comment on column app_public.ticket_participants.removed_by is 'Who removed the participant.';
