--! Previous: sha1:ce7eb1752dac43dc62a794909bf269710ca800ab
--! Hash: sha1:0055334446d4ac712a29fb47170de059ce01fec9
--! Message: Attachments: metadata under the ticket and comment policies, quotas, two-step upload with verification

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 600-attachments.sql
-- Attachments: files on tickets and comments, stored outside the database.
--
-- The bytes live in object storage (the local filesystem or S3, chosen by
-- STORAGE_DRIVER); this table holds what PostgreSQL decides on: who may see a
-- file, who uploaded it, what it claims to be and whether it was verified.
--
-- Who sees an attachment is not restated here: a row is visible exactly when
-- its ticket is (the tickets policies decide) and, for an attachment of a
-- comment, when that comment is (the comments policies decide, so customers
-- never see the files of internal notes). See docs/attachments.md.
--
-- Life of a row: create_attachment_upload (a mutation, running as the caller)
-- inserts it `pending` after the quota check; the API hands out a short-lived
-- upload URL; completeAttachmentUpload reads the stored bytes back, checks
-- size, SHA-256 and content type and records the verdict with
-- app_private.finish_attachment_upload (`ready` or `rejected`). A scheduled
-- job deletes pending rows nobody completed and rejected rows after a day
-- (app_private.prune_attachments) and then their files.

--------------------------------------------------------------------------------
-- Types and the table
--------------------------------------------------------------------------------
do $$
begin
  if to_regtype('app_public.attachment_state') is null then
    create type app_public.attachment_state as enum ('pending', 'ready', 'rejected');
  end if;
end
$$;

comment on type app_public.attachment_state is
  'Where an attachment is in its life: pending (the upload URL was issued, the bytes are not verified yet), ready (size, checksum and type verified; downloadable), rejected (the stored bytes did not match what was declared; never downloadable).';

create table if not exists app_public.attachments (
  id uuid primary key default app_private.uuid_generate_v7(),
  ticket_id uuid not null references app_public.tickets (id),
  comment_id uuid references app_public.ticket_comments (id),
  uploader_id uuid not null default app_public.current_user_id() references app_public.users (id),
  file_name text not null,
  content_type text not null,
  size bigint not null,
  sha256 text not null,
  storage_key text not null default replace(gen_random_uuid()::text, '-', ''),
  state app_public.attachment_state not null default 'pending',
  rejection_reason text,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);

comment on table app_public.attachments is
  E'@behavior -insert -update -delete\nA file attached to a ticket or to one of its comments. The bytes are in object storage; a row is visible exactly when its ticket (and, for a comment''s file, that comment) is visible to you, so customers never see the files of internal notes. Created by createAttachmentUpload, verified by completeAttachmentUpload; only ready attachments have a downloadUrl.';
comment on column app_public.attachments.id is 'Attachment id (time-ordered UUID).';
comment on column app_public.attachments.ticket_id is 'The ticket the file belongs to.';
comment on column app_public.attachments.comment_id is 'The comment (or internal note) the file belongs to; null for a file of the ticket itself.';
comment on column app_public.attachments.uploader_id is 'Who uploaded the file.';
comment on column app_public.attachments.file_name is 'File name as given by the uploader, sanitised: no path, no control or reserved characters, at most 200 characters.';
comment on column app_public.attachments.content_type is 'Media type (lower case), declared by the uploader and checked against the bytes when the upload is completed.';
comment on column app_public.attachments.size is 'Size in bytes, declared by the uploader and checked when the upload is completed.';
comment on column app_public.attachments.sha256 is 'SHA-256 of the bytes (64 lower-case hex digits), declared by the uploader and checked when the upload is completed.';
comment on column app_public.attachments.storage_key is E'@behavior -*\nWhere the bytes are in object storage (random; not shown in GraphQL).';
comment on column app_public.attachments.state is 'pending, ready or rejected (see AttachmentState).';
comment on column app_public.attachments.rejection_reason is 'Why the upload was rejected (size, checksum or content type did not match, or nothing was uploaded); null unless rejected.';
comment on column app_public.attachments.created_at is 'When the upload was requested.';
comment on column app_public.attachments.completed_at is 'When the upload was verified (ready) or rejected; null while pending.';

