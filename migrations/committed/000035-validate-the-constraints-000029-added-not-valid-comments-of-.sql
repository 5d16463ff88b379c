--! Previous: sha1:f8ba6772e9a8e37a20595be8b51b3144d0e3f1d6
--! Hash: sha1:c543d0d7bf590b8f8078a0434915a888540663d7
--! Message: Validate the constraints 000029 added NOT VALID; comments of the covering list indexes

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 190-validate-constraints-added-not-valid.sql
-- The constraints migration 000029 added NOT VALID (checked for new rows at
-- once, without a long lock) are validated here, in a migration of their own:
-- VALIDATE CONSTRAINT reads the existing rows under a SHARE UPDATE EXCLUSIVE
-- lock, so reads and writes go on meanwhile. Validating an already valid
-- constraint does nothing, so this runs twice safely.
alter table app_private.audit_log validate constraint audit_log_operation;
alter table app_private.audit_log validate constraint audit_log_new_data_present;
alter table app_public.tickets validate constraint tickets_status_changed_after_created;

--! split: 200-list-index-comments.sql
-- What the covering list indexes of migrations 000031 and 000032 are for
-- (comments are transactional; a concurrent build is the only statement of
-- its migration, so they come here).
comment on index app_public.tickets_customer_list_idx is
  'A customer''s tickets, newest first (id breaks ties), carrying the columns the customers'' policy and the ticket list read: the list is an index-only scan that stops after a page. Also indexes the customer_id foreign key.';
comment on index app_public.tickets_organization_list_idx is
  'An organization''s tickets, newest first (id breaks ties), carrying the columns the customers'' policy and the ticket list read: a manager''s list is an index-only scan that stops after a page. Also indexes the organization_id foreign key and the policy''s organization arm.';

-- The subject is carried by both indexes (INCLUDE) but cannot be searched or
-- ordered by them; PostGraphile counts every column of an index as indexed
-- and would offer `condition: { subject }` and `orderBy: SUBJECT_*`, each a
-- scan of every visible ticket. Search is the way to find by subject.
comment on column app_public.tickets.subject is E'@behavior -orderBy -filterBy\nOne-line summary, 1-200 characters.';
