// The bound on requests waiting for an upstream's connections. The HTTP/1.1 pools cap their connections
// (`upstreamMaxConnections`) and queue the requests beyond them; the gate counts the requests in flight per origin
// and refuses one more once the connections and the queue (`upstreamMaxPending`) are all taken, so a flood of
// requests costs a 503 each rather than memory and ever longer waits for everyone.
import type { HttpLimits } from '../../config/types.js';

export function overloadedInfo(limits: Pick<HttpLimits, 'upstreamMaxConnections' | 'upstreamMaxPending'>): string {
  return `upstream overloaded: ${limits.upstreamMaxConnections} connections busy and ${limits.upstreamMaxPending} requests queued (upstreamMaxConnections, upstreamMaxPending)`;
}

export class RequestGate {
  private readonly inFlight = new Map<string, number>();
  private readonly capacity: number;
  /** Why a request was refused, for its flow. */
  readonly refusal: string;

  constructor(limits: Pick<HttpLimits, 'upstreamMaxConnections' | 'upstreamMaxPending'>) {
    this.capacity = limits.upstreamMaxConnections + limits.upstreamMaxPending;
    this.refusal = overloadedInfo(limits);
  }

  /** Admits one request to `origin`: its release callback (idempotent), or undefined when the queue is full. */
  enter(origin = ''): (() => void) | undefined {
    const n = this.inFlight.get(origin) ?? 0;
    if (n >= this.capacity) return undefined;
    this.inFlight.set(origin, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.inFlight.get(origin)! - 1;
      if (left === 0) this.inFlight.delete(origin);
      else this.inFlight.set(origin, left);
    };
  }
}
