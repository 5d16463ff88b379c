--! Previous: sha1:20f44b01f61c088c171669fc8488ea7c7115a13c
--! Hash: sha1:4928b19fa89f1e348ba0e499b5dd7f9fa3063cf2
--! Message: Organizations and ticket participants: one customer visibility rule (own, organization sight, cc), managers act as requesters, realtime routing and reporting by organization

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-organizations.sql
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

--! split: 210-organization-visibility.sql
-- Tickets carry the organization they were filed for; who sees a ticket is
-- still one rule, the select policies of app_public.tickets (the child tables
-- keep asking `exists (select 1 from app_public.tickets …)`). For customers it
-- grows from "own" to own + their organizations' (shared sight or manager,
-- active organizations only) + the tickets they are copied in on. The caller's
-- organizations and cc tickets are read once per statement by the helpers
-- below (as initplans), so each ticket row costs one array probe and the
-- planner can combine the indexes on customer_id, organization_id and id.

-- A nullable column without default: a catalog change only.
alter table app_public.tickets add column if not exists organization_id uuid;

alter table app_public.tickets drop constraint if exists tickets_organization_id_fkey;
alter table app_public.tickets add constraint tickets_organization_id_fkey
  foreign key (organization_id) references app_public.organizations (id) not valid;

-- Every existing ticket has a null organization_id, but the build still reads
-- the whole table under a SHARE lock: on a large installation commit this
-- migration first and build the index `concurrently` in a migration of its own
-- (see docs/conventions.md).
-- squawk-ignore require-concurrent-index-creation
create index if not exists tickets_organization_created_idx
  on app_public.tickets (organization_id, created_at desc);

comment on column app_public.tickets.organization_id is 'The organization the ticket was filed for: one the customer belongs to (by default their first organization that is active), or null. Customers choose among theirs when filing; agents (on tickets assigned to them) and admins may change it.';

-- The caller's organizations (helpers of the policies) -----------------------

create or replace function app_private.customer_organization_ids()
returns uuid[]
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(m.organization_id order by m.organization_id), '{}')
  from app_public.organization_memberships as m
  join app_public.organizations as o on o.id = m.organization_id
  where m.user_id = app_private.acting_user_id('customer')
    and m.removed_at is null
    and o.is_active;
$$;

comment on function app_private.customer_organization_ids() is 'Policy helper: the active organizations the requesting customer belongs to (any role, any sight); empty for anyone else. Call it as (select …) so it runs once per statement.';

create or replace function app_private.customer_sighted_organization_ids()
returns uuid[]
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(m.organization_id order by m.organization_id), '{}')
  from app_public.organization_memberships as m
  join app_public.organizations as o on o.id = m.organization_id
  where m.user_id = app_private.acting_user_id('customer')
    and m.removed_at is null
    and (m.sees_organization_tickets or m.role = 'manager')
    and o.is_active;
$$;

comment on function app_private.customer_sighted_organization_ids() is 'Policy helper: the active organizations whose tickets the requesting customer sees (their membership shares sight, or they manage it); empty for anyone else. Removing the membership or deactivating the organization takes it out at once.';

create or replace function app_private.customer_managed_organization_ids()
returns uuid[]
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(m.organization_id order by m.organization_id), '{}')
  from app_public.organization_memberships as m
  join app_public.organizations as o on o.id = m.organization_id
  where m.user_id = app_private.acting_user_id('customer')
    and m.removed_at is null
    and m.role = 'manager'
    and o.is_active;
$$;

comment on function app_private.customer_managed_organization_ids() is 'Policy helper: the active organizations the requesting customer manages; empty for anyone else.';

create or replace function app_private.customer_cc_ticket_ids()
returns uuid[]
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(p.ticket_id order by p.ticket_id), '{}')
  from app_public.ticket_participants as p
  where p.user_id = app_private.acting_user_id('customer')
    and p.kind = 'cc'
    and p.removed_at is null;
$$;

comment on function app_private.customer_cc_ticket_ids() is 'Policy helper: the tickets the requesting customer is copied in on (cc); empty for anyone else.';

create or replace function app_private.customer_colleague_ids()
returns uuid[]
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(distinct m.user_id), '{}')
  from app_public.organization_memberships as m
  where m.organization_id = any (app_private.customer_organization_ids())
    and m.removed_at is null;
$$;

comment on function app_private.customer_colleague_ids() is 'Policy helper: the customers who share an active organization with the requesting customer (themselves included); empty for anyone else.';

create or replace function app_private.acts_on_ticket(ticket app_public.tickets)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select case app_private.current_user_role()
    when 'admin' then true
    when 'agent' then ticket.agent_id = app_private.current_user_id()
    when 'customer' then ticket.customer_id = app_private.current_user_id()
      or ticket.organization_id = any (app_private.customer_managed_organization_ids())
    else false
  end;
$$;

revoke all on function app_private.acts_on_ticket(app_public.tickets) from public;

