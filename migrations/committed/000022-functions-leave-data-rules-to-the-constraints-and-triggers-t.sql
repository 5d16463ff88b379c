--! Previous: sha1:c5518d9b486c85cc5585afac5316d3ddd701e2df
--! Hash: sha1:20f44b01f61c088c171669fc8488ea7c7115a13c
--! Message: Functions leave data rules to the constraints and triggers that state them: add_comment, assign_ticket

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 150-add-comment-leaves-body-rules-to-constraint.sql
-- add_comment no longer restates the comment body's data rule (not empty,
-- at most 20,000 characters): ticket_comments_body_length says it once, for
-- every writer, and a broken rule still answers INVALID_INPUT with that
-- constraint's message (src/graphql/constraint-messages.ts). A missing
-- ticket id is "Ticket not found", as for any ticket the caller cannot see.
-- Behaviour is otherwise unchanged.
create or replace function app_public.add_comment(ticket_id uuid, body text, is_internal boolean default false)
returns app_public.ticket_comments
language plpgsql
volatile
set search_path = pg_catalog, public, pg_temp
as $$
declare
  me app_public.users := app_public.current_user();
  ticket app_public.tickets;
  new_comment app_public.ticket_comments;
begin
  if me.id is null then
    raise exception using errcode = 'TKFBD', message = 'Sign in to comment';
  end if;

  -- Read through the caller's policies: a ticket they cannot see does not exist.
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = add_comment.ticket_id;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;
  if coalesce(add_comment.is_internal, false) and me.role = 'customer' then
    raise exception using errcode = 'TKFBD', message = 'Customers cannot write internal notes';
  end if;
  if ticket.status = 'closed' and me.role <> 'admin' then
    raise exception using errcode = 'TKFBD', message = 'This ticket is closed';
  end if;

  begin
    if coalesce(add_comment.is_internal, false) then
      insert into app_public.ticket_comments (ticket_id, body, is_internal)
      values (add_comment.ticket_id, add_comment.body, true)
      returning * into new_comment;
    else
      -- is_internal is not named: customers hold no privilege on that column.
      insert into app_public.ticket_comments (ticket_id, body)
      values (add_comment.ticket_id, add_comment.body)
      returning * into new_comment;
    end if;
  exception
    when insufficient_privilege then
      raise exception using errcode = 'TKFBD', message = 'You cannot comment on this ticket';
  end;

  return new_comment;
end;
$$;

--! split: 151-assign-ticket-leaves-agent-rule-to-trigger.sql
-- assign_ticket no longer restates that a ticket's agent must be an active
-- agent: the tickets triggers _100_check_people_* (which also wait for a
-- concurrent deactivation) say it once for every writer and answer the
-- same INVALID_INPUT. A missing ticket id is "Ticket not found", as for any
-- ticket the caller cannot see. Behaviour is otherwise unchanged.
create or replace function app_public.assign_ticket(ticket_id uuid, agent_id uuid default null)
returns app_public.tickets
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  caller_id uuid := app_private.current_user_id();
  caller_role app_public.user_role := app_private.current_user_role();
  ticket app_public.tickets;
  new_status app_public.ticket_status;
begin
  if caller_role is null or caller_role = 'customer' then
    raise exception using errcode = 'TKFBD', message = 'Only agents and admins can assign tickets';
  end if;
  if caller_role = 'agent' and assign_ticket.agent_id is distinct from caller_id then
    raise exception using errcode = 'TKFBD', message = 'Agents can only assign tickets to themselves';
  end if;

  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = assign_ticket.ticket_id
  for update;

  if not found
    or (caller_role = 'agent' and ticket.agent_id is distinct from caller_id and ticket.status <> 'open')
  then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;

  if ticket.agent_id is not distinct from assign_ticket.agent_id then
    return ticket;
  end if;

  if ticket.status = 'closed' then
    raise exception using errcode = 'TKINV', message = 'Closed tickets cannot be reassigned';
  end if;

  if caller_role = 'agent' and ticket.agent_id is not null then
    raise exception using errcode = 'TKFBD', message = 'This ticket is already assigned to another agent';
  end if;

  -- Unassigned work goes back to the queue: without an agent an in-progress
  -- ticket would be invisible to every agent.
  new_status := case
    when assign_ticket.agent_id is null and ticket.status in ('in_progress', 'waiting_on_customer') then 'open'
    else ticket.status
  end;

  perform set_config('app.status_note', 'Unassigned: returned to the queue', true);

  update app_public.tickets as tk
  set agent_id = assign_ticket.agent_id,
      status = new_status
  where tk.id = ticket.id
  returning tk.* into ticket;

  perform set_config('app.status_note', '', true);

  return ticket;
end;
$$;
