--! Previous: sha1:842e9a842f2f6a61cb6062291896dc55808f4e2c
--! Hash: sha1:3b09723fd2df77d5ac534224f9900fa8a9d0d2de
--! Message: tickets data model, histories and audit log

-- Tickets data model: workflow and SLA tables, tickets, conversation, the
-- append-only histories and the audit log. Security (RLS, grants) is in 030,
-- lifecycle functions in 040.

--------------------------------------------------------------------------------
-- SLA policies
--------------------------------------------------------------------------------
create table app_public.sla_policies (
  priority app_public.ticket_priority primary key,
  first_response_minutes integer not null
    constraint sla_policies_first_response_positive check (first_response_minutes > 0),
  resolution_minutes integer not null,
  constraint sla_policies_resolution_after_first_response check (resolution_minutes >= first_response_minutes)
);

comment on table app_public.sla_policies is
  E'@behavior -insert -delete\nService-level targets per priority. A ticket''s due times are computed from its priority when it is created and whenever its priority changes; editing a policy does not move the due times of existing tickets. Admins may edit the minutes.';
comment on column app_public.sla_policies.priority is E'@behavior -update\nThe priority this policy applies to (one row per priority).';
comment on column app_public.sla_policies.first_response_minutes is 'Minutes after creation by which staff must have posted a first public reply.';
comment on column app_public.sla_policies.resolution_minutes is 'Minutes after creation by which the ticket must be resolved.';

insert into app_public.sla_policies (priority, first_response_minutes, resolution_minutes)
values
  ('urgent', 30, 240),
  ('high', 120, 1440),
  ('normal', 480, 4320),
  ('low', 1440, 10080);

--------------------------------------------------------------------------------
-- Workflow as data
--------------------------------------------------------------------------------
create table app_public.ticket_transitions (
  from_status app_public.ticket_status not null,
  to_status app_public.ticket_status not null,
  allowed_roles app_public.user_role[] not null,
  primary key (from_status, to_status),
  constraint ticket_transitions_distinct_statuses check (from_status <> to_status),
  constraint ticket_transitions_roles_not_empty check (cardinality(allowed_roles) >= 1),
  constraint ticket_transitions_roles_no_nulls check (array_position(allowed_roles, null) is null)
);

comment on table app_public.ticket_transitions is
  'The workflow: which roles may move a ticket from one status to another with transitionTicket. Admins may add, change or remove rows; the next call obeys them. Leaving closed is always reserved to admins, whatever these rows say.';
comment on column app_public.ticket_transitions.from_status is 'Status the ticket is in.';
comment on column app_public.ticket_transitions.to_status is 'Status the ticket may move to.';
comment on column app_public.ticket_transitions.allowed_roles is 'Roles allowed to make this move (customers only on their own tickets, agents only on tickets assigned to them).';

insert into app_public.ticket_transitions (from_status, to_status, allowed_roles)
values
  -- work starts (an agent must be assigned: see transition_ticket)
  ('open', 'in_progress', '{agent,admin}'),
  -- customer withdraws; admin closes spam or duplicates
  ('open', 'closed', '{customer,admin}'),
  ('in_progress', 'waiting_on_customer', '{agent,admin}'),
  ('in_progress', 'resolved', '{agent,admin}'),
  ('in_progress', 'closed', '{customer,admin}'),
  -- the customer answered (a customer reply does this automatically too)
  ('waiting_on_customer', 'in_progress', '{customer,agent,admin}'),
  ('waiting_on_customer', 'resolved', '{agent,admin}'),
  ('waiting_on_customer', 'closed', '{customer,admin}'),
  -- customer confirms the fix, or staff close after the grace period
  ('resolved', 'closed', '{customer,agent,admin}'),
  -- reopen paths
  ('resolved', 'open', '{customer,admin}'),
  ('resolved', 'in_progress', '{agent,admin}'),
  ('closed', 'open', '{admin}');

