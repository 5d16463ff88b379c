--! Previous: sha1:c66b74cd600066b3b87bda32071e6424ec236b23
--! Hash: sha1:99a8eaa6028c5efc42ed7220e8a9dd55907e241b
--! Message: Search at scale: matching without parallel workers; a staff search checks the matched tickets before their comments

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-search-without-parallel-workers.sql
-- Search matching runs without parallel workers.
--
-- search_matches and search_matches_within are security definer functions,
-- so they are never inlined: their query is planned on its own, without the
-- caller's limit, for all its matches. At a million tickets the planner then
-- chose a Parallel Append under a Gather for search_matches (bitmap scans of
-- both text indexes), and for search_matches_within. Starting the two
-- workers cost more than the whole search's work: as its owner, the bench's
-- part number (200 tickets, 396 comments) took 10-14 ms through the function
-- and 1.0-1.4 ms with the same query run serially; an agent's search_tickets
-- went from 25.6 to 6.6 ms, the busiest customer's from 20-30 to 8-14 ms. A
-- word in 167 000 tickets took 193-204 ms either way: on this kind of
-- machine the workers do not pay even for the big ones, and every worker is
-- a process taken from the API's requests. No other request of the API
-- plans a Gather (auto_explain of the bench's read scenarios at 1M).
alter function app_private.search_matches(tsquery) set max_parallel_workers_per_gather = 0;
alter function app_private.search_matches_within(tsquery, uuid[]) set max_parallel_workers_per_gather = 0;

comment on function app_private.search_matches(tsquery) is
  'Candidate matches of a staff search, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, through the GIN indexes. Only search_tickets uses it, for agents and admins, and filters the result through the caller''s policies. Runs without parallel workers (max_parallel_workers_per_gather = 0): starting them cost more than a search.';
comment on function app_private.search_matches_within(tsquery, uuid[]) is
  'Candidate matches of a search among the given tickets and their comments, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, found by ticket, never through the text indexes, so the cost is that of the given tickets whatever the word. Only search_tickets uses it, for customers, with the tickets their policy returns, and filters the result through the caller''s policies. Runs without parallel workers (max_parallel_workers_per_gather = 0): starting them cost more than a search.';

--! split: 300-search-checks-tickets-before-comments.sql
-- search_tickets checks the matched tickets before their comments.
--
-- A staff search matches across all tickets and comments (search_matches)
-- and keeps what the caller's policies let through. It used to check every
-- matched comment against the comments policy first (a probe of the comment
-- and, inside its policy, of its ticket), and only then the tickets. An agent
-- sees the open tickets and their own, a few percent of them at a million:
-- for the bench's part number that was 396 comment checks (2 782 buffers)
-- and 200 ticket probes (808) to keep 4 tickets.
--
-- Now the matches are grouped by ticket first, each matched ticket is checked
-- once under the tickets policy, and only the comments of the tickets that
-- passed are checked under the comments policy. For that agent at a million
-- tickets: 4 003 -> 1 258 buffers, 9.8 -> 5.8 ms a search (the statement run
-- 300 times as the agent); a word in 167 000 tickets costs what it did
-- (925-955 ms, every matched ticket probed either way). Nothing restates a
-- rule: the tickets and comments policies decide, as before.
--
-- The comment check names the ticket (tc.ticket_id = tk.id), so it cannot
-- be evaluated before the join with the caller's tickets; `offset 0` keeps it
-- one probe per comment (PostgreSQL may otherwise turn it into a hashed
-- subplan that reads every comment under its policy). Results and ranking
-- are unchanged: a ticket appears when the caller can read it and its text,
-- or a comment they can read, matches; its rank is the sum over those.
create or replace function app_public.search_tickets(query text)
returns setof app_public.tickets
language sql
stable
begin atomic
  select tk
  from (
    select m.ticket_id,
           sum(m.rank) filter (where m.comment_id is null) as ticket_rank,
           array_agg(m.comment_id) filter (where m.comment_id is not null) as comment_ids,
           array_agg(m.rank) filter (where m.comment_id is not null) as comment_ranks
    from (
      -- Customers: the tickets their policy returns are the candidates.
      select s.ticket_id, s.comment_id, s.rank
      from app_private.search_matches_within(
        (select app_private.search_query(search_tickets.query)),
        array(select t.id from app_public.tickets as t)
      ) as s
      where current_user = 'ticketing_customer'
      union all
      -- Staff: the GIN matches across all tickets.
      select s.ticket_id, s.comment_id, s.rank
      from app_private.search_matches((select app_private.search_query(search_tickets.query))) as s
      where current_user <> 'ticketing_customer'
    ) as m
    group by m.ticket_id
  ) as r
  -- The caller's tickets policy: one probe per matched ticket.
  join app_public.tickets as tk on tk.id = r.ticket_id
  -- The matched comments of a readable ticket that the comments policy lets the caller read.
  cross join lateral (
    select sum(c.rank) as rank
    from unnest(r.comment_ids, r.comment_ranks) as c(id, rank)
    where exists (select 1 from app_public.ticket_comments as tc where tc.id = c.id and tc.ticket_id = tk.id offset 0)
  ) as readable
  -- Checked first, whatever the caller can read: an over-long text is refused.
  where (select app_private.search_query(search_tickets.query)) is not null
    and (r.ticket_rank is not null or readable.rank is not null)
  order by coalesce(r.ticket_rank, 0) + coalesce(readable.rank, 0) desc, tk.number desc;
end;

comment on function app_public.search_tickets(text) is
  'Full-text search (web-search syntax: words, "phrases", or, -exclusions) over subject, description and comments of the tickets you can read; internal notes count only for staff. Best matches first. Empty text returns nothing. Errors: INVALID_INPUT (more than 500 characters).';
