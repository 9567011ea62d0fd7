// Connection deadlines checked by one periodic sweep instead of a timer per request: arming a timer per request
// and clearing it costs more than the whole head parse, while a deadline is a number stored at a state change.
// A deadline fires at most one sweep period late (a quarter of the shortest timeout, at most one second), never early.

export interface DeadlineHolder {
  /** Acts on whatever deadline has passed at `now` (performance.now() milliseconds). */
  checkDeadlines(now: number): void;
}

export class DeadlineSweep {
  private readonly holders = new Set<DeadlineHolder>();
  private timer: NodeJS.Timeout | undefined;
  private readonly periodMs: number;

  /** `shortestTimeoutMs`: the smallest timeout the holders enforce. */
  constructor(shortestTimeoutMs: number) {
    this.periodMs = Math.max(5, Math.min(1000, Math.floor(shortestTimeoutMs / 4)));
  }

  add(holder: DeadlineHolder): void {
    this.holders.add(holder);
    if (this.timer === undefined) {
      this.timer = setInterval(this.sweep, this.periodMs);
      this.timer.unref();
    }
  }

  delete(holder: DeadlineHolder): void {
    this.holders.delete(holder);
    if (this.holders.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    for (const holder of this.holders) holder.checkDeadlines(now);
  };
}
