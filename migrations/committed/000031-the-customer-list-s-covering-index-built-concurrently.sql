--! Previous: sha1:8a151e2817ed6401d06b164ab93da4d3c9b07aa3
--! Hash: sha1:aa3d92bfc6f6304bab43dee6192906d2d8c9baf1
--! Message: The customer list's covering index, built concurrently

--! no-transaction
-- A customer's own tickets, newest first (the list with `condition:
-- {customerId}`), read from the index alone. The customers' policy is an OR
-- (own tickets, organizations with sight, cc), so the planner can no longer
-- see that a customer naming their own id passes every row, and chose to read
-- all of the customer's tickets (one buffer each) and sort them. This index
-- has the order of the list, tie-breaker included, and carries the columns
-- the policy and the list read, so the list is an index-only scan that stops
-- after 20 rows whatever the estimate (docs/performance.md, "The customer
-- list's early stop"). It replaces tickets_customer_created_idx (dropped in a
-- later migration, once this one exists). Built concurrently as the only
-- statement of its migration; a failed build leaves an invalid index: drop it
-- by hand and run the migration again.
create index concurrently if not exists tickets_customer_list_idx
  on app_public.tickets (customer_id, created_at desc, id desc)
  include (organization_id, number, subject, status, priority);
