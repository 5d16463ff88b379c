--! Previous: sha1:4d051ddfad8d1ed1096c4033119e588ecfe01051
--! Hash: sha1:7bb219d098b356d91320245d0ab0bc62e6938738
--! Message: Business-time questions through the API are bounded: businessMinutesBetween over at most 10 years; the SLA's own questions unbounded

--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). `npm run db:dev --
-- watch` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.

--! split: 200-business-time-questions-bounded.sql
-- Business-time questions asked through the API are bounded.
--
-- businessMinutesBetween answers from the materialized business time inside
-- its horizon, and computes on the fly outside it, day by day: about 10 ms
-- of CPU a year of span. Any signed-in user could ask for two centuries (2 s)
-- or two millennia (until the 8 s statement timeout cut it), request after
-- request. app_public.business_minutes_between now refuses a span of more
-- than 10 years (INVALID_INPUT, about 100 ms at most). The SLA's own
-- questions are not the caller's and must never fail on old or far data (a
-- ticket imported from 2010, a due time years ahead on a sparse calendar):
-- record_sla_events, sla_elapsed_minutes and the two at-risk fields ask
-- app_private.business_minutes_between, the unbounded answer the public
-- function gave until now.
--
-- addBusinessMinutes computed its first window from the minutes asked:
-- a billion minutes made one call of business_spans over 95 years (2.1 s).
-- The first window is now at most 400 days like the others; the walk still
-- ends at 50 years, or at the calendar's closure (000041), and results are
-- those of the same walk in smaller steps.

create or replace function app_private.business_minutes_between(calendar_id uuid, from_at timestamptz, to_at timestamptz)
returns numeric
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  seconds_from numeric := app_private.business_seconds_at(calendar_id, from_at);
  seconds_to numeric := app_private.business_seconds_at(calendar_id, to_at);
begin
  if seconds_from is not null and seconds_to is not null then
    -- Inside the materialized horizon: two index probes.
    return trim_scale((seconds_to - seconds_from) / 60);
  end if;
  return app_private.business_minutes_computed(calendar_id, from_at, to_at);
end;
$$;

comment on function app_private.business_minutes_between(uuid, timestamptz, timestamptz) is
  'business_minutes_between without a bound on the span: for the SLA''s own computations (due times, elapsed time, at-risk flags), never for a caller''s question.';

revoke all on function app_private.business_minutes_between(uuid, timestamptz, timestamptz) from public;
grant execute on function app_private.business_minutes_between(uuid, timestamptz, timestamptz)
  to ticketing_customer, ticketing_agent, ticketing_admin;

create or replace function app_public.business_minutes_between(calendar_id uuid, from_at timestamptz, to_at timestamptz)
returns numeric
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if greatest(from_at, to_at) > least(from_at, to_at) + interval '10 years' then
    raise exception using errcode = 'TKVAL', message = 'Business minutes are counted over at most 10 years';
  end if;
  return app_private.business_minutes_between(calendar_id, from_at, to_at);
end;
$$;

comment on function app_public.business_minutes_between(uuid, timestamptz, timestamptz) is
  'Business minutes of a calendar between two instants (exact, fractions for seconds; negative when toAt is before fromAt): the open time by the calendar''s local opening hours, minus holidays, across midnight, time zone changes and calendar versions. Errors: INVALID_INPUT (the instants more than 10 years apart).';

-- The SLA's own callers: the unbounded answer, as before.
CREATE OR REPLACE FUNCTION app_private.record_sla_events(ticket_ids uuid[] DEFAULT NULL::uuid[])
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
declare
  recorded integer;
begin
  if ticket_ids is null then
    -- The job also keeps the materialized business time ahead of the clock.
    perform app_private.extend_business_time();
  end if;
  -- The given tickets, or (the job) every unfinished ticket whose at-risk
  -- instant has passed (overdue ones too: it is never after the due time).
  insert into app_public.sla_events (ticket_id, clock, kind, due_at, priority, agent_id, calendar_id, organization_id)
  select t.id, c.clock, k.kind, c.due_at, t.priority, t.agent_id, p.calendar_id, t.organization_id
  from (
    -- The given tickets by their key (a status change: one), or the job's
    -- scan of the at-risk index; a branch whose condition on ticket_ids is
    -- false is never run, whatever plan is cached.
    select tk.* from app_public.tickets as tk where tk.id = any (ticket_ids)
    union all
    select tk.* from app_public.tickets as tk
    where ticket_ids is null
      and tk.status in ('open', 'in_progress', 'waiting_on_customer')
      and least(tk.first_response_at_risk_at, tk.resolution_at_risk_at) <= now()
  ) as t
  cross join lateral app_private.sla_policy_for(t.organization_id, t.priority) as p
  cross join lateral (
    values
      ('first_response'::app_public.sla_clock, t.first_response_due_at,
        coalesce(t.first_responded_at, t.resolved_at, t.closed_at), p.first_response_minutes, t.first_response_at_risk_at),
      ('resolution'::app_public.sla_clock, t.resolution_due_at,
        coalesce(t.resolved_at, t.closed_at), p.resolution_minutes, t.resolution_at_risk_at)
  ) as c (clock, due_at, done_at, target, at_risk_at)
  cross join lateral (
    select case
      when c.due_at is null then null
      when c.done_at is not null and not app_private.sla_breached(c.due_at, c.done_at) then 'met'
      when app_private.sla_breached(c.due_at, coalesce(c.done_at, now())) then 'breached'
      when c.done_at is null and c.at_risk_at <= now()
        and app_private.business_minutes_between(p.calendar_id, now(), c.due_at) * 4 <= c.target then 'at_risk'
    end::app_public.sla_event_kind as kind
  ) as k
  where k.kind is not null
  on conflict on constraint sla_events_once do nothing;
  get diagnostics recorded = row_count;
  return recorded;
