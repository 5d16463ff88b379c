--! Previous: sha1:6fc29a54760578ff857225421223748e4001b649
--! Hash: sha1:445a4ffa13fe8676900b0bd993dfebc9ab69f6c6
--! Message: visibility through the ticket, make_append_only, one SLA breach rule

--! split: 450-visibility-through-the-ticket.sql
-- Who sees a ticket's rows is said once, by the tickets policies.
--
-- The comment and history policies used to restate the ticket rules per role
-- (customer: own tickets; agent: assigned or open; admin: all). Now they ask
-- one question, "can the caller read this ticket?", as
--
--   exists (select 1 from app_public.tickets as t where t.id = <row>.ticket_id offset 0)
--
-- A policy runs as the caller, so row-level security on tickets applies inside
-- that subquery: the caller's own tickets policies decide. Changing who sees a
-- ticket (a new role, a team rule) is then a change of the tickets policies
-- alone, and its comments and histories follow.
--
-- Cost, and why `offset 0`: without it PostgreSQL may turn the check into a
-- hashed subplan, i.e. collect every ticket the caller can see (it expects a
-- customer to have a few) and look each row up in the hash; for a customer
-- with 5 000 tickets one ticket's history then reads ~250 buffers, with 100 000
-- tickets tens of thousands. OFFSET 0 keeps the subquery as it is written
-- (the planner keeps OFFSET 0 on purpose as an optimisation fence): one probe of
-- the tickets primary key (tickets_access_idx, index only) per row read, ~3
-- buffers, so the cost follows the rows read, never the caller's ticket count
-- (test/database/ticket-detail-buffers.test.ts). The write policies check one
-- inserted row and need no fence.
--
-- Rules that are not the ticket rule stay where they are: customers never see
-- internal notes; writing a comment needs an unclosed ticket (admins excepted)
-- and the caller as author.

--------------------------------------------------------------------------------
-- Status history and assignment history: one read policy each
--------------------------------------------------------------------------------
drop policy if exists select_customer on app_public.ticket_status_history;
drop policy if exists select_agent on app_public.ticket_status_history;
drop policy if exists select_admin on app_public.ticket_status_history;
drop policy if exists select_visible_ticket on app_public.ticket_status_history;

create policy select_visible_ticket on app_public.ticket_status_history
  for select
  to ticketing_customer, ticketing_agent, ticketing_admin
  using (exists (select 1 from app_public.tickets as t where t.id = ticket_status_history.ticket_id offset 0));

comment on policy select_visible_ticket on app_public.ticket_status_history is
  'Everybody signed in reads the status history of the tickets they can read (the tickets policies decide which).';

drop policy if exists select_customer on app_public.ticket_assignment_history;
drop policy if exists select_agent on app_public.ticket_assignment_history;
drop policy if exists select_admin on app_public.ticket_assignment_history;
drop policy if exists select_visible_ticket on app_public.ticket_assignment_history;

create policy select_visible_ticket on app_public.ticket_assignment_history
  for select
  to ticketing_customer, ticketing_agent, ticketing_admin
  using (exists (select 1 from app_public.tickets as t where t.id = ticket_assignment_history.ticket_id offset 0));

comment on policy select_visible_ticket on app_public.ticket_assignment_history is
  'Everybody signed in reads the assignment history of the tickets they can read (the tickets policies decide which).';

--------------------------------------------------------------------------------
-- Comments: staff read every comment of a ticket they can read, customers the
-- public ones only.
--------------------------------------------------------------------------------
drop policy if exists select_customer on app_public.ticket_comments;
drop policy if exists select_agent on app_public.ticket_comments;
drop policy if exists select_admin on app_public.ticket_comments;
drop policy if exists select_staff on app_public.ticket_comments;

create policy select_customer on app_public.ticket_comments
  for select
  to ticketing_customer
  using (
    not is_internal
    and exists (select 1 from app_public.tickets as t where t.id = ticket_comments.ticket_id offset 0)
  );

comment on policy select_customer on app_public.ticket_comments is
  'Customers read the public comments of the tickets they can read (their own), never internal notes.';

create policy select_staff on app_public.ticket_comments
  for select
  to ticketing_agent, ticketing_admin
  using (exists (select 1 from app_public.tickets as t where t.id = ticket_comments.ticket_id offset 0));