comment on function app_private.acts_on_ticket(app_public.tickets) is 'Whether the requesting user may act on the ticket as its owner: admins on any, agents on those assigned to them, customers as its requester or as a manager of its (active) organization. The one rule behind transitionTicket and participants (public comments and files from the customer side also admit a cc: customer_writes_on).';

do $$
declare
  helper text;
begin
  foreach helper in array array[
    'app_private.customer_organization_ids()',
    'app_private.customer_sighted_organization_ids()',
    'app_private.customer_managed_organization_ids()',
    'app_private.customer_cc_ticket_ids()',
    'app_private.customer_colleague_ids()'
  ] loop
    execute format('revoke all on function %s from public', helper);
    execute format('grant execute on function %s to ticketing_customer, ticketing_agent, ticketing_admin', helper);
  end loop;
end;
$$;

-- The ticket's organization must be one its customer belongs to --------------

create or replace function app_private.tg_tickets_organization()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if new.organization_id is null and tg_op = 'INSERT' then
    -- The customer's primary organization: the first they joined that is active.
    select m.organization_id into new.organization_id
    from app_public.organization_memberships as m
    join app_public.organizations as o on o.id = m.organization_id
    where m.user_id = new.customer_id
      and m.removed_at is null
      and o.is_active
    order by m.created_at, m.id
    limit 1;
  elsif new.organization_id is not null then
    if not exists (
      select 1
      from app_public.organization_memberships as m
      join app_public.organizations as o on o.id = m.organization_id
      where m.organization_id = new.organization_id
        and m.user_id = new.customer_id
        and m.removed_at is null
        and o.is_active
    ) then
      raise exception using errcode = 'TKVAL', message = 'A ticket can only be filed for an active organization its customer belongs to';
    end if;
  end if;
  return new;
end;
$$;

comment on function app_private.tg_tickets_organization() is 'Trigger: a new ticket without organization gets its customer''s primary one (the first active organization they joined); an organization given or changed must be active and have the ticket''s customer as a member (TKVAL otherwise).';

drop trigger if exists _110_organization_insert on app_public.tickets;
create trigger _110_organization_insert before insert on app_public.tickets
  for each row execute function app_private.tg_tickets_organization();

drop trigger if exists _110_organization_update on app_public.tickets;
create trigger _110_organization_update before update on app_public.tickets
  for each row
  when (old.organization_id is distinct from new.organization_id or old.customer_id is distinct from new.customer_id)
  execute function app_private.tg_tickets_organization();

-- An organization change is announced like the other edits.
drop trigger if exists _950_notify_update on app_public.tickets;
create trigger _950_notify_update after update on app_public.tickets
  for each row
  when (
    old.agent_id is distinct from new.agent_id
    or old.status is distinct from new.status
    or old.subject is distinct from new.subject
    or old.description is distinct from new.description
    or old.priority is distinct from new.priority
    or old.customer_id is distinct from new.customer_id
    or old.organization_id is distinct from new.organization_id
  )
  execute function app_private.tg_tickets_notify();

drop trigger if exists _050_write_quota_edit on app_public.tickets;
create trigger _050_write_quota_edit before update of subject, description, priority, organization_id on app_public.tickets
  for each row execute function app_private.tg_enforce_write_quota('edit');

grant insert (organization_id) on app_public.tickets to ticketing_customer, ticketing_agent, ticketing_admin;
grant update (organization_id) on app_public.tickets to ticketing_agent, ticketing_admin;

-- The one visibility rule, for customers ------------------------------------

drop policy if exists select_customer on app_public.tickets;
create policy select_customer on app_public.tickets
  for select to ticketing_customer
  using (
    customer_id = (select app_private.acting_user_id('customer'))
    or organization_id = any ((select app_private.customer_sighted_organization_ids())::uuid[])
    or id = any ((select app_private.customer_cc_ticket_ids())::uuid[])
  );

comment on policy select_customer on app_public.tickets is 'Customers read their own tickets, the tickets of the active organizations where their membership shares sight or they are a manager, and the tickets they are copied in on (cc).';

-- Who may write on a ticket from the customer side (a public comment, a
-- file): its requester, a manager of its organization, or a cc; members who
-- only share sight read but do not write. One statement of that rule for the
-- write policies (one row each, so a call per row costs nothing); the read
-- policy of tickets keeps its once-per-statement form.
create or replace function app_private.customer_writes_on(ticket_id uuid)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select exists (
    select 1
    from app_public.tickets as t
    where t.id = customer_writes_on.ticket_id
      and (
        t.customer_id = app_private.acting_user_id('customer')
        or t.organization_id = any (app_private.customer_managed_organization_ids())
        or t.id = any (app_private.customer_cc_ticket_ids())
      )
  );
$$;

comment on function app_private.customer_writes_on(uuid) is
  'Policy helper for writes: whether the requesting customer may write on the ticket (requester, manager of its active organization, or cc); false for anyone else.';

revoke all on function app_private.customer_writes_on(uuid) from public;
grant execute on function app_private.customer_writes_on(uuid) to ticketing_customer, ticketing_agent, ticketing_admin;

