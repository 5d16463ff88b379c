-- SLA breach mails (docs/email.md): the assigned agent is told when an SLA
-- clock breaches. A breach is recorded once, as an app_public.sla_events row
-- (by the status change that finds it, or by the sla_clock job for a clock
-- that passes its due time unattended; docs/business-hours.md); each such
-- row mails the ticket's agent, in the row's transaction, subject to their
-- preferences. Nothing else looks for breaches.
insert into app_private.mail_templates (kind, subject, text_body, html_body)
values (
  'sla_breach',
  'SLA missed ({{targetText}}): {{subject}}',
  E'Hello {{displayName}},\n\nTicket {{number}} ({{priority}} priority), assigned to you, missed its {{targetText}} target.\n\n{{appUrl}}/tickets/{{number}}\n',
  E'<p>Hello {{displayName}},</p>\n<p>Ticket {{number}} ({{priority}} priority), assigned to you, missed its <strong>{{targetText}}</strong> target.</p>\n<p><a href="{{appUrl}}/tickets/{{number}}">Open the ticket</a></p>\n'
)
on conflict (kind) do nothing;

create or replace function app_private.tg_sla_events_mail_breach()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform app_private.notify_user(
    'sla_breach',
    new.agent_id,
    (select t from app_public.tickets as t where t.id = new.ticket_id),
    jsonb_build_object('targetText', replace(new.clock::text, '_', ' '))
  );
  return null;
end;
$$;

comment on function app_private.tg_sla_events_mail_breach() is
  'Trigger: a breached SLA event of an assigned ticket mails its agent (sla_breach, subject to their preferences), once per event.';

revoke all on function app_private.tg_sla_events_mail_breach() from public;

drop trigger if exists _500_mail_breach on app_public.sla_events;
create trigger _500_mail_breach
  after insert on app_public.sla_events
  for each row
  when (new.kind = 'breached' and new.agent_id is not null)
  execute function app_private.tg_sla_events_mail_breach();
