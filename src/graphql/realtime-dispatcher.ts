import type pg from "pg";
import { SafeError } from "postgraphile/grafast";
import type { Logger } from "../observability/logger.ts";
import { cursorExpired, cursorOf } from "./realtime-cursor.ts";

/**
 * One per process: LISTENs once on `ticketing_events`, reads each event row
 * once (migrations/committed/000018-realtime-events-as-owner-only-rows-notifications-carry-only-.sql), finds the subscriptions
 * interested in it from the row (ticket, customer, agent, open pool, user,
 * and the organizations and participations read when a subscription starts),
 * and checks visibility once per distinct subscriber identity (role and
 * claims) per batch of events, all in one transaction on one connection.
 *
 * Notifications are untrusted (anyone who can connect may NOTIFY): their
 * payload is only an id, looked up through realtime_events_by_id, which
 * finds nothing for garbage, unknown or stale ids; a subscriber hears only
 * events its starting snapshot did not see (so no replay of an earlier
 * event), and ids already dispatched are remembered so a replay within the
 * freshness window is dropped too.
 */
export type TicketEventKind =
  | "subscribed"
  | "created"
  | "status_changed"
  | "assigned"
  | "commented"
  | "updated"
  | "sla_at_risk"
  | "sla_breached"
  | "sla_met"
  | "attachment_added";

export interface TicketEvent {
  kind: TicketEventKind;
  ticketId: string | null;
  commentId: string | null;
  /** The attachment that became available, for attachment_added. */
  attachmentId: string | null;
  /** The event id as an opaque cursor; for SUBSCRIBED, the newest event id when the subscription went live. */
  cursor: string;
}

/** What a subscription listens to. */
export type Interest = { ticketId: string } | { customerId: string } | { agentId: string };

/** A subscription as the dispatcher sees it (realtime-events.ts). */
export interface Subscriber {
  readonly userId: string;
  /** The subscriber's pgSettings (role and claims): visibility is checked under them. */
  readonly settings: Readonly<Record<string, string>>;
  readonly interest: Interest;
  /**
   * The database snapshot taken when the subscription became live (set by
   * `activate`): events of transactions it already saw are older than the
   * subscription and never delivered, whoever names them.
   */
  since?: Snapshot;
  /** A visible event. */
  deliver(event: TicketEvent): void;
  /** The user was deactivated or changed role. */
  end(): void;
  /** Events may have been missed (lost connection, failed check). */
  fail(error: Error): void;
}

export interface DispatcherOptions {
  pool: pg.Pool;
  /**
   * Where the LISTEN connection comes from (DATABASE_LISTEN_URL, straight to
   * PostgreSQL when `pool` goes through a transaction-mode pooler); unset: `pool`.
   * Events are read and checked on `pool` either way.
   */
  listenPool?: pg.Pool;
  logger: Logger;
  maxSubscriptionsPerUser: number;
}

export const EVENTS_CHANNEL = "ticketing_events";
const EVENT_ID = /^[1-9][0-9]{0,17}$/;
/** Ids per read; realtime_events_by_id reads at most 500. */
const BATCH = 500;
/** Ids waiting to be read; beyond this a notification flood is dropped (and logged). */
const MAX_PENDING = 20_000;
/** Longer than the two minutes for which realtime_events_by_id still returns an event. */
const REMEMBER_MS = 3 * 60_000;
const MAX_REMEMBERED = 200_000;
const LOG_INTERVAL_MS = 10_000;

interface EventRow {
  id: string;
  /** The id of the transaction that made the change (xid8). */
  tx: string;
  kind: string;
  ticket_id: string | null;
  comment_id: string | null;
  attachment_id: string | null;
  customer_id: string | null;
  previous_customer_id: string | null;
  agent_id: string | null;
  previous_agent_id: string | null;
  organization_id: string | null;
  in_open_pool: boolean;
  user_id: string | null;
}