-- Public comments: as themselves, on tickets that are not closed and that they write on.
drop policy if exists insert_customer on app_public.ticket_comments;
create policy insert_customer on app_public.ticket_comments
  for insert to ticketing_customer
  with check (
    author_id = (select app_private.acting_user_id('customer'))
    and not is_internal
    and exists (select 1 from app_public.tickets as t where t.id = ticket_id and t.status <> 'closed')
    and (select app_private.customer_writes_on(ticket_id))
  );

comment on policy insert_customer on app_public.ticket_comments is 'Customers write public comments, as themselves, on tickets that are not closed and that they requested, manage (organization manager) or are copied in on; members who only share sight read but do not write.';

comment on policy select_customer on app_public.ticket_comments is 'Customers read the public comments of the tickets they can read (own, organization, cc), never internal notes.';

-- Customers see their colleagues (to copy them in), besides themselves and staff.
drop policy if exists select_customer on app_public.users;
create policy select_customer on app_public.users
  for select to ticketing_customer
  using (
    (select app_private.acting_user_id('customer')) is not null
    and (
      id = (select app_private.acting_user_id('customer'))
      or role <> 'customer'
      or id = any ((select app_private.customer_colleague_ids())::uuid[])
    )
  );

comment on policy select_customer on app_public.users is 'Customers see themselves, staff (agents, admins) and the customers who share an active organization with them; never other customers.';

-- Organizations, memberships, participants: read policies --------------------

grant select on app_public.organizations to ticketing_customer, ticketing_agent, ticketing_admin;
grant select on app_public.organization_memberships to ticketing_customer, ticketing_agent, ticketing_admin;
grant select on app_public.ticket_participants to ticketing_customer, ticketing_agent, ticketing_admin;

drop policy if exists select_customer on app_public.organizations;
create policy select_customer on app_public.organizations
  for select to ticketing_customer
  using (id = any ((select app_private.customer_organization_ids())::uuid[]));

comment on policy select_customer on app_public.organizations is 'Customers see the active organizations they belong to.';

drop policy if exists select_staff on app_public.organizations;
create policy select_staff on app_public.organizations
  for select to ticketing_agent, ticketing_admin
  using ((select app_private.current_user_role()) in ('agent', 'admin'));

comment on policy select_staff on app_public.organizations is 'Agents and admins see every organization.';

drop policy if exists select_customer on app_public.organization_memberships;
create policy select_customer on app_public.organization_memberships
  for select to ticketing_customer
  using (
    removed_at is null
    and (
      (user_id = (select app_private.acting_user_id('customer')) and organization_id = any ((select app_private.customer_organization_ids())::uuid[]))
      or organization_id = any ((select app_private.customer_managed_organization_ids())::uuid[])
    )
  );

comment on policy select_customer on app_public.organization_memberships is 'Customers see their own memberships in force of active organizations; managers also see every membership in force of the organizations they manage.';

drop policy if exists select_staff on app_public.organization_memberships;
create policy select_staff on app_public.organization_memberships
  for select to ticketing_agent, ticketing_admin
  using ((select app_private.current_user_role()) in ('agent', 'admin'));

comment on policy select_staff on app_public.organization_memberships is 'Agents and admins see every membership, removed ones included.';

drop policy if exists select_customer on app_public.ticket_participants;
create policy select_customer on app_public.ticket_participants
  for select to ticketing_customer
  using (
    removed_at is null
    and exists (select 1 from app_public.tickets as t where t.id = ticket_id offset 0)
  );

comment on policy select_customer on app_public.ticket_participants is 'Customers see the current participants of the tickets they can read (the tickets policies decide which).';

drop policy if exists select_staff on app_public.ticket_participants;
create policy select_staff on app_public.ticket_participants
  for select to ticketing_agent, ticketing_admin
  using (exists (select 1 from app_public.tickets as t where t.id = ticket_id offset 0));

comment on policy select_staff on app_public.ticket_participants is 'Agents and admins see the participants, removed ones included, of the tickets they can read.';

-- Lifecycle: customers act as requester or organization manager ---------------

create or replace function app_public.transition_ticket(ticket_id uuid, to_status app_public.ticket_status, note text default null)
returns app_public.tickets
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  caller_id uuid := app_private.current_user_id();
  caller_role app_public.user_role := app_private.current_user_role();
  ticket app_public.tickets;
