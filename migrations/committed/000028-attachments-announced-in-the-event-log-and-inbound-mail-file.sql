--! Previous: sha1:4964bc7a02a93535e570adbd1d8eb84c251285bb
--! Hash: sha1:9bdefd33e6b1c8defefc75e92ce4e92368bcd4ac
--! Message: Attachments announced in the event log and inbound mail files as attachments; participants leave; subscriptions hear new sight

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 110-participants-leave.sql
-- A participant may take themselves off a ticket: a cc'd customer who no
-- longer wants to read it, a follower who no longer wants its events. Leaving
-- only takes sight away, so it needs no right to act on the ticket and is
-- allowed on closed tickets too. Removing someone else is unchanged: whoever
-- acts on the ticket (app_private.acts_on_ticket: requester, organization
-- manager, assigned agent, admin), customers only a cc. The update is audited
-- by the table's audit trigger and counted against the edit quota, like every
-- participant change.

create or replace function app_public.remove_ticket_participant(ticket_id uuid, user_id uuid)
returns app_public.ticket_participants
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  me uuid := app_private.current_user_id();
  ticket app_public.tickets;
  participant app_public.ticket_participants;
begin
  -- Leaving: the caller is signed in (their role matches their token) and takes part in the ticket.
  if me is not null
    and remove_ticket_participant.user_id = me
    and app_private.current_user_role() is not null
  then
    update app_public.ticket_participants as p
    set removed_at = now(),
        removed_by = me
    where p.ticket_id = remove_ticket_participant.ticket_id
      and p.user_id = me
      and p.removed_at is null
    returning p.* into participant;
    if found then
      return participant;
    end if;
  end if;

  ticket := app_private.ticket_for_participants(remove_ticket_participant.ticket_id);

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
      removed_by = me
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

comment on function app_public.remove_ticket_participant(uuid, uuid) is 'Removes a participant from a ticket. Anyone who takes part (a cc, a follower) may remove themselves, even from a closed ticket; others are removed by whoever acts on the ticket (requester, organization manager, assigned agent, admin; customers remove cc only, not staff followers; not on closed tickets, except admins). A removed cc no longer sees the ticket. The row stays, with removedAt and removedBy, for the audit. Errors: FORBIDDEN, NOT_FOUND, RATE_LIMITED.';

--! split: 111-realtime-sight-changed.sql
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

--! split: 130-attachment-events.sql
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

--! split: 131-inbound-mail-attachments.sql
-- Inbound mail attachments: the files of a reply (or of a mail that opens a
-- ticket) become attachments of the comment (or ticket) it created.
--
-- Nothing new decides whether a file is accepted: the API requests each file
-- as the sender through app_public.create_attachment_upload (the insert
-- policy, the quota trigger and every constraint of an upload), stores the
-- bytes, verifies them with the upload's own check and records the verdict
-- with app_private.finish_attachment_upload, in the transaction that writes
-- the comment. What is new is where a refused file is remembered: the
-- message's log row keeps the list (name, declared type, size, reason), and
-- staff read it on the comment (TicketComment.refusedAttachments) or the
-- ticket (Ticket.refusedAttachments). See docs/email.md.

alter table app_private.inbound_emails add column if not exists refused_attachments jsonb;

comment on column app_private.inbound_emails.refused_attachments is
  'Files of the message that did not become attachments: [{fileName, contentType, size, reason}], in the order of the message; null when none was refused.';

-- inbound_emails is a log pruned after 30 days; the rule checks new rows now
-- and is validated in the next migration.
alter table app_private.inbound_emails drop constraint if exists inbound_emails_refused_attachments_list;
alter table app_private.inbound_emails add constraint inbound_emails_refused_attachments_list
  check (jsonb_typeof(refused_attachments) = 'array' and jsonb_array_length(refused_attachments) between 1 and 100) not valid;

comment on constraint inbound_emails_refused_attachments_list on app_private.inbound_emails is
  'Refused files are a list of 1 to 100 entries (null when none).';

-- The staff fields below look refusals up by comment and by ticket. Partial:
-- only messages with a refused file are indexed, so the indexes stay tiny.
-- inbound_emails is a 30-day log written only by POST /inbound/email; the
-- build is one scan of it, during which inbound posts wait (relays retry).
-- squawk-ignore require-concurrent-index-creation
create index if not exists inbound_emails_refused_comment_idx
  on app_private.inbound_emails (comment_id) where refused_attachments is not null;
-- squawk-ignore require-concurrent-index-creation
create index if not exists inbound_emails_refused_ticket_idx
  on app_private.inbound_emails (ticket_id) where refused_attachments is not null;

create or replace function app_private.record_inbound_refused_attachments(inbound_id uuid, refused jsonb)
returns void
language sql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  update app_private.inbound_emails as e
  set refused_attachments = case when jsonb_array_length(refused) > 0 then refused end
  where e.id = record_inbound_refused_attachments.inbound_id;
$$;

comment on function app_private.record_inbound_refused_attachments(uuid, jsonb) is
  'POST /inbound/email: the files of the message that did not become attachments, with the reason of each, on the message''s log row.';

revoke all on function app_private.record_inbound_refused_attachments(uuid, jsonb) from public;
grant execute on function app_private.record_inbound_refused_attachments(uuid, jsonb) to ticketing_authenticator;

--------------------------------------------------------------------------------
-- Staff read the refusals where they work: on the comment or ticket the mail made
--------------------------------------------------------------------------------
-- Security definer: the log is the owner's. The caller passes a row they
-- read under their own policies (GraphQL computes the field on such rows
-- only), and only staff get an answer.
create or replace function app_public.ticket_comments_refused_attachments(comment app_public.ticket_comments)
returns jsonb
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select e.refused_attachments
  from app_private.inbound_emails as e
  where e.comment_id = comment.id
    and e.refused_attachments is not null
    and (select app_private.current_user_role()) in ('agent', 'admin')
  order by e.received_at
  limit 1;
$$;

comment on function app_public.ticket_comments_refused_attachments(app_public.ticket_comments) is
  'Staff only: files of the mail that made this comment that were not accepted as attachments, as [{fileName, contentType, size, reason}] (too large, a type not accepted, the sender''s quota, more files than one mail may bring, content not matching its type); null for customers and when none was refused.';

revoke all on function app_public.ticket_comments_refused_attachments(app_public.ticket_comments) from public;
grant execute on function app_public.ticket_comments_refused_attachments(app_public.ticket_comments)
  to ticketing_customer, ticketing_agent, ticketing_admin;

create or replace function app_public.tickets_refused_attachments(ticket app_public.tickets)
returns jsonb
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select e.refused_attachments
  from app_private.inbound_emails as e
  where e.ticket_id = ticket.id
    and e.decision = 'ticket'
    and e.refused_attachments is not null
    and (select app_private.current_user_role()) in ('agent', 'admin')
  order by e.received_at
  limit 1;
$$;

comment on function app_public.tickets_refused_attachments(app_public.tickets) is
  'Staff only: files of the mail that opened this ticket that were not accepted as attachments, as [{fileName, contentType, size, reason}]; null for customers and when none was refused.';

revoke all on function app_public.tickets_refused_attachments(app_public.tickets) from public;
grant execute on function app_public.tickets_refused_attachments(app_public.tickets)
  to ticketing_customer, ticketing_agent, ticketing_admin;
