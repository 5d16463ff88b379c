--! Previous: sha1:0055334446d4ac712a29fb47170de059ce01fec9
--! Hash: sha1:4964bc7a02a93535e570adbd1d8eb84c251285bb
--! Message: Validate the constraints added NOT VALID: a ticket's organization, the event kinds of the event log and of webhook endpoints

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 110-validate-constraints-added-not-valid.sql
-- The constraints the previous migrations added NOT VALID (checked for new
-- rows at once, without a long lock) are validated here, in their own
-- migration: VALIDATE CONSTRAINT reads the existing rows under a SHARE UPDATE
-- EXCLUSIVE lock, so reads and writes go on meanwhile. Validating an already
-- valid constraint does nothing, so this runs twice safely.
alter table app_public.tickets validate constraint tickets_organization_id_fkey;
alter table app_private.realtime_events validate constraint realtime_events_kind_known;
alter table app_public.webhook_endpoints validate constraint webhook_endpoints_event_kinds_known;
