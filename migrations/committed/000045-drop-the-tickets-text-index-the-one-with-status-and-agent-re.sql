--! Previous: sha1:6aa568bcbad7c6a402b162efd61cf94f6cbeb271
--! Hash: sha1:7e9acb9eb612e5c77d14159a4d2e3766b58c5ef8
--! Message: Drop the tickets' text index the one with status and agent replaces

--! no-transaction
-- tickets_sight_search_idx (migration 000044) serves every search of the
-- tickets' text that this index served, so it goes; dropped concurrently,
-- as the only statement of its migration, so reads and writes of tickets go
-- on meanwhile.
drop index concurrently if exists app_public.tickets_search_idx;
