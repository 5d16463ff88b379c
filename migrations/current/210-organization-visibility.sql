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
