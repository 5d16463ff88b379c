--! Previous: sha1:aa3d92bfc6f6304bab43dee6192906d2d8c9baf1
--! Hash: sha1:86bca205f18ec5363d9d3b90ddd6abb56cd7f535
--! Message: The organization list's covering index, built concurrently

--! no-transaction
-- An organization's tickets, newest first (a manager's list with `condition:
-- {organizationId}`), read from the index alone, for the reason given for
-- tickets_customer_list_idx: the order of the list, tie-breaker included,
-- and the columns the customers' policy and the list read. It replaces
-- tickets_organization_created_idx (dropped in a later migration). Built
-- concurrently as the only statement of its migration.
create index concurrently if not exists tickets_organization_list_idx
  on app_public.tickets (organization_id, created_at desc, id desc)
  include (customer_id, number, subject, status, priority);
