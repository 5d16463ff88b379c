/**
 * Polls /readyz all through the run and keeps each change of state, so
 * every fault window can report how long the API said it was not ready.
 */
export interface ReadinessChange {
  at: number;
  ready: boolean;
}

export class ReadinessMonitor {
  readonly changes: ReadinessChange[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  private readonly baseUrl: string;
  private readonly clock: () => number;
  private readonly intervalMs: number;

  constructor(baseUrl: string, clock: () => number, intervalMs = 200) {
    this.baseUrl = baseUrl;
    this.clock = clock;
    this.intervalMs = intervalMs;
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        let ready = false;
        try {
          const response = await fetch(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
          await response.arrayBuffer();
          ready = response.status === 200;
        } catch {
          ready = false;
        }
        const last = this.changes[this.changes.length - 1];
        if (!last || last.ready !== ready) this.changes.push({ at: this.clock(), ready });
        await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Milliseconds /readyz was not 200 between `from` and `to`. */
  notReadyBetween(from: number, to: number): number {
    let total = 0;
    for (let i = 0; i < this.changes.length; i++) {
      const change = this.changes[i]!;
      if (change.ready) continue;
      const begin = Math.max(change.at, from);
      const end = Math.min(this.changes[i + 1]?.at ?? to, to);
      if (end > begin) total += end - begin;
    }
    return total;
  }
}
