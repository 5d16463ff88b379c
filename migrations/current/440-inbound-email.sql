-- Inbound mail (docs/email.md): POST /inbound/email hands a parsed message to
-- app_private.route_inbound_email, which decides what it is (a reply to a
-- ticket, a new ticket, or nothing) and logs the decision; the API then acts
-- as the sender, under the sender's own policies (add_comment, or a ticket
-- insert), and records the outcome with app_private.record_inbound_outcome.
-- Every message gets exactly one row in app_private.inbound_emails.

--------------------------------------------------------------------------------
-- The log
--------------------------------------------------------------------------------
create table if not exists app_private.inbound_emails (
  id uuid primary key default app_private.uuid_generate_v7(),
  received_at timestamptz not null default now(),
  message_id text
    constraint inbound_emails_message_id_length check (char_length(message_id) <= 1000),
  sender text
    constraint inbound_emails_sender_length check (char_length(sender) <= 320),
  subject text
    constraint inbound_emails_subject_length check (char_length(subject) <= 300),
  decision text not null
    constraint inbound_emails_decision check (decision in ('comment', 'ticket', 'ignored', 'refused')),
  reason text,
  user_id uuid references app_public.users (id) on delete set null,
  ticket_id uuid references app_public.tickets (id) on delete set null,
  comment_id uuid
);

comment on table app_private.inbound_emails is
  'Every message posted to /inbound/email and what was decided: comment (added to a ticket), ticket (opened one), ignored (auto-reply, bounce, duplicate, over the sender''s limit) or refused (unknown sender, not allowed), with the reason. Owner only.';
comment on column app_private.inbound_emails.id is 'Primary key (time-ordered UUID).';
comment on column app_private.inbound_emails.received_at is 'When the message was posted.';
comment on column app_private.inbound_emails.message_id is 'Its Message-ID header; a message seen before is ignored as a duplicate.';
comment on column app_private.inbound_emails.sender is 'The From address.';
comment on column app_private.inbound_emails.subject is 'The subject line (first 300 characters).';
comment on column app_private.inbound_emails.decision is 'comment, ticket, ignored or refused.';
comment on column app_private.inbound_emails.reason is 'Why it was ignored or refused, or how the ticket was found.';
comment on column app_private.inbound_emails.user_id is 'The sender''s account, when there is one.';
comment on column app_private.inbound_emails.ticket_id is 'The ticket commented on or opened.';
comment on column app_private.inbound_emails.comment_id is 'The comment added.';

