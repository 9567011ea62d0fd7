// The Hubble ring buffer: the last `capacity` flows, kept whether or not anyone reads them. A flow is kept as the
// recorder rendered it (its JSON line, copied into one Buffer: a single heap object with its bytes off the heap, so
// a full ring costs young-generation GCs nothing to copy, unlike the ~20 objects of a FlowEvent) with its time in a
// Float64Array. Recording is that copy (plus a flag check to wake followers once per event-loop turn); the gRPC form
// of a flow is made only when a client reads it, then kept with its slot for other readers until it is overwritten.
// Flows are numbered by arrival (`seen` counts every one): a reader holds a number, not a reference, so one that
// falls behind by more than the capacity learns how many it lost.
import { flowMessage, type FlowMessage } from './flow-message.js';

export class FlowRing {
  private readonly lines: Array<Buffer | undefined>;
  private readonly times: Float64Array;
  private readonly messages: Array<FlowMessage | undefined>;
  /** Flows recorded since start; the next flow's number. */
  private next = 0;
  private waiters: Array<() => void> = [];
  private wakeScheduled = false;

  constructor(readonly capacity: number) {
    this.lines = new Array<Buffer | undefined>(capacity);
    this.times = new Float64Array(capacity);
    this.messages = new Array<FlowMessage | undefined>(capacity);
  }

  /** Keeps a copy of `line` (one flow's JSON record, as the recorder's `onLine` sees it), recorded at `timeMs`. */
  push(line: Uint8Array, timeMs: number): void {
    const slot = this.next % this.capacity;
    this.lines[slot] = Buffer.from(line);
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

  /** Flow `n`'s JSON line, or undefined once it has been overwritten (or before it is recorded). */
  line(n: number): Buffer | undefined {
    return this.held(n) ? this.lines[n % this.capacity] : undefined;
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
}
