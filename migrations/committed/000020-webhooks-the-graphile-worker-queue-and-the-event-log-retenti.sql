--! Previous: sha1:b599eee7013f7a6825abbe1bd321f56d1ca8ffbb
--! Hash: sha1:0fbb94f2bde5609359392b3cb5d6e930777c7ff4
--! Message: webhooks, the graphile-worker queue and the event log retention

--! split: 600-webhooks.sql
-- Signed webhooks, served from the event log (docs/webhooks.md).
--
-- The event log is app_private.realtime_events (300-realtime-events.sql):
-- every ticket change and user change writes one row there, in the
-- transaction that makes the change. A trigger on that table renders, for
-- each active endpoint whose filter matches, the payload a staff reader would
-- see at that moment, records it as a delivery and queues a graphile-worker
-- job for it, still in the same transaction: a change that rolls back queues
-- nothing, a change that commits is delivered at least once. The worker
-- (src/worker/) signs and sends the delivery and reports each attempt to
-- app_private.record_webhook_attempt, which keeps the delivery log, schedules
-- the next attempt with exponential backoff and jitter, and disables an
-- endpoint after too many consecutive failures.
--
-- The graphile_worker schema is installed with the migrations (runMigrations
-- of graphile-worker, src/database/migrations.ts); the functions below call
-- it only when an active endpoint exists.

--------------------------------------------------------------------------------
-- Policy: retries, disabling and retention, in one place
--------------------------------------------------------------------------------
create or replace function app_private.webhook_policy(
  out max_attempts integer,
  out first_retry interval,
  out max_retry interval,
  out failures_before_disable integer,
  out delivery_retention interval,
  out stalled_after interval
)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select 12, interval '2 seconds', interval '1 hour', 20, interval '30 days', interval '2 minutes';
$$;

comment on function app_private.webhook_policy() is
  'Webhook delivery policy, in one place: a delivery is attempted at most max_attempts times; the n-th retry waits first_retry * 2^(n-1), at most max_retry, times a random factor between 0.5 and 1 (jitter); an endpoint is disabled after failures_before_disable consecutive failed attempts; deliveries are kept delivery_retention; a pending delivery overdue by stalled_after (its worker died mid-attempt) is queued again. Replace this function in a migration to change them.';

revoke all on function app_private.webhook_policy() from public;

--------------------------------------------------------------------------------
-- Endpoints
--------------------------------------------------------------------------------
create table if not exists app_public.webhook_endpoints (
  id uuid primary key default app_private.uuid_generate_v7(),
  url text not null
    constraint webhook_endpoints_url_format check (url ~ '^https?://[^[:space:]/?#]+' and char_length(url) <= 2000),
  event_kinds text[] not null
    constraint webhook_endpoints_event_kinds_known check (
      cardinality(event_kinds) >= 1
      and event_kinds <@ array[
        'ticket.created', 'ticket.status_changed', 'ticket.assigned', 'ticket.commented', 'ticket.updated',
        'user.deactivated', 'user.role_changed'
      ]
    ),
  include_internal boolean not null default false,
  priorities app_public.ticket_priority[],
  is_active boolean not null default true,
  secret text not null
    constraint webhook_endpoints_secret_format check (secret ~ '^whsec_[A-Za-z0-9+/=]{32,}$'),
  consecutive_failures integer not null default 0
    constraint webhook_endpoints_consecutive_failures_positive check (consecutive_failures >= 0),
  disabled_at timestamptz,
  created_at timestamptz not null default now(),
  secret_rotated_at timestamptz
);

comment on table app_public.webhook_endpoints is
  E'@behavior -insert -delete\nWebhook endpoints: where events are delivered, signed with the endpoint''s secret (Standard Webhooks). Admins only; the secret is readable by nobody but the worker.';
