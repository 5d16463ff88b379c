import { randomUUID } from "node:crypto";
import type { WithPgClient } from "postgraphile/@dataplan/pg";
import type { NodePostgresPgClient, PgSubscriber } from "postgraphile/@dataplan/pg/adaptors/pg";
import type { Gauge } from "prom-client";

/**
 * The stream behind each ticket subscription: notifications from the
 * database's channels (migrations/committed/000008-realtime-ticket-change-notifications.sql), kept only when
 * the subscriber may see the ticket (and comment) they name right now. The
 * check runs under the subscriber's own role and claims, so row-level
 * security decides; an invisible event is dropped, never sent as null.
 */
export type TicketEventKind = "subscribed" | "created" | "status_changed" | "assigned" | "commented" | "updated";

export interface TicketEvent {
  kind: TicketEventKind;
  ticketId: string | null;
  commentId: string | null;
}

export interface TicketEventStreamOptions {
  pgSubscriber: PgSubscriber;
  withPgClient: WithPgClient<NodePostgresPgClient>;
  pgSettings: Record<string, string | undefined>;
  /** The database channels to merge, e.g. `ticket:<id>`. */
  channels: string[];
  /** The subscriber; their `user:<id>` channel ends the stream on deactivation or role change. */
  userId: string;
  activeSubscriptions?: Gauge;
}

const TICKET_KINDS = new Set<string>(["created", "status_changed", "assigned", "commented", "updated"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const READY_ATTEMPTS = 50;
const READY_RETRY_MS = 100;
// Copies of one event arrive together (NOTIFY delivers a transaction's notifications at once).
const RECENT_PAYLOADS = 64;
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

interface Notification {
  channel: string;
  payload: string;
}

interface Waiter {
  resolve(result: IteratorResult<Notification>): void;
  reject(error: unknown): void;
}

/** Several PgSubscriber channels as one queue of raw payloads, with the channel each came from. */
class ChannelMerge {
  private readonly iterators: AsyncIterableIterator<string>[];
  private readonly queue: Notification[] = [];
  /** Latest payloads: one event heard on two channels (queue and pool) is passed on once. */
  private readonly recent: string[] = [];
  private waiting: Waiter | null = null;
  private failure: unknown = null;
  private closed = false;

  constructor(subscriber: PgSubscriber, channels: string[]) {
    this.iterators = channels.map((channel) => {
      const iterator = subscriber.subscribe(channel);
      void this.pump(channel, iterator);
      return iterator;
    });
  }

  private async pump(channel: string, iterator: AsyncIterableIterator<string>): Promise<void> {
    try {
      for await (const payload of iterator) this.push({ channel, payload });
    } catch (error) {
      // The listening connection was lost: events may have been missed, so
      // the stream fails rather than silently going on.
      this.failure ??= error;
      this.waiting?.reject(error);
      this.waiting = null;
      this.close();
    }
  }

  private push(item: Notification): void {
    if (this.closed || this.recent.includes(item.payload)) return;
    this.recent.push(item.payload);
    if (this.recent.length > RECENT_PAYLOADS) this.recent.shift();
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) waiting.resolve({ done: false, value: item });
    else this.queue.push(item);
  }

  next(): Promise<IteratorResult<Notification>> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve({ done: false, value: queued });
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    for (const iterator of this.iterators) void iterator.return?.();
    this.waiting?.resolve(DONE);
    this.waiting = null;
  }
}

function parseTicketEvent(payload: string): TicketEvent | null {
  try {
    const value: unknown = JSON.parse(payload);
    if (typeof value !== "object" || value === null) return null;
    const { kind, ticketId, commentId } = value as Record<string, unknown>;
    if (typeof kind !== "string" || !TICKET_KINDS.has(kind)) return null;
    if (typeof ticketId !== "string" || !UUID.test(ticketId)) return null;
    const comment = typeof commentId === "string" && UUID.test(commentId) ? commentId : null;
    return { kind: kind as TicketEventKind, ticketId, commentId: comment };
  } catch {
    return null;
  }
}

