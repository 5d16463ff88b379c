--! Previous: sha1:2a72c76380c4e77075ae5f2e27efc14da9b38093
--! Hash: sha1:f8ba6772e9a8e37a20595be8b51b3144d0e3f1d6
--! Message: Drop the organization index the covering one replaces

--! no-transaction
-- tickets_organization_list_idx (migration 000032) serves everything this
-- index served (an organization's tickets by creation, the organization_id
-- foreign key and the policy's organization arm), so it goes; dropped
-- concurrently, as the only statement of its migration.
drop index concurrently if exists app_public.tickets_organization_created_idx;
