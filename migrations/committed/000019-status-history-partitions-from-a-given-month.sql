--! Previous: sha1:ceca14bac215564448b8c0284795c851a1e6bb4e
--! Hash: sha1:b599eee7013f7a6825abbe1bd321f56d1ca8ffbb
--! Message: status history partitions from a given month

--! split: 550-status-history-partitions-from.sql
--------------------------------------------------------------------------------
-- Status-history partitions from a given month
--------------------------------------------------------------------------------
-- Maintenance creates the monthly partitions of ticket_status_history from the
-- current month ahead. A bulk load of older history (the bench seeder, an
-- import) needs them from an earlier month on, before its first row, or the
-- old rows land in the default partition for good. One function makes them
-- for any span; the maintenance function is that span starting this month.
--
-- Months are counted on UTC wall-clock timestamps (timestamp without time
-- zone) and turned into bounds at the end, so the bounds are UTC midnights on
-- the 1st whatever the session's TimeZone.

create or replace function app_private.create_status_history_partitions_from(
  first_month date,
  months_ahead integer default 3
)
returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  this_month timestamp := date_trunc('month', now() at time zone 'UTC');
  month_local timestamp := date_trunc('month', first_month::timestamp);
  last_month timestamp;
  month_start timestamptz;
  month_end timestamptz;
  partition_name text;
  created integer := 0;
begin
  if months_ahead is null or months_ahead < 0 or months_ahead > 120 then
    raise exception using errcode = 'TKVAL', message = 'months_ahead must be between 0 and 120';
  end if;
  if first_month is null or month_local > this_month or month_local < this_month - interval '100 years' then
    raise exception using errcode = 'TKVAL', message = 'first_month must be a month of the last 100 years, up to the current one';
  end if;
  last_month := this_month + make_interval(months => months_ahead);

  while month_local <= last_month loop
    month_start := month_local at time zone 'UTC';
    month_end := (month_local + interval '1 month') at time zone 'UTC';
    partition_name := 'ticket_status_history_p' || to_char(month_local, 'YYYYMM');
    month_local := month_local + interval '1 month';

    continue when to_regclass('app_private.' || partition_name) is not null;

    -- Rows already in the default partition for this month cannot be moved
    -- (history is append-only), so that month stays in the default partition.
    if exists (
      select 1
      from app_private.ticket_status_history_default
      where changed_at >= month_start and changed_at < month_end
    ) then
      raise notice 'ticket_status_history: rows for % are in the default partition; partition % not created',
        to_char(month_start at time zone 'UTC', 'YYYY-MM'), partition_name;
      continue;
    end if;

    execute format(
      'create table app_private.%I partition of app_public.ticket_status_history for values from (%L) to (%L)',
      partition_name, month_start, month_end
    );
    execute format(
      'comment on table app_private.%I is %L',
      partition_name,
      'Monthly partition of ticket_status_history (' || to_char(month_start at time zone 'UTC', 'YYYY-MM') || ', UTC).'
    );
    perform app_private.protect_status_history_partition(partition_name);
    created := created + 1;
  end loop;

  return created;
end;
$$;

comment on function app_private.create_status_history_partitions_from(date, integer) is
  'Maintenance and bulk loads (run as ticketing_owner): creates the monthly partitions of ticket_status_history from the UTC month of first_month (at most 100 years back, not after the current month) up to months_ahead months after the current UTC month; a month whose rows already sit in the default partition is left there. Returns how many it created. Idempotent.';

revoke all on function app_private.create_status_history_partitions_from(date, integer) from public;

-- The maintenance entry point keeps its signature: the same span, from this month.
create or replace function app_private.create_status_history_partitions(months_ahead integer default 3)
returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
  select app_private.create_status_history_partitions_from((now() at time zone 'UTC')::date, months_ahead);
$$;

comment on function app_private.create_status_history_partitions(integer) is
  'Maintenance (run as ticketing_owner, e.g. monthly from cron): creates the monthly partitions of ticket_status_history from the current UTC month up to months_ahead months ahead; returns how many it created. Idempotent. See create_status_history_partitions_from for earlier months.';
