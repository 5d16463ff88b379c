--! Previous: sha1:3b09723fd2df77d5ac534224f9900fa8a9d0d2de
--! Hash: sha1:0e9be938fed54e41a0c0a116318e0415bcbcc021
--! Message: ticket row-level security and grants

-- Row-level security and grants for the ticket tables: DESIGN.md "Who sees and
-- does what", enforced in the database.
--
-- Approach
-- * Every app_public table has RLS enabled and one policy per web role and per
--   command that role may run; a command without a policy (e.g. DELETE) is
--   refused twice: no policy and no grant.
-- * Policies identify the caller with app_private.acting_user_id(role), wrapped
--   as (select ...) so it is evaluated once per statement (an InitPlan). It
--   reads the users row, so deactivation or a role change applies at once; it
--   also requires the Postgres role of the request to match the stored role, so
--   a stale agent token of a user who is now a customer matches no agent policy.
-- * Web roles hold EXECUTE on the two policy helpers but no USAGE on
--   app_private: PostgreSQL checks schema USAGE only when a name is looked up,
--   and policies are stored already resolved, so the helpers work inside
--   policies and views but cannot be called by name from a query.
-- * RLS is not FORCEd: security definer functions and triggers run as the
--   owner and rely on bypassing the policies after doing their own checks. The
--   owner is never used by the API.
-- * Column grants: a role can write exactly the columns it may set. Status,
--   agent, timestamps, number and (for customers) the customer are set only by
--   defaults, triggers and the lifecycle functions.

--------------------------------------------------------------------------------
-- Tickets
--------------------------------------------------------------------------------
alter table app_public.tickets enable row level security;

revoke all on app_public.tickets from public;
grant select on app_public.tickets to ticketing_customer, ticketing_agent, ticketing_admin;
grant insert (subject, description, priority) on app_public.tickets to ticketing_customer;
grant insert (subject, description, priority, customer_id) on app_public.tickets to ticketing_agent, ticketing_admin;
grant update (subject, description) on app_public.tickets to ticketing_customer;
grant update (subject, description, priority) on app_public.tickets to ticketing_agent, ticketing_admin;

create policy select_customer on app_public.tickets
  for select
  to ticketing_customer
  using (customer_id = (select app_private.acting_user_id('customer')));

comment on policy select_customer on app_public.tickets is 'Customers read their own tickets.';

create policy select_agent on app_public.tickets
  for select
  to ticketing_agent
  using (
    agent_id = (select app_private.acting_user_id('agent'))
    or (status = 'open' and (select app_private.acting_user_id('agent')) is not null)
  );

comment on policy select_agent on app_public.tickets is 'Agents read tickets assigned to them and every open ticket.';

create policy select_admin on app_public.tickets
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.tickets is 'Admins read all tickets.';

create policy insert_customer on app_public.tickets
  for insert
  to ticketing_customer
  with check (
    customer_id = (select app_private.acting_user_id('customer'))
    and status = 'open'
    and agent_id is null
  );

comment on policy insert_customer on app_public.tickets is 'Customers create open, unassigned tickets for themselves only.';

create policy insert_agent on app_public.tickets
  for insert
  to ticketing_agent
  with check (
    (select app_private.acting_user_id('agent')) is not null
    and status = 'open'
    and agent_id is null
  );

comment on policy insert_agent on app_public.tickets is 'Agents create open, unassigned tickets for any customer (the customer is checked to be an active customer).';

create policy insert_admin on app_public.tickets
  for insert
  to ticketing_admin
  with check (
    (select app_private.acting_user_id('admin')) is not null
    and status = 'open'
    and agent_id is null
  );

comment on policy insert_admin on app_public.tickets is 'Admins create open, unassigned tickets for any customer.';

create policy update_customer on app_public.tickets
  for update
  to ticketing_customer
  using (
    customer_id = (select app_private.acting_user_id('customer'))
    and status <> 'closed'
  )
  with check (
    customer_id = (select app_private.acting_user_id('customer'))
    and status <> 'closed'
  );

comment on policy update_customer on app_public.tickets is 'Customers edit the subject and description of their own tickets until they are closed.';

create policy update_agent on app_public.tickets
  for update
  to ticketing_agent
  using (agent_id = (select app_private.acting_user_id('agent')))
  with check (agent_id = (select app_private.acting_user_id('agent')));