comment on column app_public.webhook_endpoints.id is 'Endpoint id.';
comment on column app_public.webhook_endpoints.url is 'Where deliveries are POSTed; https in production, and never a private, loopback or link-local address unless WEBHOOK_ALLOWED_HOSTS names the host.';
comment on column app_public.webhook_endpoints.event_kinds is 'Event types delivered: ticket.created, ticket.status_changed, ticket.assigned, ticket.commented, ticket.updated, user.deactivated, user.role_changed.';
comment on column app_public.webhook_endpoints.include_internal is 'Internal notes are delivered (ticket.commented) only to endpoints with this set.';
comment on column app_public.webhook_endpoints.priorities is 'Only ticket events of tickets with one of these priorities; null: every priority.';
comment on column app_public.webhook_endpoints.is_active is 'Deliveries are made only to active endpoints; set false after repeated failures (disabledAt says when); setting it true again resets the failure count.';
comment on column app_public.webhook_endpoints.secret is E'@behavior -*\nSigning secret, whsec_ + base64; shown once by createWebhookEndpoint and rotateWebhookSecret, never readable again.';
comment on column app_public.webhook_endpoints.consecutive_failures is E'@behavior -insert -update\nFailed attempts since the last success.';
comment on column app_public.webhook_endpoints.disabled_at is E'@behavior -insert -update\nWhen the endpoint was disabled for repeated failures.';
comment on column app_public.webhook_endpoints.created_at is E'@behavior -insert -update\nWhen the endpoint was registered.';
comment on column app_public.webhook_endpoints.secret_rotated_at is E'@behavior -insert -update\nWhen the secret was last rotated.';

alter table app_public.webhook_endpoints enable row level security;

-- Admins read everything but the secret, write the filter and the active
-- flag, and set (never read) the secret through the functions below.
revoke all on app_public.webhook_endpoints from public;
grant select (id, url, event_kinds, include_internal, priorities, is_active, consecutive_failures, disabled_at, created_at, secret_rotated_at)
  on app_public.webhook_endpoints to ticketing_admin;
grant insert (url, event_kinds, include_internal, priorities, secret) on app_public.webhook_endpoints to ticketing_admin;
grant update (url, event_kinds, include_internal, priorities, is_active, secret, secret_rotated_at)
  on app_public.webhook_endpoints to ticketing_admin;

drop policy if exists select_admin on app_public.webhook_endpoints;
create policy select_admin on app_public.webhook_endpoints
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.webhook_endpoints is 'Admins read webhook endpoints (never their secrets: no column grant).';

drop policy if exists insert_admin on app_public.webhook_endpoints;
create policy insert_admin on app_public.webhook_endpoints
  for insert
  to ticketing_admin
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy insert_admin on app_public.webhook_endpoints is 'Admins register webhook endpoints (createWebhookEndpoint).';

drop policy if exists update_admin on app_public.webhook_endpoints;
create policy update_admin on app_public.webhook_endpoints
  for update
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy update_admin on app_public.webhook_endpoints is 'Admins change an endpoint''s filter and active flag and rotate its secret.';

-- Re-enabling an endpoint starts its failure count afresh.
create or replace function app_private.tg_webhook_endpoints_reenable()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.is_active and not old.is_active then
    new.consecutive_failures := 0;
    new.disabled_at := null;
  end if;
  return new;
end;
$$;

comment on function app_private.tg_webhook_endpoints_reenable() is
  'Trigger: an endpoint set active again has its consecutive failure count and disabledAt cleared.';

drop trigger if exists _100_reenable on app_public.webhook_endpoints;
create trigger _100_reenable
  before update of is_active on app_public.webhook_endpoints
  for each row execute function app_private.tg_webhook_endpoints_reenable();

-- A fresh secret: 32 random bytes (two random UUIDs) as whsec_ + base64.
create or replace function app_public.new_webhook_secret()
returns text
language sql
volatile
set search_path = pg_catalog, pg_temp
as $$
  select 'whsec_' || encode(
    decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'),
    'base64'
  );
$$;

comment on function app_public.new_webhook_secret() is
  E'@behavior -*\nA fresh webhook signing secret: whsec_ followed by the base64 of 32 random bytes (two random UUIDs, 244 random bits).';

revoke all on function app_public.new_webhook_secret() from public;
grant execute on function app_public.new_webhook_secret() to ticketing_admin;

