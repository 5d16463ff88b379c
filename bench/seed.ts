import type pg from "pg";
import { hashPassword } from "../src/auth/passwords.ts";
import { BENCH_PASSWORD, type Scale } from "./scale.ts";

/**
 * A realistic data set, loaded with set-based SQL in a few statements.
 * Triggers are off while loading (session_replication_role = replica, as
 * the superuser), so the rows the triggers would write — status history,
 * SLA due times — are written here directly and consistently: every ticket's
 * newest history row equals its status. Random choices come from a fixed
 * seed, so two runs load the same data.
 *
 * Proportions: priorities low 30% / normal 50% / high 15% / urgent 5%;
 * statuses closed 60% / resolved 15% / in progress 12% / waiting 5% /
 * open 8% (an open backlog a helpdesk would recognise); about 5 history
 * rows and 3 comments per ticket; created over the last 90 days.
 */
export type Progress = (step: string) => void;

const DAYS = 90;

async function createPastPartitions(db: pg.Client): Promise<void> {
  await db.query(`
    do $$
    declare
      month_start timestamptz;
      name text;
    begin
      for i in 0..4 loop
        month_start := date_trunc('month', now() at time zone 'UTC') at time zone 'UTC' - make_interval(months => i);
        name := 'ticket_status_history_p' || to_char(month_start at time zone 'UTC', 'YYYYMM');
        continue when to_regclass('app_private.' || name) is not null;
        execute format('create table app_private.%I partition of app_public.ticket_status_history for values from (%L) to (%L)',
          name, month_start, month_start + interval '1 month');
        perform app_private.protect_status_history_partition(name);
      end loop;
    end $$`);
}

async function seedUsers(db: pg.Client, scale: Scale): Promise<void> {
  const hash = await hashPassword(BENCH_PASSWORD);
  await db.query(
    `insert into app_public.users (display_name, role, created_at, updated_at)
     select 'Agent ' || n, 'agent', now() - interval '1 year', now() - interval '1 year' from generate_series(1, $1::int) as n`,
    [scale.agents],
  );
  await db.query(
    `insert into app_public.users (display_name, role, created_at, updated_at)
     select 'Customer ' || n, 'customer', now() - interval '1 year', now() - interval '1 year' from generate_series(1, $1::int) as n`,
    [scale.customers],
  );
  await db.query(
    `insert into app_private.user_accounts (user_id, email, password_hash)
     select id, lower(replace(display_name, ' ', '')) || '@bench.test', $1 from app_public.users`,
    [hash],
  );
}

async function seedTickets(db: pg.Client, scale: Scale): Promise<void> {
  await db.query("select setseed(0.42)");
  await db.query(
    `create temporary table people as
     select array_agg(id order by display_name) filter (where role = 'agent') as agents,
            array_agg(id order by display_name) filter (where role = 'customer') as customers
       from app_public.users`,
  );
  await db.query(
    `insert into app_public.tickets
       (subject, description, status, priority, customer_id, agent_id, created_at, updated_at,
        first_response_due_at, resolution_due_at, first_responded_at, resolved_at, closed_at)
     select subject, description, status, priority, customer_id,
            case when status = 'open' then null else agent_id end,
            created_at, coalesce(closed_at, resolved_at, first_responded_at, created_at),
            created_at + make_interval(mins => p.first_response_minutes),
            created_at + make_interval(mins => p.resolution_minutes),
            first_responded_at, resolved_at, closed_at
       from (
         select n,
                (array['Printer', 'VPN', 'Invoice', 'Laptop', 'Email', 'Password', 'Export', 'Login'])[1 + n % 8]
                  || ' issue with part ' || 'p' || (n % 5000) as subject,
                'Customer report number ' || n || ': details about the problem and what was tried.' as description,
                s.status, pr.priority,
                (select customers[1 + (n::bigint * 7919) % cardinality(customers)] from people) as customer_id,
                (select agents[1 + (n::bigint * 104729) % cardinality(agents)] from people) as agent_id,
                c.created_at,
                case when s.status <> 'open' then c.created_at + interval '35 minutes' end as first_responded_at,
                case when s.status in ('resolved', 'closed') then c.created_at + interval '6 hours' end as resolved_at,
                case when s.status = 'closed' then c.created_at + interval '30 hours' end as closed_at
           from generate_series(1, $1::int) as n
           -- Referencing n makes the lateral run once per row, not once in all.
           cross join lateral (select random() as r1, random() as r2, random() as r3, n as row_number) as draws
           cross join lateral (
             select case when draws.r1 < 0.60 then 'closed' when draws.r1 < 0.75 then 'resolved'
                         when draws.r1 < 0.87 then 'in_progress' when draws.r1 < 0.92 then 'waiting_on_customer'
                         else 'open' end::app_public.ticket_status as status) as s
           cross join lateral (
             select case when draws.r2 < 0.30 then 'low' when draws.r2 < 0.80 then 'normal'
                         when draws.r2 < 0.95 then 'high' else 'urgent' end::app_public.ticket_priority as priority) as pr
           cross join lateral (
             -- Older tickets are mostly closed: open work is from the last days.
             select now() - make_interval(secs => case when s.status in ('closed', 'resolved')
                                                        then 86400 * 2 + draws.r3 * 86400 * ($2 - 3)
                                                        else draws.r3 * 86400 * 2 end) as created_at) as c
       ) as generated
       join app_public.sla_policies as p using (priority)
      order by created_at`,
    [scale.tickets, DAYS],
  );
}

