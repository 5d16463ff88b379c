--! Previous: sha1:7bb219d098b356d91320245d0ab0bc62e6938738
--! Hash: sha1:3866b7f0b438997db70a6ee4d064c160bc366e77
--! Message: An agent's search matches only within their sight: app_private.searchable_comments carries each comment's text with its ticket's open state and agent (btree_gin index), kept in step by triggers; search_matches_in_sight for agents

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-an-agent-searches-within-their-sight.sql
-- An agent's search matches only within what the agent can read.
--
-- An agent reads the open tickets and the tickets assigned to them (the
-- select_agent policy on tickets), about 2 % of the tickets at a million.
-- Their search used to match the word through the text indexes in every
-- ticket and comment and then probe each match under the policies: at 1M
-- the bench's part number matched 200 tickets and 396 comments to keep 4
-- tickets (1 699 buffers), and a word in 167 000 tickets took about a
-- second; at 10M one search read 48 327 buffers. What it cost followed the
-- word's use in tickets the agent cannot read.
--
-- Now the text indexes carry what an agent's sight depends on, so the match
-- itself is limited to it:
-- * tickets: one GIN index over (status, agent_id, search) (btree_gin) in
--   place of the one over search alone (the next migrations build it
--   concurrently and drop the old one); "open and the word" or "mine and
--   the word" is then a bitmap OR of two index scans;
-- * comments: app_private.searchable_comments holds each comment's text
--   vector with two facts of its ticket, whether it is open and its agent,
--   indexed together. Those two facts change a few times in a ticket's
--   life (taken, reassigned, reopened, closed while open), not on every
--   status change, so keeping the copies in step is cheap: a trigger on
--   tickets rewrites the rows of that ticket's comments only then.
--
-- On a large installation this migration holds comment writes and ticket
-- updates until it commits, while it copies every comment and builds the
-- index: about 40 s for 3 M comments on the 2-core bench machine.
--
-- The policies still decide what the agent gets: search_tickets checks
-- every candidate under the tickets and comments policies, as before. The
-- sight in search_matches_in_sight only narrows the candidates; a test
-- compares an agent's results with the policy-only search of the same
-- words across the ways a ticket moves in and out of sight
-- (test/database/search-sight.test.ts), so the two cannot drift apart
-- unnoticed.

create extension if not exists btree_gin with schema public;

create table if not exists app_private.searchable_comments (
  comment_id uuid primary key references app_public.ticket_comments (id) on delete cascade,
  -- The comment's ticket, copied by the trigger below; the comment's own
  -- foreign key already holds it to an existing ticket.
  ticket_id uuid not null,
  -- 1 while the ticket is open, else 0: a number, not a boolean, because
  -- PostgreSQL 15 cannot use a boolean column of a GIN index (btree_gin) as
  -- an index condition; `ticket_open = 1::smallint` it can. It holds 0 or 1
  -- (the check), so the width of smallint is no limit:
  -- squawk-ignore prefer-bigint-over-smallint
  ticket_open smallint not null constraint searchable_comments_ticket_open_flag check (ticket_open in (0, 1)),
  ticket_agent_id uuid,
  search tsvector not null
);

comment on table app_private.searchable_comments is
  'The text of each comment for search, with the two facts of its ticket an agent''s sight depends on (open; its agent), indexed together so that an agent''s search matches only within the tickets they can read. Kept in step by triggers on ticket_comments (insert, edit) and tickets (a change of those two facts). Owner only: search_matches and search_matches_in_sight read it; the policies of search_tickets decide what a caller gets.';
comment on column app_private.searchable_comments.comment_id is 'The comment.';
comment on column app_private.searchable_comments.ticket_id is 'Its ticket.';
comment on column app_private.searchable_comments.ticket_open is '1 while the ticket is open (in the pool every agent reads), else 0, as of now.';
comment on column app_private.searchable_comments.ticket_agent_id is 'The ticket''s agent, as of now.';
comment on column app_private.searchable_comments.search is 'The comment''s text vector (ticket_comments.search).';

alter table app_private.searchable_comments enable row level security;
revoke all on app_private.searchable_comments from public;

-- A comment written or edited: its row, with its ticket's facts as they are now.
create or replace function app_private.tg_ticket_comments_searchable()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  insert into app_private.searchable_comments as s (comment_id, ticket_id, ticket_open, ticket_agent_id, search)
  select new.id, new.ticket_id, (t.status = 'open')::int::smallint, t.agent_id, new.search
  from app_public.tickets as t
  where t.id = new.ticket_id
  on conflict (comment_id) do update
    set ticket_id = excluded.ticket_id,
        ticket_open = excluded.ticket_open,
        ticket_agent_id = excluded.ticket_agent_id,
        search = excluded.search;
  return null;
end;
$$;
comment on function app_private.tg_ticket_comments_searchable() is
  'Trigger: after a comment is written or its text or ticket changes, its row of app_private.searchable_comments, with the ticket''s open state and agent.';
revoke all on function app_private.tg_ticket_comments_searchable() from public;

drop trigger if exists _450_searchable on app_public.ticket_comments;
create trigger _450_searchable
  after insert or update of ticket_id, body on app_public.ticket_comments
  for each row execute function app_private.tg_ticket_comments_searchable();

-- A ticket taken, reassigned, reopened or closed while open: its comments' rows follow.
create or replace function app_private.tg_tickets_searchable_comments()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  update app_private.searchable_comments as s
  set ticket_open = (new.status = 'open')::int::smallint,
      ticket_agent_id = new.agent_id
  where s.ticket_id = new.id;
  return null;
end;
$$;
comment on function app_private.tg_tickets_searchable_comments() is
  'Trigger: after a ticket''s open state or agent changes, the rows of its comments in app_private.searchable_comments follow.';
