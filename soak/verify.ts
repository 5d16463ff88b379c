import pg from "pg";
import type { UnexpectedExit } from "./api-process.ts";
import type { FaultWindow } from "./faults.ts";
import type { Journal } from "./journal.ts";
import { MALFORMED_PREFIX } from "./malformed.ts";
import type { Sample } from "./traffic.ts";

/**
 * After the run: what the users were told against what the database holds,
 * and how the API behaved outside the fault windows. Every check yields a
 * pass/fail with counts and, on failure, a few examples.
 */
export interface Check {
  name: string;
  passed: boolean;
  checked: number;
  failures: number;
  examples: unknown[];
}

/** 5xx and connection failures are tolerated inside a fault window and this long after it. */
export const GRACE_MS = 2_000;

function check(name: string, checked: number, failed: unknown[]): Check {
  return { name, passed: failed.length === 0, checked, failures: failed.length, examples: failed.slice(0, 5) };
}

async function ids(client: pg.Client, sql: string, values: unknown[]): Promise<Set<string>> {
  const { rows } = await client.query<{ key: string }>(sql, values);
  return new Set(rows.map((row) => row.key));
}

export async function verifyDatabase(databaseUrl: string, journal: Journal): Promise<Check[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const checks: Check[] = [];

    const registrations = journal.ofKind("register");
    const users = await ids(
      client,
      `select u.id || '|' || a.email::text as key from app_public.users u join app_private.user_accounts a on a.user_id = u.id
       where u.id = any($1::uuid[])`,
      [registrations.map((entry) => entry.userId)],
    );
    checks.push(
      check(
        "acknowledged registrations exist",
        registrations.length,
        registrations.filter((entry) => !users.has(`${entry.userId}|${entry.email}`)),
      ),
    );

    const tickets = journal.ofKind("ticket");
    const ticketRows = await ids(
      client,
      "select id || '|' || customer_id || '|' || subject as key from app_public.tickets where id = any($1::uuid[])",
      [tickets.map((entry) => entry.ticketId)],
    );
    checks.push(
      check(
        "acknowledged tickets exist",
        tickets.length,
        tickets.filter((entry) => !ticketRows.has(`${entry.ticketId}|${entry.customerId}|${entry.subject}`)),
      ),
    );

    const comments = journal.ofKind("comment");
    const commentRows = await ids(
      client,
      `select id || '|' || ticket_id || '|' || author_id || '|' || is_internal || '|' || body as key
       from app_public.ticket_comments where id = any($1::uuid[])`,
      [comments.map((entry) => entry.commentId)],
    );
    checks.push(
      check(
        "acknowledged comments exist",
        comments.length,
        comments.filter(
          (entry) =>
            !commentRows.has(
              `${entry.commentId}|${entry.ticketId}|${entry.authorId}|${entry.isInternal}|${entry.body}`,
            ),
        ),
      ),
    );

    const transitions = journal.ofKind("transition");
    const historyRows = await ids(
      client,
      `select ticket_id || '|' || to_status || '|' || changed_by || '|' || note as key
       from app_public.ticket_status_history where note = any($1::text[])`,
      [transitions.map((entry) => entry.note)],
    );
    checks.push(
      check(
        "acknowledged transitions are status history rows",
        transitions.length,
        transitions.filter(
          (entry) => !historyRows.has(`${entry.ticketId}|${entry.toStatus}|${entry.actorId}|${entry.note}`),
        ),
      ),
    );

    const takes = journal.ofKind("take");
    const assigns = journal.ofKind("assign");
    const assignmentRows = await ids(
      client,
      `select ticket_id || '|' || coalesce(from_agent_id::text, '-') || '|' || to_agent_id || '|' || changed_by as key
       from app_public.ticket_assignment_history where ticket_id = any($1::uuid[])`,
      [[...takes, ...assigns].map((entry) => entry.ticketId)],
    );
    checks.push(
      check(
        "acknowledged take_next claims are assignment history rows",
        takes.length,
        takes.filter((entry) => !assignmentRows.has(`${entry.ticketId}|-|${entry.agentId}|${entry.agentId}`)),
      ),
    );
    // assign_ticket to the agent a ticket already has is a no-op: then an earlier row (by anyone) shows the agent.
    const assignedTo = new Set(
      [...assignmentRows].map((key) => key.split("|")).map(([ticket, , to]) => `${ticket}|${to}`),
    );
    checks.push(
      check(
        "acknowledged assignments are assignment history rows",
        assigns.length,
        assigns.filter((entry) => !assignedTo.has(`${entry.ticketId}|${entry.agentId}`)),
      ),
    );

    const claimedBy = new Map<string, string>();
    const doubleClaims: unknown[] = [];
    for (const take of takes) {
      const earlier = claimedBy.get(take.ticketId);
      if (earlier !== undefined) doubleClaims.push({ ticketId: take.ticketId, agents: [earlier, take.agentId] });
      else claimedBy.set(take.ticketId, take.agentId);
    }
    checks.push(check("no ticket acknowledged to two agents by take_next", takes.length, doubleClaims));

    const { rows: statusRows } = await client.query<{
      id: string;
      status: string;
      newest: string | null;
      total: number;
    }>(
      `select t.id, t.status::text as status, h.to_status::text as newest, count(*) over ()::int as total
       from app_public.tickets t
       left join lateral (
         select to_status from app_public.ticket_status_history h
         where h.ticket_id = t.id order by h.changed_at desc, h.id desc limit 1
       ) h on true`,
    );
    checks.push(
      check(
        "newest status history row equals the ticket's status (all tickets)",
        statusRows[0]?.total ?? 0,
        statusRows.filter((row) => row.newest !== row.status),
      ),
    );

    const audited = await ids(
      client,
      `select table_name || '|' || operation || '|' || record_id as key from app_private.audit_log
       where operation = 'INSERT' and record_id = any($1::uuid[])`,
      [
        [
          ...tickets.map((entry) => entry.ticketId),
          ...comments.map((entry) => entry.commentId),
          ...registrations.map((entry) => entry.userId),
        ],
      ],
    );
    const auditMissing = [
      ...tickets
        .filter((entry) => !audited.has(`app_public.tickets|INSERT|${entry.ticketId}`))
        .map((entry) => ({ ticket: entry.ticketId })),
      ...comments
        .filter((entry) => !audited.has(`app_public.ticket_comments|INSERT|${entry.commentId}`))
        .map((entry) => ({ comment: entry.commentId })),
      ...registrations
        .filter((entry) => !audited.has(`app_public.users|INSERT|${entry.userId}`))
        .map((entry) => ({ user: entry.userId })),
    ];
    checks.push(
      check(
        "audit log has the insert of every acknowledged ticket, comment and registration",
        tickets.length + comments.length + registrations.length,
        auditMissing,
      ),
    );

    const statusUpdates = await ids(
      client,
      `select record_id || '|' || (new_data ->> 'status') || '|' || actor_id as key from app_private.audit_log
       where table_name = 'app_public.tickets' and operation = 'UPDATE' and record_id = any($1::uuid[])
         and old_data ->> 'status' is distinct from new_data ->> 'status'`,
      [transitions.map((entry) => entry.ticketId)],
    );
    checks.push(
      check(
        "audit log has a status update by the actor for every acknowledged transition",
        transitions.length,
        transitions.filter((entry) => !statusUpdates.has(`${entry.ticketId}|${entry.toStatus}|${entry.actorId}`)),
      ),
    );

    return checks;
  } finally {
    await client.end();
  }
}

