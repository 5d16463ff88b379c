import type pg from "pg";
import { hashPassword } from "../src/auth/passwords.ts";
import { PARTITION_MONTHS_AHEAD } from "../src/database/maintenance.ts";
import { BENCH_PASSWORD, type Scale } from "./scale.ts";

/**
 * A realistic data set, loaded with set-based SQL in batches.
 *
 * Tickets are created evenly over the last two years (numbers increase with
 * creation time). A ticket's status follows from its age: the older it is,
 * the likelier it is finished, so the open backlog is recent work (about 4%
 * of all tickets: open, in progress, waiting on the customer) and nearly
 * everything else is closed, the last week's finished work still resolved.
 * Priorities: low 30% / normal 50% / high 15% / urgent 5%. A few customers
 * (companies) raise many tickets, most raise a few; agents share the work
 * evenly. Customers belong to organizations (companies of ten customers,
 * customer k in organization 1 + (k - 1) mod (customers / 10)), so the busiest
 * customers are spread over the organizations; the first customer of each is
 * its manager, the others members who share no sight; every ticket is filed
 * for its customer's organization.
 *
 * Each batch inserts its tickets and, in the same statement, what the
 * lifecycle would have written for them: the status history along the path
 * to the current status (creation, start of work, a round of waiting on the
 * customer, resolution, closing — about 5 rows for a closed ticket), the
 * assignment of the agent, and the conversation (the customer's question,
 * the agent's answer, an internal note; one ticket in three has two
 * verified attachments on the customer's question). Event times are spread over the
 * ticket's life and never lie in the future; the newest history row always
 * equals the status.
 *
 * The row triggers are skipped while loading (session_replication_role =
 * replica, this session only), because they would write those rows again
 * one at a time, plus an audit entry and a notification per row. Nothing
 * else is bypassed: policies, grants and constraints stay as they are, and
 * the data is what the triggers would have produced, minus the audit log
 * (an import is not a user's action). Random choices come from a fixed
 * seed, so two loads are alike.
 */
import type { ProgressReporter as Progress } from "./progress.ts";

export type { Progress };

/** Bumped whenever the generated data changes: a database seeded by another version is seeded again. */
export const SEED_VERSION = 4;

/** Months of history: tickets are created evenly over this span, up to now. */
export const DEFAULT_MONTHS = 24;
const BATCH = 50_000;

/**
 * Monthly history partitions: every month of the span back, the current
 * month and three ahead (as maintenance keeps them). They must exist before
 * the first row is loaded, or old rows land in the default partition, where
 * they stay (history is append-only).
 */
async function createPartitions(db: pg.Client, reference: Date, months: number): Promise<void> {
  await db.query(
    `select app_private.create_status_history_partitions_from(
              (($1::timestamptz - make_interval(months => $2::int + 1)) at time zone 'UTC')::date, $3)`,
    [reference, months, PARTITION_MONTHS_AHEAD],
  );
}

