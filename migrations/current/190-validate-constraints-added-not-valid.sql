-- The constraints migration 000029 added NOT VALID (checked for new rows at
-- once, without a long lock) are validated here, in a migration of their own:
-- VALIDATE CONSTRAINT reads the existing rows under a SHARE UPDATE EXCLUSIVE
-- lock, so reads and writes go on meanwhile. Validating an already valid
-- constraint does nothing, so this runs twice safely.
alter table app_private.audit_log validate constraint audit_log_operation;
alter table app_private.audit_log validate constraint audit_log_new_data_present;
alter table app_public.tickets validate constraint tickets_status_changed_after_created;
