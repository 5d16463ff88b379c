-- The event kinds known to the event log, as the union of the two parts that
-- each added one: 111 (sight_changed, a user event) and 130
-- (attachment_added, a ticket event) each redefined the check with its own
-- kind only, and 130, running last, refused sight_changed events (so adding a
-- member to an organization failed). Checked for new rows now, validated in
-- the next migration, as in 111 and 130 (docs/conventions.md).
alter table app_private.realtime_events drop constraint if exists realtime_events_kind_known;
alter table app_private.realtime_events add constraint realtime_events_kind_known check (
  kind in (
    'created', 'status_changed', 'assigned', 'commented', 'updated', 'deactivated', 'role_changed',
    'sla_at_risk', 'sla_breached', 'sla_met', 'sight_changed', 'attachment_added'
  )
) not valid;

comment on column app_private.realtime_events.kind is 'created, status_changed, assigned, commented, updated, sla_at_risk, sla_breached, sla_met or attachment_added (tickets); deactivated, role_changed or sight_changed (users).';
