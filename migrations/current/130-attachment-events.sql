-- New attachments are announced: when an attachment becomes ready (its
-- upload verified, or an inbound mail's file stored and verified), the same
-- transaction writes an `attachment_added` event into the event log, so
-- subscriptions hear ATTACHMENT_ADDED and webhooks `attachment.created`.
--
-- The event names the attachment (attachment_id) besides the ticket; who
-- hears it is not restated here: the API delivers it to a subscriber only if
-- the attachment row is visible to them (its select policy: the ticket and,
-- for a comment's file, the comment), and a webhook of a file of an internal
-- note goes only to endpoints with include_internal, as the note itself.
-- Events carry ids only; the webhook payload adds the file's name, type and
-- size, never a URL. See docs/realtime.md and docs/webhooks.md.

--------------------------------------------------------------------------------
-- The event log: a kind and the attachment it names
--------------------------------------------------------------------------------
alter table app_private.realtime_events add column if not exists attachment_id uuid;

comment on column app_private.realtime_events.attachment_id is 'The attachment that became available (attachment_added only).';
comment on column app_private.realtime_events.kind is 'created, status_changed, assigned, commented, updated, sla_at_risk, sla_breached, sla_met or attachment_added (tickets); deactivated, role_changed or sight_changed (users).';

-- realtime_events keeps a week of rows; the new rules check new rows now and
-- are validated in the next migration.
alter table app_private.realtime_events drop constraint if exists realtime_events_kind_known;
alter table app_private.realtime_events add constraint realtime_events_kind_known check (
  kind in (
    'created', 'status_changed', 'assigned', 'commented', 'updated', 'deactivated', 'role_changed',
    'sla_at_risk', 'sla_breached', 'sla_met', 'sight_changed', 'attachment_added'
  )
) not valid;

alter table app_private.realtime_events drop constraint if exists realtime_events_attachment_only_when_added;
alter table app_private.realtime_events add constraint realtime_events_attachment_only_when_added
  check ((attachment_id is not null) = (kind = 'attachment_added')) not valid;

comment on constraint realtime_events_attachment_only_when_added on app_private.realtime_events is
  'An attachment_added event names its attachment; no other event names one.';

alter table app_public.webhook_endpoints drop constraint if exists webhook_endpoints_event_kinds_known;
alter table app_public.webhook_endpoints add constraint webhook_endpoints_event_kinds_known check (
  cardinality(event_kinds) >= 1
  and event_kinds <@ array[
    'ticket.created', 'ticket.status_changed', 'ticket.assigned', 'ticket.commented', 'ticket.updated',
    'ticket.sla_at_risk', 'ticket.sla_breached', 'ticket.sla_met', 'attachment.created',
    'user.deactivated', 'user.role_changed'
  ]
) not valid;

comment on column app_public.webhook_endpoints.event_kinds is
  'Event types delivered: ticket.created, ticket.status_changed, ticket.assigned, ticket.commented, ticket.updated, ticket.sla_at_risk, ticket.sla_breached, ticket.sla_met, attachment.created, user.deactivated, user.role_changed.';

--------------------------------------------------------------------------------
-- Writing events: the attachment goes into the row
--------------------------------------------------------------------------------
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
    kind, ticket_id, comment_id, attachment_id, customer_id, previous_customer_id,
    agent_id, previous_agent_id, organization_id, in_open_pool, user_id
  ) values (
    event.kind, event.ticket_id, event.comment_id, event.attachment_id, event.customer_id, event.previous_customer_id,
    event.agent_id, event.previous_agent_id, event.organization_id, coalesce(event.in_open_pool, false), event.user_id
  )
  returning id into event_id;

  perform pg_notify('ticketing_events', event_id::text);

  if event_id % 256 = 0 then
    perform app_private.prune_realtime_events();
  end if;
end;
$$;

comment on function app_private.announce_realtime_event(app_private.realtime_events) is
  'Records a realtime event (id and occurred_at assigned here, the organization and attachment included) and notifies its id on ticketing_events; prunes old events every 256th call.';

revoke all on function app_private.announce_realtime_event(app_private.realtime_events) from public;

-- One more argument: the old signature goes (its callers are PL/pgSQL, resolved when they run).
drop function if exists app_private.notify_ticket_event(app_public.tickets, text, app_public.tickets, uuid);

create or replace function app_private.notify_ticket_event(
  ticket app_public.tickets,
  kind text,
  previous app_public.tickets default null,
  comment_id uuid default null,
  attachment_id uuid default null
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
  event.attachment_id := attachment_id;
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

comment on function app_private.notify_ticket_event(app_public.tickets, text, app_public.tickets, uuid, uuid) is
  'Records one realtime event of a ticket (kind, comment or attachment id, the customer and agent before and after, its organization, whether it is or was in the open pool; never content) and notifies its id on ticketing_events.';

revoke all on function app_private.notify_ticket_event(app_public.tickets, text, app_public.tickets, uuid, uuid) from public;

--------------------------------------------------------------------------------
-- The state change that announces: an attachment becomes ready
--------------------------------------------------------------------------------
create or replace function app_private.tg_attachments_announce_ready()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  ticket app_public.tickets;
begin
  if tg_op = 'UPDATE' and old.state = 'ready' then
    return null;
  end if;
  select t.* into ticket from app_public.tickets as t where t.id = new.ticket_id;
  perform app_private.notify_ticket_event(ticket, 'attachment_added', attachment_id => new.id);
  return null;
end;
$$;

comment on function app_private.tg_attachments_announce_ready() is
  'Trigger: an attachment that becomes ready (finish_attachment_upload, or an inbound mail''s file) is put into the event log as attachment_added, in the same transaction.';

revoke all on function app_private.tg_attachments_announce_ready() from public;

drop trigger if exists _700_announce_ready on app_public.attachments;
create trigger _700_announce_ready
  after insert or update of state on app_public.attachments
  for each row
  when (new.state = 'ready')
  execute function app_private.tg_attachments_announce_ready();

comment on trigger _700_announce_ready on app_public.attachments is 'Announces an attachment once it is ready (event kind attachment_added).';

--------------------------------------------------------------------------------
-- Webhooks: the type and the payload
--------------------------------------------------------------------------------
create or replace function app_private.webhook_event_type(event app_private.realtime_events)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case
    when event.kind = 'attachment_added' then 'attachment.created'
    when event.user_id is not null then 'user.' || event.kind
    else 'ticket.' || event.kind
  end;
$$;

comment on function app_private.webhook_event_type(app_private.realtime_events) is
  'The webhook type of an event: attachment.created for attachment_added, user.<kind> for user events, ticket.<kind> for the other ticket events.';

revoke all on function app_private.webhook_event_type(app_private.realtime_events) from public;

create or replace function app_private.webhook_payload(event app_private.realtime_events, include_internal boolean)
returns jsonb
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  event_type text := app_private.webhook_event_type(event);
  data jsonb;
  note app_public.ticket_comments;
  file app_public.attachments;
begin
  if event.user_id is not null then
    select jsonb_build_object(
      'user', jsonb_build_object('id', u.id, 'displayName', u.display_name, 'role', u.role, 'isActive', u.is_active)
    ) into data
    from app_public.users as u
    where u.id = event.user_id;
  else
    select jsonb_build_object(
      'ticket', jsonb_build_object(
        'id', t.id, 'number', t.number, 'subject', t.subject, 'description', t.description,
        'status', t.status, 'priority', t.priority, 'customerId', t.customer_id, 'agentId', t.agent_id,
        'createdAt', t.created_at, 'updatedAt', t.updated_at
      )
    ) into data
    from app_public.tickets as t
    where t.id = event.ticket_id;
    if event.comment_id is not null then
      select * into note from app_public.ticket_comments as c where c.id = event.comment_id;
      if note.is_internal and not include_internal then
        return null;
      end if;
      data := data || jsonb_build_object('comment', jsonb_build_object(
        'id', note.id, 'body', note.body, 'isInternal', note.is_internal,
        'authorId', note.author_id, 'createdAt', note.created_at
      ));
    end if;
    if event.attachment_id is not null then
      select * into file from app_public.attachments as a where a.id = event.attachment_id;
      if file.comment_id is not null then
        select * into note from app_public.ticket_comments as c where c.id = file.comment_id;
        -- The file of an internal note is as internal as the note.
        if note.is_internal and not include_internal then
          return null;
        end if;
      end if;
      -- Metadata only: the bytes are reached through the API's short-lived URLs, never from here.
      data := data || jsonb_build_object('attachment', jsonb_build_object(
        'id', file.id, 'commentId', file.comment_id, 'isInternal', coalesce(note.is_internal, false),
        'fileName', file.file_name, 'contentType', file.content_type, 'size', file.size,
        'sha256', file.sha256, 'uploaderId', file.uploader_id, 'createdAt', file.created_at
      ));
    end if;
  end if;
  return jsonb_build_object(
    'type', event_type,
    'timestamp', event.occurred_at,
    'data', jsonb_build_object('eventId', event.id) || coalesce(data, '{}')
  );
end;
$$;

comment on function app_private.webhook_payload(app_private.realtime_events, boolean) is
  'The webhook body of an event: {type, timestamp, data: {eventId, ticket[, comment][, attachment] | user}} with what a staff reader sees (no internal note, nor a file of one, unless include_internal: then null, and nothing is delivered). An attachment is its metadata (id, comment, name, type, size, SHA-256, uploader, time), never a URL.';

revoke all on function app_private.webhook_payload(app_private.realtime_events, boolean) from public;

create or replace function app_private.tg_realtime_events_queue_webhooks()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  event_type text := app_private.webhook_event_type(new);
  ticket_priority app_public.ticket_priority;
  endpoint record;
  body jsonb;
  delivery_id uuid;
begin
  -- The usual case, no endpoint at all, costs one index-only probe.
  if not exists (select from app_public.webhook_endpoints as e where e.is_active) then
    return null;
  end if;
  if new.ticket_id is not null then
    select t.priority into ticket_priority from app_public.tickets as t where t.id = new.ticket_id;
  end if;
  for endpoint in
    select e.id, e.include_internal
    from app_public.webhook_endpoints as e
    where e.is_active
      and event_type = any (e.event_kinds)
      and (e.priorities is null or new.ticket_id is null or ticket_priority = any (e.priorities))
    order by e.id
  loop
    body := app_private.webhook_payload(new, endpoint.include_internal);
    continue when body is null;
    insert into app_public.webhook_deliveries (endpoint_id, event_id, event_type, payload, next_attempt_at)
    values (endpoint.id, new.id, event_type, body, now())
    returning id into delivery_id;
    perform app_private.queue_webhook_attempt(delivery_id);
  end loop;
  return null;
end;
$$;

comment on function app_private.tg_realtime_events_queue_webhooks() is
  'Trigger: for each active endpoint whose event types and priorities match a new event, records a delivery with its payload and queues its first attempt, in the event''s transaction.';

revoke all on function app_private.tg_realtime_events_queue_webhooks() from public;
