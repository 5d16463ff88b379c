-- Outbound mail (docs/email.md): every mail is a row of
-- app_private.outbound_mails, written in the transaction of its cause, with a
-- graphile-worker job send_mail queued in that same transaction: a change that
-- rolls back sends nothing, a change that commits is sent at least once. The
-- worker (src/worker/mail-delivery.ts) renders the template with the row's
-- parameters, sends it (SMTP, or the local outbox in development) and reports
-- each attempt to app_private.record_mail_attempt, which schedules retries.

--------------------------------------------------------------------------------
-- Policy: retries and retention, in one place
--------------------------------------------------------------------------------
create or replace function app_private.mail_policy(
  out max_attempts integer,
  out first_retry interval,
  out max_retry interval,
  out retention interval
)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select 15, interval '10 seconds', interval '1 hour', interval '30 days';
$$;

comment on function app_private.mail_policy() is
  'Outbound mail policy, in one place: a mail is attempted at most max_attempts times; the n-th retry waits first_retry * 2^(n-1), at most max_retry; finished mails are kept retention. Replace this function in a migration to change them.';

revoke all on function app_private.mail_policy() from public;

--------------------------------------------------------------------------------
-- Templates as data
--------------------------------------------------------------------------------
create table if not exists app_private.mail_templates (
  kind text primary key
    constraint mail_templates_kind_format check (kind ~ '^[a-z][a-z_]{1,40}$'),
  subject text not null
    constraint mail_templates_subject_line check (subject !~ '[\r\n]' and char_length(subject) <= 300),
  text_body text not null,
  html_body text not null
);

comment on table app_private.mail_templates is
  'One template per kind of mail. {{name}} is replaced by the mail''s parameter name: as is in the text body, HTML-escaped in the HTML body, without line breaks in the subject. Change a template with an update as the owner (in a migration). Owner only.';
comment on column app_private.mail_templates.kind is 'What the mail is for, e.g. password_reset, ticket_reply.';
comment on column app_private.mail_templates.subject is 'Subject line; ticket mails get [#number] put in front by the sender.';
comment on column app_private.mail_templates.text_body is 'Plain-text body.';
comment on column app_private.mail_templates.html_body is 'HTML body; parameters are escaped when inserted.';

alter table app_private.mail_templates enable row level security;
revoke all on app_private.mail_templates from public;

--------------------------------------------------------------------------------
-- The outbox
--------------------------------------------------------------------------------
create table if not exists app_private.outbound_mails (
  id uuid primary key default app_private.uuid_generate_v7(),
  kind text not null references app_private.mail_templates (kind),
  user_id uuid references app_public.users (id),
  to_address text not null
    constraint outbound_mails_to_address_format check (to_address ~ '^[^@[:space:]]+@[^@[:space:]]+$' and char_length(to_address) <= 320),
  ticket_id uuid references app_public.tickets (id),
  params jsonb not null default '{}'
    constraint outbound_mails_params_object check (jsonb_typeof(params) = 'object'),
  status text not null default 'pending'
    constraint outbound_mails_status_known check (status in ('pending', 'sent', 'failed', 'discarded')),
  attempts integer not null default 0
    constraint outbound_mails_attempts_positive check (attempts >= 0),
  last_error text,
  created_at timestamptz not null default now(),
  next_attempt_at timestamptz,
  sent_at timestamptz
);

comment on table app_private.outbound_mails is
  'Every mail the application sends, from its cause to its delivery. Its parameters (which may hold a one-time link) are cleared once it is sent or given up. Owner only: the worker reads and reports through the functions below.';
comment on column app_private.outbound_mails.id is 'Mail id; the Message-ID is built from it.';
comment on column app_private.outbound_mails.kind is 'The template (app_private.mail_templates).';
comment on column app_private.outbound_mails.user_id is 'The recipient''s account, when the mail is for a user.';
comment on column app_private.outbound_mails.to_address is 'The recipient''s address.';
comment on column app_private.outbound_mails.ticket_id is 'The ticket the mail is about: it is threaded on the ticket and carries its [#number] and reply address.';
comment on column app_private.outbound_mails.params is 'Values of the template''s {{placeholders}}; emptied once the mail is sent or given up.';
comment on column app_private.outbound_mails.status is 'pending (to send, retries to come), sent, failed (attempts used up) or discarded (mail is disabled).';
comment on column app_private.outbound_mails.attempts is 'Attempts made so far.';
comment on column app_private.outbound_mails.last_error is 'Why the last attempt failed, when it did.';
comment on column app_private.outbound_mails.created_at is 'When its cause happened.';
comment on column app_private.outbound_mails.next_attempt_at is 'When the next attempt is due (pending mails).';
comment on column app_private.outbound_mails.sent_at is 'When the transport accepted it.';