--------------------------------------------------------------------------------
-- Tickets
--------------------------------------------------------------------------------
create table app_public.tickets (
  id uuid primary key default app_private.uuid_generate_v7(),
  number bigint generated always as identity (start with 1001) unique,
  subject text not null
    constraint tickets_subject_length check (char_length(btrim(subject)) >= 1 and char_length(subject) <= 200),
  description text not null default ''
    constraint tickets_description_length check (char_length(description) <= 20000),
  status app_public.ticket_status not null default 'open',
  priority app_public.ticket_priority not null default 'normal',
  -- Defaults to the caller so a customer never names (and cannot set) it.
  customer_id uuid not null default app_public.current_user_id() references app_public.users (id),
  agent_id uuid references app_public.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  first_response_due_at timestamptz,
  resolution_due_at timestamptz,
  first_responded_at timestamptz,
  resolved_at timestamptz,
  closed_at timestamptz,
  search tsvector not null generated always as (
    setweight(to_tsvector('english'::regconfig, subject), 'A')
    || setweight(to_tsvector('english'::regconfig, description), 'B')
  ) stored,
  constraint tickets_updated_after_created check (updated_at >= created_at),
  constraint tickets_first_response_after_created check (first_responded_at >= created_at),
  constraint tickets_resolved_after_created check (resolved_at >= created_at),
  constraint tickets_closed_after_created check (closed_at >= created_at),
  constraint tickets_closed_after_resolved check (closed_at >= resolved_at),
  constraint tickets_due_after_created check (first_response_due_at >= created_at and resolution_due_at >= created_at),
  constraint tickets_closed_at_iff_closed check ((status = 'closed') = (closed_at is not null)),
  constraint tickets_resolved_at_only_when_done check (status in ('resolved', 'closed') or resolved_at is null),
  constraint tickets_resolved_has_resolved_at check (status <> 'resolved' or resolved_at is not null),
  -- Work in progress always has an owner; otherwise it would be invisible to
  -- every agent (agents see open tickets and their own).
  constraint tickets_work_has_agent check (agent_id is not null or status in ('open', 'resolved', 'closed'))
);

comment on table app_public.tickets is
  E'@behavior -delete\nA support request. Customers see their own tickets, agents the ones assigned to them plus every open ticket, admins all. Status and assignee change only through transitionTicket, assignTicket and takeNextTicket. Tickets are never deleted (close them).';
comment on column app_public.tickets.id is E'@behavior -insert -update\nPrimary key (time-ordered UUID).';
comment on column app_public.tickets.number is E'@behavior -insert -update\nHuman reference shown to users (e.g. #1042); unique and increasing.';
comment on column app_public.tickets.subject is 'One-line summary, 1-200 characters.';
comment on column app_public.tickets.description is 'Full description of the problem, up to 20 000 characters.';
comment on column app_public.tickets.status is E'@behavior -insert -update\nCurrent status; always equal to the newest row of the ticket''s status history. Change it with transitionTicket.';
comment on column app_public.tickets.priority is 'Urgency. Set at creation; afterwards agents (on their tickets) and admins may change it, which recomputes the SLA due times.';
comment on column app_public.tickets.customer_id is E'@behavior -update\nThe customer the ticket is for. Customers cannot set it (it is always themselves); agents and admins give it when creating a ticket for a customer.';
comment on column app_public.tickets.agent_id is E'@behavior -insert -update\nThe agent working the ticket, null while unassigned. Change it with assignTicket or takeNextTicket.';
comment on column app_public.tickets.created_at is E'@behavior -insert -update\nWhen the ticket was created.';
comment on column app_public.tickets.updated_at is E'@behavior -insert -update\nWhen the ticket row last changed.';
comment on column app_public.tickets.first_response_due_at is E'@behavior -insert -update\nSLA: staff must post a first public reply by this time.';
comment on column app_public.tickets.resolution_due_at is E'@behavior -insert -update\nSLA: the ticket must be resolved by this time.';
comment on column app_public.tickets.first_responded_at is E'@behavior -insert -update\nWhen staff first replied publicly (null: no reply yet).';
comment on column app_public.tickets.resolved_at is E'@behavior -insert -update\nWhen the ticket was (last) resolved; cleared when it is reopened.';
comment on column app_public.tickets.closed_at is E'@behavior -insert -update\nWhen the ticket was closed; cleared if an admin reopens it.';
comment on column app_public.tickets.search is E'@behavior -*\nFull-text document of subject (weight A) and description (weight B); used by searchTickets.';

-- A customer's newest tickets.
create index tickets_customer_created_idx on app_public.tickets (customer_id, created_at desc);
-- An agent's queue: assigned to them, most urgent then oldest. Also indexes the agent_id FK.
create index tickets_agent_queue_idx on app_public.tickets (agent_id, priority desc, created_at)
  where agent_id is not null;