export class TicketEventStream implements AsyncIterableIterator<TicketEvent> {
  private readonly options: TicketEventStreamOptions;
  private readonly merge: ChannelMerge;
  private started = false;
  private finished = false;

  constructor(options: TicketEventStreamOptions) {
    this.options = options;
    this.merge = new ChannelMerge(options.pgSubscriber, [...options.channels, `user:${options.userId}`]);
    options.activeSubscriptions?.inc();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<TicketEvent>> {
    try {
      if (!this.started) return await this.start();
      return await this.nextVisible();
    } catch (error) {
      this.finish();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<TicketEvent>> {
    this.finish();
    return DONE;
  }

  async throw(error?: unknown): Promise<IteratorResult<TicketEvent>> {
    this.finish();
    throw error;
  }

  /** First event: `subscribed`, once every channel is listened to and the user is still active. */
  private async start(): Promise<IteratorResult<TicketEvent>> {
    this.started = true;
    await this.listening();
    if (this.finished || !(await this.userIsActive())) return this.end();
    return { done: false, value: { kind: "subscribed", ticketId: null, commentId: null } };
  }

  private async nextVisible(): Promise<IteratorResult<TicketEvent>> {
    for (;;) {
      const item = await this.merge.next();
      if (item.done || this.finished) return this.end();
      // Anything on the user's own channel means deactivated or role changed.
      if (item.value.channel.startsWith("user:")) return this.end();
      const event = parseTicketEvent(item.value.payload);
      if (event && (await this.isVisible(event)) && !this.finished) return { done: false, value: event };
    }
  }

  private end(): IteratorResult<TicketEvent> {
    this.finish();
    return DONE;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.merge.close();
    this.options.activeSubscriptions?.dec();
  }

  /**
   * LISTEN is issued asynchronously on the shared listening connection, in
   * order. A private probe channel subscribed after ours is listened to after
   * them, so once a NOTIFY on it comes back every channel of this stream is
   * live and no later change can be missed.
   */
  private async listening(): Promise<void> {
    const channel = `subscription_ready:${randomUUID()}`;
    const probe = this.options.pgSubscriber.subscribe(channel);
    // One pending read: a reply to any attempt counts.
    const arrived = probe.next().then((result: IteratorResult<string>) => !result.done);
    try {
      for (let attempt = 0; attempt < READY_ATTEMPTS && !this.finished; attempt++) {
        await this.options.withPgClient(null, (client) =>
          client.query({ text: "select pg_notify($1, '')", values: [channel] }),
        );
        if (await within(arrived, READY_RETRY_MS)) return;
      }
      if (!this.finished) throw new Error("The database did not confirm the subscription");
    } finally {
      void probe.return?.();
    }
  }

  /** Active, and still holding the role the token names (a stale token after a role change is not). */
  private async userIsActive(): Promise<boolean> {
    const { rows } = await this.options.withPgClient(this.options.pgSettings, (client) =>
      client.query<{ active: boolean }>({
        text: `select coalesce((select 'ticketing_' || u.role = current_setting('role')
                                from app_public.current_user() as u where u.id is not null), false) as active`,
      }),
    );
    return rows[0]?.active === true;
  }

  private async isVisible(event: TicketEvent): Promise<boolean> {
    const { rows } = await this.options.withPgClient(this.options.pgSettings, (client) =>
      client.query<{ visible: boolean }>({
        text: `select exists (select 1 from app_public.tickets where id = $1)
                 and ($2::uuid is null or exists (select 1 from app_public.ticket_comments where id = $2)) as visible`,
        values: [event.ticketId, event.commentId],
      }),
    );
    return rows[0]?.visible === true;
  }
}

/** `promise`'s value if it settles within `ms`, else false. */
function within(promise: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
