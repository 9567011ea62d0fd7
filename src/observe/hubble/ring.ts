// The Hubble ring buffer: the last `capacity` flows, kept whether or not anyone reads them. A flow is kept as the
// recorder rendered it: its JSON line copied into one circular byte arena, its place and time in typed arrays. So
// recording allocates nothing on the heap: a ring of FlowEvents (~20 objects each) made every young-generation GC
// copy them, and a Buffer per line (an ArrayBuffer per few lines) made V8 run major GCs for the external memory.
// Recording is that copy (plus a flag check to wake followers once per event-loop turn); the gRPC form of a flow is
// made only when a client reads it, then kept with its slot for other readers until it is overwritten.
// Flows are numbered by arrival (`seen` counts every one): a reader holds a number, not a reference, so one that
// falls behind by more than the capacity learns how many it lost.
import { flowMessage, type FlowMessage } from './flow-message.js';

/** Arena bytes per slot to start with; the arena doubles when the lines kept need more. */
const START_BYTES_PER_FLOW = 1024;

export class FlowRing {
  /** The lines, in the order pushed, wrapping around: the free bytes run from `at` to the oldest kept line. */
  private arena: Buffer;
  private at = 0;
  private readonly starts: Float64Array;
  private readonly lengths: Float64Array;
  private readonly times: Float64Array;
  private readonly messages: Array<FlowMessage | undefined>;
  /** Flows recorded since start; the next flow's number. */
  private next = 0;
  private waiters: Array<() => void> = [];
  private wakeScheduled = false;

  constructor(readonly capacity: number) {
    this.arena = Buffer.allocUnsafeSlow(capacity * START_BYTES_PER_FLOW);
    this.starts = new Float64Array(capacity);
    this.lengths = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.messages = new Array<FlowMessage | undefined>(capacity);
  }

  /** Keeps a copy of `line` (one flow's JSON record, as the recorder's `onLine` sees it), recorded at `timeMs`. */
  push(line: Uint8Array, timeMs: number): void {
    const slot = this.next % this.capacity;
    // The flow this one replaces is dropped first: its bytes are free for this one.
    const kept = Math.max(0, this.next + 1 - this.capacity);
    let start = this.fit(line.length, kept);
    if (start < 0) {
      this.grow(line.length, kept);
      start = this.at;
    }
    this.arena.set(line, start);
    this.at = start + line.length;
    this.starts[slot] = start;
    this.lengths[slot] = line.length;
    this.times[slot] = timeMs;
    this.messages[slot] = undefined;
    this.next++;
    if (this.waiters.length > 0 && !this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.wake);
    }
  }

  /** Flows recorded since start. */
  get seen(): number {
    return this.next;
  }

  /** The number of the oldest flow still held. */
  get oldest(): number {
    return Math.max(0, this.next - this.capacity);
  }

  /**
   * Flow `n`'s JSON line, or undefined once it has been overwritten (or before it is recorded). A view of the
   * arena: read it before the next push, which may write over it.
   */
  line(n: number): Buffer | undefined {
    if (!this.held(n)) return undefined;
    const start = this.starts[n % this.capacity]!;
    return this.arena.subarray(start, start + this.lengths[n % this.capacity]!);
  }

  /** Flow `n`'s time in ms since the epoch, or undefined once it has been overwritten (or before it is recorded). */
  time(n: number): number | undefined {
    return this.held(n) ? this.times[n % this.capacity] : undefined;
  }

  /** Flow `n` in gRPC form, or undefined once it has been overwritten. Throws for a line that cannot be converted. */
  message(n: number): FlowMessage | undefined {
    const line = this.line(n);
    if (line === undefined) return undefined;
    return (this.messages[n % this.capacity] ??= flowMessage(line));
  }

  /** Resolves after the next flows are recorded (at most one event-loop turn later), or at once on `abort`. */
  changed(abort: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (abort.aborted) return resolve();
      const done = (): void => {
        abort.removeEventListener('abort', onAbort);
        resolve();
      };
      // A reader that goes away while nothing is recorded must not stay in the list.
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      abort.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(done);
    });
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  };

  private held(n: number): boolean {
    return n >= this.oldest && n < this.next;
  }

  /** Where `bytes` fit in the arena without writing over flows `kept` onwards, or -1. */
  private fit(bytes: number, kept: number): number {
    const size = this.arena.length;
    if (kept === this.next) return bytes <= size ? 0 : -1;
    const oldest = this.starts[kept % this.capacity]!;
    if (oldest < this.at) {
      // Kept lines lie in [oldest, at): free after them, else from the arena's start.
      if (this.at + bytes <= size) return this.at;
      return bytes <= oldest ? 0 : -1;
    }
    // Kept lines wrap around: free between the newest's end and the oldest's start.
    return this.at + bytes <= oldest ? this.at : -1;
  }

  /** A larger arena with flows `kept` onwards copied to its start in order, `at` after them, room for `bytes` more. */
  private grow(bytes: number, kept: number): void {
    let used = bytes;
    for (let n = kept; n < this.next; n++) used += this.lengths[n % this.capacity]!;
    const arena = Buffer.allocUnsafeSlow(Math.max(2 * this.arena.length, 2 * used));
    let at = 0;
    for (let n = kept; n < this.next; n++) {
      const slot = n % this.capacity;
      const start = this.starts[slot]!;
      at += this.arena.copy(arena, at, start, start + this.lengths[slot]!);
      this.starts[slot] = at - this.lengths[slot]!;
    }
    this.arena = arena;
    this.at = at;
  }
}