/**
 * Where a customer's or agent's events may come from besides their own
 * tickets (app_private.realtime_routes, read when the subscription starts):
 * the organizations whose tickets they see and the tickets they take part in.
 * Routing only: every event is still checked under the subscriber's policies,
 * so a membership removed later stops delivery at once. When a user's
 * memberships or participations change, a `sight_changed` user event names
 * them and their routes are read again (one query for all the users named in
 * a batch), so a membership or cc added later is heard from then on.
 */
interface Routes {
  organizations: string[];
  tickets: string[];
}

/** Subscribers with one identity (role and claims): their visibility is the same. */
interface Audience {
  settings: Readonly<Record<string, string>>;
  /** Events some of them are interested in. */
  events: Set<EventRow>;
  /** A user event names them: re-check the user first. */
  recheckUser: boolean;
  active: boolean;
  visible: Set<string>;
}

/**
 * One audience's check, as SQL text: switch to its role and claims (local to
 * the transaction), then ask whether the user is active under the role their
 * token names, and which of the events' tickets (and comments and
 * attachments) they may read.
 * Two statements, so the second is planned, and its row-level security
 * applied, under the role the first switched to. Values are JSON literals
 * escaped by the driver; a whole batch of audiences goes in one round trip.
 */
function audienceCheck(
  client: pg.PoolClient,
  settings: Readonly<Record<string, string>>,
  events: Iterable<EventRow>,
): string {
  const settingsJson = client.escapeLiteral(JSON.stringify(settings));
  const eventsJson = client.escapeLiteral(
    JSON.stringify(
      [...events].map((event) => ({
        id: event.id,
        ticket_id: event.ticket_id,
        comment_id: event.comment_id,
        attachment_id: event.attachment_id,
      })),
    ),
  );
  return `select set_config(s.key, s.value, true) from jsonb_each_text(${settingsJson}::jsonb) as s;
    select coalesce((select 'ticketing_' || u.role = current_setting('role')
                       from app_public.current_user() as u where u.id is not null), false) as active,
           array(select e.id::text
                   from jsonb_to_recordset(${eventsJson}::jsonb) as e(id bigint, ticket_id uuid, comment_id uuid, attachment_id uuid)
                  where exists (select from app_public.tickets as t where t.id = e.ticket_id)
                    and (e.comment_id is null
                         or exists (select from app_public.ticket_comments as c where c.id = e.comment_id))
                    and (e.attachment_id is null
                         or exists (select from app_public.attachments as a where a.id = e.attachment_id))) as visible,
           pg_current_snapshot()::text as snapshot;`;
}

interface CheckRow {
  active: boolean;
  visible: string[];
  snapshot: string;
}

/** Runs audience checks (one transaction, one round trip); the answer of each, in order. */
async function checkAudiences(
  client: pg.PoolClient,
  audiences: readonly { settings: Readonly<Record<string, string>>; events: Iterable<EventRow> }[],
): Promise<CheckRow[]> {
  if (audiences.length === 0) return [];
  const text = audiences.map((audience) => audienceCheck(client, audience.settings, audience.events)).join("\n");
  const results = (await client.query(text)) as unknown as pg.QueryResult<CheckRow>[];
  return results.filter((_result, index) => index % 2 === 1).map((result) => result.rows[0]!);
}

