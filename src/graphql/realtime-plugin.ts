import type { Gauge } from "prom-client";
import { access, constant, context, lambda, listen, SafeError, type Step } from "postgraphile/grafast";
import { extendSchema, gql } from "postgraphile/utils";
import type { AccessClaims } from "../auth/access-tokens.ts";
import { ROLE, WEB_ROLES, type WebRole } from "../database/web-roles.ts";
import { eventIdOf } from "./realtime-cursor.ts";
import type { Interest, RealtimeDispatcher } from "./realtime-dispatcher.ts";
import { TicketEventStream, type TicketEvent } from "./realtime-events.ts";
import { realtimeHttpPlugin } from "./realtime-http-plugin.ts";
import { realtimeSocketPlugin } from "./realtime-socket.ts";

/**
 * GraphQL subscriptions on ticket changes (docs/realtime.md). Each field
 * registers a stream with the process's dispatcher, which delivers the events
 * the subscriber may see (realtime-dispatcher.ts); `ticket` and `comment` of each event are then
 * loaded like any other field, under the subscriber's role and claims.
 */
const typeDefs = gql`
  """
  What happened to a ticket. SUBSCRIBED says the subscription is live: from
  then on no change is missed, so load the current state after receiving it.
  It is the first event, unless the subscription resumes with \`after\`: then
  the missed events come first and SUBSCRIBED follows them.
  """
  enum TicketEventKind {
    SUBSCRIBED
    CREATED
    STATUS_CHANGED
    ASSIGNED
    COMMENTED
    UPDATED
    "An SLA clock of the ticket has at most a quarter of its business minutes left."
    SLA_AT_RISK
    "An SLA clock of the ticket passed its due time before it was met."
    SLA_BREACHED
    "An SLA clock of the ticket was met in time."
    SLA_MET
    "A file was attached to the ticket or to one of its comments and is ready to download; \`attachment\` is it."
    ATTACHMENT_ADDED
  }

  """
  A change to a ticket you can see. Events carry no content; \`ticket\` and
  \`comment\` (or \`attachment\`) are read with your own rights when the event is
  delivered.
  """
  type TicketEvent {
    kind: TicketEventKind!
    "The ticket that changed; null for SUBSCRIBED."
    ticketId: UUID
    "The ticket as you see it now (null for SUBSCRIBED)."
    ticket: Ticket
    "The new comment or internal note, for COMMENTED."
    comment: TicketComment
    "The new attachment, for ATTACHMENT_ADDED (its downloadUrl is issued when you ask for it)."
    attachment: Attachment
    """
    Where this event is in the event log. Keep the last one received and pass
    it as \`after\` when subscribing again to receive what you missed. For
    SUBSCRIBED, the position of the subscription's start.
    """
    cursor: Cursor!
  }

  extend type Subscription {
    """
    Changes to one ticket: status, assignment, edits and new comments you may
    read. With \`after\` (a cursor of an earlier event), first replays what you
    missed since then (at most a day and 500 events, else CURSOR_EXPIRED).
    """
    ticketChanged(ticketId: UUID!, after: Cursor): TicketEvent!
    """
    Agents: changes to the tickets assigned to you and to open unassigned
    tickets. With \`after\`, first replays what you missed (as ticketChanged).
    """
    myQueueChanged(after: Cursor): TicketEvent!
    """
    Customers: changes to your tickets, including ones you create. With
    \`after\`, first replays what you missed (as ticketChanged).
    """
    myTicketsChanged(after: Cursor): TicketEvent!
  }
`;

