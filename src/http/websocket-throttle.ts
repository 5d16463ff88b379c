/**
 * Messages of one websocket are handled at a steady rate: a burst of
 * `2 × perSecond` at once, then `perSecond` a second. The excess waits in a
 * queue of at most `maxQueuedBytes`; a client that sends more than that is
 * cut off. Without this a single socket could pipeline thousands of
 * operations, each cheap to refuse but together holding the event loop
 * (and with it every other client) for seconds.
 */
export interface ThrottleOptions {
  perSecond: number;
  maxQueuedBytes: number;
}

export class MessageThrottle {
  private readonly options: ThrottleOptions;
  private readonly handle: (message: string) => void;
  private readonly overflow: () => void;
  private tokens: number;
  private refilledAt = Date.now();
  private readonly queue: string[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(options: ThrottleOptions, handle: (message: string) => void, overflow: () => void) {
    this.options = options;
    this.handle = handle;
    this.overflow = overflow;
    this.tokens = this.burst;
  }

  private get burst(): number {
    return 2 * this.options.perSecond;
  }

  /** A message arrived: handled now if the socket is within its rate, else queued. */
  push(message: string): void {
    if (this.stopped) return;
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.handle(message);
      return;
    }
    if (this.queuedBytes + message.length > this.options.maxQueuedBytes) {
      this.stop();
      this.overflow();
      return;
    }
    this.queue.push(message);
    this.queuedBytes += message.length;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.options.perSecond);
    this.refilledAt = now;
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) / this.options.perSecond) * 1000));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain();
    }, wait);
  }

  private drain(): void {
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1 && !this.stopped) {
      const message = this.queue.shift()!;
      this.queuedBytes -= message.length;
      this.tokens -= 1;
      this.handle(message);
    }
    if (this.queue.length > 0) this.schedule();
  }
}

/**
 * Runs the messages of every socket one per turn of the event loop, in
 * arrival order, so that network I/O (other clients' requests, database
 * replies) is served between any two of them. Handling a burst of queued
 * messages in one turn would hold the loop for as long as they all take.
 */
export class TurnScheduler {
  private readonly tasks: (() => void)[] = [];
  private scheduled = false;

  run(task: () => void): void {
    this.tasks.push(task);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.step);
    }
  }

  private readonly step = (): void => {
    this.tasks.shift()?.();
    if (this.tasks.length > 0) setImmediate(this.step);
    else this.scheduled = false;
  };
}
