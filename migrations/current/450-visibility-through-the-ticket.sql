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
