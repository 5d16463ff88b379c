--! Previous: sha1:3866b7f0b438997db70a6ee4d064c160bc366e77
--! Hash: sha1:6aa568bcbad7c6a402b162efd61cf94f6cbeb271
--! Message: The tickets' text index with status and agent, built concurrently

--! no-transaction
-- The tickets' text index carries what an agent's sight depends on: the
-- status and the agent beside the text vector (btree_gin, migration
-- 000043), so "open and the word" or "mine and the word" is a bitmap OR of
-- two scans of this index, and an admin's "the word" one scan of it. It
-- replaces tickets_search_idx (dropped in the next migration, once this one
-- exists). Built concurrently as the only statement of its migration; a
-- failed build leaves an invalid index: drop it by hand and run the
-- migration again.
create index concurrently if not exists tickets_sight_search_idx
  on app_public.tickets using gin (status, agent_id, search);
