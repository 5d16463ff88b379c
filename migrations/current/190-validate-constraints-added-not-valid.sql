-- The constraints the previous migration added NOT VALID (checked for new
-- rows at once, without a long lock) are validated here, in their own
-- migration: VALIDATE CONSTRAINT reads the existing rows under a SHARE UPDATE
-- EXCLUSIVE lock, so reads and writes go on meanwhile. Validating an already
-- valid constraint does nothing, so this runs twice safely.
alter table app_private.realtime_events validate constraint realtime_events_kind_known;
alter table app_private.realtime_events validate constraint realtime_events_subject;
alter table app_private.realtime_events validate constraint realtime_events_attachment_only_when_added;
alter table app_public.webhook_endpoints validate constraint webhook_endpoints_event_kinds_known;
alter table app_private.inbound_emails validate constraint inbound_emails_refused_attachments_list;
