-- SLA breach mails (docs/email.md): a breach is not an event (it happens by
-- the clock passing a due time, app_private.sla_breached), so the worker's
-- housekeeping (every 10 minutes) calls app_private.queue_sla_breach_mails,
-- which mails the assigned agent once per ticket and target.

create table if not exists app_private.sla_breach_notices (
  ticket_id uuid not null references app_public.tickets (id) on delete cascade,
  target text not null
    constraint sla_breach_notices_target check (target in ('first_response', 'resolution')),
  noticed_at timestamptz not null default now(),
  primary key (ticket_id, target)
);

comment on table app_private.sla_breach_notices is
  'Which breaches were already mailed: one row per ticket and SLA target, so each breach is told once. Owner only.';
comment on column app_private.sla_breach_notices.ticket_id is 'The ticket whose target was missed.';
comment on column app_private.sla_breach_notices.target is 'first_response or resolution.';
comment on column app_private.sla_breach_notices.noticed_at is 'When the breach was found and mailed.';

alter table app_private.sla_breach_notices enable row level security;
revoke all on app_private.sla_breach_notices from public;

insert into app_private.mail_templates (kind, subject, text_body, html_body)
values (
  'sla_breach',
  'SLA missed ({{targetText}}): {{subject}}',
  E'Hello {{displayName}},\n\nTicket {{number}} ({{priority}} priority), assigned to you, missed its {{targetText}} target.\n\n{{appUrl}}/tickets/{{number}}\n',
  E'<p>Hello {{displayName}},</p>\n<p>Ticket {{number}} ({{priority}} priority), assigned to you, missed its <strong>{{targetText}}</strong> target.</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">Open the ticket</a></p>\n'
)
on conflict (kind) do nothing;

create or replace function app_private.queue_sla_breach_mails(max_rows integer default 500)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  breach record;
  queued integer := 0;
begin
  for breach in
    select t.*, targets.target
    from app_public.tickets as t
    cross join lateral (
      values
        ('first_response', app_private.sla_breached(t.first_response_due_at, coalesce(t.first_responded_at, t.resolved_at, t.closed_at, now()))),
        ('resolution', app_private.sla_breached(t.resolution_due_at, coalesce(t.resolved_at, t.closed_at, now())))
    ) as targets (target, breached)
    where t.status in ('open', 'in_progress', 'waiting_on_customer')
      and t.agent_id is not null
      and t.resolution_due_at is not null
      and targets.breached
      and not exists (
        select from app_private.sla_breach_notices as n
        where n.ticket_id = t.id and n.target = targets.target
      )
    order by t.resolution_due_at, t.id
    limit max_rows
  loop
    insert into app_private.sla_breach_notices (ticket_id, target) values (breach.id, breach.target)
    on conflict on constraint sla_breach_notices_pkey do nothing;
    continue when not found;
    perform app_private.notify_user(
      'sla_breach',
      breach.agent_id,
      (select t from app_public.tickets as t where t.id = breach.id),
      jsonb_build_object('targetText', replace(breach.target, '_', ' '))
    );
    queued := queued + 1;
  end loop;
  return queued;
end;
$$;

comment on function app_private.queue_sla_breach_mails(integer) is
  'Housekeeping: for unfinished assigned tickets whose first-response or resolution target is breached (app_private.sla_breached) and not yet told, records the notice and mails the assigned agent (sla_breach, subject to their preferences); at most max_rows per call. Returns how many breaches were found.';

revoke all on function app_private.queue_sla_breach_mails(integer) from public;
