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
