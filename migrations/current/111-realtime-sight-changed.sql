-- Realtime: a subscription hears the tickets that become visible after it
-- started. The API routes a customer's or agent's events by the
-- organizations and tickets of app_private.realtime_routes, read when the
-- subscription starts; when a user's memberships or participations change
-- (a membership added, given or taken sight, removed; a cc or follower added
-- or removed; an organization deactivated or reactivated), a user event
-- `sight_changed` names them, and the API reads that user's routes again
-- (one query per batch of events, for the users named in it). Routing only:
-- what is delivered is still decided by the subscriber's row-level security,
-- checked for every event, so losing sight stops delivery whether or not the
-- routes were read again.

-- The event log keeps a week of rows; the new rules check new rows now and
-- are validated in the next migration (docs/conventions.md).
alter table app_private.realtime_events drop constraint if exists realtime_events_kind_known;
alter table app_private.realtime_events add constraint realtime_events_kind_known check (
  kind in (
    'created', 'status_changed', 'assigned', 'commented', 'updated', 'deactivated', 'role_changed',
    'sla_at_risk', 'sla_breached', 'sla_met', 'sight_changed'
  )
) not valid;

alter table app_private.realtime_events drop constraint if exists realtime_events_subject;
alter table app_private.realtime_events add constraint realtime_events_subject check (
  case
    when kind in ('deactivated', 'role_changed', 'sight_changed') then
      user_id is not null and ticket_id is null and comment_id is null
    else
      user_id is null and ticket_id is not null and customer_id is not null
  end
) not valid;

comment on column app_private.realtime_events.kind is 'created, status_changed, assigned, commented, updated, sla_at_risk, sla_breached or sla_met (tickets); deactivated, role_changed or sight_changed (users).';
comment on column app_private.realtime_events.user_id is 'The user deactivated, whose role changed, or whose organizations or ticket participations changed (user events).';

create or replace function app_private.announce_sight_changed(user_ids uuid[])
returns void
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  person uuid;
  event app_private.realtime_events;
begin
  foreach person in array array(select distinct u from unnest(user_ids) as u where u is not null) loop
    event := null;
    event.kind := 'sight_changed';
    event.user_id := person;
    perform app_private.announce_realtime_event(event);
  end loop;
end;
$$;

revoke all on function app_private.announce_sight_changed(uuid[]) from public;

comment on function app_private.announce_sight_changed(uuid[]) is 'Records a sight_changed user event for each of the users (once each): their organizations or ticket participations changed, so the API reads their realtime routes again.';

-- Memberships and participations: the user of a row added, or changed in
-- what gives sight (role, shared sight, kind, removal).
create or replace function app_private.tg_sight_changed()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform app_private.announce_sight_changed(array[new.user_id]);
  return null;
end;
$$;

comment on function app_private.tg_sight_changed() is 'Trigger: announces sight_changed for the user of a membership or participation that was added or changed in what gives sight.';

drop trigger if exists _900_sight_changed on app_public.organization_memberships;
create trigger _900_sight_changed
  after insert on app_public.organization_memberships
  for each row execute function app_private.tg_sight_changed();

drop trigger if exists _900_sight_changed_update on app_public.organization_memberships;
create trigger _900_sight_changed_update
  after update of role, sees_organization_tickets, removed_at on app_public.organization_memberships
  for each row
  when ((old.role, old.sees_organization_tickets, old.removed_at is null)
        is distinct from (new.role, new.sees_organization_tickets, new.removed_at is null))
  execute function app_private.tg_sight_changed();

drop trigger if exists _900_sight_changed on app_public.ticket_participants;
create trigger _900_sight_changed
  after insert on app_public.ticket_participants
  for each row execute function app_private.tg_sight_changed();

drop trigger if exists _900_sight_changed_update on app_public.ticket_participants;
create trigger _900_sight_changed_update
  after update of kind, removed_at on app_public.ticket_participants
  for each row
  when ((old.kind, old.removed_at is null) is distinct from (new.kind, new.removed_at is null))
  execute function app_private.tg_sight_changed();

-- An organization deactivated or reactivated: every member in force.
create or replace function app_private.tg_organizations_sight_changed()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform app_private.announce_sight_changed(array(
    select m.user_id
    from app_public.organization_memberships as m
    where m.organization_id = new.id
      and m.removed_at is null
  ));
  return null;
end;
$$;

comment on function app_private.tg_organizations_sight_changed() is 'Trigger: announces sight_changed for every member in force of an organization that was deactivated or reactivated.';

drop trigger if exists _900_sight_changed on app_public.organizations;
create trigger _900_sight_changed
  after update of is_active on app_public.organizations
  for each row
  when (old.is_active is distinct from new.is_active)
  execute function app_private.tg_organizations_sight_changed();