comment on policy update_agent on app_public.tickets is 'Agents edit subject, description and priority of tickets assigned to them.';

create policy update_admin on app_public.tickets
  for update
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy update_admin on app_public.tickets is 'Admins edit subject, description and priority of any ticket.';

--------------------------------------------------------------------------------
-- Comments
--------------------------------------------------------------------------------
alter table app_public.ticket_comments enable row level security;

revoke all on app_public.ticket_comments from public;
grant select on app_public.ticket_comments to ticketing_customer, ticketing_agent, ticketing_admin;
-- Customers cannot even name is_internal: it defaults to false.
grant insert (ticket_id, body) on app_public.ticket_comments to ticketing_customer;
grant insert (ticket_id, body, is_internal) on app_public.ticket_comments to ticketing_agent, ticketing_admin;

create policy select_customer on app_public.ticket_comments
  for select
  to ticketing_customer
  using (
    not is_internal
    and exists (
      select 1
      from app_public.tickets as t
      where t.id = ticket_comments.ticket_id
        and t.customer_id = (select app_private.acting_user_id('customer'))
    )
  );

comment on policy select_customer on app_public.ticket_comments is 'Customers read the public comments of their own tickets, never internal notes.';

create policy select_agent on app_public.ticket_comments
  for select
  to ticketing_agent
  using (
    exists (
      select 1
      from app_public.tickets as t
      where t.id = ticket_comments.ticket_id
        and (
          t.agent_id = (select app_private.acting_user_id('agent'))
          or (t.status = 'open' and (select app_private.acting_user_id('agent')) is not null)
        )
    )
  );

comment on policy select_agent on app_public.ticket_comments is 'Agents read all comments (internal notes included) of the tickets they can read.';

create policy select_admin on app_public.ticket_comments
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.ticket_comments is 'Admins read all comments.';

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
        and t.customer_id = (select app_private.acting_user_id('customer'))
        and t.status <> 'closed'
    )
  );

comment on policy insert_customer on app_public.ticket_comments is 'Customers write public comments, as themselves, on their own tickets that are not closed.';

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
        and (
          t.agent_id = (select app_private.acting_user_id('agent'))
          or t.status = 'open'
        )
    )
  );

comment on policy insert_agent on app_public.ticket_comments is 'Agents write public comments or internal notes, as themselves, on tickets they can read that are not closed.';

create policy insert_admin on app_public.ticket_comments
  for insert
  to ticketing_admin
  with check (author_id = (select app_private.acting_user_id('admin')));

comment on policy insert_admin on app_public.ticket_comments is 'Admins write public comments or internal notes, as themselves, on any ticket.';

--------------------------------------------------------------------------------
-- Status history (read-only for everybody; rows come from a trigger)
--------------------------------------------------------------------------------
alter table app_public.ticket_status_history enable row level security;

grant select on app_public.ticket_status_history to ticketing_customer, ticketing_agent, ticketing_admin;

create policy select_customer on app_public.ticket_status_history
  for select
  to ticketing_customer
  using (
    exists (
      select 1
      from app_public.tickets as t
      where t.id = ticket_status_history.ticket_id
        and t.customer_id = (select app_private.acting_user_id('customer'))
    )
  );

comment on policy select_customer on app_public.ticket_status_history is 'Customers read the status history of their own tickets.';

create policy select_agent on app_public.ticket_status_history
  for select
  to ticketing_agent
  using (
    exists (
      select 1
      from app_public.tickets as t
      where t.id = ticket_status_history.ticket_id
        and (
          t.agent_id = (select app_private.acting_user_id('agent'))
          or (t.status = 'open' and (select app_private.acting_user_id('agent')) is not null)
        )
    )
  );

comment on policy select_agent on app_public.ticket_status_history is 'Agents read the status history of the tickets they can read.';

create policy select_admin on app_public.ticket_status_history
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.ticket_status_history is 'Admins read all status history.';

--------------------------------------------------------------------------------
-- Assignment history (read-only for everybody; rows come from a trigger)
--------------------------------------------------------------------------------
alter table app_public.ticket_assignment_history enable row level security;