function identityOf(settings: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(settings).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * A pg_snapshot (`xmin:xmax:xip,…`): which transactions had committed when it
 * was taken. Event rows exist only for committed transactions, so an event's
 * transaction is seen by the snapshot unless it was still running or had not
 * started (pg_visible_in_snapshot, without a round trip).
 */
export class Snapshot {
  private readonly xmin: bigint;
  private readonly xmax: bigint;
  private readonly running: ReadonlySet<bigint>;

  private constructor(xmin: bigint, xmax: bigint, running: ReadonlySet<bigint>) {
    this.xmin = xmin;
    this.xmax = xmax;
    this.running = running;
  }

  static parse(text: string): Snapshot {
    const [xmin, xmax, running = ""] = text.split(":");
    return new Snapshot(BigInt(xmin!), BigInt(xmax!), new Set(running.split(",").filter(Boolean).map(BigInt)));
  }

  /** Whether a committed transaction had committed when the snapshot was taken. */
  sees(tx: bigint): boolean {
    return tx < this.xmin || (tx < this.xmax && !this.running.has(tx));
  }
}

/** Subscribers by a key (ticket, customer, agent or user id). */
class Index {
  private readonly sets = new Map<string, Set<Subscriber>>();

  add(key: string, subscriber: Subscriber): void {
    let set = this.sets.get(key);
    if (!set) {
      set = new Set();
      this.sets.set(key, set);
    }
    set.add(subscriber);
  }

  delete(key: string, subscriber: Subscriber): void {
    const set = this.sets.get(key);
    if (!set) return;
    set.delete(subscriber);
    if (set.size === 0) this.sets.delete(key);
  }

  get(key: string | null): ReadonlySet<Subscriber> {
    return (key === null ? undefined : this.sets.get(key)) ?? new Set();
  }

  all(): Subscriber[] {
    return [...this.sets.values()].flatMap((set) => [...set]);
  }
}

export class RealtimeDispatcher {
  private readonly options: DispatcherOptions;
  private readonly byTicket = new Index();
  private readonly byCustomer = new Index();
  private readonly byAgent = new Index();
  private readonly byOrganization = new Index();
  private readonly routes = new Map<Subscriber, Routes>();
  /** Per user, how many times their routes were read again: a subscription starting meanwhile reads them once more. */
  private readonly routeReads = new Map<string, number>();
  /** Agents' queues: they also watch open unassigned tickets. */
  private readonly openPool = new Set<Subscriber>();
  private readonly byUser = new Index();
  private listener: Promise<pg.PoolClient> | null = null;
  /** Ids waiting to be read, in arrival order. */
  private readonly pending = new Set<string>();
  private draining = false;
  /** Dispatched ids, in dispatch order, with when each may be forgotten. */
  private readonly dispatched = new Map<string, number>();
  private closed = false;
  private lastDropLog = 0;

  constructor(options: DispatcherOptions) {
    this.options = options;
  }

  /** Whether the user has as many subscriptions as they may. */
  isFull(userId: string): boolean {
    return this.byUser.get(userId).size >= this.options.maxSubscriptionsPerUser;
  }

  /** The refusal of a subscription beyond the per-user limit. */
  refusal(): SafeError {
    return new SafeError(`At most ${this.options.maxSubscriptionsPerUser} subscriptions at a time per user`, {
      code: "TOO_MANY_SUBSCRIPTIONS",
    });
  }

  /** Registers a subscription; refused with TOO_MANY_SUBSCRIPTIONS beyond the per-user limit. */
  add(subscriber: Subscriber): void {
    if (this.isFull(subscriber.userId)) throw this.refusal();
    this.byUser.add(subscriber.userId, subscriber);
    this.file(subscriber, "add");
  }

  /** Files a subscriber under (or takes it from) the index of its own interest. */
  private file(subscriber: Subscriber, action: "add" | "delete"): void {
    const interest = subscriber.interest;
    if ("ticketId" in interest) this.byTicket[action](interest.ticketId, subscriber);
    else if ("customerId" in interest) this.byCustomer[action](interest.customerId, subscriber);
    else {
      this.byAgent[action](interest.agentId, subscriber);
      this.openPool[action](subscriber);
    }
  }

  remove(subscriber: Subscriber): void {
    this.byUser.delete(subscriber.userId, subscriber);
    if (this.byUser.get(subscriber.userId).size === 0) this.routeReads.delete(subscriber.userId);
    this.unroute(subscriber);
    this.file(subscriber, "delete");
  }

  /** Resolves once LISTEN is in effect: every event committed from then on is heard. */
  private async listening(): Promise<void> {
    if (this.closed) throw new Error("The realtime dispatcher is closed");
    this.listener ??= this.listen();
    try {
      await this.listener;
    } catch (error) {
      this.listener = null;
      throw error;
    }
  }

  /**
   * Makes a registered subscriber live, once LISTEN is in effect and if its
   * user is active and still holds the role their token names; returns the
   * cursor of "now" (the newest event id) if it is live, null if not. The
   * database snapshot taken then decides which events are newer than the
   * subscription: every change committed later is delivered, none committed
   * earlier, even if its id is replayed.
   */
  async activate(subscriber: Subscriber): Promise<string | null> {
    await this.listening();
    const client = await this.options.pool.connect();
    let reads = this.routeReads.get(subscriber.userId) ?? 0;
    try {
      await client.query("begin");
      // Read before the snapshot below (and as the API, before switching role):
      // every event after this id is either seen by that snapshot, so replayed
      // by a resume from this cursor, or delivered live.
      const { rows } = await client.query<{ latest: string }>(
        "select app_private.realtime_events_latest_id()::text as latest",
      );
      const routes =
        "ticketId" in subscriber.interest
          ? null
          : ((await readRoutes(client, [subscriber.userId])).get(subscriber.userId) ?? null);
      const [answer] = await checkAudiences(client, [{ settings: subscriber.settings, events: [] }]);
      await client.query("commit");
      if (answer?.active !== true) return null;
      subscriber.since = Snapshot.parse(answer.snapshot);
      // A sight_changed event dispatched meanwhile found no routes to refresh: read them again.
      let current = routes;
      while (current && (this.routeReads.get(subscriber.userId) ?? 0) !== reads) {
        reads = this.routeReads.get(subscriber.userId) ?? 0;
        current = (await readRoutes(client, [subscriber.userId])).get(subscriber.userId) ?? {
          organizations: [],
          tickets: [],
        };
      }
      if (current && this.byUser.get(subscriber.userId).has(subscriber)) this.route(subscriber, current);
      return cursorOf(rows[0]!.latest);
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * The events after `afterId` that a live subscriber missed, in order: read
   * through realtime_events_after (which bounds the replay and raises TKCEX
   * beyond it), limited to those its live snapshot already saw (later ones
   * arrive live, so none is missed or delivered twice at the boundary), then
   * checked under its role and claims like live events.
   */
  async replay(subscriber: Subscriber, afterId: string): Promise<TicketEvent[]> {
    const since = subscriber.since;
    if (!since) throw new Error("replay before activate");
    const interest = subscriber.interest;
    const client = await this.options.pool.connect();
    try {
      await client.query("begin");
      const routes = this.routes.get(subscriber);
      const { rows } = await client.query<EventRow>(
        `select * from app_private.realtime_events_after($1::bigint, $2::uuid, $3::uuid, $4::uuid,
           for_organization_ids => $5::uuid[], for_ticket_ids => $6::uuid[])`,
        [
          afterId,
          "ticketId" in interest ? interest.ticketId : null,
          "customerId" in interest ? interest.customerId : null,
          "agentId" in interest ? interest.agentId : null,
          routes?.organizations ?? null,
          routes?.tickets ?? null,
        ],
      );
      const events = rows.filter((row) => since.sees(BigInt(row.tx)));
      const [answer] = await checkAudiences(client, [{ settings: subscriber.settings, events }]);
      await client.query("commit");
      const visible = new Set(answer?.visible ?? []);
      return events.filter((event) => visible.has(event.id)).map(ticketEvent);
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      if ((error as { code?: unknown }).code === "TKCEX") throw cursorExpired((error as Error).message);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Indexes a live subscriber under its organizations and participations too (in place of earlier ones). */
  private route(subscriber: Subscriber, routes: Routes): void {
    this.unroute(subscriber);
    this.routes.set(subscriber, routes);
    for (const organization of routes.organizations) this.byOrganization.add(organization, subscriber);
    for (const ticket of routes.tickets) this.byTicket.add(ticket, subscriber);
  }

  private unroute(subscriber: Subscriber): void {
    const routes = this.routes.get(subscriber);
    if (!routes) return;
    this.routes.delete(subscriber);
    for (const organization of routes.organizations) this.byOrganization.delete(organization, subscriber);
    for (const ticket of routes.tickets) this.byTicket.delete(ticket, subscriber);
  }

  /**
   * Reads again, in the batch's transaction (as the API, before any role
   * switch), the routes of the routed subscribers of users whose sight
   * changed, and routes them anew before the batch is routed.
   */
  private async refreshRoutes(client: pg.PoolClient, events: readonly EventRow[]): Promise<void> {
    const users = new Set<string>();
    for (const event of events) {
      if (event.kind === "sight_changed" && event.user_id !== null) {
        const subscribers = [...this.byUser.get(event.user_id)];
        if (subscribers.length === 0) continue;
        this.routeReads.set(event.user_id, (this.routeReads.get(event.user_id) ?? 0) + 1);
        if (subscribers.some((subscriber) => this.routes.has(subscriber))) users.add(event.user_id);
      }
    }
    if (users.size === 0) return;
    const fresh = await readRoutes(client, [...users]);
    for (const user of users) {
      for (const subscriber of this.byUser.get(user)) {
        if (this.routes.has(subscriber)) this.route(subscriber, fresh.get(user) ?? { organizations: [], tickets: [] });
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const listener = this.listener;
    this.listener = null;
    const client = await listener?.catch(() => null);
    client?.release(true);
  }

  private async listen(): Promise<pg.PoolClient> {
    const client = await (this.options.listenPool ?? this.options.pool).connect();
    let gone = false;
    const lost = (error: Error) => {
      if (gone) return;
      gone = true;
      this.lost(client, error);
    };
    client.on("notification", (message) => {
      if (message.channel === EVENTS_CHANNEL) this.received(message.payload ?? "");
    });
    client.on("error", lost);
    client.on("end", () => lost(new Error("The realtime connection ended")));
    try {
      await client.query(`listen ${EVENTS_CHANNEL}`);
    } catch (error) {
      client.release(true);
      throw error;
    }
    return client;
  }

  /** The LISTEN connection is gone: events may have been missed, so every subscription fails. */
  private lost(client: pg.PoolClient, error: Error): void {
    void this.listener?.then((current) => {
      if (current !== client) return;
      this.listener = null;
      client.release(true);
    });
    if (this.closed) return;
    this.options.logger.warn({ err: error }, "realtime notifications interrupted");
    const failure = new SafeError("Realtime notifications were interrupted; subscribe again", {
      code: "SUBSCRIPTION_INTERRUPTED",
    });
    for (const subscriber of this.byUser.all()) subscriber.fail(failure);
  }

  private received(payload: string): void {
    if (!EVENT_ID.test(payload) || this.dispatched.has(payload) || this.pending.has(payload)) return;
    if (this.pending.size >= MAX_PENDING) {
      this.rateLimitedWarning("realtime notifications dropped: too many waiting to be read");
      return;
    }
    this.pending.add(payload);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.pending.size > 0 && !this.closed) {
        const ids = [...this.pending].slice(0, BATCH);
        for (const id of ids) this.pending.delete(id);
        await this.dispatch(ids);
      }
    } finally {
      this.draining = false;
    }
  }

  /** Reads a batch of events, checks visibility per audience, then delivers in notification order. */
  private async dispatch(ids: string[]): Promise<void> {
    let client: pg.PoolClient | undefined;
    let interested: Map<EventRow, Set<Subscriber>> | null = null;
    try {
      client = await this.options.pool.connect();
      await client.query("begin");
      const { rows } = await client.query<EventRow>("select * from app_private.realtime_events_by_id($1::bigint[])", [
        ids,
      ]);
      const byId = new Map(rows.map((row) => [row.id, row]));
      const events = ids.flatMap((id) => byId.get(id) ?? []);
      this.remember(events);
      await this.refreshRoutes(client, events);

      const audiences = new Map<string, Audience>();
      interested = new Map(events.map((event) => [event, this.interestedIn(event)]));
      for (const [event, subscribers] of interested) {
        for (const subscriber of subscribers) {
          const key = identityOf(subscriber.settings);
          let audience = audiences.get(key);
          if (!audience) {
            audience = {
              settings: subscriber.settings,
              events: new Set(),
              recheckUser: false,
              active: true,
              visible: new Set(),
            };
            audiences.set(key, audience);
          }
          if (event.user_id !== null) audience.recheckUser = true;
          else audience.events.add(event);
        }
      }
      const checked = [...audiences.values()];
      const answers = await checkAudiences(client, checked);
      checked.forEach((audience, index) => {
        // Only a user event ends subscriptions; otherwise the policies alone decide.
        audience.active = !audience.recheckUser || answers[index]?.active === true;
        audience.visible = new Set(answers[index]?.visible ?? []);
      });
      await client.query("commit");

      for (const [event, subscribers] of interested) {
        for (const subscriber of subscribers) {
          const audience = audiences.get(identityOf(subscriber.settings))!;
          if (!audience.active) {
            if (audience.recheckUser) subscriber.end();
          } else if (audience.visible.has(event.id)) {
            subscriber.deliver(ticketEvent(event));
          }
        }
      }
    } catch (error) {
      await client?.query("rollback").catch(() => undefined);
      this.options.logger.warn({ err: error }, "realtime events could not be dispatched");
      const failure = new SafeError("Realtime events could not be checked; subscribe again", {
        code: "SUBSCRIPTION_INTERRUPTED",
      });
      // Those who may have missed an event; everyone, when the events could not even be read.
      const missed = interested
        ? [...interested.values()].flatMap((subscribers) => [...subscribers])
        : this.byUser.all();
      for (const subscriber of missed) subscriber.fail(failure);
    } finally {
      client?.release();
    }
  }

  /** Live subscribers interested in an event that is newer than their subscription. */
  private interestedIn(event: EventRow): Set<Subscriber> {
    const interested = new Set<Subscriber>();
    const tx = BigInt(event.tx);
    const add = (subscribers: Iterable<Subscriber>) => {
      for (const subscriber of subscribers) {
        if (subscriber.since && !subscriber.since.sees(tx)) interested.add(subscriber);
      }
    };
    if (event.user_id !== null) {
      add(this.byUser.get(event.user_id));
      return interested;
    }
    add(this.byTicket.get(event.ticket_id));
    add(this.byCustomer.get(event.customer_id));
    add(this.byCustomer.get(event.previous_customer_id));
    add(this.byAgent.get(event.agent_id));
    add(this.byAgent.get(event.previous_agent_id));
    add(this.byOrganization.get(event.organization_id));
    if (event.in_open_pool) add(this.openPool);
    return interested;
  }

  private remember(events: EventRow[]): void {
    const now = Date.now();
    for (const [id, forgetAt] of this.dispatched) {
      if (forgetAt > now && this.dispatched.size < MAX_REMEMBERED) break;
      this.dispatched.delete(id);
    }
    for (const event of events) this.dispatched.set(event.id, now + REMEMBER_MS);
  }

  private rateLimitedWarning(message: string): void {
    const now = Date.now();
    if (now - this.lastDropLog < LOG_INTERVAL_MS) return;
    this.lastDropLog = now;
    this.options.logger.warn(message);
  }
}

/** The users' routes, by user id, read as the API (before switching to a subscriber's role), in one query. */
async function readRoutes(client: pg.PoolClient, userIds: readonly string[]): Promise<Map<string, Routes>> {
  const { rows } = await client.query<{ user_id: string; organizations: string[]; tickets: string[] }>(
    `select u.id::text as user_id, r.organization_ids::text[] as organizations, r.ticket_ids::text[] as tickets
       from unnest($1::uuid[]) as u(id), app_private.realtime_routes(u.id) as r`,
    [userIds],
  );
  return new Map(
    rows.map((row) => [row.user_id, { organizations: row.organizations ?? [], tickets: row.tickets ?? [] }]),
  );
}

function ticketEvent(row: EventRow): TicketEvent {
  return {
    kind: row.kind as TicketEventKind,
    ticketId: row.ticket_id,
    commentId: row.comment_id,
    attachmentId: row.attachment_id,
    cursor: cursorOf(row.id),
  };
}
