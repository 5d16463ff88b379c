-- Mail notifications from the event log (docs/email.md): a trigger on
-- app_private.realtime_events queues, in the event's transaction, the mails
-- that event means:
--
-- | event                                   | to                   | kind            |
-- |-----------------------------------------|----------------------|-----------------|
-- | ticket created                          | its customer         | ticket_created  |
-- | public comment by someone else          | its customer         | ticket_reply    |
-- | status now waiting_on_customer/resolved | its customer         | ticket_status   |
-- | assigned                                | the new agent        | ticket_assigned |
-- | public comment by the customer          | the assigned agent   | customer_reply  |
--
-- An internal note never causes a mail to anyone but staff, and its text is
-- never in a customer's mail. Nobody is mailed about their own action. Only
-- active users with a verified address are mailed, and only for kinds they
-- did not turn off (set_notification_preference).

--------------------------------------------------------------------------------
-- Preferences
--------------------------------------------------------------------------------
create table if not exists app_private.notification_preferences (
  user_id uuid not null references app_public.users (id) on delete cascade,
  kind text not null
    constraint notification_preferences_kind check (kind in ('ticket_created', 'ticket_reply', 'ticket_status', 'ticket_assigned', 'customer_reply', 'sla_breach')),
  enabled boolean not null,
  updated_at timestamptz not null default now(),
  primary key (user_id, kind)
);

comment on table app_private.notification_preferences is
  'A user''s choice per kind of notification mail; a kind without a row is on. At most one row per user and kind. Owner only: users read and change their own through my_notification_preferences and set_notification_preference.';
comment on column app_private.notification_preferences.user_id is 'Whose choice.';
comment on column app_private.notification_preferences.kind is 'ticket_created, ticket_reply, ticket_status (customers), ticket_assigned, customer_reply, sla_breach (agents and admins).';
comment on column app_private.notification_preferences.enabled is 'Whether mails of this kind are sent to the user.';
comment on column app_private.notification_preferences.updated_at is 'When the choice was last made.';

alter table app_private.notification_preferences enable row level security;
revoke all on app_private.notification_preferences from public;

drop type if exists app_public.notification_preference cascade;
create type app_public.notification_preference as (
  kind text,
  enabled boolean
);

comment on type app_public.notification_preference is 'Whether notification mails of a kind are sent to the signed-in user.';
comment on column app_public.notification_preference.kind is 'ticket_created, ticket_reply, ticket_status, ticket_assigned, customer_reply or sla_breach.';
comment on column app_public.notification_preference.enabled is 'On unless turned off.';

create or replace function app_public.my_notification_preferences()
returns setof app_public.notification_preference
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select k.kind, coalesce(p.enabled, true)
  from unnest(array['ticket_created', 'ticket_reply', 'ticket_status', 'ticket_assigned', 'customer_reply', 'sla_breach']) with ordinality as k (kind, n)
  left join app_private.notification_preferences as p
    on p.user_id = app_private.current_user_id() and p.kind = k.kind
  where app_private.current_user_id() is not null
  order by k.n;
$$;

comment on function app_public.my_notification_preferences() is
  'The signed-in user''s notification mails, one row per kind (six rows; none when anonymous).';

revoke all on function app_public.my_notification_preferences() from public;
grant execute on function app_public.my_notification_preferences() to ticketing_customer, ticketing_agent, ticketing_admin;

create or replace function app_public.set_notification_preference(kind text, enabled boolean)
returns app_public.notification_preference
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  caller uuid := app_private.current_user_id();
  result app_public.notification_preference;
begin
  if caller is null then
    raise exception using errcode = 'TKFBD', message = 'You must be signed in';
  end if;
  -- One row per user and kind (the primary key): changing it again and
  -- again stores nothing more, so there is nothing to exhaust.
  insert into app_private.notification_preferences as p (user_id, kind, enabled)
  values (caller, set_notification_preference.kind, set_notification_preference.enabled)
  on conflict on constraint notification_preferences_pkey do update set enabled = excluded.enabled, updated_at = now();
  result.kind := set_notification_preference.kind;
  result.enabled := set_notification_preference.enabled;
  return result;
end;
$$;

comment on function app_public.set_notification_preference(text, boolean) is
  'Turns the signed-in user''s notification mails of a kind on or off (kinds: see myNotificationPreferences; another kind is INVALID_INPUT).';

