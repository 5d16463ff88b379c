--! Previous: sha1:a76dc4948316ff58fb1dfce714ef234da76d589f
--! Hash: sha1:7668d7148b9c8c7edcdf0a24ad19e5cf415bd87e
--! Message: The tickets' sight search index described

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-the-sight-search-index-described.sql
-- The index migration 000044 built concurrently, described (a comment could
-- not share that migration: it runs outside a transaction, one statement).
comment on index app_public.tickets_sight_search_idx is
  'A word in the tickets'' subject and description, alone (an admin''s search) or with the status or the agent (an agent''s: open tickets, their own); btree_gin.';