-- An agent's queue ordered by resolution due time (unfinished work only).
create index tickets_agent_due_idx on app_public.tickets (agent_id, resolution_due_at)
  where status in ('open', 'in_progress', 'waiting_on_customer');
-- Open tickets (visible to every agent), newest first.
create index tickets_status_created_idx on app_public.tickets (status, created_at desc);
-- The unassigned queue in take-next order.
create index tickets_unassigned_queue_idx on app_public.tickets (priority desc, created_at, id)
  where status = 'open' and agent_id is null;
-- Covering index for policy subqueries on comments and history
-- ("can the caller read ticket X?") so they never visit the heap.
create index tickets_access_idx on app_public.tickets (id) include (customer_id, agent_id, status);
create index tickets_search_idx on app_public.tickets using gin (search);

--------------------------------------------------------------------------------
-- Comments (the conversation)
--------------------------------------------------------------------------------
create table app_public.ticket_comments (
  id uuid primary key default app_private.uuid_generate_v7(),
  ticket_id uuid not null references app_public.tickets (id),
  author_id uuid not null default app_public.current_user_id() references app_public.users (id),
  body text not null
    constraint ticket_comments_body_length check (char_length(btrim(body)) >= 1 and char_length(body) <= 20000),
  is_internal boolean not null default false,
  created_at timestamptz not null default now(),
  search tsvector not null generated always as (to_tsvector('english'::regconfig, body)) stored
);

comment on table app_public.ticket_comments is
  E'@behavior -insert -update -delete\nA message on a ticket. Public comments are the conversation with the customer; internal notes (isInternal) are visible to staff only. Write them with addComment; they cannot be edited or deleted.';
comment on column app_public.ticket_comments.id is E'@behavior -insert -update\nPrimary key (time-ordered UUID).';
comment on column app_public.ticket_comments.ticket_id is 'The ticket this comment belongs to.';
comment on column app_public.ticket_comments.author_id is 'Who wrote it (always the signed-in user at the time).';
comment on column app_public.ticket_comments.body is 'The text, 1-20 000 characters.';
comment on column app_public.ticket_comments.is_internal is 'True for an internal note: never shown to customers.';
comment on column app_public.ticket_comments.created_at is 'When it was written.';
comment on column app_public.ticket_comments.search is E'@behavior -*\nFull-text document of the body; used by searchTickets.';

-- Comments of a ticket in order; is_internal included so the customer policy
-- filter needs no heap visit.
create index ticket_comments_ticket_created_idx on app_public.ticket_comments (ticket_id, created_at) include (is_internal);
create index ticket_comments_author_idx on app_public.ticket_comments (author_id);
create index ticket_comments_search_idx on app_public.ticket_comments using gin (search);

--------------------------------------------------------------------------------
-- Status history: the audit of record, partitioned by month, append-only.
--------------------------------------------------------------------------------
create table app_public.ticket_status_history (
  id uuid not null default app_private.uuid_generate_v7(),
  ticket_id uuid not null references app_public.tickets (id),
  from_status app_public.ticket_status,
  to_status app_public.ticket_status not null,
  changed_by uuid references app_public.users (id),
  changed_at timestamptz not null default clock_timestamp(),
  note text
    constraint ticket_status_history_note_length check (char_length(note) <= 2000),
  -- A partitioned table's primary key must contain the partition key.
  primary key (id, changed_at),
  constraint ticket_status_history_is_change check (from_status is distinct from to_status)
) partition by range (changed_at);

comment on table app_public.ticket_status_history is
  E'@behavior -insert -update -delete\nEvery status change of every ticket, creation included (fromStatus null), written automatically. Append-only for everybody. The newest row of a ticket always equals its current status.';
comment on column app_public.ticket_status_history.id is 'Identifier of the change (time-ordered UUID).';
comment on column app_public.ticket_status_history.ticket_id is 'The ticket that changed.';
comment on column app_public.ticket_status_history.from_status is 'Status before the change; null for the creation row.';
comment on column app_public.ticket_status_history.to_status is 'Status after the change.';
comment on column app_public.ticket_status_history.changed_by is 'Who made the change; null for system maintenance.';
comment on column app_public.ticket_status_history.changed_at is 'When the change happened.';
comment on column app_public.ticket_status_history.note is 'Optional note given with the change (or the reason of an automatic change).';

