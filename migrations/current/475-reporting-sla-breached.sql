-- The analysts' tickets view (recreated in 500 with plain-text columns)
-- states the SLA breach rule through app_private.sla_breached (470) instead of
-- restating it.
--
-- A function called in a view runs with the reader's rights, so analysts get
-- EXECUTE on this one function: immutable, pure arithmetic on its two
-- arguments, reading no table. They still have no USAGE on app_private and
-- cannot call it by name.

grant execute on function app_private.sla_breached(timestamptz, timestamptz) to ticketing_analyst;
