import { ROLE } from "../src/database/web-roles.ts";
import type { Cast } from "./database.ts";

/**
 * The scenarios: each is one GraphQL operation and the same work as
 * hand-written SQL for the ceiling server. The ceiling's SQL is written by
 * hand, as a hand-written API would be: it reads the same rows with the same
 * filters and the same order (tie-breakers included) as the SQL PostGraphile
 * generates for the operation (recorded at every run, see generated-sql.ts,
 * and explained side by side in the report), and lets PostgreSQL build the
 * JSON the GraphQL response carries. Only the layer in between differs.
 */
export type Role = typeof ROLE.customer | typeof ROLE.agent;

export interface Scenario {
  name: string;
  title: string;
  role: Role;
  actor: (cast: Cast) => string;
  /**
   * When set, request n comes from user n of this list (cycling; each signs
   * its own token), in step with the request bodies; else all from actor.
   */
  actors?: (cast: Cast) => string[];
  /** GraphQL request bodies; called once per request so bodies can vary. */
  graphql: (cast: Cast) => () => { query: string; variables: Record<string, unknown> };
  /** Parameters for the ceiling's SQL, per request. */
  ceiling: (cast: Cast) => () => unknown[];
  /** Plan check: whether EXPLAIN should be run (mutations change data). */
  explain: boolean;
}

export const CEILING_SQL: Record<string, string> = {
  customer_tickets: `select coalesce(json_agg(t), '[]') as result from (
      select id, number, subject, status, priority, created_at from app_public.tickets
       where customer_id = $1 order by created_at desc, id desc limit 20) as t`,
  organization_tickets: `select coalesce(json_agg(t), '[]') as result from (
      select id, number, subject, status, priority, created_at from app_public.tickets
       where organization_id = $1 order by created_at desc, id desc limit 20) as t`,
  agent_queue: `select coalesce(json_agg(t), '[]') as result from (
      select id, number, subject, status, priority, resolution_due_at from app_public.my_queue() limit 50) as t`,
  ticket_detail: `select json_build_object(
        'id', t.id, 'number', t.number, 'subject', t.subject, 'description', t.description,
        'status', t.status, 'priority', t.priority, 'createdAt', t.created_at,
        'history', (select coalesce(json_agg(json_build_object(
              'fromStatus', h.from_status, 'toStatus', h.to_status, 'changedAt', h.changed_at, 'note', h.note)
              order by h.changed_at, h.id), '[]')
            from app_public.ticket_status_history as h where h.ticket_id = t.id and h.changed_at >= t.created_at),
        'comments', (select coalesce(json_agg(json_build_object(
              'body', c.body, 'isInternal', c.is_internal, 'createdAt', c.created_at)
              order by c.created_at, c.id), '[]')
            from app_public.ticket_comments as c where c.ticket_id = t.id)) as result
      from app_public.tickets as t where t.id = $1`,
  ticket_attachments: `select json_build_object('attachments', (
        select coalesce(json_agg(json_build_object(
              'id', a.id, 'fileName', a.file_name, 'contentType', a.content_type, 'size', a.size,
              'state', a.state, 'createdAt', a.created_at) order by a.id), '[]')
          from (select * from app_public.attachments as a where a.ticket_id = t.id order by a.id limit 20) as a)) as result
      from app_public.tickets as t where t.id = $1`,
  search: `select coalesce(json_agg(t), '[]') as result from (
      select id, number, subject, status from app_public.search_tickets($1) limit 20) as t`,
  transition: `select json_build_object('id', t.id, 'status', t.status) as result
      from app_public.transition_ticket($1, $2) as t`,
  take_next: `select json_build_object('id', t.id) as result from app_public.take_next_ticket() as t`,
  comment: `select json_build_object('id', c.id) as result from app_public.add_comment($1, $2) as c`,
};

/** The scenarios that write: each request changes a ticket and records an event. */
export const WRITE_SCENARIOS = new Set(["transition", "comment", "take_next"]);

/** Tickets in work, round robin, each with a numbered public reply from its agent (actors). */
function commenter(cast: Cast) {
  let next = 0;
  return () => {
    const n = next++;
    return { id: cast.replyTickets[n % cast.replyTickets.length]!.id, body: `Reply ${n} from the benchmark` };
  };
}

