// The Hubble ring buffer: the last `capacity` FlowEvents, kept whether or not anyone reads them. Recording is a
// store into a slot (plus a flag check to wake followers once per event-loop turn); the gRPC form of a flow is
// made only when a client reads it, then kept with its slot for other readers until the slot is overwritten.
// Flows are numbered by arrival (`seen` counts every one): a reader holds a number, not a reference, so one that
// falls behind by more than the capacity learns how many it lost.
import type { RunningFlowRecorder } from '../flows.js';
import type { RenderOptions } from '../hubble-flow.js';
import type { FlowEvent } from '../types.js';
import { flowMessage, type FlowMessage } from './flow-message.js';

export class FlowRing {
  private readonly events: Array<FlowEvent | undefined>;
  private readonly messages: Array<FlowMessage | undefined>;
  /** Flows recorded since start; the next flow's number. */
  private next = 0;
  private waiters: Array<() => void> = [];
  private wakeScheduled = false;

  constructor(
    readonly capacity: number,
    private readonly render: RenderOptions,
  ) {
    this.events = new Array<FlowEvent | undefined>(capacity);
    this.messages = new Array<FlowMessage | undefined>(capacity);
  }

  push(event: FlowEvent): void {
    const slot = this.next % this.capacity;
    this.events[slot] = event;
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

  /** Flow `n`'s event, or undefined once it has been overwritten (or before it is recorded). */
  event(n: number): FlowEvent | undefined {
    return n >= this.oldest && n < this.next ? this.events[n % this.capacity] : undefined;
  }

  /** Flow `n` in gRPC form, or undefined once it has been overwritten. Throws for an event that cannot be rendered. */
  message(n: number): FlowMessage | undefined {
    const event = this.event(n);
    if (event === undefined) return undefined;
    const slot = n % this.capacity;
    return (this.messages[slot] ??= flowMessage(event, this.render));
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
}

/** `recorder`, with every flow also kept in `ring`: enabled even when flow records are off, since Hubble reads them. */
export function recordingInto(ring: FlowRing, recorder: RunningFlowRecorder): RunningFlowRecorder {
  return {
    ...recorder,
    enabled: true,
    record(event) {
      ring.push(event);
      recorder.record(event);
    },
  };
}
