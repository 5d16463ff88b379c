-- The active time of an SLA clock in one pass over the status timeline: the
-- same stretches as the set-based query (window functions, range_agg, a
-- pause-rule lookup per row) it replaces, at a fraction of the cost on the
-- few rows of a ticket's history. A resume computes it for both clocks.

create or replace function app_private.sla_active_time(
  created_at timestamptz,
  statuses app_public.ticket_status[],
  changed_ats timestamptz[],
  clock app_public.sla_clock,
  responded_at timestamptz default null
)
returns tstzmultirange
language plpgsql
stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  pausing app_public.ticket_status[];
  -- Position of the last status that is not resolved or closed.
  last_working bigint := 0;
  stop_at timestamptz;
  active tstzmultirange := '{}';
  previous_at timestamptz;
  previous_runs boolean := false;
  change record;
begin
  select coalesce(array_agg(p.status), '{}') into pausing
  from app_public.sla_pause_statuses as p
  where p.clock = sla_active_time.clock;

  select coalesce(max(u.ord), 0) into last_working
  from unnest(statuses, changed_ats) with ordinality as u (status, at, ord)
  where u.status not in ('resolved', 'closed');

  for change in
    select u.status, u.at, u.ord
    from unnest(statuses, changed_ats) with ordinality as u (status, at, ord)
    order by u.at, u.ord
  loop
    -- The previous status held until this change.
    if previous_runs then
      active := active + tstzmultirange(tstzrange(previous_at, change.at));
    end if;
    -- The clock stops for good when the ticket entered its final run of
    -- resolved/closed statuses.
    if change.ord > last_working and change.at is not null and (stop_at is null or change.at < stop_at) then
      stop_at := change.at;
    end if;
    previous_at := change.at;
    -- The creation row never pauses: a ticket created directly in a later
    -- status (an import) runs its clock until its first recorded change.
    previous_runs := change.ord = 1 or change.status is null or not (change.status = any (pausing));
  end loop;
  if previous_runs then
    active := active + tstzmultirange(tstzrange(previous_at, null));
  end if;

  -- From the stop (or, for the first response, the reply) it counts as
  -- running, so a finished ticket keeps the due time it was judged by.
  stop_at := least(stop_at, case when clock = 'first_response' then responded_at end);
  if stop_at is not null then
    active := active + tstzmultirange(tstzrange(stop_at, null));
  end if;
  return active * tstzmultirange(tstzrange(created_at, null));
end;
$$;

-- A ticket's timeline with one generic plan, pruned at run time: planning a
-- custom plan over every partition of the status history on each call cost
-- three times its execution. (An SQL-standard body, so the ticket fields,
-- which run with the caller's rights, still reach it without USAGE on
-- app_private.)
create or replace function app_private.ticket_sla_active_time(
  ticket_id uuid,
  created_at timestamptz,
  status app_public.ticket_status,
  status_since timestamptz,
  clock app_public.sla_clock,
  responded_at timestamptz
)
returns tstzmultirange
language sql
stable
set search_path = pg_catalog, public, pg_temp
set plan_cache_mode = force_generic_plan
begin atomic
  select app_private.sla_active_time(
    ticket_sla_active_time.created_at,
    coalesce(array_agg(x.status order by x.at, x.ord), '{}'),
    coalesce(array_agg(x.at order by x.at, x.ord), '{}'),
    ticket_sla_active_time.clock,
    ticket_sla_active_time.responded_at
  )
  from (
    select h.to_status as status, h.changed_at as at, 0 as ord
    from app_public.ticket_status_history as h
    where h.ticket_id = ticket_sla_active_time.ticket_id
      and h.changed_at < coalesce(ticket_sla_active_time.status_since, 'infinity')
    union all
    -- The change being made (its history row is written after the ticket row).
    select ticket_sla_active_time.status, ticket_sla_active_time.status_since, 1
    where ticket_sla_active_time.status_since is not null
  ) as x;
end;
