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