async function seedUsers(db: pg.Client, scale: Scale, reference: Date, months: number): Promise<void> {
  // One argon2 hash for everybody: hashing is the slow part of creating a user.
  const hash = await hashPassword(BENCH_PASSWORD);
  for (const [role, count] of [
    ["agent", scale.agents],
    ["customer", scale.customers],
  ] as const) {
    // Emails: customer1@bench.test, agent1@bench.test, ... (see scale.ts).
    await db.query(
      `with made as (
         insert into app_public.users (display_name, role, created_at, updated_at)
         select initcap($1) || ' ' || n, $1::app_public.user_role, $4::timestamptz - make_interval(months => $5::int + 12),
                $4::timestamptz - make_interval(months => $5::int + 12)
           from generate_series(1, $2::int) as n
         returning id, display_name, created_at)
       insert into app_private.user_accounts (user_id, email, password_hash, created_at, updated_at)
       select id, lower(replace(display_name, ' ', '')) || '@bench.test', $3, created_at, created_at from made`,
      [role, count, hash, reference, months],
    );
  }
  // Ordinals, so a batch picks its people with a join rather than an array lookup per row.
  await db.query(
    `create temporary table bench_people on commit preserve rows as
     select role, row_number() over (partition by role order by created_at, id)::int as k, id
       from app_public.users`,
  );
  await db.query("create index on bench_people (role, k)");
  await db.query("analyze bench_people");
  // Organizations of ten customers; customer k belongs to organization 1 + (k - 1) mod count.
  const organizations = Math.max(1, Math.floor(scale.customers / 10));
  await db.query(
    `insert into app_public.organizations (name, domains, created_at, updated_at)
     select 'Company ' || n, array['company' || n || '.bench.test'], $2::timestamptz - make_interval(months => $3::int + 12),
            $2::timestamptz - make_interval(months => $3::int + 12)
       from generate_series(1, $1::int) as n`,
    [organizations, reference, months],
  );
  await db.query(
    `create temporary table bench_organizations on commit preserve rows as
     select row_number() over (order by created_at, name collate "C", id)::int as k, id from app_public.organizations`,
  );
  await db.query(
    `insert into app_public.organization_memberships (organization_id, user_id, role, sees_organization_tickets, created_at, updated_at)
     select o.id, p.id, case when p.k <= $1::int then 'manager' else 'member' end::app_public.organization_role, false,
            $2::timestamptz - make_interval(months => $3::int + 12), $2::timestamptz - make_interval(months => $3::int + 12)
       from bench_people as p
       join bench_organizations as o on o.k = 1 + (p.k - 1) % $1::int
      where p.role = 'customer'`,
    [organizations, reference, months],
  );
  await db.query(
    `create temporary table bench_customer_organizations on commit preserve rows as
     select p.id as customer_id, o.id as organization_id
       from bench_people as p join bench_organizations as o on o.k = 1 + (p.k - 1) % $1::int
      where p.role = 'customer'`,
    [organizations],
  );
  await db.query("alter table bench_customer_organizations add primary key (customer_id)");
  await db.query("analyze bench_customer_organizations");
}

/**
 * One batch: tickets number `from`..`to` of `total`, with their histories and
 * comments. $1 from, $2 to, $3 total, $4 reference time ("now" for the whole
 * load), $5 seconds covered, $6 customers, $7 agents.
 */
