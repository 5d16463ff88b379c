--! Previous: sha1:c7380e12653cbd48db73a59cf9246de8760d5d23
--! Hash: sha1:8a151e2817ed6401d06b164ab93da4d3c9b07aa3
--! Message: The at-risk index of tickets, built concurrently

--! no-transaction
-- The SLA clock job finds unfinished tickets by their earlier at-risk instant
-- (app_private.record_sla_events). tickets may be big, so the index is built
-- concurrently, outside a transaction, as the only statement of its migration
-- (several statements in one no-transaction migration would run as one
-- implicit transaction, where CONCURRENTLY is refused). A build that failed
-- leaves an invalid index: drop it by hand and run the migration again.
create index concurrently if not exists tickets_unfinished_at_risk_idx
  on app_public.tickets (least(first_response_at_risk_at, resolution_at_risk_at))
  where status in ('open', 'in_progress', 'waiting_on_customer');