create index ticket_status_history_ticket_idx on app_public.ticket_status_history (ticket_id, changed_at);
create index ticket_status_history_changed_by_idx on app_public.ticket_status_history (changed_by);

-- Row triggers on a partitioned table are cloned to every partition, present
-- and future; TRUNCATE triggers are not, so the partition maker adds them.
create trigger _100_append_only
  before update or delete on app_public.ticket_status_history
  for each row
  execute function app_private.tg_forbid_change();

create trigger _100_append_only_truncate
  before truncate on app_public.ticket_status_history
  for each statement
  execute function app_private.tg_forbid_change();

-- The owner keeps INSERT (the history trigger runs as the owner) but gives up
-- the rest; the triggers above stop it even after a re-grant.
revoke all on app_public.ticket_status_history from public;
revoke update, delete, truncate on app_public.ticket_status_history from ticketing_owner;

create function app_private.protect_status_history_partition(partition_name text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  execute format(
    'create trigger _100_append_only_truncate before truncate on app_private.%I for each statement execute function app_private.tg_forbid_change()',
    partition_name
  );
  execute format('revoke all on app_private.%I from public', partition_name);
  execute format('revoke update, delete, truncate on app_private.%I from ticketing_owner', partition_name);
  -- Partitions are reachable only through the parent (and its policies).
  execute format('alter table app_private.%I enable row level security', partition_name);
end;
$$;

comment on function app_private.protect_status_history_partition(text) is
  'Makes a new partition of ticket_status_history append-only like its parent: truncate trigger, revoked privileges, RLS enabled.';

-- Rows outside every monthly partition (e.g. back-dated imports) land here.
-- Partitions live in app_private so they never show up in GraphQL.
create table app_private.ticket_status_history_default
  partition of app_public.ticket_status_history default;

comment on table app_private.ticket_status_history_default is 'Default partition of ticket_status_history: rows outside every monthly partition.';

select app_private.protect_status_history_partition('ticket_status_history_default');

create function app_private.create_status_history_partitions(months_ahead integer default 3)
returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  first_month timestamptz := date_trunc('month', now() at time zone 'UTC') at time zone 'UTC';
  month_start timestamptz;
  month_end timestamptz;
  partition_name text;
  created integer := 0;
begin
  if months_ahead is null or months_ahead < 0 or months_ahead > 120 then
    raise exception using errcode = 'TKVAL', message = 'months_ahead must be between 0 and 120';
  end if;

  for i in 0..months_ahead loop
    month_start := first_month + make_interval(months => i);
    month_end := first_month + make_interval(months => i + 1);
    partition_name := 'ticket_status_history_p' || to_char(month_start at time zone 'UTC', 'YYYYMM');

    continue when to_regclass('app_private.' || partition_name) is not null;

    -- Rows already in the default partition for this month cannot be moved
    -- (history is append-only), so that month stays in the default partition.
    if exists (
      select 1
      from app_private.ticket_status_history_default
      where changed_at >= month_start and changed_at < month_end
    ) then
      raise notice 'ticket_status_history: rows for % are in the default partition; partition % not created', to_char(month_start at time zone 'UTC', 'YYYY-MM'), partition_name;
      continue;
    end if;

    execute format(
      'create table app_private.%I partition of app_public.ticket_status_history for values from (%L) to (%L)',
      partition_name, month_start, month_end
    );
    execute format(
      'comment on table app_private.%I is %L',
      partition_name, 'Monthly partition of ticket_status_history (' || to_char(month_start at time zone 'UTC', 'YYYY-MM') || ', UTC).'
    );
    perform app_private.protect_status_history_partition(partition_name);
    created := created + 1;
  end loop;

  return created;
end;
$$;

comment on function app_private.create_status_history_partitions(integer) is
  'Maintenance (run as ticketing_owner, e.g. monthly from cron): creates the monthly partitions of ticket_status_history from the current UTC month up to months_ahead months ahead; returns how many it created. Idempotent.';

select app_private.create_status_history_partitions(3);

--------------------------------------------------------------------------------
-- Assignment history: who was assigned when, append-only.
--------------------------------------------------------------------------------
create table app_public.ticket_assignment_history (
  id uuid primary key default app_private.uuid_generate_v7(),
  ticket_id uuid not null references app_public.tickets (id),
  from_agent_id uuid references app_public.users (id),
  to_agent_id uuid references app_public.users (id),
  changed_by uuid references app_public.users (id),
  changed_at timestamptz not null default clock_timestamp(),
  constraint ticket_assignment_history_is_change check (from_agent_id is distinct from to_agent_id)
);

comment on table app_public.ticket_assignment_history is
  E'@behavior -insert -update -delete\nEvery change of a ticket''s assignee (assign, unassign, take next, agent deactivated), written automatically. Append-only for everybody.';
comment on column app_public.ticket_assignment_history.id is 'Identifier of the change (time-ordered UUID).';
comment on column app_public.ticket_assignment_history.ticket_id is 'The ticket whose assignee changed.';
comment on column app_public.ticket_assignment_history.from_agent_id is 'Previous assignee; null when it was unassigned.';
comment on column app_public.ticket_assignment_history.to_agent_id is 'New assignee; null when unassigned.';
comment on column app_public.ticket_assignment_history.changed_by is 'Who made the change; null for system maintenance.';
comment on column app_public.ticket_assignment_history.changed_at is 'When the change happened.';

create index ticket_assignment_history_ticket_idx on app_public.ticket_assignment_history (ticket_id, changed_at);
create index ticket_assignment_history_from_agent_idx on app_public.ticket_assignment_history (from_agent_id);
create index ticket_assignment_history_to_agent_idx on app_public.ticket_assignment_history (to_agent_id);
create index ticket_assignment_history_changed_by_idx on app_public.ticket_assignment_history (changed_by);

create trigger _100_append_only
  before update or delete on app_public.ticket_assignment_history
  for each row
  execute function app_private.tg_forbid_change();

create trigger _100_append_only_truncate
  before truncate on app_public.ticket_assignment_history
  for each statement
  execute function app_private.tg_forbid_change();

revoke all on app_public.ticket_assignment_history from public;
revoke update, delete, truncate on app_public.ticket_assignment_history from ticketing_owner;

--------------------------------------------------------------------------------
-- Ticket triggers: data sanity and the histories. Security definer because
-- they read users and write history whatever the caller may do directly.
--------------------------------------------------------------------------------
create function app_private.tg_tickets_check_people()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'INSERT' or new.customer_id is distinct from old.customer_id then
    if not exists (
      select 1
      from app_public.users
      where id = new.customer_id
        and role = 'customer'
        and is_active
    ) then
      raise exception using errcode = 'TKVAL', message = 'A ticket''s customer must be an active customer';
    end if;
  end if;

  if new.agent_id is not null and (tg_op = 'INSERT' or new.agent_id is distinct from old.agent_id) then
    -- FOR SHARE waits for a concurrent deactivation/demotion of that agent to
    -- commit, so a ticket can never be handed to an agent being removed.
    perform 1
    from app_public.users
    where id = new.agent_id
      and role = 'agent'
      and is_active
    for share;

    if not found then
      raise exception using errcode = 'TKVAL', message = 'Tickets can only be assigned to an active agent';
    end if;
  end if;

  return new;
end;
$$;

comment on function app_private.tg_tickets_check_people() is
  'Trigger: a ticket''s customer must be an active customer and its agent (when set) an active agent, checked whenever either is set.';

create trigger _100_check_people_insert
  before insert on app_public.tickets
  for each row
  execute function app_private.tg_tickets_check_people();

create trigger _100_check_people_update
  before update on app_public.tickets
  for each row
  when (old.customer_id is distinct from new.customer_id or old.agent_id is distinct from new.agent_id)
  execute function app_private.tg_tickets_check_people();

create function app_private.tg_tickets_status_timestamps()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    -- Rows created directly in a later status (imports, demo data).
    if new.status = 'resolved' and new.resolved_at is null then
      new.resolved_at := greatest(now(), new.created_at);
    end if;
    if new.status = 'closed' and new.closed_at is null then
      new.closed_at := greatest(now(), new.created_at, new.resolved_at);
    end if;
    return new;
  end if;

  case new.status
    when 'resolved' then
      new.resolved_at := now();
      new.closed_at := null;
    when 'closed' then
      new.closed_at := now();
      -- Keep resolved_at only when closing a resolved ticket (it was resolved);
      -- a withdrawn or rejected ticket was never resolved.
      if old.status <> 'resolved' then
        new.resolved_at := null;
      end if;
    else
      -- Reopened or still in work.
      new.resolved_at := null;
      new.closed_at := null;
  end case;

  -- Leaving closed (admins only): an assignee who is no longer an active agent
  -- is dropped, so the reopened ticket goes back to the unassigned queue.
  if old.status = 'closed' and new.agent_id is not null and not exists (
    select 1
    from app_public.users
    where id = new.agent_id
      and role = 'agent'
      and is_active
  ) then
    new.agent_id := null;
  end if;

  return new;
end;
$$;

comment on function app_private.tg_tickets_status_timestamps() is
  'Trigger: keeps resolved_at/closed_at consistent with the status (set when resolving/closing, cleared on reopen) whoever changes it.';

create trigger _200_status_timestamps_insert
  before insert on app_public.tickets
  for each row
  execute function app_private.tg_tickets_status_timestamps();

create trigger _200_status_timestamps_update
  before update on app_public.tickets
  for each row
  when (old.status is distinct from new.status)
  execute function app_private.tg_tickets_status_timestamps();

create trigger _300_set_updated_at
  before update on app_public.tickets
  for each row
  execute function app_private.tg_set_updated_at();

create function app_private.tg_tickets_status_history()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  insert into app_public.ticket_status_history (ticket_id, from_status, to_status, changed_by, changed_at, note)
  values (
    new.id,
    case when tg_op = 'UPDATE' then old.status end,
    new.status,
    app_private.current_user_id(),
    -- Creation is dated like the ticket; later changes by the wall clock, so
    -- several changes in one transaction still come out in order.
    case when tg_op = 'INSERT' then new.created_at else clock_timestamp() end,
    -- transition_ticket and the automatic changes pass their note this way.
    nullif(current_setting('app.status_note', true), '')
  );
  return null;
end;
$$;

comment on function app_private.tg_tickets_status_history() is
  'Trigger: writes one ticket_status_history row for the creation and for every status change of a ticket, whoever or whatever made it.';

create trigger _800_status_history_insert
  after insert on app_public.tickets
  for each row
  execute function app_private.tg_tickets_status_history();

create trigger _800_status_history_update
  after update on app_public.tickets
  for each row
  when (old.status is distinct from new.status)
  execute function app_private.tg_tickets_status_history();

create function app_private.tg_tickets_assignment_history()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  insert into app_public.ticket_assignment_history (ticket_id, from_agent_id, to_agent_id, changed_by, changed_at)
  values (
    new.id,
    case when tg_op = 'UPDATE' then old.agent_id end,
    new.agent_id,
    app_private.current_user_id(),
    clock_timestamp()
  );
  return null;
end;
$$;

comment on function app_private.tg_tickets_assignment_history() is
  'Trigger: writes one ticket_assignment_history row whenever a ticket''s assignee is set or changes.';

create trigger _810_assignment_history_insert
  after insert on app_public.tickets
  for each row
  when (new.agent_id is not null)
  execute function app_private.tg_tickets_assignment_history();

create trigger _810_assignment_history_update
  after update on app_public.tickets
  for each row
  when (old.agent_id is distinct from new.agent_id)
  execute function app_private.tg_tickets_assignment_history();

--------------------------------------------------------------------------------
-- Audit log
--------------------------------------------------------------------------------
create table app_private.audit_log (
  id uuid primary key default app_private.uuid_generate_v7(),
  occurred_at timestamptz not null default clock_timestamp(),
  actor_id uuid,
  db_role text,
  transaction_id bigint not null default (pg_current_xact_id()::text::bigint),
  table_name text not null,
  operation text not null
    constraint audit_log_operation check (operation in ('INSERT', 'UPDATE')),
  record_id uuid,
  old_data jsonb,
  new_data jsonb not null
);

comment on table app_private.audit_log is
  'Every insert and update of users, tickets and comments, written by triggers. Append-only for everybody; admins read it through app_public.audit_log_entries.';
comment on column app_private.audit_log.id is 'Identifier of the entry (time-ordered UUID).';
comment on column app_private.audit_log.occurred_at is 'When the change was made.';
comment on column app_private.audit_log.actor_id is 'User id claimed by the request (jwt.claims.user_id); null for maintenance without a user.';
comment on column app_private.audit_log.db_role is 'Postgres role the request ran as (e.g. ticketing_agent); null when no role was set.';
comment on column app_private.audit_log.transaction_id is 'Transaction id, to group the entries of one operation.';
comment on column app_private.audit_log.table_name is 'Schema-qualified table changed.';
comment on column app_private.audit_log.operation is 'INSERT or UPDATE.';
comment on column app_private.audit_log.record_id is 'Primary key of the changed row.';
comment on column app_private.audit_log.old_data is 'Row before an update (null for inserts).';
comment on column app_private.audit_log.new_data is 'Row after the change.';

create index audit_log_occurred_at_idx on app_private.audit_log (occurred_at);
create index audit_log_row_idx on app_private.audit_log (table_name, record_id, occurred_at);
create index audit_log_actor_idx on app_private.audit_log (actor_id, occurred_at);

alter table app_private.audit_log enable row level security;

create trigger _100_append_only
  before update or delete on app_private.audit_log
  for each row
  execute function app_private.tg_forbid_change();

create trigger _100_append_only_truncate
  before truncate on app_private.audit_log
  for each statement
  execute function app_private.tg_forbid_change();

revoke all on app_private.audit_log from public;
revoke update, delete, truncate on app_private.audit_log from ticketing_owner;

create function app_private.tg_audit()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- The generated search vectors are derived data: left out of the log.
  new_row jsonb := to_jsonb(new) - 'search';
  old_row jsonb;
begin
  if tg_op = 'UPDATE' then
    old_row := to_jsonb(old) - 'search';
    if old_row = new_row then
      return null;
    end if;
  end if;

  insert into app_private.audit_log (actor_id, db_role, table_name, operation, record_id, old_data, new_data)
  values (
    app_private.jwt_user_id(),
    nullif(current_setting('role'), 'none'),
    tg_table_schema || '.' || tg_table_name,
    tg_op,
    (new_row ->> 'id')::uuid,
    old_row,
    new_row
  );
  return null;
end;
$$;

comment on function app_private.tg_audit() is
  'Trigger: records an insert or a real update (old and new values) in app_private.audit_log with the acting user and Postgres role.';

create trigger _900_audit
  after insert or update on app_public.users
  for each row
  execute function app_private.tg_audit();

create trigger _900_audit
  after insert or update on app_public.tickets
  for each row
  execute function app_private.tg_audit();

create trigger _900_audit
  after insert or update on app_public.ticket_comments
  for each row
  execute function app_private.tg_audit();

-- Admins' window on the audit log. Runs with the owner's rights (not
-- security_invoker) and filters on the caller's live role; security_barrier so
-- no predicate of the caller is evaluated on rows it may not see.
create view app_public.audit_log_entries
with (security_barrier = true)
as
select
  a.id,
  a.occurred_at,
  a.actor_id,
  a.db_role,
  a.transaction_id,
  a.table_name,
  a.operation,
  a.record_id,
  a.old_data,
  a.new_data
from app_private.audit_log as a
where (select app_private.current_user_role()) = 'admin';

comment on view app_public.audit_log_entries is
  E'@primaryKey id\n@behavior -insert -update -delete\nThe audit log (admins only; empty for everybody else): every insert and update of users, tickets and comments with who, when, and old/new values. Read-only.';
comment on column app_public.audit_log_entries.id is 'Identifier of the entry.';
comment on column app_public.audit_log_entries.occurred_at is 'When the change was made.';
comment on column app_public.audit_log_entries.actor_id is 'User who made the change (from their token); null for maintenance.';
comment on column app_public.audit_log_entries.db_role is 'Postgres role the request ran as.';
comment on column app_public.audit_log_entries.transaction_id is 'Transaction id, to group the entries of one operation.';
comment on column app_public.audit_log_entries.table_name is 'Table changed, e.g. app_public.tickets.';
comment on column app_public.audit_log_entries.operation is 'INSERT or UPDATE.';
comment on column app_public.audit_log_entries.record_id is 'Primary key of the changed row.';
comment on column app_public.audit_log_entries.old_data is 'Row before an update (null for inserts).';
comment on column app_public.audit_log_entries.new_data is 'Row after the change.';