begin
  if caller_role is null then
    raise exception using errcode = 'TKFBD', message = 'Sign in to change tickets';
  end if;
  if transition_ticket.ticket_id is null or transition_ticket.to_status is null then
    raise exception using errcode = 'TKVAL', message = 'ticketId and toStatus are required';
  end if;
  -- The note's length is ticket_status_history_note_length's rule, checked
  -- when the history row is written.

  -- Row lock: concurrent transitions of one ticket run one after the other,
  -- each seeing the status the previous one left.
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = transition_ticket.ticket_id
  for update;

  if not found
    or (caller_role = 'customer' and not app_private.acts_on_ticket(ticket))
    or (caller_role = 'agent' and ticket.agent_id is distinct from caller_id and ticket.status <> 'open')
  then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;

  if caller_role = 'agent' and ticket.agent_id is distinct from caller_id then
    raise exception using errcode = 'TKFBD', message = 'Only the agent assigned to this ticket can change its status';
  end if;

  if ticket.status = transition_ticket.to_status then
    raise exception using errcode = 'TKINV', message = format('The ticket is already %s', ticket.status);
  end if;

  -- Closed is final except for admins, whatever the workflow table says.
  if ticket.status = 'closed' and caller_role <> 'admin' then
    raise exception using errcode = 'TKINV', message = 'Closed tickets can only be reopened by an admin';
  end if;

  if not app_private.transition_allowed(ticket.status, transition_ticket.to_status, caller_role) then
    raise exception using
      errcode = 'TKINV',
      message = format('A %s cannot move a ticket from %s to %s', caller_role, ticket.status, transition_ticket.to_status);
  end if;

  if transition_ticket.to_status in ('in_progress', 'waiting_on_customer')
    and (ticket.agent_id is null or not app_private.is_active_agent(ticket.agent_id))
  then
    raise exception using errcode = 'TKINV', message = 'Assign an agent before work on this ticket starts';
  end if;

  perform set_config('app.status_note', coalesce(transition_ticket.note, ''), true);

  update app_public.tickets as tk
  set status = transition_ticket.to_status
  where tk.id = ticket.id
  returning tk.* into ticket;

  perform set_config('app.status_note', '', true);

  return ticket;
end;
$$;

comment on function app_public.transition_ticket(uuid, app_public.ticket_status, text) is 'Moves a ticket to another status, if ticketTransitions allows it for your role and you may act on the ticket (customers: as its requester or as a manager of its organization; agents: assigned to them; admins: any). Closed tickets can only be reopened by admins; in_progress and waiting_on_customer need an assigned agent. Sets or clears resolvedAt/closedAt and records the change (with the optional note, at most 2000 characters) in the status history. Errors: INVALID_TRANSITION, FORBIDDEN, NOT_FOUND, INVALID_INPUT.';

-- A reply from the customer side (the requester, a manager of the ticket's
-- organization, or a cc: whoever the comment policy let write it) moves a
-- ticket waiting on the customer back to in_progress.
create or replace function app_private.tg_ticket_comments_side_effects()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  author_role app_public.user_role;
begin
  select u.role into author_role
  from app_public.users as u
  where u.id = new.author_id;

  if new.is_internal then
    return null;
  end if;

  if author_role in ('agent', 'admin') then
    update app_public.tickets as tk
    set first_responded_at = greatest(new.created_at, tk.created_at)
    where tk.id = new.ticket_id
      and tk.first_responded_at is null;
  elsif author_role = 'customer' then
    perform set_config('app.status_note', 'Customer replied', true);

    update app_public.tickets as tk
    set status = 'in_progress'
    where tk.id = new.ticket_id
      and tk.status = 'waiting_on_customer';

    perform set_config('app.status_note', '', true);
  end if;

  return null;
end;
$$;

comment on function app_private.tg_ticket_comments_side_effects() is 'Trigger: after a public comment, a staff author sets the ticket''s first_responded_at (once); a reply from the customer side (the requester, a manager of its organization or a cc, as the comment policy allows) moves a waiting_on_customer ticket back to in_progress (recorded in the status history as "Customer replied").';

comment on table app_public.tickets is '@behavior -delete
A support request. Customers see their own tickets, those of their organizations where their membership shares sight or they are a manager, and those they are copied in on; agents the ones assigned to them plus every open ticket; admins all. Status and assignee change only through transitionTicket, assignTicket and takeNextTicket. Tickets are never deleted (close them).';

comment on table app_public.users is '@behavior -insert -delete
A person using the helpdesk. Created by register/createUser, never deleted (deactivate instead). Customers see themselves, staff and the customers of their active organizations; agents and admins see everybody.';

--! split: 215-ticket-visibility-index.sql
-- The child tables' policies check the ticket of each row they read by its
-- primary key, under the caller's tickets policy; that probe stays index-only
-- when the index carries every column the policies read: the customer, the
-- agent, the status and now the organization. tickets_visibility_idx replaces
-- tickets_access_idx (the same key, one more included column).
--
-- As for tickets_organization_created_idx (210): on a large installation
-- commit this migration first and build the index `concurrently` in a
-- migration of its own, then drop the old one.
-- squawk-ignore require-concurrent-index-creation
create index if not exists tickets_visibility_idx
  on app_public.tickets (id) include (customer_id, agent_id, status, organization_id);

-- Dropping an index is a catalog change; its ACCESS EXCLUSIVE lock is held
-- only until the migration commits (the lock timeout bounds the wait).
-- squawk-ignore require-concurrent-index-deletion
drop index if exists app_public.tickets_access_idx;

--! split: 220-organization-mutations.sql
-- Organizations, memberships and ticket participants change only through
-- these functions. Each checks its caller, raises the project's SQLSTATEs, and
-- writes rows the audit log records; every write counts against the caller's
-- 'edit' write quota (triggers of 200-organizations.sql).