revoke all on function app_public.set_notification_preference(text, boolean) from public;
grant execute on function app_public.set_notification_preference(text, boolean) to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Templates
--------------------------------------------------------------------------------
insert into app_private.mail_templates (kind, subject, text_body, html_body)
values
  (
    'ticket_created',
    'We received your request: {{subject}}',
    E'Hello {{displayName}},\n\nWe received your request and gave it the number {{number}}. Reply to this mail to add to it.\n\nSubject: {{subject}}\n\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>Hello {{displayName}},</p>\n<p>We received your request and gave it the number <strong>{{number}}</strong>. Reply to this mail to add to it.</p>\n<p>Subject: {{subject}}</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">See your request</a></p>\n'
  ),
  (
    'ticket_reply',
    '{{subject}}',
    E'{{authorName}} wrote:\n\n{{body}}\n\nReply to this mail to answer.\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>{{authorName}} wrote:</p>\n<blockquote>{{body}}</blockquote>\n<p>Reply to this mail to answer. <a href="{{appUrl}}/tickets/{{number}}">See your request</a></p>\n'
  ),
  (
    'ticket_status',
    '{{subject}} ({{statusText}})',
    E'Hello {{displayName}},\n\nYour request {{number}} is now {{statusText}}.\n\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>Hello {{displayName}},</p>\n<p>Your request {{number}} is now <strong>{{statusText}}</strong>.</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">See your request</a></p>\n'
  ),
  (
    'ticket_assigned',
    'Assigned to you: {{subject}}',
    E'Hello {{displayName}},\n\nTicket {{number}} ({{priority}} priority) is now assigned to you.\n\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>Hello {{displayName}},</p>\n<p>Ticket {{number}} ({{priority}} priority) is now assigned to you.</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">Open the ticket</a></p>\n'
  ),
  (
    'customer_reply',
    'Customer replied: {{subject}}',
    E'{{authorName}} wrote on ticket {{number}}:\n\n{{body}}\n\n{{appUrl}}/tickets/{{number}}\n',
    E'<p>{{authorName}} wrote on ticket {{number}}:</p>\n<blockquote>{{body}}</blockquote>\n<p><a href="{{appUrl}}/tickets/{{number}}">Open the ticket</a></p>\n'
  )
on conflict (kind) do nothing;

--------------------------------------------------------------------------------
-- From event to mail, in the event's transaction
--------------------------------------------------------------------------------
drop function if exists app_private.notify_user(text, uuid, app_public.tickets, jsonb);

-- Queues one notification of a kind about a ticket to a user, if they are
-- active, verified, not the actor and did not turn the kind off.
create or replace function app_private.notify_user(
  kind text,
  recipient_id uuid,
  ticket app_public.tickets,
  params jsonb default '{}',
  even_to_actor boolean default false
)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  recipient record;
begin
  if recipient_id is null or (not even_to_actor and recipient_id is not distinct from app_private.current_user_id()) then
    return;
  end if;
  select a.email, u.display_name into recipient
  from app_public.users as u
  join app_private.user_accounts as a on a.user_id = u.id
  where u.id = recipient_id
    and u.is_active
    and a.email_verified_at is not null
    and not exists (
      select from app_private.notification_preferences as p
      where p.user_id = u.id and p.kind = notify_user.kind and not p.enabled
    );
  if not found then
    return;
  end if;
  perform app_private.queue_mail(
    notify_user.kind,
    recipient.email::text,
    recipient_id,
    ticket.id,
    jsonb_build_object(
      'displayName', recipient.display_name,
      'number', ticket.number,
      'subject', ticket.subject,
      'priority', ticket.priority,
      'status', ticket.status
    ) || coalesce(params, '{}')
  );
end;
$$;

comment on function app_private.notify_user(text, uuid, app_public.tickets, jsonb, boolean) is
  'Queues a notification mail of kind about ticket to recipient_id, with the ticket''s number, subject, priority and status and params as template parameters; nothing when the recipient is inactive, unverified, turned the kind off, or is the acting user (unless even_to_actor: a receipt).';

revoke all on function app_private.notify_user(text, uuid, app_public.tickets, jsonb, boolean) from public;

create or replace function app_private.tg_realtime_events_queue_mail()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  ticket app_public.tickets;
  note app_public.ticket_comments;
  author record;
begin
  if new.ticket_id is null or new.kind not in ('created', 'status_changed', 'assigned', 'commented') then
    return null;
  end if;
  select t.* into ticket from app_public.tickets as t where t.id = new.ticket_id;
  if not found then
    return null;
  end if;

  if new.kind = 'created' then
    perform app_private.notify_user('ticket_created', ticket.customer_id, ticket, '{}', true);
  elsif new.kind = 'status_changed' and ticket.status in ('waiting_on_customer', 'resolved') then
    perform app_private.notify_user(
      'ticket_status', ticket.customer_id, ticket,
      jsonb_build_object('statusText', case ticket.status when 'resolved' then 'resolved' else 'waiting for your answer' end)
    );
  elsif new.kind = 'assigned' and ticket.agent_id is not null and ticket.agent_id is distinct from new.previous_agent_id then
    perform app_private.notify_user('ticket_assigned', ticket.agent_id, ticket);
  elsif new.kind = 'commented' then
    select c.* into note from app_public.ticket_comments as c where c.id = new.comment_id;
    -- Internal notes are for staff; no mail carries them.
    if not found or note.is_internal then
      return null;
    end if;
    select u.display_name, u.role into author from app_public.users as u where u.id = note.author_id;
    if note.author_id = ticket.customer_id then
      perform app_private.notify_user(
        'customer_reply', ticket.agent_id, ticket,
        jsonb_build_object('authorName', author.display_name, 'body', note.body)
      );
    else
      perform app_private.notify_user(
        'ticket_reply', ticket.customer_id, ticket,
        jsonb_build_object('authorName', author.display_name, 'body', note.body)
      );
    end if;
  end if;
  return null;
end;
$$;

comment on function app_private.tg_realtime_events_queue_mail() is
  'Trigger: queues the notification mails of a ticket event (see the table at the top of this migration): receipts, public replies and status changes to the customer; assignments and customer replies to the agent. Never for internal notes.';

drop trigger if exists _400_queue_mail on app_private.realtime_events;
create trigger _400_queue_mail
  after insert on app_private.realtime_events
  for each row execute function app_private.tg_realtime_events_queue_mail();