function batchSql(idExpression: (createdAt: string) => string): string {
  return `
with draws as (
  select n, random() as jitter, random() as r_status, random() as r_kind, random() as r_priority,
         random() as r_customer, random() as r_agent, random() as r_text
    from generate_series($1::int, $2::int) as n
),
timed as (
  select d.*,
         $4::timestamptz - make_interval(secs => $5::float8 * (1 - (n - 1 + jitter) / $3::float8)) - interval '1 minute' as created_at
    from draws as d
),
staged as (
  select t.*,
         extract(epoch from $4::timestamptz - t.created_at) / 86400 as age_days
    from timed as t
),
decided as (
  select s.*,
         case
           when s.r_status < 0.9 * exp(-s.age_days / 30) then
             case when s.r_kind < 0.4 then 'open' when s.r_kind < 0.8 then 'in_progress' else 'waiting_on_customer' end
           when s.age_days < 7 then 'resolved'
           else 'closed'
         end::app_public.ticket_status as status,
         case when s.r_priority < 0.30 then 'low' when s.r_priority < 0.80 then 'normal'
              when s.r_priority < 0.95 then 'high' else 'urgent' end::app_public.ticket_priority as priority
    from staged as s
),
shaped as (
  select d.*,
         -- The life of a ticket up to now, in seconds, when nothing is squeezed:
         -- the last event of its path (see the offsets below).
         (case d.status when 'open' then 600 when 'in_progress' then 2400 when 'waiting_on_customer' then 3600
                        when 'resolved' then 21600 else 108000 end)::float8 as life,
         c.id as customer_id,
         case when d.status <> 'open' then a.id end as agent_id,
         (array['Printer', 'VPN', 'Invoice', 'Laptop', 'Email', 'Password', 'Export', 'Login', 'Monitor', 'Billing'])[1 + d.n % 10] as topic
    from decided as d
    join bench_people as c on c.role = 'customer' and c.k = 1 + floor($6::int * power(d.r_customer, 1.5))::int
    join bench_people as a on a.role = 'agent' and a.k = 1 + floor($7::int * d.r_agent)::int
),
paced as (
  -- Recent tickets lived less than their full path: squeeze every offset so
  -- no event lies after the reference time.
  select s.*, least(1, extract(epoch from $4::timestamptz - s.created_at) * 0.9 / s.life) as pace
    from shaped as s
),
dated as (
  select p.*,
         case when p.status <> 'open' then p.created_at + make_interval(secs => 2100 * p.pace) end as first_responded_at,
         case when p.status in ('resolved', 'closed') then p.created_at + make_interval(secs => 21600 * p.pace) end as resolved_at,
         case when p.status = 'closed' then p.created_at + make_interval(secs => 108000 * p.pace) end as closed_at,
         p.created_at + make_interval(secs => p.pace * (case p.status when 'open' then 0 when 'in_progress' then 2100
           when 'waiting_on_customer' then 3600 when 'resolved' then 21600 else 108000 end)) as updated_at
    from paced as p
),
tickets as (
  insert into app_public.tickets
    (id, subject, description, status, priority, customer_id, agent_id, organization_id, created_at, updated_at,
     first_response_due_at, resolution_due_at, first_responded_at, resolved_at, closed_at)
  select ${idExpression("a.created_at")},
         a.topic || ' issue with part p' || (a.n % 5000),
         (array['Since this morning ', 'After the last update ', 'Every time I try, ', 'For the whole team, '])[1 + (a.n / 10) % 4]
           || lower(a.topic) || ' fails with error E' || (a.n % 977) || '. '
           || (array['Restarting did not help.', 'It worked last week.', 'Colleagues see it too.', 'Screenshots attached.',
                     'Please call me back.', 'We are blocked until this is fixed.'])[1 + floor(a.r_text * 6)::int],
         a.status, a.priority, a.customer_id, a.agent_id, co.organization_id, a.created_at, a.updated_at,
         a.created_at + make_interval(mins => sla.first_response_minutes),
         a.created_at + make_interval(mins => sla.resolution_minutes),
         a.first_responded_at, a.resolved_at, a.closed_at
    from dated as a
    join app_public.sla_policies as sla using (priority)
    join bench_customer_organizations as co on co.customer_id = a.customer_id
   order by a.n
  returning id, number, subject, status, customer_id, agent_id, created_at
),
lived as (
  select t.*,
         least(1, extract(epoch from $4::timestamptz - t.created_at) * 0.9 /
           (case t.status when 'open' then 600 when 'in_progress' then 2400 when 'waiting_on_customer' then 3600
                          when 'resolved' then 21600 else 108000 end)) as pace
    from tickets as t
),
history as (
  insert into app_public.ticket_status_history (id, ticket_id, from_status, to_status, changed_by, changed_at, note)
  select ${idExpression("l.created_at + make_interval(secs => step.offset_seconds * l.pace)")},
         l.id, step.from_status, step.to_status,
         case when step.position in (1, 4, 6) then l.customer_id else l.agent_id end,
         l.created_at + make_interval(secs => step.offset_seconds * l.pace),
         case when step.position = 4 then 'Customer replied' end
    from lived as l
    cross join lateral (
      values
        (1, null::app_public.ticket_status, 'open'::app_public.ticket_status, 0),
        (2, 'open', 'in_progress', 1800),
        (3, 'in_progress', 'waiting_on_customer', 3600),
        (4, 'waiting_on_customer', 'in_progress', 10800),
        (5, 'in_progress', 'resolved', 21600),
        (6, 'resolved', 'closed', 108000)
    ) as step(position, from_status, to_status, offset_seconds)
   where step.position <= case l.status when 'open' then 1 when 'in_progress' then 2
                                        when 'waiting_on_customer' then 3 when 'resolved' then 5 else 6 end
  returning 1
),
assignments as (
  insert into app_public.ticket_assignment_history (id, ticket_id, from_agent_id, to_agent_id, changed_by, changed_at)
  select ${idExpression("l.created_at + make_interval(secs => 1800 * l.pace)")},
         l.id, null, l.agent_id, l.agent_id, l.created_at + make_interval(secs => 1800 * l.pace)
    from lived as l
   where l.agent_id is not null
  returning 1
),
comments as (
  insert into app_public.ticket_comments (id, ticket_id, author_id, body, is_internal, created_at)
  select ${idExpression("l.created_at + make_interval(secs => c.offset_seconds * l.pace)")},
         l.id,
         case when c.kind = 'question' then l.customer_id else l.agent_id end,
         case c.kind when 'question' then 'Any update on ' || l.subject || '?'
                     when 'answer' then 'We are looking at ' || l.subject || ' now.'
                     else 'Internal: checked the logs for ticket ' || l.number || '.' end,
         c.kind = 'note',
         l.created_at + make_interval(secs => c.offset_seconds * l.pace)
    from lived as l
    cross join lateral (values ('question', 300), ('answer', 2100), ('note', 2400)) as c(kind, offset_seconds)
   where l.agent_id is not null or c.kind = 'question'
  returning id, ticket_id, author_id, is_internal, created_at
),
attachments as (
  -- One ticket in three: the customer's question brings a screenshot and a
  -- log file, uploaded and verified with the comment.
  insert into app_public.attachments
    (id, ticket_id, comment_id, uploader_id, file_name, content_type, size, sha256, state, created_at, completed_at)
  select ${idExpression("c.created_at")},
         c.ticket_id, c.id, c.author_id, f.file_name || l.number || f.extension, f.content_type,
         f.base_size + l.number % 9973,
         encode(sha256(convert_to(c.id::text || f.extension, 'UTF8')), 'hex'),
         'ready', c.created_at, c.created_at
    from comments as c
    join lived as l on l.id = c.ticket_id
    cross join lateral (values ('screenshot-', '.png', 'image/png', 180000),
                               ('error-log-', '.txt', 'text/plain', 4000)) as f(file_name, extension, content_type, base_size)
   where c.author_id = l.customer_id and l.number % 3 = 0
  returning 1
)
select (select count(*) from tickets)::int as tickets,
       (select count(*) from history)::int as history,
       (select count(*) from assignments)::int as assignments,
       (select count(*) from comments)::int as comments,
       (select count(*) from attachments)::int as attachments`;
}