create or replace function app_private.require_admin()
returns uuid
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  admin_id uuid := app_private.acting_user_id('admin');
begin
  if admin_id is null then
    raise exception using errcode = 'TKFBD', message = 'Only admins can manage organizations';
  end if;
  return admin_id;
end;
$$;

comment on function app_private.require_admin() is 'The requesting admin''s id; raises TKFBD for anyone else (inactive, demoted, other roles).';

revoke all on function app_private.require_admin() from public;

create or replace function app_public.create_organization(name text, domains text[] default '{}', auto_join boolean default false)
returns app_public.organizations
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  created app_public.organizations;
begin
  perform app_private.require_admin();

  insert into app_public.organizations (name, domains, auto_join)
  values (
    btrim(create_organization.name),
    coalesce((select array_agg(distinct lower(btrim(d))) from unnest(create_organization.domains) as d), '{}'),
    coalesce(create_organization.auto_join, false)
  )
  returning * into created;

  return created;
end;
$$;

comment on function app_public.create_organization(text, text[], boolean) is 'Admins: creates an organization (name 1-200 characters, unique; up to 20 email domains, stored in lower case; autoJoin: customers registering with one of the domains join it). Errors: FORBIDDEN, INVALID_INPUT, RATE_LIMITED.';

create or replace function app_public.update_organization(
  organization_id uuid,
  name text default null,
  domains text[] default null,
  auto_join boolean default null,
  is_active boolean default null
)
returns app_public.organizations
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  changed app_public.organizations;
begin
  perform app_private.require_admin();

  update app_public.organizations as o
  set
    name = coalesce(btrim(update_organization.name), o.name),
    domains = case
      when update_organization.domains is null then o.domains
      else coalesce((select array_agg(distinct lower(btrim(d))) from unnest(update_organization.domains) as d), '{}')
    end,
    auto_join = coalesce(update_organization.auto_join, o.auto_join),
    is_active = coalesce(update_organization.is_active, o.is_active)
  where o.id = update_organization.organization_id
  returning o.* into changed;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Organization not found';
  end if;
  return changed;
end;
$$;

comment on function app_public.update_organization(uuid, text, text[], boolean, boolean) is 'Admins: changes an organization''s name, domains, auto-join or active flag (arguments left out stay as they are). Deactivating it takes away at once every sight its memberships gave. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT, RATE_LIMITED.';

create or replace function app_public.add_organization_member(
  organization_id uuid,
  user_id uuid,
  role app_public.organization_role default 'member',
  sees_organization_tickets boolean default false
)
returns app_public.organization_memberships
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  admin_id uuid := app_private.require_admin();
  membership app_public.organization_memberships;
begin
  if add_organization_member.organization_id is null or add_organization_member.user_id is null then
    raise exception using errcode = 'TKVAL', message = 'organizationId and userId are required';
  end if;
  if not exists (select 1 from app_public.organizations as o where o.id = add_organization_member.organization_id) then
    raise exception using errcode = 'TKNTF', message = 'Organization not found';
  end if;
  -- FOR SHARE: a concurrent role change or deactivation commits first.
  perform 1
  from app_public.users as u
  where u.id = add_organization_member.user_id
    and u.role = 'customer'
    and u.is_active
  for share;
  if not found then
    raise exception using errcode = 'TKVAL', message = 'Only active customers can be members of an organization';
  end if;
  if (
    select count(*)
    from app_public.organization_memberships as m
    where m.user_id = add_organization_member.user_id
      and m.removed_at is null
      and m.organization_id <> add_organization_member.organization_id
  ) >= 20 then
    raise exception using errcode = 'TKVAL', message = 'A customer belongs to at most 20 organizations';
  end if;

  insert into app_public.organization_memberships as m (organization_id, user_id, role, sees_organization_tickets, added_by)
  values (
    add_organization_member.organization_id,
    add_organization_member.user_id,
    coalesce(add_organization_member.role, 'member'),
    coalesce(add_organization_member.sees_organization_tickets, false),
    admin_id
  )
  on conflict on constraint organization_memberships_one_per_user do update
  set role = excluded.role,
      sees_organization_tickets = excluded.sees_organization_tickets,
      added_by = excluded.added_by,
      removed_at = null,
      removed_by = null
  returning m.* into membership;

  return membership;
end;
$$;

comment on function app_public.add_organization_member(uuid, uuid, app_public.organization_role, boolean) is 'Admins: makes an active customer a member (or manager) of an organization, or changes their role and sight; a removed member comes back. A customer belongs to at most 20 organizations. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT, RATE_LIMITED.';

create or replace function app_public.remove_organization_member(organization_id uuid, user_id uuid)
returns app_public.organization_memberships
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  admin_id uuid := app_private.require_admin();
  membership app_public.organization_memberships;
begin
  update app_public.organization_memberships as m
  set removed_at = now(),
      removed_by = admin_id
  where m.organization_id = remove_organization_member.organization_id
    and m.user_id = remove_organization_member.user_id
    and m.removed_at is null
  returning m.* into membership;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Membership not found';
  end if;
  return membership;
