--! Previous: sha1:7e9acb9eb612e5c77d14159a4d2e3766b58c5ef8
--! Hash: sha1:a76dc4948316ff58fb1dfce714ef234da76d589f
--! Message: Drop the comments' text index: comments are searched through searchable_comments

--! no-transaction
-- Comments are searched through app_private.searchable_comments (migration
-- 000043), whose index carries the text with the ticket's open state and
-- agent; nothing reads this index any more, and every comment written paid
-- for it. Dropped concurrently, as the only statement of its migration.
drop index concurrently if exists app_public.ticket_comments_search_idx;