drop type if exists app_public.webhook_endpoint_secret cascade;
create type app_public.webhook_endpoint_secret as (
  webhook_endpoint_id uuid,
  secret text
);

comment on type app_public.webhook_endpoint_secret is 'An endpoint and its new signing secret, shown this once.';
comment on column app_public.webhook_endpoint_secret.webhook_endpoint_id is E'@behavior -*\nThe endpoint.';
comment on column app_public.webhook_endpoint_secret.secret is 'The signing secret (whsec_…): store it now, it is never shown again.';

-- The endpoint of a webhook_endpoint_secret, as a GraphQL field.
create or replace function app_public.webhook_endpoint_secret_webhook_endpoint(result app_public.webhook_endpoint_secret)
returns app_public.webhook_endpoints
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select e.id, e.url, e.event_kinds, e.include_internal, e.priorities, e.is_active, null::text,
         e.consecutive_failures, e.disabled_at, e.created_at, e.secret_rotated_at
  from app_public.webhook_endpoints as e
  where e.id = result.webhook_endpoint_id;
$$;

comment on function app_public.webhook_endpoint_secret_webhook_endpoint(app_public.webhook_endpoint_secret) is
  E'@fieldName webhookEndpoint\n@behavior -queryField\nThe endpoint the secret signs for.';

revoke all on function app_public.webhook_endpoint_secret_webhook_endpoint(app_public.webhook_endpoint_secret) from public;
grant execute on function app_public.webhook_endpoint_secret_webhook_endpoint(app_public.webhook_endpoint_secret) to ticketing_admin;

create or replace function app_public.create_webhook_endpoint(
  url text,
  event_kinds text[],
  include_internal boolean default false,
  priorities app_public.ticket_priority[] default null
)
returns app_public.webhook_endpoint_secret
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  result app_public.webhook_endpoint_secret;
begin
  result.secret := app_public.new_webhook_secret();
  insert into app_public.webhook_endpoints (url, event_kinds, include_internal, priorities, secret)
  values (url, event_kinds, coalesce(include_internal, false), priorities, result.secret)
  returning id into result.webhook_endpoint_id;
  return result;
end;
$$;

comment on function app_public.create_webhook_endpoint(text, text[], boolean, app_public.ticket_priority[]) is
  E'@resultFieldName created\nRegisters a webhook endpoint (admins) and returns it with its signing secret, which is shown this once.';

revoke all on function app_public.create_webhook_endpoint(text, text[], boolean, app_public.ticket_priority[]) from public;
grant execute on function app_public.create_webhook_endpoint(text, text[], boolean, app_public.ticket_priority[]) to ticketing_admin;

create or replace function app_public.rotate_webhook_secret(webhook_endpoint_id uuid)
returns app_public.webhook_endpoint_secret
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  result app_public.webhook_endpoint_secret;
begin
  result.secret := app_public.new_webhook_secret();
  update app_public.webhook_endpoints as e
  set secret = result.secret, secret_rotated_at = now()
  where e.id = rotate_webhook_secret.webhook_endpoint_id
  returning e.id into result.webhook_endpoint_id;
  if result.webhook_endpoint_id is null then
    raise exception 'no such webhook endpoint' using errcode = 'TKNTF';
  end if;
  return result;
end;
$$;

comment on function app_public.rotate_webhook_secret(uuid) is
  E'@resultFieldName rotated\nGives an endpoint a new signing secret (admins), returned this once; deliveries from now on are signed with it.';

revoke all on function app_public.rotate_webhook_secret(uuid) from public;
grant execute on function app_public.rotate_webhook_secret(uuid) to ticketing_admin;

--------------------------------------------------------------------------------
-- Deliveries: the delivery log
--------------------------------------------------------------------------------
create table if not exists app_public.webhook_deliveries (
  id uuid primary key default app_private.uuid_generate_v7(),
  endpoint_id uuid not null references app_public.webhook_endpoints (id),
  event_id bigint not null,
  event_type text not null,
  payload jsonb not null,
  status text not null default 'pending'
    constraint webhook_deliveries_status_known check (status in ('pending', 'succeeded', 'failed')),
  attempts integer not null default 0
    constraint webhook_deliveries_attempts_positive check (attempts >= 0),
  response_code integer,
  latency_ms integer,
  last_error text,
  created_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  next_attempt_at timestamptz,
  succeeded_at timestamptz,
  redelivery_requested_at timestamptz,
  constraint webhook_deliveries_one_per_event unique (endpoint_id, event_id)
);

