--! Previous: sha1:da7a76e249338dd5b6ab9cd0278ddbb1649c92f1
--! Hash: sha1:4a06e15ca77d15315defe624f6499a42f32d6279
--! Message: example: my open ticket count

-- The worked example of docs/extending.md: a function an admin adds to give
-- consoles a badge count. It runs with the caller's rights (no security
-- definer), so row-level security decides what it counts.
create function app_public.my_open_ticket_count()
returns integer
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select count(*)::integer
  from app_public.tickets as t
  where t.status <> 'closed'
    and app_public.current_user_id() in (t.customer_id, t.agent_id);
$$;

comment on function app_public.my_open_ticket_count() is
  'Number of your tickets that are not closed: the ones you filed (customers) or are assigned to (agents, admins). For badges in the portal and the console.';

grant execute on function app_public.my_open_ticket_count() to ticketing_customer, ticketing_agent, ticketing_admin;
