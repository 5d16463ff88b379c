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