comment on table app_public.webhook_deliveries is
  E'@behavior -insert -update -delete\nWebhook delivery log: one row per event and endpoint, with the payload sent and the outcome of the last attempt. Admins only; written by the worker. Kept webhook_policy().delivery_retention.';
comment on column app_public.webhook_deliveries.id is 'Delivery id, sent as the webhook-id header (the same on every attempt, so receivers can drop duplicates).';
comment on column app_public.webhook_deliveries.endpoint_id is E'@behavior -update\nThe endpoint delivered to.';
comment on column app_public.webhook_deliveries.event_id is E'@behavior -update\nThe event (realtime_events id) delivered.';
comment on column app_public.webhook_deliveries.event_type is E'@behavior -update\nThe event type, e.g. ticket.commented.';
comment on column app_public.webhook_deliveries.payload is E'@behavior -update\nThe JSON body sent, rendered when the event happened as a staff reader saw it.';
comment on column app_public.webhook_deliveries.status is E'@behavior -update\npending (not yet delivered, retries to come), succeeded (a 2xx answer) or failed (attempts used up, or the endpoint disabled).';
comment on column app_public.webhook_deliveries.attempts is E'@behavior -update\nAttempts made so far.';
comment on column app_public.webhook_deliveries.response_code is E'@behavior -update\nHTTP status of the last attempt; null when there was no answer.';
comment on column app_public.webhook_deliveries.latency_ms is E'@behavior -update\nTime of the last attempt, in milliseconds.';
comment on column app_public.webhook_deliveries.last_error is E'@behavior -update\nWhy the last attempt failed (timeout, refused address, status), when it did.';
comment on column app_public.webhook_deliveries.created_at is E'@behavior -update\nWhen the event was recorded.';
comment on column app_public.webhook_deliveries.last_attempt_at is E'@behavior -update\nWhen the last attempt ended.';
comment on column app_public.webhook_deliveries.next_attempt_at is E'@behavior -update\nWhen the next attempt is due (pending deliveries).';
comment on column app_public.webhook_deliveries.succeeded_at is E'@behavior -update\nWhen a 2xx answer was received.';
comment on column app_public.webhook_deliveries.redelivery_requested_at is E'@behavior -update\nWhen an admin last asked for the delivery to be sent again (redeliverWebhook).';

-- (Not CONCURRENTLY: the table is created by this same migration, which
-- graphile-migrate runs in one transaction; it is empty when the index is built.)
-- squawk-ignore require-concurrent-index-creation
create index if not exists webhook_deliveries_created_at on app_public.webhook_deliveries (created_at);
comment on index app_public.webhook_deliveries_created_at is 'Pruning by age; newest deliveries first.';

alter table app_public.webhook_deliveries enable row level security;

revoke all on app_public.webhook_deliveries from public;
grant select on app_public.webhook_deliveries to ticketing_admin;
grant update (redelivery_requested_at) on app_public.webhook_deliveries to ticketing_admin;

drop policy if exists select_admin on app_public.webhook_deliveries;
create policy select_admin on app_public.webhook_deliveries
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.webhook_deliveries is 'Admins read the delivery log.';

drop policy if exists update_admin on app_public.webhook_deliveries;
create policy update_admin on app_public.webhook_deliveries
  for update
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy update_admin on app_public.webhook_deliveries is 'Admins ask for a delivery to be sent again (redeliverWebhook).';

-- Queues one attempt of a delivery. Owner's rights: the web roles have no
-- access to the graphile_worker schema.
create or replace function app_private.queue_webhook_attempt(delivery_id uuid, run_at timestamptz default null)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform graphile_worker.add_job(
    'deliver_webhook',
    json_build_object('deliveryId', delivery_id),
    run_at => coalesce(run_at, now()),
    max_attempts => 1,
    job_key => 'webhook_delivery:' || delivery_id::text
  );
