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
