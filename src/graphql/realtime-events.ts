import type { Gauge } from "prom-client";
import { SafeError } from "postgraphile/grafast";
import { eventIdOf } from "./realtime-cursor.ts";
import type { Interest, RealtimeDispatcher, Snapshot, Subscriber, TicketEvent } from "./realtime-dispatcher.ts";

export type { TicketEvent, TicketEventKind } from "./realtime-dispatcher.ts";

/**
 * The stream behind one ticket subscription: SUBSCRIBED once the process
 * listens and the user is active, then the events the dispatcher
 * (realtime-dispatcher.ts) found visible to this subscriber, in order. Given
 * `afterId` (a resume), the missed events are replayed first, then
 * SUBSCRIBED, then the live ones.
 */
export interface TicketEventStreamOptions {
  dispatcher: RealtimeDispatcher;
  userId: string;
  settings: Readonly<Record<string, string>>;
  interest: Interest;
  /** Resume: replay the visible events after this event id before going live. */
  afterId?: string;
  activeSubscriptions?: Gauge;
}

/** A subscriber that does not keep up is cut off rather than buffered without end. */
const MAX_QUEUED_EVENTS = 100;
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

export class TicketEventStream implements AsyncIterableIterator<TicketEvent>, Subscriber {
  readonly userId: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly interest: Interest;
  since?: Snapshot;
  private readonly dispatcher: RealtimeDispatcher;
  private readonly gauge: Gauge | undefined;
  private readonly afterId: string | undefined;
  private readonly queue: TicketEvent[] = [];
  /** Replayed events and SUBSCRIBED, delivered before the live queue. */
  private backlog: TicketEvent[] = [];
  /** Cursors of replayed events: a live copy of one is skipped. */
  private readonly replayed = new Set<string>();
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private ended = false;
  private started = false;
  private finished = false;

  /** Registers with the dispatcher at once; throws TOO_MANY_SUBSCRIPTIONS beyond the per-user limit. */
  constructor(options: TicketEventStreamOptions) {
    this.userId = options.userId;
    this.settings = options.settings;
    this.interest = options.interest;
    this.dispatcher = options.dispatcher;
    this.afterId = options.afterId;
    this.gauge = options.activeSubscriptions;
    this.dispatcher.add(this);
    this.gauge?.inc();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  deliver(event: TicketEvent): void {
    if (this.finished || this.ended || this.failure) return;
    if (this.queue.length >= MAX_QUEUED_EVENTS) {
      this.fail(
        new SafeError("Events are not being read fast enough; subscribe again", { code: "SUBSCRIPTION_OVERFLOW" }),
      );
      return;
    }
    this.queue.push(event);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.queue.length = 0;
    this.notify();
  }

  async next(): Promise<IteratorResult<TicketEvent>> {
    try {
      if (!this.started) return await this.start();
      for (;;) {
        if (this.failure) throw this.failure;
        const replayed = this.backlog.shift();
        if (replayed) return { done: false, value: replayed };
        const event = this.queue.shift();
        if (event && this.replayed.has(event.cursor)) continue;
        if (event) return { done: false, value: event };
        if (this.ended || this.finished) return this.finish();
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } catch (error) {
      this.finish();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<TicketEvent>> {
    return this.finish();
  }

  async throw(error?: unknown): Promise<IteratorResult<TicketEvent>> {
    this.finish();
    throw error;
  }

  /**
   * Once the stream is live (and its user active): the replayed events when
   * resuming, then `subscribed` with the cursor of "now". Live events that
   * arrive meanwhile wait in the queue.
   */
  private async start(): Promise<IteratorResult<TicketEvent>> {
    this.started = true;
    const now = await this.dispatcher.activate(this);
    if (now === null || this.finished) return this.finish();
    if (this.afterId !== undefined) {
      this.backlog = await this.dispatcher.replay(this, this.afterId);
      for (const event of this.backlog) this.replayed.add(event.cursor);
    }
    // The start of the subscription, or the last replayed event if that is newer (it committed meanwhile).
    const last = this.backlog.at(-1)?.cursor;
    const cursor = last !== undefined && BigInt(eventIdOf(last)) > BigInt(eventIdOf(now)) ? last : now;
    this.backlog.push({ kind: "subscribed", ticketId: null, commentId: null, attachmentId: null, cursor });
    return this.next();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private finish(): IteratorReturnResult<undefined> {
    if (!this.finished) {
      this.finished = true;
      this.queue.length = 0;
      this.backlog.length = 0;
      this.dispatcher.remove(this);
      this.gauge?.dec();
      this.notify();
    }
    return DONE;
  }
}
