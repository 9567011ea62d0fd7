// The memory one Kafka listener's connections (its broker listeners' included) may hold for request frames that
// span reads. A frame is buffered until it is whole, so N clients each sending most of a maxFrameSize frame would
// otherwise hold N × 100 MiB. As Kafka's own broker does (its memory pool, queued.max.request.bytes), a frame's
// whole declared size is reserved once its size prefix has been read; a frame that does not fit waits, its
// connection no longer read (holding at most one socket read), until earlier frames complete or their
// connections close. Waiting rather than closing: a burst of large legitimate requests slows down instead of
// failing. Reserving whole frames rather than counting bytes as they arrive: a frame being read can always
// complete, so connections never wait on each other in a cycle, and kafka.requestTimeoutMs ends a reserved frame
// that stalls. Frames that arrive in one read are never buffered and never wait.
export class RequestBufferBudget {
  private reserved = 0;
  /** Frames waiting for room, oldest first: a large one is not overtaken forever by small ones. */
  private readonly waiting: Array<{ readonly bytes: number; readonly granted: () => void }> = [];

  constructor(readonly maxBytes: number) {}

  get reservedBytes(): number {
    return this.reserved;
  }

  /** Reserves `bytes` now (true) if they fit and no frame waits; else queues the frame and calls `granted` once reserved. */
  reserve(bytes: number, granted: () => void): boolean {
    if (this.waiting.length === 0 && this.reserved + bytes <= this.maxBytes) {
      this.reserved += bytes;
      return true;
    }
    this.waiting.push({ bytes, granted });
    return false;
  }

  release(bytes: number): void {
    this.reserved -= bytes;
    this.grant();
  }

  /** A waiting frame's connection is gone. */
  cancel(granted: () => void): void {
    const at = this.waiting.findIndex((w) => w.granted === granted);
    if (at < 0) return;
    this.waiting.splice(at, 1);
    if (at === 0) this.grant();
  }

  private grant(): void {
    while (this.waiting.length > 0 && this.reserved + this.waiting[0]!.bytes <= this.maxBytes) {
      const next = this.waiting.shift()!;
      this.reserved += next.bytes;
      next.granted();
    }
  }
}