function inWindow(sample: Sample, windows: readonly FaultWindow[], grace: number): boolean {
  return windows.some((window) => {
    const end = (window.recoveredAt ?? Number.POSITIVE_INFINITY) + grace;
    return sample.end >= window.start && sample.start <= end;
  });
}

export function verifyTraffic(
  samples: readonly Sample[],
  windows: readonly FaultWindow[],
  exits: readonly UnexpectedExit[],
  recoveryLimitMs: number,
): Check[] {
  const failing = (sample: Sample) =>
    sample.outcome === "server_error" ||
    sample.outcome === "unavailable" ||
    sample.outcome === "network" ||
    sample.status >= 500;
  const outside = samples.filter((sample) => failing(sample) && !inWindow(sample, windows, GRACE_MS));
  const internal = samples.filter(
    (sample) => sample.code === "INTERNAL_SERVER_ERROR" || (sample.code === "UNKNOWN" && sample.status === 200),
  );
  const unavailableStatus = samples.filter((sample) => sample.code === "SERVICE_UNAVAILABLE" && sample.status !== 503);
  const malformed = samples.filter((sample) => sample.op.startsWith(MALFORMED_PREFIX));
  const badMalformed = malformed.filter(
    (sample) =>
      !(sample.status >= 400 && sample.status < 500) &&
      !(sample.outcome === "network" && inWindow(sample, windows, GRACE_MS)),
  );
  const bugs = samples.filter((sample) => sample.op.startsWith("actor-bug:"));
  return [
    check(`no 5xx or failed connection outside fault windows (+${GRACE_MS} ms grace)`, samples.length, outside),
    check("no INTERNAL_SERVER_ERROR anywhere (database outages are SERVICE_UNAVAILABLE)", samples.length, internal),
    check("SERVICE_UNAVAILABLE is always HTTP 503", samples.length, unavailableStatus),
    check("malformed and oversized requests are 4xx", malformed.length, badMalformed),
    check(
      "API recovered by itself after every fault",
      windows.length,
      windows.filter((window) => window.recoveredAt === undefined || (window.recoveryMs ?? 0) > recoveryLimitMs),
    ),
    check("API process never exited unless killed by the soak", exits.length, [...exits]),
    check("simulation ran without bugs", samples.length, bugs),
    check(
      "the simulated users' operations are valid GraphQL",
      samples.length,
      samples.filter((sample) => !sample.op.startsWith(MALFORMED_PREFIX) && sample.status === 400),
    ),
  ];
}