-- (Not CONCURRENTLY: the table is created by this same migration.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists inbound_emails_sender_idx on app_private.inbound_emails (sender, received_at);
comment on index app_private.inbound_emails_sender_idx is 'The per-sender limit counts a sender''s recent messages.';

-- squawk-ignore require-concurrent-index-creation
create index if not exists inbound_emails_message_id_idx on app_private.inbound_emails (message_id);
comment on index app_private.inbound_emails_message_id_idx is 'Duplicates are found by Message-ID.';

alter table app_private.inbound_emails enable row level security;
revoke all on app_private.inbound_emails from public;

create or replace function app_private.inbound_email_policy(out sender_max integer, out sender_window interval, out retention interval)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select 30, interval '1 hour', interval '30 days';
$$;

comment on function app_private.inbound_email_policy() is
  'Inbound mail limits, in one place: once sender_max messages from one sender were logged within sender_window, further ones are ignored (and logged); the log is kept retention.';

revoke all on function app_private.inbound_email_policy() from public;

--------------------------------------------------------------------------------
-- Deciding
--------------------------------------------------------------------------------
create or replace function app_private.route_inbound_email(
  sender text,
  display_name text,
  message_id text,
  subject text,
  mail_ids uuid[],
  ticket_ids uuid[],
  ticket_numbers bigint[],
  auto_reason text,
  unknown_sender text
)
returns table (inbound_id uuid, action text, user_id uuid, user_role app_public.user_role, ticket_id uuid, reason text)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  typed_sender citext := app_private.normalized_input(left(route_inbound_email.sender, 1000), 320);
  policy record;
  account record;
  found_ticket uuid;
  found_by text;
  created app_public.users;
begin
  select * into policy from app_private.inbound_email_policy();
  perform pg_advisory_xact_lock(hashtextextended('inbound:' || lower(coalesce(typed_sender::text, '')), 0));

  select u.id, u.role into account
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.email = typed_sender
    and u.is_active;
  user_id := account.id;
  user_role := account.role;

  if route_inbound_email.auto_reason is not null then
    action := 'ignored';
    reason := route_inbound_email.auto_reason;
  elsif route_inbound_email.message_id is not null and exists (
    select from app_private.inbound_emails as e
    where e.message_id = route_inbound_email.message_id and e.decision in ('comment', 'ticket')
  ) then
    action := 'ignored';
    reason := 'duplicate Message-ID';
  elsif (
    select count(*) from app_private.inbound_emails as e
    where e.sender = typed_sender::text and e.received_at > now() - policy.sender_window
  ) >= policy.sender_max then
    action := 'ignored';
    reason := 'over the sender''s limit';
  else
    -- The ticket: by a mail of ours it answers, by the ticket's thread id,
    -- then by number (the reply address first, then [#number] in the subject).
    select m.ticket_id into found_ticket
    from unnest(route_inbound_email.mail_ids) with ordinality as r (id, n)
    join app_private.outbound_mails as m on m.id = r.id
    where m.ticket_id is not null
    order by r.n
    limit 1;
    found_by := 'In-Reply-To/References';
    if found_ticket is null then
      select t.id into found_ticket
      from unnest(route_inbound_email.ticket_ids) with ordinality as r (id, n)
      join app_public.tickets as t on t.id = r.id
      order by r.n
      limit 1;
    end if;
    if found_ticket is null then
      select t.id into found_ticket
      from unnest(route_inbound_email.ticket_numbers) with ordinality as r (number, n)
      join app_public.tickets as t on t.number = r.number
      order by r.n
      limit 1;
      found_by := 'ticket number';
    end if;

    if found_ticket is not null then
      ticket_id := found_ticket;
      if account.id is null then
        action := 'refused';
        reason := 'a reply from an address with no account';
      else
        action := 'comment';
        reason := 'reply found by ' || found_by;
      end if;
    elsif account.id is not null then
      if account.role = 'customer' then
        action := 'ticket';
        reason := 'new message from a customer';
      else
        action := 'refused';
        reason := 'staff open tickets in the console, not by mail';
      end if;
    elsif route_inbound_email.unknown_sender = 'create' then
      begin
        created := app_private.create_user_account(
          typed_sender,
          coalesce(nullif(btrim(left(route_inbound_email.display_name, 100)), ''), split_part(typed_sender::text, '@', 1)),
          'customer',
          null
        );
      exception
        when check_violation or sqlstate 'TKEML' then
          created := null;
      end;
      if created.id is null then
        action := 'refused';
        reason := 'an unknown sender whose address or name cannot make an account';
      else
        update app_private.user_accounts as a set email_verified_at = null where a.user_id = created.id;
        user_id := created.id;
        user_role := created.role;
        action := 'ticket';
        reason := 'new message from an unknown sender: unverified customer created';
      end if;
    else
      action := 'refused';
      reason := 'an unknown sender (INBOUND_UNKNOWN_SENDER=reject)';
    end if;
  end if;

  insert into app_private.inbound_emails (message_id, sender, subject, decision, reason, user_id, ticket_id)
  values (
    left(route_inbound_email.message_id, 1000),
    left(typed_sender::text, 320),
    left(route_inbound_email.subject, 300),
    action,
    reason,
    user_id,
    ticket_id
  )
  returning id into inbound_id;
  return next;
end;
$$;

comment on function app_private.route_inbound_email(text, text, text, text, uuid[], uuid[], bigint[], text, text) is
  'POST /inbound/email: decides what a parsed message is and logs it: ignored (auto_reason given: auto-reply or bounce; a Message-ID seen before; over the sender''s limit), comment (a reply, its ticket found by a mail of ours it answers, the ticket''s thread id, the reply address''s number or [#number], from an active account), ticket (a new message from a customer, or from an unknown sender when unknown_sender is create: an unverified customer is made) or refused. The API then acts as the returned user.';

create or replace function app_private.record_inbound_outcome(
  inbound_id uuid,
  decision text,
  reason text,
  ticket_id uuid,
  comment_id uuid
)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  update app_private.inbound_emails as e
  set decision = record_inbound_outcome.decision,
      reason = coalesce(record_inbound_outcome.reason, e.reason),
      ticket_id = coalesce(record_inbound_outcome.ticket_id, e.ticket_id),
      comment_id = record_inbound_outcome.comment_id
  where e.id = record_inbound_outcome.inbound_id;
$$;

comment on function app_private.record_inbound_outcome(uuid, text, text, uuid, uuid) is
  'POST /inbound/email: the outcome of acting as the sender (the comment or ticket made, or refused by the sender''s rights), on the message''s log row.';

create or replace function app_private.prune_inbound_emails(max_rows integer default 10000)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  pruned integer;
begin
  delete from app_private.inbound_emails as e
  where e.id in (
    select o.id from app_private.inbound_emails as o
    where o.received_at < now() - (select p.retention from app_private.inbound_email_policy() as p)
    order by o.received_at
    limit max_rows
  );
  get diagnostics pruned = row_count;
  return pruned;
end;
$$;

comment on function app_private.prune_inbound_emails(integer) is
  'Housekeeping: deletes inbound log rows older than inbound_email_policy().retention, at most max_rows per call. Returns how many.';

revoke all on function app_private.route_inbound_email(text, text, text, text, uuid[], uuid[], bigint[], text, text) from public;
revoke all on function app_private.record_inbound_outcome(uuid, text, text, uuid, uuid) from public;
revoke all on function app_private.prune_inbound_emails(integer) from public;
grant execute on function app_private.route_inbound_email(text, text, text, text, uuid[], uuid[], bigint[], text, text) to ticketing_authenticator;
grant execute on function app_private.record_inbound_outcome(uuid, text, text, uuid, uuid) to ticketing_authenticator;
