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
