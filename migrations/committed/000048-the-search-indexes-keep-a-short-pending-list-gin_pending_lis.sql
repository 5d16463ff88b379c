--! Previous: sha1:7668d7148b9c8c7edcdf0a24ad19e5cf415bd87e
--! Hash: sha1:4f88e4a6913e1e945195befcc84452e46469104b
--! Message: The search indexes keep a short pending list (gin_pending_list_limit 256 kB): every search reads the whole list

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-search-indexes-keep-a-short-pending-list.sql
-- The search indexes keep a short pending list.
--
-- A GIN index collects new entries in a pending list (up to
-- gin_pending_list_limit, 4 MB by default) and merges them into the index
-- later, in bulk. Every search reads the whole list. After the bench's write
-- scenarios at 1M tickets the two search indexes each held about 330
-- pending pages: an agent's search read 1 270 buffers, 198 once the lists
-- were merged (gin_clean_pending_list). Reading two index scans' worth of
-- list also made the planner give up the sight conditions for one index
-- scan of the word alone.
--
-- 256 kB (32 pages) keeps what a search reads of the lists small and the
-- batching that makes GIN inserts cheap: a ticket's or comment's write adds
-- its words to the list, and the write that fills it merges it. Setting a
-- storage parameter takes a lock that lets reads and writes go on.
alter index app_public.tickets_sight_search_idx set (gin_pending_list_limit = 256);
alter index app_private.searchable_comments_sight_search_idx set (gin_pending_list_limit = 256);
