--! Previous: sha1:0d9ad289caa0e87d0c088888675307efa0e5f9fd
--! Hash: sha1:c0d8f75b5aade05e64b3bc020b151acf630d2c45
--! Message: Validate the sla_events organization key 000037 added NOT VALID

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 190-validate-sla-events-organization-key.sql
-- The foreign key migration 000037 added NOT VALID to sla_events (checked for
-- new rows at once, without a scan under a lock that blocks writes) is
-- validated here, in a migration of its own: VALIDATE CONSTRAINT reads the
-- existing rows under a SHARE UPDATE EXCLUSIVE lock, so reads and writes go
-- on meanwhile. Validating an already valid constraint does nothing, so this
-- runs twice safely.
alter table app_public.sla_events validate constraint sla_events_organization_id_fkey;
