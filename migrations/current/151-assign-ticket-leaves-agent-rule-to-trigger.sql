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