end;
$$;

comment on function app_public.remove_organization_member(uuid, uuid) is 'Admins: ends a membership. From that moment the customer no longer sees the organization''s tickets (their own stay theirs); the row stays, with removedAt, for the audit. Errors: FORBIDDEN, NOT_FOUND, RATE_LIMITED.';

-- Participants -----------------------------------------------------------------

create or replace function app_private.ticket_for_participants(ticket_id uuid)
returns app_public.tickets
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  ticket app_public.tickets;
begin
  if app_private.current_user_role() is null then
    raise exception using errcode = 'TKFBD', message = 'Sign in to change participants';
  end if;
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = ticket_for_participants.ticket_id
  for update;
  if not found or not app_private.acts_on_ticket(ticket) then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;
  if ticket.status = 'closed' and app_private.current_user_role() <> 'admin' then
    raise exception using errcode = 'TKFBD', message = 'This ticket is closed';
  end if;
  return ticket;
end;
$$;

comment on function app_private.ticket_for_participants(uuid) is 'The ticket whose participants the requesting user changes, locked; TKNTF unless they act on it (app_private.acts_on_ticket: requester, organization manager, assigned agent, admin), TKFBD when it is closed (except for admins).';

revoke all on function app_private.ticket_for_participants(uuid) from public;

create or replace function app_public.add_ticket_participant(ticket_id uuid, user_id uuid, kind app_public.participant_kind default 'cc')
returns app_public.ticket_participants
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  ticket app_public.tickets := app_private.ticket_for_participants(add_ticket_participant.ticket_id);
  caller_role app_public.user_role := app_private.current_user_role();
  person app_public.users;
  participant app_public.ticket_participants;
begin
  if add_ticket_participant.user_id is null or add_ticket_participant.kind is null then
    raise exception using errcode = 'TKVAL', message = 'userId and kind are required';
  end if;

  select u.* into person
  from app_public.users as u
  where u.id = add_ticket_participant.user_id
    and u.is_active;

  if caller_role = 'customer' then
    -- No adding strangers: only colleagues, copied in.
    if add_ticket_participant.kind <> 'cc' then
      raise exception using errcode = 'TKFBD', message = 'Customers can only copy people in (cc)';
    end if;
    if person.id is null or not person.id = any (app_private.customer_colleague_ids()) then
      raise exception using errcode = 'TKFBD', message = 'You can only copy in people of your own organizations';
    end if;
  end if;

  if person.id is null then
    raise exception using errcode = 'TKVAL', message = 'The participant must be an active user';
  end if;
  if add_ticket_participant.kind = 'cc' and person.role <> 'customer' then
    raise exception using errcode = 'TKVAL', message = 'Only customers are copied in (cc); staff follow tickets';
  end if;
  if add_ticket_participant.kind = 'follower' and person.role = 'customer' then
    raise exception using errcode = 'TKVAL', message = 'Only agents and admins follow tickets; customers are copied in (cc)';
  end if;
  if person.id = ticket.customer_id then
    raise exception using errcode = 'TKVAL', message = 'The requester already takes part in the ticket';
  end if;
  if (
    select count(*)
    from app_public.ticket_participants as p
    where p.ticket_id = ticket.id
      and p.removed_at is null
      and p.user_id <> person.id
  ) >= 50 then
    raise exception using errcode = 'TKVAL', message = 'A ticket has at most 50 participants';
  end if;

  insert into app_public.ticket_participants as p (ticket_id, user_id, kind, added_by)
  values (ticket.id, person.id, add_ticket_participant.kind, app_private.current_user_id())
  on conflict on constraint ticket_participants_one_per_user do update
  set kind = excluded.kind,
      added_by = excluded.added_by,
      removed_at = null,
      removed_by = null
  returning p.* into participant;

  return participant;
end;
$$;

comment on function app_public.add_ticket_participant(uuid, uuid, app_public.participant_kind) is 'Adds a participant to a ticket you act on (as its requester, a manager of its organization, its assigned agent, or an admin): cc (a customer, who then sees the ticket and its public comments and may reply) or follower (an agent or admin, who gets its events). Customers copy in only people of their own organizations. At most 50 participants per ticket; not on closed tickets. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT, RATE_LIMITED.';

create or replace function app_public.remove_ticket_participant(ticket_id uuid, user_id uuid)
returns app_public.ticket_participants
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  ticket app_public.tickets := app_private.ticket_for_participants(remove_ticket_participant.ticket_id);
  participant app_public.ticket_participants;
begin
  -- Customers take off the people they may add (cc), not staff who follow the ticket.
  if app_private.current_user_role() = 'customer' and exists (
    select 1
    from app_public.ticket_participants as p
    where p.ticket_id = ticket.id
      and p.user_id = remove_ticket_participant.user_id
      and p.kind = 'follower'
      and p.removed_at is null
  ) then
    raise exception using errcode = 'TKFBD', message = 'Customers cannot remove staff who follow the ticket';
  end if;

  update app_public.ticket_participants as p
  set removed_at = now(),
      removed_by = app_private.current_user_id()
  where p.ticket_id = ticket.id
    and p.user_id = remove_ticket_participant.user_id
    and p.removed_at is null
  returning p.* into participant;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Participant not found';
  end if;
  return participant;