end;
$$;

comment on function app_private.queue_webhook_attempt(uuid, timestamptz) is
  'Queues the graphile-worker job deliver_webhook for one attempt of a delivery at run_at (now by default); one job per delivery (job key). Retries are queued by record_webhook_attempt, not by graphile-worker, so the backoff and jitter follow webhook_policy().';

revoke all on function app_private.queue_webhook_attempt(uuid, timestamptz) from public;

-- A redelivery asked for by an admin: pending again, one more attempt now.
create or replace function app_private.tg_webhook_deliveries_redeliver()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.redelivery_requested_at is distinct from old.redelivery_requested_at then
    new.status := 'pending';
    new.next_attempt_at := now();
    perform app_private.queue_webhook_attempt(new.id);
  end if;
  return new;
end;
$$;

comment on function app_private.tg_webhook_deliveries_redeliver() is
  'Trigger: when an admin requests a redelivery, the delivery is pending again and one attempt is queued now (with the same webhook-id and payload).';

drop trigger if exists _100_redeliver on app_public.webhook_deliveries;
create trigger _100_redeliver
  before update of redelivery_requested_at on app_public.webhook_deliveries
  for each row execute function app_private.tg_webhook_deliveries_redeliver();

create or replace function app_public.redeliver_webhook(delivery_id uuid)
returns app_public.webhook_deliveries
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  delivery app_public.webhook_deliveries;
begin
  update app_public.webhook_deliveries as d
  set redelivery_requested_at = clock_timestamp()
  where d.id = redeliver_webhook.delivery_id
  returning d.* into delivery;
  if delivery.id is null then
    raise exception 'no such webhook delivery' using errcode = 'TKNTF';
  end if;
  return delivery;
end;
$$;

comment on function app_public.redeliver_webhook(uuid) is
  'Sends a delivery again (admins): it becomes pending and is attempted now, with its original webhook-id and payload; retries follow as for a new delivery.';

revoke all on function app_public.redeliver_webhook(uuid) from public;
grant execute on function app_public.redeliver_webhook(uuid) to ticketing_admin;

--------------------------------------------------------------------------------
-- From event to delivery, in the event's transaction
--------------------------------------------------------------------------------
-- The payload of an event as a staff reader sees it now (at the event):
-- ticket fields and, for ticket.commented, the comment. Null for a comment
-- that is an internal note when internal notes are not included.
create or replace function app_private.webhook_payload(
  event app_private.realtime_events,
  include_internal boolean
)
returns jsonb
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  event_type text := case when event.user_id is not null then 'user.' else 'ticket.' end || event.kind;
  data jsonb;
  note app_public.ticket_comments;
begin
  if event.user_id is not null then
    select jsonb_build_object(
      'user', jsonb_build_object('id', u.id, 'displayName', u.display_name, 'role', u.role, 'isActive', u.is_active)
    ) into data
    from app_public.users as u
    where u.id = event.user_id;
  else
    select jsonb_build_object(
      'ticket', jsonb_build_object(
        'id', t.id, 'number', t.number, 'subject', t.subject, 'description', t.description,
        'status', t.status, 'priority', t.priority, 'customerId', t.customer_id, 'agentId', t.agent_id,
        'createdAt', t.created_at, 'updatedAt', t.updated_at
      )
    ) into data
    from app_public.tickets as t
    where t.id = event.ticket_id;
    if event.comment_id is not null then
      select * into note from app_public.ticket_comments as c where c.id = event.comment_id;
      if note.is_internal and not include_internal then
        return null;
      end if;
      data := data || jsonb_build_object('comment', jsonb_build_object(
        'id', note.id, 'body', note.body, 'isInternal', note.is_internal,
        'authorId', note.author_id, 'createdAt', note.created_at
      ));
    end if;
  end if;
  return jsonb_build_object(
    'type', event_type,
    'timestamp', event.occurred_at,
    'data', jsonb_build_object('eventId', event.id) || coalesce(data, '{}')
  );