-- (Not CONCURRENTLY: the table is created by this same migration, which
-- graphile-migrate runs in one transaction; it is empty when the index is built.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists outbound_mails_created_at_idx on app_private.outbound_mails (created_at);
comment on index app_private.outbound_mails_created_at_idx is 'Pruning by age; the newest mails first.';

-- squawk-ignore require-concurrent-index-creation
create index if not exists outbound_mails_ticket_idx on app_private.outbound_mails (ticket_id) where ticket_id is not null;
comment on index app_private.outbound_mails_ticket_idx is 'The mails of a ticket (threading, inbound matching).';

alter table app_private.outbound_mails enable row level security;
revoke all on app_private.outbound_mails from public;

--------------------------------------------------------------------------------
-- Queueing, in the transaction of the cause
--------------------------------------------------------------------------------
create or replace function app_private.queue_mail_attempt(mail_id uuid, run_at timestamptz default null)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform graphile_worker.add_job(
    'send_mail',
    json_build_object('mailId', mail_id),
    run_at => coalesce(run_at, now()),
    max_attempts => 1,
    job_key => 'mail:' || mail_id::text
  );
end;
$$;

comment on function app_private.queue_mail_attempt(uuid, timestamptz) is
  'Queues the graphile-worker job send_mail for one attempt of a mail at run_at (now by default); one job per mail (job key). Retries are queued by record_mail_attempt, following mail_policy().';

revoke all on function app_private.queue_mail_attempt(uuid, timestamptz) from public;

create or replace function app_private.queue_mail(
  kind text,
  to_address text,
  user_id uuid default null,
  ticket_id uuid default null,
  params jsonb default '{}'
)
returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  mail_id uuid;
begin
  insert into app_private.outbound_mails (kind, to_address, user_id, ticket_id, params, next_attempt_at)
  values (queue_mail.kind, queue_mail.to_address, queue_mail.user_id, queue_mail.ticket_id, coalesce(queue_mail.params, '{}'), now())
  returning id into mail_id;
  perform app_private.queue_mail_attempt(mail_id);
  return mail_id;
end;
$$;

comment on function app_private.queue_mail(text, text, uuid, uuid, jsonb) is
  'Records a mail of a kind (template) to an address, with its template parameters, and queues its first attempt, in the caller''s transaction. Returns the mail id.';

revoke all on function app_private.queue_mail(text, text, uuid, uuid, jsonb) from public;

--------------------------------------------------------------------------------
-- What the worker reads and reports
--------------------------------------------------------------------------------
create or replace function app_private.mail_to_send(mail_id uuid)
returns table (
  id uuid,
  kind text,
  to_address text,
  subject text,
  text_body text,
  html_body text,
  params jsonb,
  ticket_id uuid,
  ticket_number bigint,
  attempts integer
)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select m.id, m.kind, m.to_address, tpl.subject, tpl.text_body, tpl.html_body, m.params,
         m.ticket_id, t.number, m.attempts
  from app_private.outbound_mails as m
  join app_private.mail_templates as tpl on tpl.kind = m.kind
  left join app_public.tickets as t on t.id = m.ticket_id
  where m.id = mail_to_send.mail_id
    and m.status = 'pending';
$$;

comment on function app_private.mail_to_send(uuid) is
  'Worker: a pending mail with its template and parameters, and the number of its ticket; nothing once it is sent or given up.';

revoke all on function app_private.mail_to_send(uuid) from public;

create or replace function app_private.record_mail_attempt(mail_id uuid, outcome text, error text)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  policy record;
  mail app_private.outbound_mails;
  delay interval;
begin
  if outcome not in ('sent', 'failed', 'discarded') then
    raise exception 'unknown mail outcome %', outcome using errcode = 'TKVAL';
  end if;
  select * into policy from app_private.mail_policy();

  update app_private.outbound_mails as m
  set attempts = m.attempts + 1,
      last_error = left(record_mail_attempt.error, 500),
      sent_at = case when outcome = 'sent' then now() end,
      status = case
        when outcome in ('sent', 'discarded') then outcome
        when m.attempts + 1 >= policy.max_attempts then 'failed'
        else 'pending'
      end
  where m.id = record_mail_attempt.mail_id
    and m.status = 'pending'
  returning m.* into mail;
  if mail.id is null then
    return null;
  end if;

  if mail.status = 'pending' then
    delay := least(policy.max_retry, policy.first_retry * power(2, mail.attempts - 1));
    update app_private.outbound_mails as m set next_attempt_at = now() + delay where m.id = mail.id;
    perform app_private.queue_mail_attempt(mail.id, now() + delay);
  else
    -- A one-time link in the parameters lives on only in the recipient's mailbox.
    update app_private.outbound_mails as m set next_attempt_at = null, params = '{}' where m.id = mail.id;
  end if;
  return mail.status;
end;
$$;

comment on function app_private.record_mail_attempt(uuid, text, text) is
  'Worker: records one attempt of a mail: sent, discarded (mail disabled) or failed (error); a failure is retried with exponential backoff while mail_policy().max_attempts allow, then the mail is failed. Parameters are cleared once the mail is finished. Returns the mail''s status.';

revoke all on function app_private.record_mail_attempt(uuid, text, text) from public;

create or replace function app_private.prune_outbound_mails(max_rows integer default 10000)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  pruned integer;
begin
  delete from app_private.outbound_mails as m
  where m.id in (
    select o.id
    from app_private.outbound_mails as o
    where o.status <> 'pending'
      and o.created_at < now() - (select p.retention from app_private.mail_policy() as p)
    order by o.created_at
    limit max_rows
  );
  get diagnostics pruned = row_count;
  return pruned;
end;
$$;

comment on function app_private.prune_outbound_mails(integer) is
  'Housekeeping: deletes finished mails older than mail_policy().retention, at most max_rows per call. Returns how many.';

revoke all on function app_private.prune_outbound_mails(integer) from public;