end;
$$;

comment on function app_public.remove_ticket_participant(uuid, uuid) is 'Removes a participant from a ticket you act on (requester, organization manager, assigned agent, admin; customers remove cc only, not staff followers); a removed cc no longer sees the ticket. The row stays, with removedAt, for the audit. Errors: FORBIDDEN, NOT_FOUND, RATE_LIMITED.';

do $$
declare
  fn text;
begin
  foreach fn in array array[
    'app_public.create_organization(text, text[], boolean)',
    'app_public.update_organization(uuid, text, text[], boolean, boolean)',
    'app_public.add_organization_member(uuid, uuid, app_public.organization_role, boolean)',
    'app_public.remove_organization_member(uuid, uuid)'
  ] loop
    execute format('revoke all on function %s from public', fn);
    execute format('grant execute on function %s to ticketing_admin', fn);
  end loop;
  foreach fn in array array[
    'app_public.add_ticket_participant(uuid, uuid, app_public.participant_kind)',
    'app_public.remove_ticket_participant(uuid, uuid)'
  ] loop
    execute format('revoke all on function %s from public', fn);
    execute format('grant execute on function %s to ticketing_customer, ticketing_agent, ticketing_admin', fn);
  end loop;
end;
$$;

-- Domain auto-join: a new customer account joins the opted-in organizations
-- of its email's domain, as a member without shared sight.

create or replace function app_private.tg_user_accounts_auto_join()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  insert into app_public.organization_memberships (organization_id, user_id)
  select o.id, new.user_id
  from app_public.organizations as o
  join app_public.users as u on u.id = new.user_id and u.role = 'customer'
  where o.auto_join
    and o.is_active
    and lower(split_part(new.email::text, '@', 2)) = any (o.domains)
  order by o.created_at
  limit 20
  on conflict on constraint organization_memberships_one_per_user do nothing;
  return null;
end;
$$;

comment on function app_private.tg_user_accounts_auto_join() is 'Trigger: a new customer account joins, as a member without shared sight, every active organization that opted in to auto-join (autoJoin) and lists its email''s domain.';

drop trigger if exists _500_auto_join on app_private.user_accounts;
create trigger _500_auto_join after insert on app_private.user_accounts
  for each row execute function app_private.tg_user_accounts_auto_join();

--! split: 230-realtime-organizations.sql
-- Realtime follows the organization visibility. Ticket events name the
-- ticket's organization, so the API can route them to the subscriptions of
-- its members; what is delivered is still decided by the subscriber's own
-- row-level security (the tickets policies), re-checked for every event, so a
-- removed member or a deactivated organization stops delivery at once.

-- app_private.realtime_events is small (a week of events) and the column is
-- nullable without default: a catalog change only.
alter table app_private.realtime_events add column if not exists organization_id uuid;

comment on column app_private.realtime_events.organization_id is 'The ticket''s organization after the change (ticket events), for routing to its members'' subscriptions.';

create or replace function app_private.notify_ticket_event(
  ticket app_public.tickets,
  kind text,
  previous app_public.tickets default null,
  comment_id uuid default null
)
returns void
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  event app_private.realtime_events;
begin
  event.kind := kind;
  event.ticket_id := ticket.id;
  event.comment_id := comment_id;
  event.customer_id := ticket.customer_id;
  event.previous_customer_id := nullif(previous.customer_id, ticket.customer_id);
  event.agent_id := ticket.agent_id;
  event.previous_agent_id := nullif(previous.agent_id, ticket.agent_id);
  event.organization_id := ticket.organization_id;
  event.in_open_pool := (ticket.status = 'open' and ticket.agent_id is null)
    or coalesce(previous.status = 'open' and previous.agent_id is null, false);
  perform app_private.announce_realtime_event(event);
end;
$$;

comment on function app_private.notify_ticket_event(app_public.tickets, text, app_public.tickets, uuid) is 'Records one realtime event of a ticket (kind, comment id, the customer and agent before and after, its organization, whether it is or was in the open pool; never content) and notifies its id on ticketing_events.';

create or replace function app_private.announce_realtime_event(event app_private.realtime_events)
returns void
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  event_id bigint;
begin
  insert into app_private.realtime_events (
    kind, ticket_id, comment_id, customer_id, previous_customer_id,
    agent_id, previous_agent_id, organization_id, in_open_pool, user_id
  ) values (
    event.kind, event.ticket_id, event.comment_id, event.customer_id, event.previous_customer_id,
    event.agent_id, event.previous_agent_id, event.organization_id, coalesce(event.in_open_pool, false), event.user_id
  )
  returning id into event_id;

  perform pg_notify('ticketing_events', event_id::text);

  if event_id % 256 = 0 then
    perform app_private.prune_realtime_events();
  end if;
