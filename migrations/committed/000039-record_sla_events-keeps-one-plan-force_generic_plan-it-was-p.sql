--! Previous: sha1:c0d8f75b5aade05e64b3bc020b151acf630d2c45
--! Hash: sha1:c66b74cd600066b3b87bda32071e6424ec236b23
--! Message: record_sla_events keeps one plan (force_generic_plan): it was planned afresh on every call, 0.36 ms of a resolution

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-record-sla-events-one-plan.sql
-- record_sla_events keeps one plan.
--
-- Its insert of the events runs for one ticket on a status change or a
-- reply, and for the at-risk index's tickets from the job. With the default
-- plan cache mode PL/pgSQL planned it afresh on every call: the generic plan
-- is costed with the job's branch, so it never looked cheaper than a custom
-- one. pg_stat_statements on `npm run bench:sla`'s resolutions: 401 plans in
-- 400 calls, 0.36 ms of planning per resolution against 0.42 ms of
-- execution. Each branch of the statement is guarded by a condition on the
-- argument alone (the other never runs), so the one generic plan serves
-- both callers: a key lookup for the given tickets, the at-risk index for
-- the job.
alter function app_private.record_sla_events(uuid[]) set plan_cache_mode = force_generic_plan;
