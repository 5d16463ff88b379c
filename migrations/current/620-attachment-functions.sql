-- The attachment state changes: creating an upload (as the caller, under the
-- policies of 600), recording the verdict on the stored bytes (the API, which
-- alone can read the storage), and the clean-up of abandoned uploads.

--------------------------------------------------------------------------------
-- File names
--------------------------------------------------------------------------------
-- A SQL-standard body: stored resolved, so callers need no USAGE on app_private.
create or replace function app_private.sanitize_file_name(name text)
returns text
language sql
immutable
parallel safe
return (
  with cleaned as (
    select left(
      btrim(
        regexp_replace(
          regexp_replace(
            -- the last path component only
            regexp_replace(normalize(coalesce(name, ''), nfc), '^.*[/\\]', ''),
            -- control, bidirectional-override and reserved characters
            '[[:cntrl:]\u200e\u200f\u202a-\u202e\u2066-\u2069:*?"<>|]', '_', 'g'
          ),
          '^[.[:space:]]+', ''
        ),
        ' .'
      ),
      200
    ) as value
  )
  select case when value ~ '[^[:space:].]' then value else 'file' end
  from cleaned
);

comment on function app_private.sanitize_file_name(text) is
  'A file name safe to store and to send in Content-Disposition: the last path component, NFC-normalised, with control, bidirectional-override and reserved characters replaced by "_", leading dots and spaces and trailing dots and spaces removed, cut to 200 characters; "file" when nothing is left.';

revoke all on function app_private.sanitize_file_name(text) from public;
grant execute on function app_private.sanitize_file_name(text) to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Step 1: a pending row (the API then issues the upload URL)
--------------------------------------------------------------------------------
create or replace function app_public.create_attachment_upload(
  ticket_id uuid,
  file_name text,
  content_type text,
  size bigint,
  sha256 text,
  comment_id uuid default null
)
returns app_public.attachments
language sql
volatile
set search_path = pg_catalog, public, pg_temp
begin atomic
  insert into app_public.attachments (ticket_id, comment_id, file_name, content_type, size, sha256)
  values (
    create_attachment_upload.ticket_id,
    create_attachment_upload.comment_id,
    app_private.sanitize_file_name(create_attachment_upload.file_name),
    lower(btrim(split_part(create_attachment_upload.content_type, ';', 1))),
    create_attachment_upload.size,
    lower(create_attachment_upload.sha256)
  )
  returning *;
end;

comment on function app_public.create_attachment_upload(uuid, text, text, bigint, text, uuid) is
  'Starts an upload: records a pending attachment of the ticket (or of your own comment on it, commentId) with the file''s name (sanitised), content type, size in bytes and SHA-256 (hex), and returns it with a short-lived uploadUrl and the uploadHeaders to send with the PUT of the bytes. Then call completeAttachmentUpload. Refused on a ticket you cannot read or that is closed, for a file larger than your role allows (INVALID_INPUT) and beyond your attachment quota (RATE_LIMITED).';

revoke all on function app_public.create_attachment_upload(uuid, text, text, bigint, text, uuid) from public;
grant execute on function app_public.create_attachment_upload(uuid, text, text, bigint, text, uuid)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Step 2: the API reads the bytes back and records the verdict. Both run on
-- the API's own connection role with the user id of the verified token: no
-- web role may state a verdict on bytes it cannot be trusted to have read.
--------------------------------------------------------------------------------
create or replace function app_private.attachment_to_verify(user_id uuid, attachment_id uuid)
returns table (storage_key text, size bigint, sha256 text, content_type text)
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  found_state app_public.attachment_state;
begin
  select a.storage_key, a.size, a.sha256, a.content_type, a.state
  into storage_key, size, sha256, content_type, found_state
  from app_public.attachments as a
  join app_public.users as u on u.id = a.uploader_id and u.is_active
  where a.id = attachment_to_verify.attachment_id
    and a.uploader_id = attachment_to_verify.user_id;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No such upload of yours';
  end if;
  if found_state <> 'pending' then
    raise exception using errcode = 'TKINV', message = 'This upload was already completed';
  end if;
  return next;
end;
$$;

comment on function app_private.attachment_to_verify(uuid, uuid) is
  'For completeAttachmentUpload: where the bytes of the pending attachment of user_id are and what was declared for them. TKNTF when it is not an upload of that (active) user, TKINV when it is no longer pending.';

