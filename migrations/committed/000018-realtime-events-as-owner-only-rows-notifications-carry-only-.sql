--! Previous: sha1:89c67a7befc658d4370b145a1bd0421c7bcc6ab9
--! Hash: sha1:ceca14bac215564448b8c0284795c851a1e6bb4e
--! Message: realtime events as owner-only rows, notifications carry only their id

--! split: 300-realtime-events.sql
-- Realtime events are rows, notifications are only their ids (docs/realtime.md).
--
-- Anyone who can connect to the database (analysts included) may NOTIFY and
-- LISTEN on any channel, so a notification proves nothing. Each change to a
-- ticket, and each deactivation or role change of a user, is written as one
-- row of app_private.realtime_events, which no web role, analyst or the
-- authenticator can read or write; NOTIFY then carries only the row's id, on
-- the single channel `ticketing_events`. The API reads the rows by id through
-- app_private.realtime_events_by_id (owner's rights, fresh rows only), so a
-- forged notification (garbage, a guessed id, an old id replayed) delivers
-- nothing, and a listener learns nothing but timing.
--
-- The rows name who may be interested in the event (customer, agent, previous
-- customer and agent, open pool), so the API finds the subscriptions of an
-- event without per-subscriber channels. They carry no content: subscribers
-- still re-read the ticket and comment under their own role and claims.
--
-- The row shape is a small event log: rows are pruned after an hour today,
-- and could be kept longer (and replayed to reconnecting clients) later.

create table if not exists app_private.realtime_events (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null default clock_timestamp(),
  tx xid8 not null default pg_current_xact_id(),
  kind text not null,
  ticket_id uuid,
  comment_id uuid,
  customer_id uuid,
  previous_customer_id uuid,
  agent_id uuid,
  previous_agent_id uuid,
  in_open_pool boolean not null default false,
  user_id uuid,
  constraint realtime_events_kind_known check (
    kind in ('created', 'status_changed', 'assigned', 'commented', 'updated', 'deactivated', 'role_changed')
  ),
  -- A ticket event names its ticket; a user event names its user and nothing else.
  constraint realtime_events_subject check (
    case
      when kind in ('deactivated', 'role_changed') then
        user_id is not null and ticket_id is null and comment_id is null
      else
        user_id is null and ticket_id is not null and customer_id is not null
    end
  ),
  constraint realtime_events_comment_only_when_commented check ((comment_id is not null) = (kind = 'commented'))
);

comment on table app_private.realtime_events is
  'Realtime: one row per announced change (append-only; pruned after an hour). NOTIFY on ticketing_events carries only the id; the API reads the row through realtime_events_by_id. Owner only.';
comment on column app_private.realtime_events.id is 'Event id: the whole payload of its notification.';
comment on column app_private.realtime_events.occurred_at is 'When the change was made (clock time of the statement that made it).';
comment on column app_private.realtime_events.tx is 'The transaction that made the change: a subscription hears only events its starting snapshot did not see.';
comment on column app_private.realtime_events.kind is 'created, status_changed, assigned, commented or updated (tickets); deactivated or role_changed (users).';
comment on column app_private.realtime_events.ticket_id is 'The ticket that changed (ticket events).';
comment on column app_private.realtime_events.comment_id is 'The new comment or internal note (commented only).';
comment on column app_private.realtime_events.customer_id is 'The ticket''s customer after the change.';
comment on column app_private.realtime_events.previous_customer_id is 'The ticket''s customer before the change, when it changed.';
comment on column app_private.realtime_events.agent_id is 'The ticket''s agent after the change.';
comment on column app_private.realtime_events.previous_agent_id is 'The ticket''s agent before the change, when there was one.';
comment on column app_private.realtime_events.in_open_pool is 'The ticket is, or just was, open and unassigned: agents watching the pool are interested.';
comment on column app_private.realtime_events.user_id is 'The user deactivated or whose role changed (user events).';

create index if not exists realtime_events_occurred_at on app_private.realtime_events (occurred_at);
comment on index app_private.realtime_events_occurred_at is 'Pruning by age.';

-- Owner only: row-level security on, no policy, no grant.
alter table app_private.realtime_events enable row level security;
revoke all on table app_private.realtime_events from public;

-- Keeps the table to about an hour of events. Deletes at most `max_rows`
-- rows a call so no single caller pays for a backlog; called from
-- announce_realtime_event every 256th event, which keeps up as long as
-- fewer than max_rows events arrive per 256.
create or replace function app_private.prune_realtime_events(max_rows integer default 1000)
returns integer
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  with expired as (
    select e.id
    from app_private.realtime_events as e
    where e.occurred_at < clock_timestamp() - interval '1 hour'
    order by e.occurred_at
    limit max_rows
    for update skip locked
  ), deleted as (
    delete from app_private.realtime_events as e
    using expired
    where e.id = expired.id
    returning 1
  )
  select count(*)::integer from deleted;
$$;

comment on function app_private.prune_realtime_events(integer) is
  'Deletes realtime events older than an hour, at most max_rows of them (oldest first, skipping rows another pruner holds); returns how many.';

revoke all on function app_private.prune_realtime_events(integer) from public;

-- Writes one event row and announces its id. Called by the triggers below
-- (owner's rights), never by web roles.
create or replace function app_private.announce_realtime_event(event app_private.realtime_events)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  event_id bigint;
begin
  insert into app_private.realtime_events (
    kind, ticket_id, comment_id, customer_id, previous_customer_id,
    agent_id, previous_agent_id, in_open_pool, user_id
  ) values (
    event.kind, event.ticket_id, event.comment_id, event.customer_id, event.previous_customer_id,
    event.agent_id, event.previous_agent_id, coalesce(event.in_open_pool, false), event.user_id
  )
  returning id into event_id;

  perform pg_notify('ticketing_events', event_id::text);

  if event_id % 256 = 0 then
    perform app_private.prune_realtime_events();
  end if;
end;
$$;

comment on function app_private.announce_realtime_event(app_private.realtime_events) is
  'Records a realtime event (id and occurred_at assigned here) and notifies its id on ticketing_events; prunes old events every 256th call.';

revoke all on function app_private.announce_realtime_event(app_private.realtime_events) from public;

-- Same signature as before (the ticket and comment triggers call it): now one
-- row and one id-only notification instead of a JSON payload on each channel.
create or replace function app_private.notify_ticket_event(
  ticket app_public.tickets,
  kind text,
  previous app_public.tickets default null,
  comment_id uuid default null
)
returns void
language plpgsql
volatile
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
  event.in_open_pool := (ticket.status = 'open' and ticket.agent_id is null)
    or coalesce(previous.status = 'open' and previous.agent_id is null, false);
  perform app_private.announce_realtime_event(event);
end;
$$;

comment on function app_private.notify_ticket_event(app_public.tickets, text, app_public.tickets, uuid) is
  'Records one realtime event of a ticket (kind, comment id, the customer and agent before and after, whether it is or was in the open pool; never content) and notifies its id on ticketing_events.';

create or replace function app_private.tg_users_notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  event app_private.realtime_events;
begin
  event.kind := case when not new.is_active then 'deactivated' else 'role_changed' end;
  event.user_id := new.id;
  perform app_private.announce_realtime_event(event);
  return null;
end;
$$;

comment on function app_private.tg_users_notify() is
  'Trigger: records that a user was deactivated or changed role (realtime event), so the API re-checks the user and ends their open subscriptions.';

-- What the API may read: the events it was told about, if they are fresh.
-- Fresh means made within the last two minutes: notifications arrive within
-- milliseconds of the commit, so only an old id replayed by someone else is
-- refused (the API also remembers the ids it dispatched for longer than that,
-- realtime-dispatcher.ts). At most 500 ids a call.
create or replace function app_private.realtime_events_by_id(event_ids bigint[])
returns setof app_private.realtime_events
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select e.*
  from app_private.realtime_events as e
  where e.id = any (event_ids[1:500])
    and e.occurred_at > clock_timestamp() - interval '2 minutes'
  order by e.id;
$$;

comment on function app_private.realtime_events_by_id(bigint[]) is
  'Realtime: the events (at most 500) among event_ids made in the last two minutes. The API''s only way to read realtime_events; a forged or replayed notification id finds nothing.';

revoke all on function app_private.realtime_events_by_id(bigint[]) from public;
grant execute on function app_private.realtime_events_by_id(bigint[]) to ticketing_authenticator;
