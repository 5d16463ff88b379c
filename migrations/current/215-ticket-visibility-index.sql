-- The child tables' policies check the ticket of each row they read by its
-- primary key, under the caller's tickets policy; that probe stays index-only
-- when the index carries every column the policies read: the customer, the
-- agent, the status and now the organization. tickets_visibility_idx replaces
-- tickets_access_idx (the same key, one more included column).
--
-- As for tickets_organization_created_idx (210): on a large installation
-- commit this migration first and build the index `concurrently` in a
-- migration of its own, then drop the old one.
-- squawk-ignore require-concurrent-index-creation
create index if not exists tickets_visibility_idx
  on app_public.tickets (id) include (customer_id, agent_id, status, organization_id);

-- Dropping an index is a catalog change; its ACCESS EXCLUSIVE lock is held
-- only until the migration commits (the lock timeout bounds the wait).
-- squawk-ignore require-concurrent-index-deletion
drop index if exists app_public.tickets_access_idx;
