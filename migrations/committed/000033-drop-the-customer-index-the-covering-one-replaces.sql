--! Previous: sha1:86bca205f18ec5363d9d3b90ddd6abb56cd7f535
--! Hash: sha1:2a72c76380c4e77075ae5f2e27efc14da9b38093
--! Message: Drop the customer index the covering one replaces

--! no-transaction
-- tickets_customer_list_idx (migration 000031) serves everything this index
-- served (the customer's tickets by creation, the customer_id foreign key),
-- so it goes; dropped concurrently, as the only statement of its migration,
-- so reads and writes of tickets go on meanwhile.
drop index concurrently if exists app_public.tickets_customer_created_idx;