grant select on app_public.ticket_assignment_history to ticketing_customer, ticketing_agent, ticketing_admin;

create policy select_customer on app_public.ticket_assignment_history
  for select
  to ticketing_customer
  using (
    exists (
      select 1
      from app_public.tickets as t
      where t.id = ticket_assignment_history.ticket_id
        and t.customer_id = (select app_private.acting_user_id('customer'))
    )
  );

comment on policy select_customer on app_public.ticket_assignment_history is 'Customers read the assignment history of their own tickets.';

create policy select_agent on app_public.ticket_assignment_history
  for select
  to ticketing_agent
  using (
    exists (
      select 1
      from app_public.tickets as t
      where t.id = ticket_assignment_history.ticket_id
        and (
          t.agent_id = (select app_private.acting_user_id('agent'))
          or (t.status = 'open' and (select app_private.acting_user_id('agent')) is not null)
        )
    )
  );

comment on policy select_agent on app_public.ticket_assignment_history is 'Agents read the assignment history of the tickets they can read.';

create policy select_admin on app_public.ticket_assignment_history
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.ticket_assignment_history is 'Admins read all assignment history.';

--------------------------------------------------------------------------------
-- Workflow (readable by every signed-in user, edited by admins)
--------------------------------------------------------------------------------
alter table app_public.ticket_transitions enable row level security;

revoke all on app_public.ticket_transitions from public;
grant select on app_public.ticket_transitions to ticketing_customer, ticketing_agent, ticketing_admin;
grant insert, update, delete on app_public.ticket_transitions to ticketing_admin;

create policy select_customer on app_public.ticket_transitions
  for select
  to ticketing_customer
  using ((select app_private.acting_user_id('customer')) is not null);

comment on policy select_customer on app_public.ticket_transitions is 'Customers read the workflow (to know which actions to offer).';

create policy select_agent on app_public.ticket_transitions
  for select
  to ticketing_agent
  using ((select app_private.acting_user_id('agent')) is not null);

comment on policy select_agent on app_public.ticket_transitions is 'Agents read the workflow.';

create policy select_admin on app_public.ticket_transitions
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.ticket_transitions is 'Admins read the workflow.';

create policy insert_admin on app_public.ticket_transitions
  for insert
  to ticketing_admin
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy insert_admin on app_public.ticket_transitions is 'Admins add allowed moves.';

create policy update_admin on app_public.ticket_transitions
  for update
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy update_admin on app_public.ticket_transitions is 'Admins change allowed moves.';

create policy delete_admin on app_public.ticket_transitions
  for delete
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy delete_admin on app_public.ticket_transitions is 'Admins remove allowed moves.';

--------------------------------------------------------------------------------
-- SLA policies (readable by every signed-in user, minutes edited by admins)
--------------------------------------------------------------------------------
alter table app_public.sla_policies enable row level security;

revoke all on app_public.sla_policies from public;
grant select on app_public.sla_policies to ticketing_customer, ticketing_agent, ticketing_admin;
grant update (first_response_minutes, resolution_minutes) on app_public.sla_policies to ticketing_admin;

create policy select_customer on app_public.sla_policies
  for select
  to ticketing_customer
  using ((select app_private.acting_user_id('customer')) is not null);

comment on policy select_customer on app_public.sla_policies is 'Customers read the SLA targets.';

create policy select_agent on app_public.sla_policies
  for select
  to ticketing_agent
  using ((select app_private.acting_user_id('agent')) is not null);

comment on policy select_agent on app_public.sla_policies is 'Agents read the SLA targets.';

create policy select_admin on app_public.sla_policies
  for select
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null);

comment on policy select_admin on app_public.sla_policies is 'Admins read the SLA targets.';

create policy update_admin on app_public.sla_policies
  for update
  to ticketing_admin
  using ((select app_private.acting_user_id('admin')) is not null)
  with check ((select app_private.acting_user_id('admin')) is not null);

comment on policy update_admin on app_public.sla_policies is 'Admins change the SLA targets (existing tickets keep their due times).';

--------------------------------------------------------------------------------
-- Audit log window (the view filters on the caller's live role itself)
--------------------------------------------------------------------------------
revoke all on app_public.audit_log_entries from public;
grant select on app_public.audit_log_entries to ticketing_admin;
