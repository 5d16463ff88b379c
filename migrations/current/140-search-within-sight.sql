-- Search matches only within what the caller may read.
--
-- Until now search_tickets matched through the GIN indexes of every ticket and
-- comment (app_private.search_matches, ignoring rights) and only then kept the
-- rows the caller's policies let through. A customer's search therefore cost
-- as much as the word's matches in everybody's tickets: a word found in the
-- tickets of thousands of other customers read thousands of buffers, an absent
-- word a few dozen, which both grows with the data and tells a customer, by
-- its time, whether other customers wrote a word.
--
-- Customers now search within the tickets their own policy returns: the
-- tickets policy (own, organizations with sight, cc) picks them through its
-- indexes (customer_id, organization_id, id), and only those tickets and
-- their comments are tested for the text (search_matches_within, by ticket,
-- never through the text indexes). As before, a comment counts only when the
-- comments policy lets the caller read it (no internal notes) and the ticket
-- only when the tickets policy does: nothing here restates who sees what. The
-- cost is that of the caller's own tickets and comments, the same for any word
-- (a word absent from the whole database costs what a word in every other
-- customer's ticket costs).
--
-- Staff keep the GIN matching of search_matches, filtered by their policies:
-- admins read everything, and an agent's sight (every open ticket plus their
-- own) is too wide to be read ticket by ticket. Their cost still follows the
-- word's matches in all tickets (docs/performance.md, "What is left").
--
-- Why not the text test as the caller: the match operator (@@) is not
-- leakproof, so PostgreSQL evaluates it only after a row's policy, on every
-- comment of the caller's tickets, each comment paying its policy's probe of
-- the ticket (twice the buffers of this shape, measured).

--------------------------------------------------------------------------------
-- The query text, checked once
--------------------------------------------------------------------------------
create or replace function app_private.search_query(query text)
returns tsquery
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  tsq tsquery;
begin
  if search_query.query is null or btrim(search_query.query) = '' then
    return null;
  end if;
  if char_length(search_query.query) > 500 then
    raise exception using errcode = 'TKVAL', message = 'The search text is too long (at most 500 characters)';
  end if;
  -- websearch syntax never fails: any input is just text ("quotes", or, -not).
  -- A query of stop words alone has no node and matches nothing.
  tsq := websearch_to_tsquery('english', search_query.query);
  return case when numnode(tsq) = 0 then null else tsq end;
end;
$$;

comment on function app_private.search_query(text) is
  'The full-text query of a search text (web-search syntax, English configuration); null when the text is empty or only stop words. Errors: TKVAL over 500 characters. Runs with the caller''s rights: it reads no table.';

revoke all on function app_private.search_query(text) from public;
-- Callable inside search_tickets (a SQL-standard body: no USAGE on app_private needed).
grant execute on function app_private.search_query(text)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Staff matching: the GIN indexes, from a checked query
--------------------------------------------------------------------------------
drop function if exists app_public.search_tickets(text);
drop function if exists app_private.search_matches(text);
drop function if exists app_private.search_matches(tsquery);
drop function if exists app_private.search_matches_within(tsquery, uuid[]);

create or replace function app_private.search_matches(tsq tsquery)
returns table (ticket_id uuid, comment_id uuid, rank real)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select tk.id, null::uuid, ts_rank(tk.search, search_matches.tsq)
  from app_public.tickets as tk
  where tk.search @@ search_matches.tsq
  union all
  -- A match in the conversation counts, a bit less than one in the ticket.
  select c.ticket_id, c.id, (ts_rank(c.search, search_matches.tsq) * 0.5)::real
  from app_public.ticket_comments as c
  where c.search @@ search_matches.tsq;
$$;

comment on function app_private.search_matches(tsquery) is
  'Candidate matches of a staff search, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, through the GIN indexes. Only search_tickets uses it, for agents and admins, and filters the result through the caller''s policies.';

revoke all on function app_private.search_matches(tsquery) from public;
grant execute on function app_private.search_matches(tsquery)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Customer matching: within the tickets the caller's policy returned
--------------------------------------------------------------------------------
create or replace function app_private.search_matches_within(tsq tsquery, ticket_ids uuid[])
returns table (ticket_id uuid, comment_id uuid, rank real)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  -- ts_match_vq is @@ spelt as a function: never an index condition, so the
  -- rows are found by their ticket (primary key, ticket_id index) whatever
  -- the word, and the text is tested on those rows only. Through the GIN
  -- indexes, the plan and its cost would follow the word's frequency in
  -- everybody's tickets.
  select tk.id, null::uuid, ts_rank(tk.search, search_matches_within.tsq)
  from app_public.tickets as tk
  where tk.id = any (search_matches_within.ticket_ids)
    and ts_match_vq(tk.search, search_matches_within.tsq)
  union all
  select c.ticket_id, c.id, (ts_rank(c.search, search_matches_within.tsq) * 0.5)::real
  from app_public.ticket_comments as c
  where c.ticket_id = any (search_matches_within.ticket_ids)
    and ts_match_vq(c.search, search_matches_within.tsq);
$$;

comment on function app_private.search_matches_within(tsquery, uuid[]) is
  'Candidate matches of a search among the given tickets and their comments, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, found by ticket, never through the text indexes, so the cost is that of the given tickets whatever the word. Only search_tickets uses it, for customers, with the tickets their policy returns, and filters the result through the caller''s policies.';

revoke all on function app_private.search_matches_within(tsquery, uuid[]) from public;
grant execute on function app_private.search_matches_within(tsquery, uuid[])
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- search_tickets: customers within their sight, staff through search_matches
--------------------------------------------------------------------------------
-- Security invoker, SQL-standard body. Which branch runs is a choice of plan
-- only (the role is a one-time condition, evaluated before either branch):
-- both return exactly the rows the caller's policies let through.
create or replace function app_public.search_tickets(query text)
returns setof app_public.tickets
language sql
stable
begin atomic
  select tk
  from (
    select m.ticket_id, sum(m.rank) as rank
    from (
      -- Customers: the tickets their policy returns are the candidates; comments
      -- kept when readable (no internal notes), tickets checked below.
      select s.ticket_id, s.rank
      from app_private.search_matches_within(
        (select app_private.search_query(search_tickets.query)),
        array(select t.id from app_public.tickets as t)
      ) as s
      where current_user = 'ticketing_customer'
        and (s.comment_id is null or exists (select 1 from app_public.ticket_comments as c where c.id = s.comment_id))
      union all
      -- Staff: the GIN matches, kept when the comment is readable (the ticket is checked below).
      select s.ticket_id, s.rank
      from app_private.search_matches((select app_private.search_query(search_tickets.query))) as s
      where current_user <> 'ticketing_customer'
        and (s.comment_id is null or exists (select 1 from app_public.ticket_comments as c where c.id = s.comment_id))
    ) as m
    group by m.ticket_id
  ) as r
  join app_public.tickets as tk on tk.id = r.ticket_id
  -- Checked first, whatever the caller can read: an over-long text is refused.
  where (select app_private.search_query(search_tickets.query)) is not null
  order by r.rank desc, tk.number desc;
end;

comment on function app_public.search_tickets(text) is
  'Full-text search (web-search syntax: words, "phrases", or, -exclusions) over subject, description and comments of the tickets you can read; internal notes count only for staff. Best matches first. Empty text returns nothing. Errors: INVALID_INPUT (more than 500 characters).';

revoke all on function app_public.search_tickets(text) from public;
grant execute on function app_public.search_tickets(text)
  to ticketing_customer, ticketing_agent, ticketing_admin;
