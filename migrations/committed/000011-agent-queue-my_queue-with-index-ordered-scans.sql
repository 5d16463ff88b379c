--! Previous: sha1:4a06e15ca77d15315defe624f6499a42f32d6279
--! Hash: sha1:c51c1994ce81aa6ff7b2989dda5b2b6b9b1becec
--! Message: agent queue: my_queue with index-ordered scans

-- An agent's queue: their unfinished tickets and the open pool, most
-- pressing deadline first. Written as two index-ordered scans merged by the
-- planner, so the first page costs the same at a million tickets as at ten
-- thousand; the table-wide `tickets` list sorted by due time would sort every
-- visible row first.
create index tickets_agent_work_due_idx on app_public.tickets (agent_id, resolution_due_at, id)
  where status in ('open', 'in_progress', 'waiting_on_customer');

create index tickets_open_pool_due_idx on app_public.tickets (resolution_due_at, id)
  where status = 'open' and agent_id is null;

-- No `set search_path` on purpose: a plain SQL function without it is inlined
-- into the caller's query (so LIMIT reaches the index scans). Every name is
-- schema-qualified instead, and the function runs with the caller's rights.
create function app_public.my_queue()
returns setof app_public.tickets
language sql
stable
as $$
  select t.*
  from app_public.tickets as t
  where t.agent_id = app_public.current_user_id()
    and t.status in ('open', 'in_progress', 'waiting_on_customer')
  union all
  select t.*
  from app_public.tickets as t
  where t.status = 'open'
    and t.agent_id is null
  order by resolution_due_at, id
$$;

comment on function app_public.my_queue() is
  E'@sortable false\nYour queue: the unfinished tickets assigned to you and the open, unassigned pool, the nearest resolution deadline first. For agents and admins.';

grant execute on function app_public.my_queue() to ticketing_agent, ticketing_admin;