async function seedTickets(
  db: pg.Client,
  scale: Scale,
  reference: Date,
  months: number,
  progress: Progress,
): Promise<void> {
  await db.query("select setseed(0.42)");
  // PostgreSQL 18 makes version-7 UUIDs for any time: ids then follow the
  // back-dated creation times, as they would have when the rows were made.
  const { rows } = await db.query("select current_setting('server_version_num')::int >= 180000 as native");
  const idExpression = rows[0].native
    ? (createdAt: string) => `uuidv7(${createdAt} - $4::timestamptz)`
    : () => "app_private.uuid_generate_v7()";
  const sql = batchSql(idExpression);
  const seconds = (months / 12) * 365 * 86400;
  progress("tickets", 0, scale.tickets);
  for (let from = 1; from <= scale.tickets; from += BATCH) {
    const to = Math.min(scale.tickets, from + BATCH - 1);
    await db.query(sql, [from, to, scale.tickets, reference, seconds, scale.customers, scale.agents]);
    progress("tickets", to, scale.tickets);
  }
}

/** A secondary index set aside while loading: its definition and its comment. */
interface SetAsideIndex {
  name: string;
  definition: string;
  comment: string | null;
}

/** The tables a batch writes. */
const LOADED_TABLES = [
  "tickets",
  "ticket_status_history",
  "ticket_assignment_history",
  "ticket_comments",
  "attachments",
];