async function seedHistory(db: pg.Client): Promise<void> {
  // The path to each status: creation, then the moves; resolved and closed
  // tickets went through a round of waiting on the customer.
  await db.query(`
    insert into app_public.ticket_status_history (ticket_id, from_status, to_status, changed_by, changed_at, note)
    select t.id, step.from_status, step.to_status,
           case when step.from_status is null or step.to_status = 'closed' then t.customer_id else t.agent_id end,
           t.created_at + step.offset_time, null
      from app_public.tickets as t
      cross join lateral (
        values
          (1, null::app_public.ticket_status, 'open'::app_public.ticket_status, interval '0'),
          (2, 'open', 'in_progress', interval '30 minutes'),
          (3, 'in_progress', 'waiting_on_customer', interval '1 hour'),
          (4, 'waiting_on_customer', 'in_progress', interval '3 hours'),
          (5, 'in_progress', 'resolved', interval '6 hours'),
          (6, 'resolved', 'closed', interval '30 hours')
      ) as step(position, from_status, to_status, offset_time)
     where step.position <= case t.status when 'open' then 1 when 'in_progress' then 2
                                          when 'waiting_on_customer' then 3 when 'resolved' then 5 else 6 end`);
}

async function seedComments(db: pg.Client): Promise<void> {
  await db.query(`
    insert into app_public.ticket_comments (ticket_id, author_id, body, is_internal, created_at)
    select t.id,
           case when c.kind = 'question' then t.customer_id else t.agent_id end,
           case c.kind when 'question' then 'Any update on ' || t.subject || '?'
                       when 'answer' then 'We are looking at ' || t.subject || ' now.'
                       else 'Internal: checked logs for ticket ' || t.number end,
           c.kind = 'note',
           t.created_at + c.offset_time
      from app_public.tickets as t
      cross join lateral (values ('question', interval '10 minutes'), ('answer', interval '35 minutes'), ('note', interval '40 minutes'))
        as c(kind, offset_time)
     where t.agent_id is not null or c.kind = 'question'`);
}

/** Loads the data set into an empty, migrated database (as a superuser). */
export async function seed(root: pg.Client, scale: Scale, progress: Progress): Promise<void> {
  await root.query("set session_replication_role = replica");
  await root.query("set maintenance_work_mem = '256MB'");
  progress("partitions");
  await createPastPartitions(root);
  progress("users");
  await seedUsers(root, scale);
  progress("tickets");
  await seedTickets(root, scale);
  progress("status history");
  await seedHistory(root);
  progress("comments");
  await seedComments(root);
  await root.query("set session_replication_role = origin");
  progress("vacuum analyze");
  await root.query("vacuum analyze");
}
