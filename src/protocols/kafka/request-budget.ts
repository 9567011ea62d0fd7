// The bytes of incomplete request frames that one Kafka listener's connections (its broker listeners' included)
// hold together. A frame is buffered until it is whole, so N clients each sending most of a maxFrameSize frame
// would otherwise hold N × 100 MiB. Past the budget, a connection holding part of a frame stops reading until
// others release theirs — Kafka's own queued.max.request.bytes does the same (it mutes sockets) — rather than
// being closed: a burst of large legitimate requests slows down instead of failing. The overshoot is at most one
// socket read per connection, and a frame that stalls is still ended by kafka.requestTimeoutMs, so waiting
// connections always get their turn.
export class RequestBufferBudget {
  private held = 0;
  /** Connections waiting for room, in the order they started to wait. */
  private readonly waiting = new Set<() => void>();

  constructor(readonly maxBytes: number) {}

  get heldBytes(): number {
    return this.held;
  }

  get exhausted(): boolean {
    return this.held >= this.maxBytes;
  }

  /** A connection now holds `delta` more (or fewer) bytes; freed room wakes waiting connections, oldest first. */
  change(delta: number): void {
    this.held += delta;
    if (delta >= 0) return;
    for (const resume of this.waiting) {
      if (this.exhausted) break;
      this.waiting.delete(resume);
      resume();
    }
  }

  /** Calls `resume` once there is room (or never, after `cancel`). */
  wait(resume: () => void): void {
    this.waiting.add(resume);
  }

  cancel(resume: () => void): void {
    this.waiting.delete(resume);
  }
}