comment on policy select_staff on app_public.ticket_comments is
  'Agents and admins read all comments, internal notes included, of the tickets they can read.';

-- Writing: the caller must be able to read the ticket (the same check as
-- above) and it must not be closed; each role keeps its own author and
-- internal-note rule. Admins comment on any ticket, closed ones included.
drop policy if exists insert_customer on app_public.ticket_comments;

create policy insert_customer on app_public.ticket_comments
  for insert
  to ticketing_customer
  with check (
    author_id = (select app_private.acting_user_id('customer'))
    and not is_internal
    and exists (
      select 1
      from app_public.tickets as t
      where t.id = ticket_comments.ticket_id
        and t.status <> 'closed'
    )
  );

comment on policy insert_customer on app_public.ticket_comments is
  'Customers write public comments, as themselves, on the tickets they can read (their own) that are not closed.';

drop policy if exists insert_agent on app_public.ticket_comments;

create policy insert_agent on app_public.ticket_comments
  for insert
  to ticketing_agent
  with check (
    author_id = (select app_private.acting_user_id('agent'))
    and exists (
      select 1
      from app_public.tickets as t
      where t.id = ticket_comments.ticket_id
        and t.status <> 'closed'
    )
  );

comment on policy insert_agent on app_public.ticket_comments is
  'Agents write public comments or internal notes, as themselves, on the tickets they can read (assigned to them or open) that are not closed.';

--------------------------------------------------------------------------------
-- Workflow and SLA targets: one read policy for every signed-in role.
-- current_user_role() is not null exactly when one of the former per-role
-- checks acting_user_id('<role>') passed: an active user whose request runs
-- as the Postgres role of their stored role.
--------------------------------------------------------------------------------
drop policy if exists select_customer on app_public.ticket_transitions;
drop policy if exists select_agent on app_public.ticket_transitions;
drop policy if exists select_admin on app_public.ticket_transitions;
drop policy if exists select_signed_in on app_public.ticket_transitions;

create policy select_signed_in on app_public.ticket_transitions
  for select
  to ticketing_customer, ticketing_agent, ticketing_admin
  using ((select app_private.current_user_role()) is not null);

comment on policy select_signed_in on app_public.ticket_transitions is
  'Every signed-in user reads the workflow (to know which actions to offer).';

drop policy if exists select_customer on app_public.sla_policies;
drop policy if exists select_agent on app_public.sla_policies;
drop policy if exists select_admin on app_public.sla_policies;
drop policy if exists select_signed_in on app_public.sla_policies;

create policy select_signed_in on app_public.sla_policies
  for select
  to ticketing_customer, ticketing_agent, ticketing_admin
  using ((select app_private.current_user_role()) is not null);

comment on policy select_signed_in on app_public.sla_policies is
  'Every signed-in user reads the SLA targets.';

--! split: 460-make-append-only.sql
-- One way to make a table append-only: app_private.make_append_only(table).
--
-- The status history, the assignment history and the audit log each pasted
-- the same two triggers and two revokes, and the partition protector a third
-- variant. The helper installs them; calling it again changes nothing.

create or replace function app_private.make_append_only(target regclass)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  is_partition boolean;
begin
  select c.relispartition into strict is_partition
  from pg_catalog.pg_class as c
  where c.oid = target;

  -- Row trigger: refuses UPDATE and DELETE, the owner's included. A partition
  -- has it already: row triggers of a partitioned table are cloned to every
  -- partition, present and future.
  if not is_partition and not exists (
    select from pg_catalog.pg_trigger as t
    where t.tgrelid = target and t.tgname = '_100_append_only'
  ) then
    execute format(
      'create trigger _100_append_only before update or delete on %s for each row execute function app_private.tg_forbid_change()',
      target
    );
  end if;

  -- Statement trigger for TRUNCATE, which is never cloned to partitions.
  if not exists (
    select from pg_catalog.pg_trigger as t
    where t.tgrelid = target and t.tgname = '_100_append_only_truncate'
  ) then
    execute format(
      'create trigger _100_append_only_truncate before truncate on %s for each statement execute function app_private.tg_forbid_change()',
      target
    );
  end if;

  -- Nobody is granted anything by default; the owner keeps INSERT (triggers
  -- that write the rows run as the owner) and SELECT, and gives up the rest.
  -- The triggers above still stop it after a re-grant.
  execute format('revoke all on %s from public', target);
  execute format('revoke update, delete, truncate on %s from ticketing_owner', target);