end;
$function$;

CREATE OR REPLACE FUNCTION app_private.sla_elapsed_minutes(calendar_id uuid, active tstzmultirange, until_at timestamp with time zone)
 RETURNS numeric
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT COALESCE(sum(app_private.business_minutes_between(sla_elapsed_minutes.calendar_id, lower(r.r), LEAST(upper(r.r), sla_elapsed_minutes.until_at))), (0)::numeric) AS "coalesce"
    FROM unnest(sla_elapsed_minutes.active) r(r)
   WHERE (lower(r.r) < sla_elapsed_minutes.until_at);
END;

CREATE OR REPLACE FUNCTION app_public.tickets_first_response_at_risk(t app_public.tickets)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (((t).first_response_due_at IS NOT NULL) AND ((t).first_responded_at IS NULL) AND ((t).status <> ALL (ARRAY['resolved'::app_public.ticket_status, 'closed'::app_public.ticket_status])) AND (now() <= (t).first_response_due_at) AND ( SELECT ((app_private.business_minutes_between(p.calendar_id, now(), (tickets_first_response_at_risk.t).first_response_due_at) * (4)::numeric) <= (p.first_response_minutes)::numeric)
            FROM app_private.ticket_sla_policy((tickets_first_response_at_risk.t).organization_id, (tickets_first_response_at_risk.t).priority) p(priority, first_response_minutes, resolution_minutes, calendar_id)));
END;

CREATE OR REPLACE FUNCTION app_public.tickets_resolution_at_risk(t app_public.tickets)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
BEGIN ATOMIC
 SELECT (((t).resolution_due_at IS NOT NULL) AND ((t).status <> ALL (ARRAY['resolved'::app_public.ticket_status, 'closed'::app_public.ticket_status])) AND (now() <= (t).resolution_due_at) AND ( SELECT ((app_private.business_minutes_between(p.calendar_id, now(), (tickets_resolution_at_risk.t).resolution_due_at) * (4)::numeric) <= (p.resolution_minutes)::numeric)
            FROM app_private.ticket_sla_policy((tickets_resolution_at_risk.t).organization_id, (tickets_resolution_at_risk.t).priority) p(priority, first_response_minutes, resolution_minutes, calendar_id)));
END;

create or replace function app_private.add_business_minutes_computed(calendar_id uuid, from_at timestamptz, minutes numeric)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  remaining numeric := minutes * 60;
  window_start timestamptz := from_at;
  -- A first window long enough for a working week of 40 hours in 168.
  -- At most 400 days, like the later windows: one call of business_spans never
  -- covers decades, whatever the minutes asked for.
  window_length interval := least(greatest(interval '7 days', make_interval(mins => least(minutes, 10000000)::integer * 5)), interval '400 days');
  -- A calendar open less than the target within 50 years never reaches it (null).
  walk_until timestamptz := from_at + interval '50 years';
  latest_from date;
  latest_open boolean;
  span tstzrange;
  span_seconds numeric;
begin
  if calendar_id is null or from_at is null or minutes is null then
    return null;
  end if;
  if minutes < 0 then
    raise exception using errcode = 'TKVAL', message = 'minutes must not be negative';
  end if;
  if remaining = 0 then
    return from_at;
  end if;

  -- The latest version decides whether the calendar is ever open again.
  select v.effective_from, exists (select 1 from app_public.business_calendar_hours as h where h.version_id = v.id)
  into latest_from, latest_open
  from app_public.business_calendar_versions as v
  where v.calendar_id = add_business_minutes_computed.calendar_id
  order by v.effective_from desc
  limit 1;
  if not found then
    return null;
  end if;
  if not latest_open then
    select least(walk_until, (latest_from + 2)::timestamp at time zone c.time_zone)
    into walk_until
    from app_public.business_calendars as c
    where c.id = add_business_minutes_computed.calendar_id;
  end if;

  -- Widening windows until the limit (a closed calendar has no spans past it).
  while window_start < walk_until loop
    for span in
      select r from unnest(app_private.business_spans(calendar_id, window_start, window_start + window_length)) as r order by lower(r)
    loop
      span_seconds := extract(epoch from upper(span) - lower(span));
      if span_seconds >= remaining then
        return lower(span) + make_interval(secs => remaining);
      end if;
      remaining := remaining - span_seconds;
    end loop;
    window_start := window_start + window_length;
    window_length := least(greatest(window_length * 2, interval '14 days'), interval '400 days');
  end loop;
  return null;
end;
$$;
