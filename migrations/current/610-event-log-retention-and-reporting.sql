-- The event log kept a week, and its ticket events open to analysts.
--
-- app_private.realtime_events (300-realtime-events.sql) is the log of every
-- announced change; webhooks are queued from it (600-webhooks.sql). Kept an
-- hour, it served only live notifications; kept a week, it is also the
-- incremental change feed for reporting: app_reporting.ticket_events lists
-- its ticket events (ids, kinds and times, never content), and a BI job
-- reads what is new with `where event_id > <the last id it read>`. The API
-- still reads only rows made in the last two minutes (realtime_events_by_id).

create or replace function app_private.event_log_policy(out retention interval)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select interval '7 days';
$$;

comment on function app_private.event_log_policy() is
  'How long the event log (app_private.realtime_events) is kept: retention. Replace this function in a migration to change it.';

revoke all on function app_private.event_log_policy() from public;

-- Same signature and bounds as before; only the age changes (to the policy).
create or replace function app_private.prune_realtime_events(max_rows integer default 1000)
returns integer
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  with expired as (
    select e.id
    from app_private.realtime_events as e
    where e.occurred_at < clock_timestamp() - (select p.retention from app_private.event_log_policy() as p)
    order by e.occurred_at
    limit max_rows
    for update skip locked
  ), deleted as (
    delete from app_private.realtime_events as e
    using expired
    where e.id = expired.id
    returning 1
  )
  select count(*)::integer from deleted;
$$;

comment on function app_private.prune_realtime_events(integer) is
  'Deletes events older than event_log_policy().retention, at most max_rows of them (oldest first, skipping rows another pruner holds); returns how many.';

comment on table app_private.realtime_events is
  'The event log: one row per announced change (append-only; kept event_log_policy().retention, a week). NOTIFY on ticketing_events carries only the id; the API reads fresh rows through realtime_events_by_id, webhooks are queued from new rows, analysts read ticket events through app_reporting.ticket_events. Owner only.';

create or replace view app_reporting.ticket_events as
select
  e.id as event_id,
  e.occurred_at,
  e.kind,
  e.ticket_id,
  e.customer_id,
  e.agent_id
from app_private.realtime_events as e
where e.ticket_id is not null;

comment on view app_reporting.ticket_events is
  'Change feed: one row per ticket event of the last week (the event log''s retention), ids, kinds and times only. Read it incrementally with event_id > the last id read; ids increase with time.';
comment on column app_reporting.ticket_events.event_id is 'Event id, increasing: the cursor of an incremental read.';
comment on column app_reporting.ticket_events.occurred_at is 'When the change was made.';
comment on column app_reporting.ticket_events.kind is 'created, status_changed, assigned, commented or updated.';
comment on column app_reporting.ticket_events.ticket_id is 'The ticket that changed (join app_reporting.tickets for its facts).';
comment on column app_reporting.ticket_events.customer_id is 'The ticket''s customer after the change.';
comment on column app_reporting.ticket_events.agent_id is 'The ticket''s agent after the change; null while unassigned.';

revoke all on app_reporting.ticket_events from public;
grant select on app_reporting.ticket_events to ticketing_analyst;