end;
$$;

comment on function app_private.make_append_only(regclass) is
  'Makes a table append-only: a trigger refusing UPDATE and DELETE (not repeated on partitions, which inherit it), one refusing TRUNCATE, nothing granted to PUBLIC, and UPDATE, DELETE and TRUNCATE revoked from the owner. Idempotent. Every new append-only table calls it (docs/conventions.md).';

-- Partitions of the status history are made append-only by the same helper;
-- they are also reachable only through the parent and its policies.
create or replace function app_private.protect_status_history_partition(partition_name text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_private.make_append_only(format('app_private.%I', partition_name)::regclass);
  execute format('alter table app_private.%I enable row level security', partition_name);
end;
$$;

comment on function app_private.protect_status_history_partition(text) is
  'Makes a new partition of ticket_status_history append-only like its parent (app_private.make_append_only) with row-level security enabled.';

-- The existing append-only tables, through the helper: nothing changes for
-- them, but the helper is now what defines them.
select app_private.make_append_only('app_public.ticket_status_history');
select app_private.make_append_only('app_public.ticket_assignment_history');
select app_private.make_append_only('app_private.audit_log');

select app_private.make_append_only(i.inhrelid::regclass)
from pg_catalog.pg_inherits as i
where i.inhparent = 'app_public.ticket_status_history'::regclass;

--! split: 470-sla-breached.sql
-- One SLA breach rule: app_private.sla_breached(due, done).
--
-- The ticket fields firstResponseBreached / resolutionBreached and the
-- analysts' app_reporting.tickets view each stated "late when done after due"
-- in their own words. Now they call this function with what ends the target
-- (first reply, resolution, …) or now() while nothing has (the view: 475).
--
-- Immutable and written as an SQL-standard body without SET, so the planner
-- inlines it; the body is stored resolved, as are the bodies that call it.
-- Web roles need EXECUTE on it but no USAGE on app_private: a stored call is
-- never looked up by name again.

create or replace function app_private.sla_breached(due timestamptz, done timestamptz)
returns boolean
language sql
immutable
parallel safe
return due is not null and done > due;

comment on function app_private.sla_breached(timestamptz, timestamptz) is
  'The SLA rule: a target due at `due` is breached when `done` (when it was met, or the time of judgement, usually now(), while it is not) comes after it. No target (due null): never breached.';

revoke all on function app_private.sla_breached(timestamptz, timestamptz) from public;
grant execute on function app_private.sla_breached(timestamptz, timestamptz)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- The ticket fields
--------------------------------------------------------------------------------
create or replace function app_public.tickets_first_response_breached(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
return app_private.sla_breached(t.first_response_due_at, coalesce(t.first_responded_at, t.resolved_at, t.closed_at, now()));

comment on function app_public.tickets_first_response_breached(app_public.tickets) is
  'True when staff replied publicly after firstResponseDueAt, or have not replied and that time has passed (a ticket resolved or closed without a reply counts at that moment).';

create or replace function app_public.tickets_resolution_breached(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
return app_private.sla_breached(t.resolution_due_at, coalesce(t.resolved_at, t.closed_at, now()));

comment on function app_public.tickets_resolution_breached(app_public.tickets) is
  'True when the ticket was resolved (or closed) after resolutionDueAt, or is still unresolved and that time has passed.';

--! split: 475-reporting-sla-breached.sql
-- The analysts' tickets view (recreated in 500 with plain-text columns)
-- states the SLA breach rule through app_private.sla_breached (470) instead of
-- restating it.
--
-- A function called in a view runs with the reader's rights, so analysts get
-- EXECUTE on this one function: immutable, pure arithmetic on its two
-- arguments, reading no table. They still have no USAGE on app_private and
-- cannot call it by name.

grant execute on function app_private.sla_breached(timestamptz, timestamptz) to ticketing_analyst;