end;
$$;

comment on function app_private.webhook_payload(app_private.realtime_events, boolean) is
  'The webhook body of an event: {type, timestamp, data: {eventId, ticket[, comment] | user}} with what a staff reader sees (no internal note unless include_internal: then null, and nothing is delivered).';

revoke all on function app_private.webhook_payload(app_private.realtime_events, boolean) from public;

create or replace function app_private.tg_realtime_events_queue_webhooks()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  event_type text := case when new.user_id is not null then 'user.' else 'ticket.' end || new.kind;
  ticket_priority app_public.ticket_priority;
  endpoint record;
  body jsonb;
  delivery_id uuid;
begin
  -- The usual case, no endpoint at all, costs one index-only probe.
  if not exists (select from app_public.webhook_endpoints as e where e.is_active) then
    return null;
  end if;
  if new.ticket_id is not null then
    select t.priority into ticket_priority from app_public.tickets as t where t.id = new.ticket_id;
  end if;
  for endpoint in
    select e.id, e.include_internal
    from app_public.webhook_endpoints as e
    where e.is_active
      and event_type = any (e.event_kinds)
      and (e.priorities is null or new.ticket_id is null or ticket_priority = any (e.priorities))
    order by e.id
  loop
    body := app_private.webhook_payload(new, endpoint.include_internal);
    continue when body is null;
    insert into app_public.webhook_deliveries (endpoint_id, event_id, event_type, payload, next_attempt_at)
    values (endpoint.id, new.id, event_type, body, now())
    returning id into delivery_id;
    perform app_private.queue_webhook_attempt(delivery_id);
  end loop;
  return null;
end;
$$;

comment on function app_private.tg_realtime_events_queue_webhooks() is
  'Trigger: for each active endpoint whose event types and priorities match a new event, records a delivery with its payload and queues its first attempt, in the event''s transaction.';

drop trigger if exists _600_queue_webhooks on app_private.realtime_events;
create trigger _600_queue_webhooks
  after insert on app_private.realtime_events
  for each row execute function app_private.tg_realtime_events_queue_webhooks();

--------------------------------------------------------------------------------
-- What the worker reads and reports
--------------------------------------------------------------------------------
create or replace function app_private.webhook_delivery_to_send(delivery_id uuid)
returns table (id uuid, url text, secret text, payload jsonb, attempts integer)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select d.id, e.url, e.secret, d.payload, d.attempts
  from app_public.webhook_deliveries as d
  join app_public.webhook_endpoints as e on e.id = d.endpoint_id
  where d.id = delivery_id
    and d.status = 'pending'
    and e.is_active;
$$;

comment on function app_private.webhook_delivery_to_send(uuid) is
  'Worker: what to send for a delivery (URL, secret, payload), if it is still pending and its endpoint active; otherwise nothing.';

revoke all on function app_private.webhook_delivery_to_send(uuid) from public;

create or replace function app_private.record_webhook_attempt(
  delivery_id uuid,
  succeeded boolean,
  response_code integer,
  latency_ms integer,
  error text
)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  policy record;
  delivery app_public.webhook_deliveries;
  endpoint app_public.webhook_endpoints;
  delay interval;
