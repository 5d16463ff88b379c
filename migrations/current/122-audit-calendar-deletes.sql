-- Deletes of calendar rows are audited: removing opening hours, a holiday, a
-- calendar version (with its hours) or a pause rule changes due times as much
-- as adding one, so the audit log keeps the removed row (old_data, no
-- new_data) with who removed it.

-- The log keeps rows for good; the wider rule checks new rows now and is
-- validated in the next migration (the old rule implies it).
alter table app_private.audit_log drop constraint if exists audit_log_operation;
alter table app_private.audit_log add constraint audit_log_operation
  check (operation in ('INSERT', 'UPDATE', 'DELETE')) not valid;

-- Dropping NOT NULL only relaxes the catalog; no scan, no rewrite. Only
-- deletes leave it null (the check below), and the one reader, the view
-- audit_log_entries, already exposes it as nullable.
-- squawk-ignore ban-drop-not-null
alter table app_private.audit_log alter column new_data drop not null;
alter table app_private.audit_log drop constraint if exists audit_log_new_data_present;
alter table app_private.audit_log add constraint audit_log_new_data_present
  check (operation = 'DELETE' or new_data is not null) not valid;

comment on column app_private.audit_log.operation is 'INSERT, UPDATE or DELETE.';
comment on column app_private.audit_log.new_data is 'Row after the change (null for a delete).';
comment on column app_public.audit_log_entries.operation is 'INSERT, UPDATE or DELETE.';
comment on column app_public.audit_log_entries.old_data is 'Row before an update or a delete (null for inserts).';
comment on column app_public.audit_log_entries.new_data is 'Row after the change (null for a delete).';

create or replace function app_private.tg_audit()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- The generated search vectors are derived data: left out of the log.
  new_row jsonb;
  old_row jsonb;
begin
  if tg_op in ('INSERT', 'UPDATE') then
    new_row := to_jsonb(new) - 'search';
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    old_row := to_jsonb(old) - 'search';
  end if;
  if tg_op = 'UPDATE' and old_row = new_row then
    return null;
  end if;

  insert into app_private.audit_log (actor_id, db_role, table_name, operation, record_id, old_data, new_data)
  values (
    app_private.jwt_user_id(),
    nullif(current_setting('role'), 'none'),
    tg_table_schema || '.' || tg_table_name,
    tg_op,
    (coalesce(new_row, old_row) ->> 'id')::uuid,
    old_row,
    new_row
  );
  return null;
end;
$$;

comment on function app_private.tg_audit() is
  'Trigger: records an insert, a real update (old and new values) or a delete (the removed row) in app_private.audit_log with the acting user and Postgres role.';

-- The calendar rows admins may remove: hours, holidays, versions (their hours
-- go with them, each audited), pause rules; policies and calendars are never
-- deleted through the API, but a removal by maintenance is recorded too.
do $$
declare
  t text;
begin
  foreach t in array array[
    'business_calendars', 'business_calendar_versions', 'business_calendar_hours', 'business_calendar_holidays',
    'sla_pause_statuses', 'sla_policies'
  ] loop
    execute format('drop trigger if exists _900_audit on app_public.%I', t);
    execute format('create trigger _900_audit after insert or update or delete on app_public.%I for each row execute function app_private.tg_audit()', t);
  end loop;
end;
$$;
