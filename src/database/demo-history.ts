import type pg from "pg";
import { withClient } from "./cluster-setup.ts";
import { databaseName, withDatabase, type DatabaseUrls } from "./connection-urls.ts";
import demoTopics from "./demo-topics.json" with { type: "json" };

/**
 * The past five weeks of the demo helpdesk: tickets filed on working days,
 * taken, answered, put on hold, resolved and closed at plausible times, some
 * within their SLA targets and some late, so the reporting views (daily flow,
 * SLA compliance, response and resolution times, agent workload) and the
 * console's history panes show something on a fresh local database.
 *
 * The database's rules run where they can: each ticket is created by the
 * owner acting as its customer at its creation time (SLA due times, the
 * creation row of its history and its audit row come from the triggers), and
 * comments are inserted dated in the past (the comment trigger sets the first
 * response time). A status or assignee change, however, is stamped by its
 * trigger with the wall clock, which would put five weeks of history into
 * one second; those changes are written as they happened — the ticket row and
 * its history rows together, with the times of the story — by the superuser
 * with triggers off for that transaction (`session_replication_role =
 * replica`). Only moves `ticket_transitions` allows are written; the demo
 * data test checks the history invariants on the result.
 */

type Status = "open" | "in_progress" | "waiting_on_customer" | "resolved" | "closed";
type Priority = "low" | "normal" | "high" | "urgent";

type Step =
  | { after: number; kind: "take" }
  | { after: number; kind: "reply" | "note" | "customerReply"; body: string }
  | { after: number; kind: "move"; to: Status; by: "agent" | "customer"; note?: string };

interface Story {
  subject: string;
  description: string;
  priority: Priority;
  steps: Step[];
}

export interface HistoryPeople {
  customers: string[];
  agents: string[];
}

const HOUR = 60;
const DAY = 24 * HOUR;

/** What customers write about, with a priority (demo content, kept as data). */
const TOPICS = demoTopics as { subject: string; description: string; priority: Priority }[];

/** How a ticket's life went, in minutes after its creation. */
function flow(index: number, priority: Priority): Step[] {
  const quick = priority === "urgent" ? 10 : priority === "high" ? 45 : 3 * HOUR;
  switch (index % 6) {
    case 0: // answered, resolved, confirmed by the customer
      return [
        { after: quick, kind: "take" },
        { after: quick + 15, kind: "reply", body: "Thanks for the report; we are looking into it." },
        { after: quick + 4 * HOUR, kind: "move", to: "resolved", by: "agent", note: "Fixed" },
        { after: quick + 1 * DAY, kind: "move", to: "closed", by: "customer", note: "Works again, thanks" },
      ];
    case 1: // needed more information from the customer
      return [
        { after: quick, kind: "take" },
        { after: quick + 20, kind: "reply", body: "Could you send us a screenshot of the error?" },
        { after: quick + 25, kind: "move", to: "waiting_on_customer", by: "agent", note: "Asked for a screenshot" },
        { after: quick + 6 * HOUR, kind: "customerReply", body: "Screenshot attached." },
        { after: quick + 7 * HOUR, kind: "note", body: "Reproduced on the staging system." },
        { after: quick + 1 * DAY, kind: "move", to: "resolved", by: "agent", note: "Deployed the fix" },
      ];
    case 2: // withdrawn before anyone answered
      return [{ after: 40, kind: "move", to: "closed", by: "customer", note: "Found it myself" }];
    case 3: // picked up late: both targets missed
      return [
        { after: 2 * DAY, kind: "take" },
        { after: 2 * DAY + 30, kind: "reply", body: "Sorry for the wait; checking now." },
        { after: 9 * DAY, kind: "move", to: "resolved", by: "agent", note: "Solved after escalation" },
        { after: 11 * DAY, kind: "move", to: "closed", by: "agent", note: "Closed after the grace period" },
      ];
    case 4: // resolved, not confirmed yet
      return [
        { after: quick, kind: "take" },
        { after: quick + 5, kind: "reply", body: "Done: it should work now." },
        { after: quick + 10, kind: "move", to: "resolved", by: "agent", note: "Configuration corrected" },
      ];
    default: // still being worked on (recent) or long resolved (older)
      return [
        { after: quick, kind: "take" },
        { after: quick + 30, kind: "reply", body: "We can reproduce it and are working on a fix." },
      ];
  }
}

/**
 * The stories: one or two tickets on each working day of the last five
 * weeks, at office hours (UTC). The newest days keep their unfinished work.
 */
function stories(now: Date): { createdAt: Date; story: Story; index: number }[] {
  const result: { createdAt: Date; story: Story; index: number }[] = [];
  let index = 0;
  for (let daysAgo = 35; daysAgo >= 1; daysAgo--) {
    const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - daysAgo));
    const weekday = day.getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    const perDay = daysAgo % 3 === 0 ? 2 : 1;
    for (let n = 0; n < perDay; n++) {
      const { subject, description, priority } = TOPICS[index % TOPICS.length]!;
      const createdAt = new Date(day.getTime() + ((8 + ((index * 5) % 9)) * 60 + ((index * 17) % 60)) * 60_000);
      const steps = flow(index, priority).filter((step) => createdAt.getTime() + step.after * 60_000 < now.getTime());
      result.push({ createdAt, story: { subject, description, priority, steps }, index });
      index++;
    }
  }
  return result;
}

