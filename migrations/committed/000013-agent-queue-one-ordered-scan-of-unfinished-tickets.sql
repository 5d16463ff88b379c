--! Previous: sha1:533ea92d9b57144a399d5fb1a0145ee576f5ad8e
--! Hash: sha1:f71bfed81dbf2ad7021fe7f5bf7ce3629390c761
--! Message: agent queue: one ordered scan of unfinished tickets

-- my_queue as one ordered scan. Measured at a million tickets, the union of
-- two index scans was sorted whole (about 80 000 open tickets) before the
-- first page: the planner would not merge the branches under row-level
-- security. Unfinished tickets are a small share of all tickets and the open
-- pool most of them, so walking one index of unfinished tickets in due order
-- finds a page after a few hundred rows (1.4 ms instead of 380 ms).
drop index app_public.tickets_agent_work_due_idx;

drop index app_public.tickets_open_pool_due_idx;

create index tickets_unfinished_due_idx on app_public.tickets (resolution_due_at, id)
  where status in ('open', 'in_progress', 'waiting_on_customer');

-- Still no `set search_path`, so the function is inlined and LIMIT reaches the
-- index scan; names are schema-qualified and the caller's rights apply.
create or replace function app_public.my_queue()
returns setof app_public.tickets
language sql
stable
as $$
  select t.*
  from app_public.tickets as t
  where t.status in ('open', 'in_progress', 'waiting_on_customer')
    and (
      t.agent_id = (select app_public.current_user_id())
      or (t.status = 'open' and t.agent_id is null)
    )
  order by t.resolution_due_at, t.id
$$;