/**
 * Drops the plain secondary indexes of the loaded tables (not primary keys,
 * unique or exclusion indexes, which constraints own and the load may rely
 * on) and returns how to build them again. Maintained row by row, the 23
 * indexes made each batch slower as the tables grew (11 s a batch of 50 000
 * at 1 M tickets, 20-27 s at 10 M); built once at the end, sorted, the 1 M
 * load takes 2.5 minutes instead of 9 (docs/performance.md, "The data set").
 */
async function setIndexesAside(db: pg.Client): Promise<SetAsideIndex[]> {
  const { rows } = await db.query<SetAsideIndex>(
    // A partitioned table's index reads "ON ONLY" (the parent alone); built
    // again as "ON", it is built on every partition too.
    `select format('%I.%I', n.nspname, ix.relname) as name,
            regexp_replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ') as definition,
            obj_description(i.indexrelid, 'pg_class') as comment
       from pg_catalog.pg_index as i
       join pg_catalog.pg_class as ix on ix.oid = i.indexrelid
       join pg_catalog.pg_class as t on t.oid = i.indrelid
       join pg_catalog.pg_namespace as n on n.oid = ix.relnamespace
      where t.relnamespace = 'app_public'::regnamespace and t.relname = any ($1) and not t.relispartition
        and not i.indisprimary and not i.indisunique and not i.indisexclusion
        and not exists (select 1 from pg_catalog.pg_constraint as c where c.conindid = i.indexrelid)
      order by ix.relname`,
    [LOADED_TABLES],
  );
  for (const index of rows) await db.query(`drop index ${index.name}`);
  return rows;
}

async function buildIndexes(db: pg.Client, indexes: SetAsideIndex[], progress: Progress): Promise<void> {
  for (const [position, index] of indexes.entries()) {
    progress("indexes", position, indexes.length);
    await db.query(index.definition);
    if (index.comment !== null) await db.query(`comment on index ${index.name} is ${db.escapeLiteral(index.comment)}`);
  }
  progress("indexes", indexes.length, indexes.length);
}

/** Marks the database as seeded (a comment on the database), so the next run can reuse it. */
export interface SeedMarker {
  version: number;
  tickets: number;
  customers: number;
  agents: number;
  seededAt: string;
}

export async function readSeedMarker(db: pg.Client): Promise<SeedMarker | undefined> {
  const { rows } = await db.query(
    "select shobj_description(oid, 'pg_database') as text from pg_database where datname = current_database()",
  );
  try {
    const marker = JSON.parse(rows[0]?.text ?? "") as { benchSeed?: SeedMarker };
    return marker.benchSeed;
  } catch {
    return undefined;
  }
}

async function writeSeedMarker(db: pg.Client, scale: Scale): Promise<void> {
  const marker: SeedMarker = { version: SEED_VERSION, ...scale, seededAt: new Date().toISOString() };
  const { rows } = await db.query("select current_database() as name");
  await db.query(
    `comment on database ${db.escapeIdentifier(rows[0].name)} is ${db.escapeLiteral(JSON.stringify({ benchSeed: marker }))}`,
  );
}

/**
 * Loads the data set into an empty, migrated database (as a superuser), then
 * marks it as seeded. `months` shortens the span for tiny test loads.
 */
export async function seed(root: pg.Client, scale: Scale, progress: Progress, months = DEFAULT_MONTHS): Promise<void> {
  const reference = new Date();
  await root.query("set session_replication_role = replica");
  await root.query("set synchronous_commit = off");
  await root.query("set maintenance_work_mem = '512MB'");
  await root.query("set work_mem = '256MB'");
  progress("history partitions");
  await createPartitions(root, reference, months);
  progress("users");
  await seedUsers(root, scale, reference, months);
  const indexes = await setIndexesAside(root);
  await seedTickets(root, scale, reference, months, progress);
  await buildIndexes(root, indexes, progress);
  // What the comments' search trigger would have written, in one statement.
  progress("searchable comments");
  await root.query("select app_private.rebuild_searchable_comments()");
  await root.query("set session_replication_role = origin");
  progress("vacuum analyze");
  await root.query("vacuum analyze");
  await writeSeedMarker(root, scale);
}