create or replace function app_private.finish_attachment_upload(user_id uuid, attachment_id uuid, rejection_reason text)
returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  update app_public.attachments as a
  set state = case when finish_attachment_upload.rejection_reason is null then 'ready' else 'rejected' end::app_public.attachment_state,
      rejection_reason = finish_attachment_upload.rejection_reason,
      completed_at = now()
  where a.id = finish_attachment_upload.attachment_id
    and a.uploader_id = finish_attachment_upload.user_id
    and a.state = 'pending';
  if not found then
    raise exception using errcode = 'TKINV', message = 'This upload was already completed';
  end if;
  return attachment_id;
end;
$$;

comment on function app_private.finish_attachment_upload(uuid, uuid, text) is
  'For completeAttachmentUpload, after the API read the stored bytes: marks the pending attachment of user_id ready (rejection_reason null) or rejected with the reason. TKINV when it is no longer pending (completed twice at once).';

revoke all on function app_private.attachment_to_verify(uuid, uuid) from public;
revoke all on function app_private.finish_attachment_upload(uuid, uuid, text) from public;
grant execute on function app_private.attachment_to_verify(uuid, uuid) to ticketing_authenticator;
grant execute on function app_private.finish_attachment_upload(uuid, uuid, text) to ticketing_authenticator;

--------------------------------------------------------------------------------
-- Clean-up (the worker's attachment_cleanup job, as the owner)
--------------------------------------------------------------------------------
create or replace function app_private.attachment_retention(
  out abandoned_after interval,
  out rejected_retention interval
)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  -- Upload URLs live 15 minutes: an upload still pending an hour later was
  -- abandoned. Rejected rows stay as long as the longest quota window, so
  -- that they keep counting against their uploader's quota.
  select interval '1 hour', interval '7 days';
$$;

comment on function app_private.attachment_retention() is
  'How long attachments wait before clean-up: pending ones are rejected as abandoned after abandoned_after; rejected rows are deleted after rejected_retention (the longest quota window).';

create or replace function app_private.prune_attachments()
returns setof text
language plpgsql
volatile
set search_path = pg_catalog, public, pg_temp
as $$
declare
  policy record := app_private.attachment_retention();
begin
  return query
  update app_public.attachments as a
  set state = 'rejected', rejection_reason = 'The upload was not completed in time', completed_at = now()
  where a.state = 'pending'
    and a.created_at < now() - policy.abandoned_after
  returning a.storage_key;

  return query
  delete from app_public.attachments as a
  where a.state = 'rejected'
    and a.created_at < now() - policy.rejected_retention
  returning a.storage_key;
end;
$$;

comment on function app_private.prune_attachments() is
  'Rejects pending attachments abandoned for attachment_retention().abandoned_after and deletes rejected rows older than rejected_retention; returns the storage keys of both, whose files the caller then removes.';

create or replace function app_private.attachment_keys_in_use(keys text[])
returns setof text
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select a.storage_key
  from app_public.attachments as a
  where a.storage_key = any (keys)
    and a.state <> 'rejected';
$$;

comment on function app_private.attachment_keys_in_use(text[]) is
  'Of the given storage keys, those whose files must stay (a pending or ready attachment). The clean-up job removes the other files it finds in storage.';

revoke all on function app_private.attachment_retention() from public;
revoke all on function app_private.prune_attachments() from public;
revoke all on function app_private.attachment_keys_in_use(text[]) from public;

--------------------------------------------------------------------------------
-- Analysts: counts and sizes, nothing that names or opens a file
--------------------------------------------------------------------------------
create or replace view app_reporting.attachments as
select
  a.id,
  a.ticket_id,
  a.comment_id is not null as on_comment,
  a.state::text as state,
  a.size,
  a.created_at
from app_public.attachments as a;

comment on view app_reporting.attachments is 'One row per attachment: its ticket, state and size. No file name, content type, uploader or storage location.';
comment on column app_reporting.attachments.id is 'Attachment id.';
comment on column app_reporting.attachments.ticket_id is 'Id of the ticket it belongs to.';
comment on column app_reporting.attachments.on_comment is 'True when it belongs to a comment or internal note rather than to the ticket itself.';
comment on column app_reporting.attachments.state is 'pending, ready or rejected, as plain text.';
comment on column app_reporting.attachments.size is 'Size in bytes (declared; verified when ready).';
comment on column app_reporting.attachments.created_at is 'When the upload was requested.';

revoke all on app_reporting.attachments from public;
grant select on app_reporting.attachments to ticketing_analyst;