end;
$$;

comment on function app_private.announce_realtime_event(app_private.realtime_events) is 'Records a realtime event (id and occurred_at assigned here, the organization included) and notifies its id on ticketing_events; prunes old events every 256th call.';

-- Where a subscriber's events may come from besides their own tickets: the
-- organizations whose tickets they see, and the tickets they take part in.
create or replace function app_private.realtime_routes(user_id uuid, out organization_ids uuid[], out ticket_ids uuid[])
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select
    coalesce((
      select array_agg(m.organization_id order by m.organization_id)
      from app_public.organization_memberships as m
      join app_public.organizations as o on o.id = m.organization_id
      where m.user_id = u.id
        and u.role = 'customer'
        and m.removed_at is null
        and (m.sees_organization_tickets or m.role = 'manager')
        and o.is_active
    ), '{}'),
    coalesce((
      select array_agg(p.ticket_id order by p.ticket_id)
      from (
        select p.ticket_id
        from app_public.ticket_participants as p
        where p.user_id = u.id
          and p.removed_at is null
        order by p.ticket_id
        limit 1000
      ) as p
    ), '{}')
  from (select null) as nothing
  left join app_public.users as u on u.id = realtime_routes.user_id and u.is_active;
$$;

comment on function app_private.realtime_routes(uuid) is 'Realtime routing (not visibility): the organizations whose tickets an active customer sees and the tickets an active user takes part in (cc or follower, at most 1000). The API re-checks every event against the subscriber''s row-level security before delivering it.';

revoke all on function app_private.realtime_routes(uuid) from public;
grant execute on function app_private.realtime_routes(uuid) to ticketing_authenticator;

drop function if exists app_private.realtime_events_after(bigint, uuid, uuid, uuid, integer);

create or replace function app_private.realtime_events_after(
  after_id bigint,
  for_ticket_id uuid default null,
  for_customer_id uuid default null,
  for_agent_id uuid default null,
  max_rows integer default 500,
  for_organization_ids uuid[] default null,
  for_ticket_ids uuid[] default null
)
returns setof app_private.realtime_events
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  policy record;
  row_limit integer;
  latest bigint;
  first_after timestamptz;
  found_rows integer;
begin
  select p.max_age, p.max_rows into policy from app_private.realtime_replay_policy() as p;
  row_limit := least(greatest(coalesce(max_rows, 0), 0), policy.max_rows);

  if num_nonnulls(for_ticket_id, for_customer_id, for_agent_id) <> 1 then
    raise exception 'Name exactly one ticket, customer or agent' using errcode = 'TKVAL';
  end if;

  -- A cursor beyond the newest event was never issued.
  select coalesce(max(e.id), 0) into latest from app_private.realtime_events as e;
  if after_id is null or after_id < 0 or after_id > latest then
    raise exception 'This cursor is unknown; reload and subscribe again' using errcode = 'TKCEX';
  end if;

  -- The first event after the cursor is older than the replay may reach.
  select e.occurred_at into first_after
  from app_private.realtime_events as e
  where e.id > after_id
  order by e.id
  limit 1;
  if first_after is not null and first_after < clock_timestamp() - policy.max_age then
    raise exception 'This cursor is too old to resume from; reload and subscribe again' using errcode = 'TKCEX';
  end if;

  return query
  select e.*
  from app_private.realtime_events as e
  where e.id > after_id
    and e.user_id is null
    and (
      e.ticket_id = for_ticket_id
      or e.customer_id = for_customer_id
      or e.previous_customer_id = for_customer_id
      or e.agent_id = for_agent_id
      or e.previous_agent_id = for_agent_id
      or (for_agent_id is not null and e.in_open_pool)
      or (for_ticket_id is null and e.organization_id = any (for_organization_ids))
      or (for_ticket_id is null and e.ticket_id = any (for_ticket_ids))
    )
  order by e.id
  limit row_limit + 1;

  get diagnostics found_rows = row_count;
  if found_rows > row_limit then
    raise exception 'Too much happened since this cursor to replay; reload and subscribe again' using errcode = 'TKCEX';
  end if;
end;
$$;

comment on function app_private.realtime_events_after(bigint, uuid, uuid, uuid, integer, uuid[], uuid[]) is 'Realtime resume: the ticket events after after_id that concern one ticket, one customer or one agent''s queue (plus, for the latter two, the organizations and tickets of their realtime_routes), in id order, at most max_rows (and realtime_replay_policy()). Raises TKCEX (CURSOR_EXPIRED) for an unknown cursor, one older than the policy allows, or more events than the bound. The API re-checks every row under the subscriber''s rights.';

revoke all on function app_private.realtime_events_after(bigint, uuid, uuid, uuid, integer, uuid[], uuid[]) from public;
grant execute on function app_private.realtime_events_after(bigint, uuid, uuid, uuid, integer, uuid[], uuid[]) to ticketing_authenticator;

--! split: 240-reporting-organizations.sql
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