const at = (start: Date, minutes: number) => new Date(start.getTime() + minutes * 60_000);

/** One statement as the owner acting as `userId` (the claim the triggers record). */
async function asOwner(owner: pg.Client, userId: string, sql: string, values: unknown[]): Promise<pg.QueryResult> {
  await owner.query("begin");
  try {
    await owner.query("select set_config('jwt.claims.user_id', $1, true)", [userId]);
    const result = await owner.query(sql, values);
    await owner.query("commit");
    return result;
  } catch (error) {
    await owner.query("rollback");
    throw error;
  }
}

/** A past change of status and/or assignee: the ticket row and its history rows, dated `when`. */
async function writeChange(
  root: pg.Client,
  ticketId: string,
  change: { status?: Status; from?: Status; agentId?: string; by: string; when: Date; note?: string | undefined },
): Promise<void> {
  await root.query("begin");
  try {
    await root.query("set local session_replication_role = replica");
    if (change.agentId) {
      await root.query(
        `insert into app_public.ticket_assignment_history (ticket_id, from_agent_id, to_agent_id, changed_by, changed_at)
         values ($1, null, $2, $3, $4)`,
        [ticketId, change.agentId, change.by, change.when],
      );
    }
    if (change.status) {
      await root.query(
        `insert into app_public.ticket_status_history (ticket_id, from_status, to_status, changed_by, changed_at, note)
         values ($1, $2, $3, $4, $5, $6)`,
        [ticketId, change.from, change.status, change.by, change.when, change.note ?? null],
      );
    }
    // resolved_at and closed_at as tg_tickets_status_timestamps keeps them for these moves.
    await root.query(
      `update app_public.tickets
       set status = coalesce($2, status),
           agent_id = coalesce($3, agent_id),
           resolved_at = case
             when $2::app_public.ticket_status is null then resolved_at
             when $2 = 'resolved' then $4
             when $2 = 'closed' and status = 'resolved' then resolved_at
           end,
           closed_at = case
             when $2::app_public.ticket_status is null then closed_at
             when $2 = 'closed' then $4
           end,
           updated_at = $4
       where id = $1`,
      [ticketId, change.status ?? null, change.agentId ?? null, change.when],
    );
    await root.query("commit");
  } catch (error) {
    await root.query("rollback");
    throw error;
  }
}

/** Writes the past weeks' tickets. `now` is the moment the history ends. */
export async function loadDemoHistory(urls: DatabaseUrls, people: HistoryPeople, now = new Date()): Promise<number> {
  const rootUrl = withDatabase(urls.root, databaseName(urls.owner));
  const all = stories(now);
  await withClient(urls.owner, (owner) =>
    withClient(rootUrl, async (root) => {
      for (const { createdAt, story, index } of all) {
        const customer = people.customers[index % people.customers.length]!;
        const agent = people.agents[index % people.agents.length]!;
        const { rows } = await asOwner(
          owner,
          customer,
          `insert into app_public.tickets (subject, description, priority, customer_id, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $5) returning id`,
          [story.subject, story.description, story.priority, customer, createdAt],
        );
        const ticketId = rows[0]!.id as string;
        let status: Status = "open";
        for (const step of story.steps) {
          const when = at(createdAt, step.after);
          if (step.kind === "take") {
            await writeChange(root, ticketId, {
              status: "in_progress",
              from: status,
              agentId: agent,
              by: agent,
              when,
              note: "Taken from the queue",
            });
            status = "in_progress";
          } else if (step.kind === "move") {
            const by = step.by === "agent" ? agent : customer;
            await writeChange(root, ticketId, { status: step.to, from: status, by, when, note: step.note });
            status = step.to;
          } else {
            if (step.kind === "customerReply" && status === "waiting_on_customer") {
              // What the comment trigger does for a customer's reply, dated with it.
              await writeChange(root, ticketId, {
                status: "in_progress",
                from: status,
                by: customer,
                when,
                note: "Customer replied",
              });
              status = "in_progress";
            }
            await asOwner(
              owner,
              step.kind === "customerReply" ? customer : agent,
              `insert into app_public.ticket_comments (ticket_id, author_id, body, is_internal, created_at)
               values ($1, $2, $3, $4, $5)`,
              [ticketId, step.kind === "customerReply" ? customer : agent, step.body, step.kind === "note", when],
            );
          }
        }
        // A staff reply's first-response update stamped updated_at with the wall clock.
        const last = story.steps.at(-1);
        if (last) await writeChange(root, ticketId, { by: agent, when: at(createdAt, last.after) });
      }
    }),
  );
  return all.length;
}
