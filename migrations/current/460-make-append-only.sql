-- One way to make a table append-only: app_private.make_append_only(table).
--
-- The status history, the assignment history and the audit log each pasted
-- the same two triggers and two revokes, and the partition protector a third
-- variant. The helper installs them; calling it again changes nothing.

create or replace function app_private.make_append_only(target regclass)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  is_partition boolean;
begin
  select c.relispartition into strict is_partition
  from pg_catalog.pg_class as c
  where c.oid = target;

  -- Row trigger: refuses UPDATE and DELETE, the owner's included. A partition
  -- has it already: row triggers of a partitioned table are cloned to every
  -- partition, present and future.
  if not is_partition and not exists (
    select from pg_catalog.pg_trigger as t
    where t.tgrelid = target and t.tgname = '_100_append_only'
  ) then
    execute format(
      'create trigger _100_append_only before update or delete on %s for each row execute function app_private.tg_forbid_change()',
      target
    );
  end if;

  -- Statement trigger for TRUNCATE, which is never cloned to partitions.
  if not exists (
    select from pg_catalog.pg_trigger as t
    where t.tgrelid = target and t.tgname = '_100_append_only_truncate'
  ) then
    execute format(
      'create trigger _100_append_only_truncate before truncate on %s for each statement execute function app_private.tg_forbid_change()',
      target
    );
  end if;

  -- Nobody is granted anything by default; the owner keeps INSERT (triggers
  -- that write the rows run as the owner) and SELECT, and gives up the rest.
  -- The triggers above still stop it after a re-grant.
  execute format('revoke all on %s from public', target);
  execute format('revoke update, delete, truncate on %s from ticketing_owner', target);
end;
$$;

comment on function app_private.make_append_only(regclass) is
  'Makes a table append-only: a trigger refusing UPDATE and DELETE (not repeated on partitions, which inherit it), one refusing TRUNCATE, nothing granted to PUBLIC, and UPDATE, DELETE and TRUNCATE revoked from the owner. Idempotent. Every new append-only table calls it (docs/conventions.md).';

-- Partitions of the status history are made append-only by the same helper;
-- they are also reachable only through the parent and its policies.
create or replace function app_private.protect_status_history_partition(partition_name text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_private.make_append_only(format('app_private.%I', partition_name)::regclass);
  execute format('alter table app_private.%I enable row level security', partition_name);
end;
$$;

comment on function app_private.protect_status_history_partition(text) is
  'Makes a new partition of ticket_status_history append-only like its parent (app_private.make_append_only) with row-level security enabled.';

-- The existing append-only tables, through the helper: nothing changes for
-- them, but the helper is now what defines them.
select app_private.make_append_only('app_public.ticket_status_history');
select app_private.make_append_only('app_public.ticket_assignment_history');
select app_private.make_append_only('app_private.audit_log');

select app_private.make_append_only(i.inhrelid::regclass)
from pg_catalog.pg_inherits as i
where i.inhparent = 'app_public.ticket_status_history'::regclass;