begin
  select * into policy from app_private.webhook_policy();

  update app_public.webhook_endpoints as e
  set consecutive_failures = case when succeeded then 0 else e.consecutive_failures + 1 end
  from app_public.webhook_deliveries as d
  where d.id = record_webhook_attempt.delivery_id and e.id = d.endpoint_id
  returning e.* into endpoint;

  if not succeeded and endpoint.is_active and endpoint.consecutive_failures >= policy.failures_before_disable then
    update app_public.webhook_endpoints as e
    set is_active = false, disabled_at = now()
    where e.id = endpoint.id
    returning e.* into endpoint;
    -- The event saying so, in the audit log admins read.
    insert into app_private.audit_log (table_name, operation, record_id, old_data, new_data)
    values (
      'app_public.webhook_endpoints', 'UPDATE', endpoint.id,
      jsonb_build_object('is_active', true),
      jsonb_build_object('is_active', false, 'disabled_at', endpoint.disabled_at,
                         'reason', format('%s consecutive failed deliveries', endpoint.consecutive_failures))
    );
  end if;

  update app_public.webhook_deliveries as d
  set attempts = d.attempts + 1,
      response_code = record_webhook_attempt.response_code,
      latency_ms = record_webhook_attempt.latency_ms,
      last_error = left(record_webhook_attempt.error, 500),
      last_attempt_at = now(),
      succeeded_at = case when succeeded then now() end,
      status = case
        when succeeded then 'succeeded'
        when d.attempts + 1 >= policy.max_attempts or not endpoint.is_active then 'failed'
        else 'pending'
      end
  where d.id = record_webhook_attempt.delivery_id
  returning d.* into delivery;

  if delivery.status = 'pending' then
    delay := least(policy.max_retry, policy.first_retry * power(2, delivery.attempts - 1)) * (0.5 + random() / 2);
    update app_public.webhook_deliveries as d set next_attempt_at = now() + delay where d.id = delivery.id;
    perform app_private.queue_webhook_attempt(delivery.id, now() + delay);
  else
    update app_public.webhook_deliveries as d set next_attempt_at = null where d.id = delivery.id;
  end if;
  return delivery.status;
end;
$$;

comment on function app_private.record_webhook_attempt(uuid, boolean, integer, integer, text) is
  'Worker: records one attempt of a delivery (outcome, response code, latency, error); counts the endpoint''s consecutive failures and disables it (with an audit log entry) at webhook_policy().failures_before_disable; queues the next attempt with exponential backoff and jitter while attempts remain. Returns the delivery''s status.';

revoke all on function app_private.record_webhook_attempt(uuid, boolean, integer, integer, text) from public;

create or replace function app_private.prune_webhook_deliveries(max_rows integer default 10000)
returns integer
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  with expired as (
    select d.id
    from app_public.webhook_deliveries as d
    where d.created_at < now() - (select p.delivery_retention from app_private.webhook_policy() as p)
      and d.status <> 'pending'
    order by d.created_at
    limit max_rows
    for update skip locked
  ), deleted as (
    delete from app_public.webhook_deliveries as d
    using expired
    where d.id = expired.id
    returning 1
  )
  select count(*)::integer from deleted;
$$;

comment on function app_private.prune_webhook_deliveries(integer) is
  'Deletes finished deliveries older than webhook_policy().delivery_retention, at most max_rows a call; returns how many. Run by the worker''s housekeeping task.';

revoke all on function app_private.prune_webhook_deliveries(integer) from public;

-- A worker killed mid-attempt leaves its job locked (graphile-worker frees
-- such jobs only after hours); the delivery is still pending, so it is
-- queued again once it is overdue by stalled_after. The same job key
-- replaces a job that merely waits; a locked one gets a successor.
create or replace function app_private.requeue_stalled_webhook_deliveries()
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  stalled uuid;
  requeued integer := 0;
begin
  for stalled in
    select d.id
    from app_public.webhook_deliveries as d
    join app_public.webhook_endpoints as e on e.id = d.endpoint_id
    where d.status = 'pending'
      and e.is_active
      and d.next_attempt_at < now() - (select p.stalled_after from app_private.webhook_policy() as p)
    order by d.next_attempt_at
    limit 1000
    for update of d skip locked
  loop
    update app_public.webhook_deliveries as d set next_attempt_at = now() where d.id = stalled;
    perform app_private.queue_webhook_attempt(stalled);
    requeued := requeued + 1;
  end loop;
  return requeued;
end;
$$;

comment on function app_private.requeue_stalled_webhook_deliveries() is
  'Queues again every pending delivery (of an active endpoint) overdue by webhook_policy().stalled_after, at most 1000 a call: its worker died mid-attempt. Run when a worker starts and by its housekeeping task; returns how many.';

revoke all on function app_private.requeue_stalled_webhook_deliveries() from public;

--! split: 610-event-log-retention-and-reporting.sql
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