revoke all on function app_private.tg_tickets_searchable_comments() from public;

drop trigger if exists _450_searchable_comments on app_public.tickets;
create trigger _450_searchable_comments
  after update of status, agent_id on app_public.tickets
  for each row
  when ((old.status = 'open') is distinct from (new.status = 'open') or old.agent_id is distinct from new.agent_id)
  execute function app_private.tg_tickets_searchable_comments();

-- Every comment's row, written again from the comments and their tickets:
-- the backfill below, a bulk load that skipped the triggers (the bench's
-- seeder), or a repair.
create or replace function app_private.rebuild_searchable_comments()
returns bigint
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  written bigint;
begin
  truncate app_private.searchable_comments;
  insert into app_private.searchable_comments (comment_id, ticket_id, ticket_open, ticket_agent_id, search)
  select c.id, c.ticket_id, (t.status = 'open')::int::smallint, t.agent_id, c.search
  from app_public.ticket_comments as c
  join app_public.tickets as t on t.id = c.ticket_id;
  get diagnostics written = row_count;
  return written;
end;
$$;
comment on function app_private.rebuild_searchable_comments() is
  'Writes app_private.searchable_comments again from the comments and their tickets; returns the rows written. For the backfill, after a bulk load that skipped the triggers, or to repair. Owner only; takes the table''s exclusive lock (truncate).';
revoke all on function app_private.rebuild_searchable_comments() from public;

-- The comments written before this migration. The triggers above hold
-- their tables' locks until it commits, so no comment is written or ticket
-- moved between this statement and the triggers taking over.
select app_private.rebuild_searchable_comments();

-- The indexes after the rows: built in one pass, where rows inserted into an
-- existing GIN index would wait in its pending list, which every search
-- then reads whole until a vacuum (483 of a search's 795 buffers at 1M).
create index if not exists searchable_comments_ticket_idx on app_private.searchable_comments (ticket_id);
create index if not exists searchable_comments_sight_search_idx
  on app_private.searchable_comments using gin (ticket_open, ticket_agent_id, search);
comment on index app_private.searchable_comments_ticket_idx is 'Finds a ticket''s comments when its open state or agent changes.';
comment on index app_private.searchable_comments_sight_search_idx is 'A word among the comments of open tickets, or of one agent''s tickets, or among all (btree_gin).';

analyze app_private.searchable_comments;

-- Admins: every ticket and comment (comments now from searchable_comments,
-- so the text index of ticket_comments is no longer needed).
create or replace function app_private.search_matches(tsq tsquery)
returns table (ticket_id uuid, comment_id uuid, rank real)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
set max_parallel_workers_per_gather = 0
as $$
  select tk.id, null::uuid, ts_rank(tk.search, search_matches.tsq)
  from app_public.tickets as tk
  where tk.search @@ search_matches.tsq
  union all
  -- A match in the conversation counts, a bit less than one in the ticket.
  select c.ticket_id, c.comment_id, (ts_rank(c.search, search_matches.tsq) * 0.5)::real
  from app_private.searchable_comments as c
  where c.search @@ search_matches.tsq;
$$;
comment on function app_private.search_matches(tsq tsquery) is
  'Candidate matches of an admin''s search, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank, through the GIN indexes. Only search_tickets uses it, and filters the result through the caller''s policies. Runs without parallel workers (max_parallel_workers_per_gather = 0): starting them cost more than a search.';

-- Agents: the open tickets and their own, through the same indexes.
create or replace function app_private.search_matches_in_sight(tsq tsquery)
returns table (ticket_id uuid, comment_id uuid, rank real)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
set max_parallel_workers_per_gather = 0
as $$
  select tk.id, null::uuid, ts_rank(tk.search, search_matches_in_sight.tsq)
  from app_public.tickets as tk
  where tk.search @@ search_matches_in_sight.tsq
    and (tk.status = 'open' or tk.agent_id = (select app_private.acting_user_id('agent')))
  union all
  select c.ticket_id, c.comment_id, (ts_rank(c.search, search_matches_in_sight.tsq) * 0.5)::real
  from app_private.searchable_comments as c
  where c.search @@ search_matches_in_sight.tsq
    and (c.ticket_open = 1::smallint or c.ticket_agent_id = (select app_private.acting_user_id('agent')));
$$;
comment on function app_private.search_matches_in_sight(tsq tsquery) is
  'Candidate matches of an agent''s search: ticket ids (comment_id null) and comment ids with their rank, among the open tickets and those assigned to the calling agent (the select_agent policy''s sight), through the indexes that carry it, so the cost does not follow the word''s use in other tickets. Only search_tickets uses it, and filters the result through the caller''s policies; test/database/search-sight.test.ts checks it returns what the policies let an agent read. Runs without parallel workers.';
-- Every web role runs search_tickets, whose plan holds all three helpers
-- (each arm skipped at run time by its role test), so each may execute them.
revoke all on function app_private.search_matches_in_sight(tsquery) from public;
grant execute on function app_private.search_matches_in_sight(tsquery) to ticketing_customer, ticketing_agent, ticketing_admin;

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
      -- Agents: the matches among the open tickets and their own.
      select s.ticket_id, s.comment_id, s.rank
      from app_private.search_matches_in_sight((select app_private.search_query(search_tickets.query))) as s
      where current_user = 'ticketing_agent'
      union all
      -- Admins: the matches across all tickets.
      select s.ticket_id, s.comment_id, s.rank
      from app_private.search_matches((select app_private.search_query(search_tickets.query))) as s
      where current_user not in ('ticketing_customer', 'ticketing_agent')
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
