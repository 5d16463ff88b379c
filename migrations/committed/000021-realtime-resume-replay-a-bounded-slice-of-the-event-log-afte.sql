--! Previous: sha1:0fbb94f2bde5609359392b3cb5d6e930777c7ff4
--! Hash: sha1:c5518d9b486c85cc5585afac5316d3ddd701e2df
--! Message: realtime resume: replay a bounded slice of the event log after a cursor

--! split: 700-realtime-resume.sql
-- Realtime resume: a reconnecting subscriber replays what it missed
-- (docs/realtime.md, "Resuming after a disconnect").
--
-- Each subscription event carries its event id as a cursor. A subscription
-- given `after: <cursor>` first replays the events since that cursor that
-- concern it, re-checked under the subscriber's role and claims exactly like
-- live events, then continues live. The replay is bounded here, in one place:
-- at most a day back and at most max_rows events (500 at most); beyond either
-- bound, or for a cursor that names no event the log could have made, the
-- function raises TKCEX, which the API answers with CURSOR_EXPIRED so the
-- client reloads instead.

-- How far back a replay may go. Replace this function in a migration to
-- change it; it must stay within event_log_policy().retention.
create or replace function app_private.realtime_replay_policy(out max_age interval, out max_rows integer)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select interval '24 hours', 500;
$$;

comment on function app_private.realtime_replay_policy() is
  'Realtime resume bounds: a replay reaches back at most max_age (a day) and delivers at most max_rows (500) events; beyond either a subscription fails with CURSOR_EXPIRED.';

revoke all on function app_private.realtime_replay_policy() from public;

-- The newest event id: the cursor of "now" (SUBSCRIBED carries it).
create or replace function app_private.realtime_events_latest_id()
returns bigint
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(max(e.id), 0) from app_private.realtime_events as e;
$$;

comment on function app_private.realtime_events_latest_id() is
  'Realtime: the id of the newest event in the log (0 when empty), the cursor a new subscription starts from. Reveals only a count of changes, as event ids already do.';

revoke all on function app_private.realtime_events_latest_id() from public;
grant execute on function app_private.realtime_events_latest_id() to ticketing_authenticator;

-- The ticket events after a cursor that concern one subscription: one ticket,
-- one customer's tickets, or one agent's queue (their tickets and the open
-- pool). Exactly one of the three is given. Rows come in id order and carry no
-- content; the API still checks each against the subscriber's row-level
-- security before delivering it.
create or replace function app_private.realtime_events_after(
  after_id bigint,
  for_ticket_id uuid default null,
  for_customer_id uuid default null,
  for_agent_id uuid default null,
  max_rows integer default 500
)
returns setof app_private.realtime_events
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  policy record;
  row_limit integer;
  latest bigint;
  first_after timestamptz;
  found_rows integer;
begin
  select p.max_age, p.max_rows into policy from app_private.realtime_replay_policy() as p;
  row_limit := least(greatest(coalesce(max_rows, 0), 0), policy.max_rows);

  if num_nonnulls(for_ticket_id, for_customer_id, for_agent_id) <> 1 then
    raise exception 'Name exactly one ticket, customer or agent' using errcode = 'TKVAL';
  end if;

  -- A cursor beyond the newest event was never issued.
  select coalesce(max(e.id), 0) into latest from app_private.realtime_events as e;
  if after_id is null or after_id < 0 or after_id > latest then
    raise exception 'This cursor is unknown; reload and subscribe again' using errcode = 'TKCEX';
  end if;

  -- The first event after the cursor is older than the replay may reach.
  select e.occurred_at into first_after
  from app_private.realtime_events as e
  where e.id > after_id
  order by e.id
  limit 1;
  if first_after is not null and first_after < clock_timestamp() - policy.max_age then
    raise exception 'This cursor is too old to resume from; reload and subscribe again' using errcode = 'TKCEX';
  end if;

  return query
  select e.*
  from app_private.realtime_events as e
  where e.id > after_id
    and e.user_id is null
    and (
      e.ticket_id = for_ticket_id
      or e.customer_id = for_customer_id
      or e.previous_customer_id = for_customer_id
      or e.agent_id = for_agent_id
      or e.previous_agent_id = for_agent_id
      or (for_agent_id is not null and e.in_open_pool)
    )
  order by e.id
  limit row_limit + 1;

  get diagnostics found_rows = row_count;
  if found_rows > row_limit then
    raise exception 'Too much happened since this cursor to replay; reload and subscribe again' using errcode = 'TKCEX';
  end if;
end;
$$;

comment on function app_private.realtime_events_after(bigint, uuid, uuid, uuid, integer) is
  'Realtime resume: the ticket events after after_id that concern one ticket, one customer or one agent''s queue, in id order, at most max_rows (and realtime_replay_policy()). Raises TKCEX (CURSOR_EXPIRED) for an unknown cursor, one older than the policy allows, or more events than the bound. The API re-checks every row under the subscriber''s rights.';

revoke all on function app_private.realtime_events_after(bigint, uuid, uuid, uuid, integer) from public;
grant execute on function app_private.realtime_events_after(bigint, uuid, uuid, uuid, integer) to ticketing_authenticator;
