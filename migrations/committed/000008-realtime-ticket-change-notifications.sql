--! Previous: sha1:f5c232a9e568e62ae04468f9060dd51e0468515e
--! Hash: sha1:f673c9d05e9ffcade80dfa22fdd55fea9423394e
--! Message: realtime: ticket change notifications

-- Realtime: ticket changes are announced with NOTIFY so the API can push them
-- to GraphQL subscribers (docs/realtime.md).
--
-- A notification says only which ticket changed and how: no subject, no
-- description, no comment text. Subscribers re-read the ticket (and comment)
-- under their own role and claims, so row-level security decides what each
-- of them receives. NOTIFY is transactional: nothing is sent for a change that
-- rolls back, and subscribers never see a change before it is committed.
--
-- Channels (payload: {"ticketId", "kind", "commentId"?, "tx"}):
--   ticket:<ticket id>                every event of that ticket
--   customer_tickets:<customer id>    every event of that customer's tickets
--   agent_queue:<agent id>            events of tickets assigned to that agent,
--                                     and of the ticket they were just moved from
--   open_pool                         events of open unassigned tickets, and of
--                                     tickets that just left that state
--   user:<user id>                    {"userId", "kind": "deactivated" | "role_changed"}:
--                                     the API ends that user's subscriptions

create function app_private.notify_ticket_event(
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
  -- tx tells one event seen on two channels of a subscription (e.g. the
  -- agent's queue and the open pool) from two events that look alike.
  payload text := json_strip_nulls(json_build_object(
    'ticketId', ticket.id,
    'kind', kind,
    'commentId', comment_id,
    'tx', pg_current_xact_id()::text
  ))::text;
  channel text;
begin
  -- Identical notifications on one channel within a transaction are delivered
  -- once, so listing a channel twice (old and new agent alike) is harmless.
  foreach channel in array array_remove(array[
    'ticket:' || ticket.id,
    'customer_tickets:' || ticket.customer_id,
    'customer_tickets:' || previous.customer_id,
    'agent_queue:' || ticket.agent_id,
    'agent_queue:' || previous.agent_id,
    case when ticket.status = 'open' and ticket.agent_id is null then 'open_pool' end,
    case when previous.status = 'open' and previous.agent_id is null then 'open_pool' end
  ], null)
  loop
    perform pg_notify(channel, payload);
  end loop;
end;
$$;

comment on function app_private.notify_ticket_event(app_public.tickets, text, app_public.tickets, uuid) is
  'Sends one realtime notification (ticket id, event kind, comment id, transaction id; never content) on every channel that watches the ticket: ticket:<id>, customer_tickets:<customer>, agent_queue:<agent> for the current and the previous agent, and open_pool when the ticket is or was open and unassigned.';

create function app_private.tg_tickets_notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    perform app_private.notify_ticket_event(new, 'created');
  elsif old.agent_id is distinct from new.agent_id then
    -- Assignment wins over the status change it may carry (take next ticket,
    -- unassign): one event per change.
    perform app_private.notify_ticket_event(new, 'assigned', old);
  elsif old.status is distinct from new.status then
    perform app_private.notify_ticket_event(new, 'status_changed', old);
  else
    perform app_private.notify_ticket_event(new, 'updated', old);
  end if;
  return null;
end;
$$;

comment on function app_private.tg_tickets_notify() is
  'Trigger: announces a ticket''s creation, assignment, status change or edit (subject, description, priority, customer) to realtime subscribers.';

create trigger _950_notify_insert
  after insert on app_public.tickets
  for each row
  execute function app_private.tg_tickets_notify();

-- Bookkeeping columns (updated_at, first_responded_at, due times) changing on
-- their own is not news: the event that caused them is announced already.
create trigger _950_notify_update
  after update on app_public.tickets
  for each row
  when (
    old.agent_id is distinct from new.agent_id
    or old.status is distinct from new.status
    or old.subject is distinct from new.subject
    or old.description is distinct from new.description
    or old.priority is distinct from new.priority
    or old.customer_id is distinct from new.customer_id
  )
  execute function app_private.tg_tickets_notify();

comment on trigger _950_notify_insert on app_public.tickets is 'Realtime: announces new tickets (kind created).';
comment on trigger _950_notify_update on app_public.tickets is 'Realtime: announces assignment, status changes and edits.';

create function app_private.tg_ticket_comments_notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  ticket app_public.tickets;
begin
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = new.ticket_id;

  -- The comment id lets subscribers check the comment itself through their
  -- policies: a customer never hears of an internal note.
  perform app_private.notify_ticket_event(ticket, 'commented', comment_id => new.id);
  return null;
end;
$$;

comment on function app_private.tg_ticket_comments_notify() is
  'Trigger: announces a new comment or internal note (kind commented, with its id but not its text) on the channels of its ticket.';

-- Named to fire before _500_side_effects: the comment is announced before the
-- status change a customer's reply may cause.
create trigger _400_notify
  after insert on app_public.ticket_comments
  for each row
  execute function app_private.tg_ticket_comments_notify();

comment on trigger _400_notify on app_public.ticket_comments is 'Realtime: announces new comments (kind commented).';

create function app_private.tg_users_notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform pg_notify(
    'user:' || new.id,
    json_build_object(
      'userId', new.id,
      'kind', case when not new.is_active then 'deactivated' else 'role_changed' end
    )::text
  );
  return null;
end;
$$;

comment on function app_private.tg_users_notify() is
  'Trigger: tells the API (channel user:<id>) that a user was deactivated or changed role, so their open subscriptions end at once.';

create trigger _950_notify
  after update on app_public.users
  for each row
  when ((old.is_active and not new.is_active) or old.role is distinct from new.role)
  execute function app_private.tg_users_notify();

comment on trigger _950_notify on app_public.users is 'Realtime: ends the subscriptions of a user who is deactivated or changes role.';