/** Alternates each ticket between in_progress and waiting_on_customer, round robin. */
function toggler(cast: Cast) {
  const state = cast.movableTickets.map((ticket) => ({ ...ticket }));
  let next = 0;
  return () => {
    const ticket = state[next++ % state.length]!;
    ticket.status = ticket.status === "in_progress" ? "waiting_on_customer" : "in_progress";
    return { id: ticket.id, to: ticket.status };
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "customer_tickets",
    title: "customer: my 20 newest tickets",
    role: ROLE.customer,
    actor: (cast) => cast.customer.id,
    graphql: (cast) => () => ({
      query: `query MyTickets($customerId: UUID!) { tickets(condition: { customerId: $customerId }, orderBy: [CREATED_AT_DESC], first: 20) { nodes { rowId number subject status priority createdAt } } }`,
      variables: { customerId: cast.customer.id },
    }),
    ceiling: (cast) => () => [cast.customer.id],
    explain: true,
  },
  {
    name: "organization_tickets",
    title: "manager: organization's 20 newest tickets",
    role: ROLE.customer,
    actor: (cast) => cast.manager.id,
    graphql: (cast) => () => ({
      query: `query OrganizationTickets($organizationId: UUID!) { tickets(condition: { organizationId: $organizationId }, orderBy: [CREATED_AT_DESC], first: 20) { nodes { rowId number subject status priority createdAt } } }`,
      variables: { organizationId: cast.manager.organizationId },
    }),
    ceiling: (cast) => () => [cast.manager.organizationId],
    explain: true,
  },
  {
    name: "agent_queue",
    title: "agent: my queue (assigned + open, 50, by due time)",
    role: ROLE.agent,
    actor: (cast) => cast.agent,
    graphql: () => () => ({
      query: `query Queue { myQueue(first: 50) { nodes { rowId number subject status priority resolutionDueAt } } }`,
      variables: {},
    }),
    ceiling: () => () => [],
    explain: true,
  },
  {
    name: "ticket_detail",
    title: "ticket detail with history and comments",
    role: ROLE.customer,
    actor: (cast) => cast.customer.id,
    graphql: (cast) => () => ({
      query: `query Detail($id: UUID!) { ticket(rowId: $id) { rowId number subject description status priority createdAt
        ticketStatusHistories(orderBy: [CHANGED_AT_ASC]) { nodes { fromStatus toStatus changedAt note } }
        ticketComments(orderBy: [CREATED_AT_ASC]) { nodes { body isInternal createdAt } } } }`,
      variables: { id: cast.detailTicket },
    }),
    ceiling: (cast) => () => [cast.detailTicket],
    explain: true,
  },
  {
    name: "ticket_attachments",
    title: "customer: a ticket's attachments (metadata)",
    role: ROLE.customer,
    actor: (cast) => cast.customer.id,
    graphql: (cast) => () => ({
      query: `query Files($id: UUID!) { ticket(rowId: $id) { attachments(first: 20) { nodes { rowId fileName contentType size state createdAt } } } }`,
      variables: { id: cast.attachmentTicket },
    }),
    ceiling: (cast) => () => [cast.attachmentTicket],
    explain: true,
  },
  {
    name: "search",
    title: "full-text search (20 best)",
    role: ROLE.agent,
    actor: (cast) => cast.agent,
    graphql: (cast) => () => ({
      query: `query Search($q: String!) { searchTickets(query: $q, first: 20) { nodes { rowId number subject status } } }`,
      variables: { q: cast.searchWord },
    }),
    ceiling: (cast) => () => [cast.searchWord],
    explain: true,
  },
  {
    name: "transition",
    title: "transition mutation",
    role: ROLE.agent,
    actor: (cast) => cast.agent,
    graphql: (cast) => {
      const next = toggler(cast);
      return () => {
        const move = next();
        return {
          query: `mutation Move($id: UUID!, $to: TicketStatus!) { transitionTicket(input: { ticketId: $id, toStatus: $to }) { ticket { rowId status } } }`,
          variables: { id: move.id, to: move.to },
        };
      };
    },
    ceiling: (cast) => {
      const next = toggler(cast);
      return () => {
        const move = next();
        return [move.id, move.to];
      };
    },
    explain: false,
  },
  {
    name: "comment",
    title: "comment mutation (agents' public replies)",
    role: ROLE.agent,
    actor: (cast) => cast.agent,
    // One writer's counted writes queue behind each other (the quota's lock):
    // each reply comes from the ticket's own agent, every agent in turn.
    actors: (cast) => cast.replyTickets.map((ticket) => ticket.agentId),
    graphql: (cast) => {
      const next = commenter(cast);
      return () => {
        const reply = next();
        return {
          query: `mutation Reply($id: UUID!, $body: String!) { addComment(input: { ticketId: $id, body: $body }) { ticketComment { rowId } } }`,
          variables: { id: reply.id, body: reply.body },
        };
      };
    },
    ceiling: (cast) => {
      const next = commenter(cast);
      return () => {
        const reply = next();
        return [reply.id, reply.body];
      };
    },
    explain: false,
  },
  {
    name: "take_next",
    title: "take_next_ticket",
    role: ROLE.agent,
    actor: (cast) => cast.takeAgent,
    graphql: () => () => ({ query: `mutation Take { takeNextTicket(input: {}) { ticket { rowId } } }`, variables: {} }),
    ceiling: () => () => [],
    explain: false,
  },
];