function definedSettings(settings: Record<string, string | undefined> | null | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(settings ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

type InterestOf = (claims: AccessClaims, ticketId: string | null) => Interest;

function requireRole(claims: AccessClaims | undefined, field: string, roles: readonly WebRole[]): AccessClaims {
  if (!claims) throw new SafeError("Sign in to subscribe", { code: "FORBIDDEN" });
  if (!roles.includes(claims.role)) {
    throw new SafeError(`${field} is not available to your role`, { code: "FORBIDDEN" });
  }
  return claims;
}

/**
 * The subscribe plan of a field: a subscriber (in grafast's sense) whose
 * stream registers with the process's dispatcher, so the topic given to
 * listen() is only a label.
 */
function ticketEvents(
  field: string,
  roles: readonly WebRole[],
  interestOf: InterestOf,
  dependencies: SchemaDependencies,
) {
  return ($ticketId: Step<string | null>, $after: Step<string | null | undefined>) => {
    const $source = lambda([context(), $ticketId, $after], ([ctx, ticketId, after]) => {
      const claims = requireRole(ctx.auth, field, roles);
      // Throws CURSOR_EXPIRED for a cursor that is not one of ours.
      const afterId = after === null || after === undefined ? undefined : eventIdOf(after);
      const options = {
        dispatcher: dependencies.dispatcher,
        userId: claims.userId,
        // The settings every request of this user runs with (preset.ts).
        settings: definedSettings(ctx.pgSettings),
        interest: interestOf(claims, ticketId),
        ...(afterId === undefined ? {} : { afterId }),
        ...(dependencies.activeSubscriptions ? { activeSubscriptions: dependencies.activeSubscriptions } : {}),
      };
      // Throws TOO_MANY_SUBSCRIPTIONS when the user already has their share.
      return { subscribe: () => new TicketEventStream(options) };
    });
    return listen($source, constant(field));
  };
}

const STAFF_AND_CUSTOMERS: readonly WebRole[] = WEB_ROLES;

interface SchemaDependencies {
  dispatcher: RealtimeDispatcher;
  activeSubscriptions?: Gauge | undefined;
}

export function realtimeSchemaPlugin(dependencies: SchemaDependencies): GraphileConfig.Plugin {
  const ticketChanged = ticketEvents(
    "ticketChanged",
    STAFF_AND_CUSTOMERS,
    (_c, id) => ({ ticketId: id! }),
    dependencies,
  );
  const myQueue = ticketEvents("myQueueChanged", [ROLE.agent], (c) => ({ agentId: c.userId }), dependencies);
  const myTickets = ticketEvents("myTicketsChanged", [ROLE.customer], (c) => ({ customerId: c.userId }), dependencies);

  return extendSchema((build) => {
    const { tickets, ticket_comments: comments, attachments } = build.input.pgRegistry.pgResources;
    if (!tickets || !comments || !attachments)
      throw new Error("realtime: tickets, ticket_comments and attachments must be exposed");
    return {
      typeDefs,
      enums: {
        TicketEventKind: {
          values: {
            SUBSCRIBED: "subscribed",
            CREATED: "created",
            STATUS_CHANGED: "status_changed",
            ASSIGNED: "assigned",
            COMMENTED: "commented",
            UPDATED: "updated",
            SLA_AT_RISK: "sla_at_risk",
            SLA_BREACHED: "sla_breached",
            SLA_MET: "sla_met",
            ATTACHMENT_ADDED: "attachment_added",
          },
        },
      },
      objects: {
        Subscription: {
          plans: {
            ticketChanged: {
              subscribePlan: (_$root, { $ticketId, $after }) =>
                ticketChanged($ticketId as Step<string>, $after as Step<string | null>),
              plan: ($event: Step) => $event,
            },
            myQueueChanged: {
              subscribePlan: (_$root, { $after }) => myQueue(constant(null), $after as Step<string | null>),
              plan: ($event: Step) => $event,
            },
            myTicketsChanged: {
              subscribePlan: (_$root, { $after }) => myTickets(constant(null), $after as Step<string | null>),
              plan: ($event: Step) => $event,
            },
          },
        },
        TicketEvent: {
          plans: {
            kind: ($event: Step<TicketEvent>) => access($event, "kind"),
            ticketId: ($event: Step<TicketEvent>) => access($event, "ticketId"),
            cursor: ($event: Step<TicketEvent>) => access($event, "cursor"),
            ticket: ($event: Step<TicketEvent>) => tickets.get({ id: access($event, "ticketId") }),
            comment: ($event: Step<TicketEvent>) => comments.get({ id: access($event, "commentId") }),
            attachment: ($event: Step<TicketEvent>) => attachments.get({ id: access($event, "attachmentId") }),
          },
        },
      },
    };
  }, "TicketingRealtimePlugin");
}

export interface RealtimeDependencies {
  /** The process's dispatcher; it connects only when the first subscription starts. */
  dispatcher: RealtimeDispatcher;
  activeSubscriptions?: Gauge;
}

/**
 * The subscriptions, the per-connection limit that goes with them
 * (realtime-socket.ts), and the refusal of subscriptions over plain HTTP.
 */
export function realtimePlugins(dependencies: RealtimeDependencies): GraphileConfig.Plugin[] {
  return [realtimeSchemaPlugin(dependencies), realtimeSocketPlugin(dependencies.dispatcher), realtimeHttpPlugin];
}