--------------------------------------------------------------------------------
-- What a row may hold
--------------------------------------------------------------------------------
alter table app_public.attachments drop constraint if exists attachments_file_name_safe;
alter table app_public.attachments add constraint attachments_file_name_safe
  check (
    char_length(file_name) between 1 and 200
    and file_name ~ '[^[:space:].]'
    and file_name !~ '[[:cntrl:]/\\:*?"<>|]'
    and file_name !~ '^[.[:space:]]'
  );
comment on constraint attachments_file_name_safe on app_public.attachments is 'A file name is 1 to 200 characters, not only dots or spaces, without control characters, path separators or characters reserved by common file systems, and does not start with a dot or a space.';

alter table app_public.attachments drop constraint if exists attachments_content_type_shape;
alter table app_public.attachments add constraint attachments_content_type_shape
  check (content_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$');
comment on constraint attachments_content_type_shape on app_public.attachments is 'A content type is a lower-case media type without parameters (type/subtype).';

alter table app_public.attachments drop constraint if exists attachments_content_type_allowed;
alter table app_public.attachments add constraint attachments_content_type_allowed
  check (
    content_type not in (
      'application/x-msdownload', 'application/x-dosexec', 'application/x-executable', 'application/x-elf',
      'application/x-mach-binary', 'application/vnd.microsoft.portable-executable', 'application/x-msi',
      'application/x-sh', 'application/x-bat', 'application/java-archive', 'application/x-apple-diskimage'
    )
  );
comment on constraint attachments_content_type_allowed on app_public.attachments is 'Programs (executables, installers, shell scripts, Java archives) are not accepted as attachments.';

alter table app_public.attachments drop constraint if exists attachments_size_range;
alter table app_public.attachments add constraint attachments_size_range
  check (size between 1 and 104857600);
comment on constraint attachments_size_range on app_public.attachments is 'A file has 1 byte to 100 MiB (the quota of your role may allow less).';

alter table app_public.attachments drop constraint if exists attachments_sha256_shape;
alter table app_public.attachments add constraint attachments_sha256_shape
  check (sha256 ~ '^[0-9a-f]{64}$');
comment on constraint attachments_sha256_shape on app_public.attachments is 'The SHA-256 is 64 lower-case hexadecimal digits.';

alter table app_public.attachments drop constraint if exists attachments_storage_key_shape;
alter table app_public.attachments add constraint attachments_storage_key_shape
  check (storage_key ~ '^[0-9a-f]{32}$');
comment on constraint attachments_storage_key_shape on app_public.attachments is 'A storage key is 32 lower-case hexadecimal digits (a random UUID), never a path.';

alter table app_public.attachments drop constraint if exists attachments_rejection_reason_iff_rejected;
alter table app_public.attachments add constraint attachments_rejection_reason_iff_rejected
  check ((state = 'rejected') = (rejection_reason is not null) and char_length(rejection_reason) <= 200);
comment on constraint attachments_rejection_reason_iff_rejected on app_public.attachments is 'A rejected attachment says why (at most 200 characters); no other has a reason.';

alter table app_public.attachments drop constraint if exists attachments_completed_iff_not_pending;
alter table app_public.attachments add constraint attachments_completed_iff_not_pending
  check ((state = 'pending') = (completed_at is null));
comment on constraint attachments_completed_iff_not_pending on app_public.attachments is 'An attachment has a completion time exactly when it is no longer pending.';

comment on constraint attachments_ticket_id_fkey on app_public.attachments is 'The ticket the file belongs to.';
comment on constraint attachments_comment_id_fkey on app_public.attachments is E'@foreignFieldName attachments\nThe comment or internal note the file belongs to, if any.';
comment on constraint attachments_uploader_id_fkey on app_public.attachments is E'@foreignFieldName uploadedAttachments\nWho uploaded the file.';

-- A unique index rather than a constraint: no GraphQL lookup by storage key.
alter table app_public.attachments drop constraint if exists attachments_storage_key_key;
create unique index if not exists attachments_storage_key_idx on app_public.attachments (storage_key);

create index if not exists attachments_ticket_idx on app_public.attachments (ticket_id, created_at);
-- Not partial: GraphQL adds TicketComment.attachments only for an indexed key.
create index if not exists attachments_comment_id_idx on app_public.attachments (comment_id);
-- The quota check: one uploader's recent uploads, with their sizes.
create index if not exists attachments_uploader_time_idx on app_public.attachments (uploader_id, created_at) include (size);
-- The clean-up job: unfinished rows by age.
create index if not exists attachments_unfinished_idx on app_public.attachments (created_at) where state <> 'ready';

--------------------------------------------------------------------------------
-- Who sees and writes which rows
--------------------------------------------------------------------------------
alter table app_public.attachments enable row level security;

revoke all on app_public.attachments from public;
grant select on app_public.attachments to ticketing_customer, ticketing_agent, ticketing_admin;
grant insert (ticket_id, comment_id, file_name, content_type, size, sha256)
  on app_public.attachments to ticketing_customer, ticketing_agent, ticketing_admin;

drop policy if exists select_visible_ticket on app_public.attachments;
create policy select_visible_ticket on app_public.attachments
  for select
  to ticketing_customer, ticketing_agent, ticketing_admin
  using (
    exists (select 1 from app_public.tickets as t where t.id = attachments.ticket_id offset 0)
    and (
      attachments.comment_id is null
      or exists (select 1 from app_public.ticket_comments as c where c.id = attachments.comment_id offset 0)
    )
  );

comment on policy select_visible_ticket on app_public.attachments is
  'Everybody signed in reads the attachments of the tickets they can read, and of the comments they can read (the tickets and comments policies decide: customers never see the files of internal notes).';

-- Uploading: as yourself, on a ticket you can read that is not closed (admins:
-- any ticket) and, for customers, one they write on (requester, manager, cc),
-- and for a comment's file, on your own comment of that ticket.
drop policy if exists insert_uploader on app_public.attachments;
create policy insert_uploader on app_public.attachments
  for insert
  to ticketing_customer, ticketing_agent, ticketing_admin
  with check (
    uploader_id = (select app_private.acting_user_id((select app_private.current_user_role())))
    and (select app_private.current_user_role()) is not null
    and exists (
      select 1
      from app_public.tickets as t
      where t.id = attachments.ticket_id
        and (t.status <> 'closed' or (select app_private.current_user_role()) = 'admin')
    )
    -- From the customer side, only who may write on the ticket (as for a public comment).
    and ((select app_private.current_user_role()) <> 'customer' or (select app_private.customer_writes_on(attachments.ticket_id)))
    and (
      attachments.comment_id is null
      or exists (
        select 1
        from app_public.ticket_comments as c
        where c.id = attachments.comment_id
          and c.ticket_id = attachments.ticket_id
          and c.author_id = attachments.uploader_id
      )
    )
  );

comment on policy insert_uploader on app_public.attachments is
  'Signed-in users upload as themselves to tickets they can read that are not closed (admins: any ticket), customers only to tickets they write on (requester, organization manager, cc), and to their own comments of that ticket.';

--! split: 610-attachment-quotas.sql
-- Attachment quotas: how many files and bytes one user may upload in a
-- sliding window, and the largest file, by role. The write quotas
-- (write_quotas) count rows; uploads cost disk, so they are counted in bytes
-- too. The numbers are data that admins edit; the check is a BEFORE INSERT
-- trigger on attachments, so every path that creates a row is counted and a
-- refused upload leaves nothing behind. Rejected uploads count as well: their
-- bytes were stored before they were rejected.

create table if not exists app_public.attachment_quotas (
  role app_public.user_role primary key,
  max_file_bytes bigint not null
    constraint attachment_quotas_max_file_bytes_range check (max_file_bytes between 1 and 104857600),
  max_count integer not null
    constraint attachment_quotas_max_count_range check (max_count between 1 and 100000),
  max_bytes bigint not null
    constraint attachment_quotas_max_bytes_range check (max_bytes between 1 and 1099511627776),
  per_interval interval not null
    constraint attachment_quotas_per_interval_range check (per_interval between interval '1 minute' and interval '7 days')
);

comment on table app_public.attachment_quotas is
  E'@behavior -insert -delete\nAttachment quotas: a user of role may upload files of at most maxFileBytes, and at most maxCount files and maxBytes bytes within any perInterval (a sliding window). A larger file is refused with INVALID_INPUT, an upload over the quota with RATE_LIMITED and retryAfterSeconds. Admins read and change the numbers.';
comment on column app_public.attachment_quotas.role is E'@behavior -update\nThe role of the uploader (their stored role).';
comment on column app_public.attachment_quotas.max_file_bytes is 'Largest file, in bytes (at most 100 MiB).';
comment on column app_public.attachment_quotas.max_count is 'Uploads allowed within the window.';
comment on column app_public.attachment_quotas.max_bytes is 'Bytes allowed within the window (declared sizes of all uploads, rejected ones included).';
comment on column app_public.attachment_quotas.per_interval is 'Length of the sliding window, 1 minute to 7 days.';

insert into app_public.attachment_quotas (role, max_file_bytes, max_count, max_bytes, per_interval)
values
  ('customer', 26214400, 100, 524288000, interval '1 day'),
  ('agent', 52428800, 1000, 5368709120, interval '1 day'),
  ('admin', 104857600, 1000, 5368709120, interval '1 day')
on conflict (role) do nothing;

alter table app_public.attachment_quotas enable row level security;

revoke all on app_public.attachment_quotas from public;
grant select on app_public.attachment_quotas to ticketing_admin;
grant update (max_file_bytes, max_count, max_bytes, per_interval) on app_public.attachment_quotas to ticketing_admin;

drop policy if exists select_admin on app_public.attachment_quotas;
create policy select_admin on app_public.attachment_quotas
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.attachment_quotas is 'Admins read the attachment quotas.';

drop policy if exists update_admin on app_public.attachment_quotas;
create policy update_admin on app_public.attachment_quotas
  for update
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy update_admin on app_public.attachment_quotas is 'Admins change the numbers of an attachment quota; rows are neither added nor removed.';

create or replace function app_private.tg_enforce_attachment_quota()
returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  uploader app_public.users;
  quota app_public.attachment_quotas;
  used_count integer;
  used_bytes bigint;
  frees_at timestamptz;
begin
  -- Only API requests (a web role) are counted.
  if current_setting('role') not in ('ticketing_customer', 'ticketing_agent', 'ticketing_admin') then
    return new;
  end if;

  select u.* into uploader
  from app_public.users as u
  where u.id = new.uploader_id
    and u.is_active;
  -- Without an active uploader the policies refuse the row anyway.
  if not found then
    return new;
  end if;

  select q.* into quota
  from app_public.attachment_quotas as q
  where q.role = uploader.role;
  if not found then
    return new;
  end if;

  if new.size > quota.max_file_bytes then
    raise exception using
      errcode = 'TKVAL',
      message = format('The file is too large: at most %s bytes', quota.max_file_bytes);
  end if;

  -- One uploader's uploads are counted one at a time (until commit), so
  -- parallel requests cannot all pass on the same sums.
  perform pg_advisory_xact_lock(hashtext('app_public.attachments'), hashtext(uploader.id::text));

  select count(*)::integer, coalesce(sum(a.size), 0), min(a.created_at)
  into used_count, used_bytes, frees_at
  from app_public.attachments as a
  where a.uploader_id = uploader.id
    and a.created_at > now() - quota.per_interval;

  if used_count + 1 > quota.max_count or used_bytes + new.size > quota.max_bytes then
    raise exception using
      errcode = 'TKRAT',
      message = 'Too many uploads in a short time; try again later',
      hint = format('retry_after=%s', greatest(1, ceil(extract(epoch from frees_at + quota.per_interval - now())))::integer);
  end if;

  return new;
end;
$$;

comment on function app_private.tg_enforce_attachment_quota() is
  'Trigger: before an attachment row written by an API request, refuses a file larger than the uploader''s attachment_quotas.max_file_bytes (TKVAL), and an upload that would exceed max_count files or max_bytes bytes within per_interval (TKRAT, hint retry_after=<seconds>, when the oldest counted upload leaves the window). Rows written outside a web role are not counted.';

drop trigger if exists _050_attachment_quota on app_public.attachments;
create trigger _050_attachment_quota
  before insert on app_public.attachments
  for each row
  execute function app_private.tg_enforce_attachment_quota();

comment on trigger _050_attachment_quota on app_public.attachments is 'Attachment quota: file size, files and bytes per user (attachment_quotas).';

--! split: 620-attachment-functions.sql
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
