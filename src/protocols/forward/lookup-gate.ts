// System name lookups (getaddrinfo) run on libuv's thread pool, 4 threads by default, which fs work shares: the
// flow-file writes among it. A lookup that hangs keeps its thread until the system resolver gives up, whatever the
// proxy's own timeout says, so a client asking for slow names could take every thread. The gate lets `limit`
// lookups run at once, counting each until it has really finished, and `queueLimit` more wait for a turn.
import { PortcullisError } from '../../errors.js';

export class LookupGateFull extends PortcullisError {
  readonly code = 'PCL_ERR_LOOKUP_GATE_FULL';
}

export class LookupGate {
  private running = 0;
  /** Wake-ups of waiting lookups, oldest first. */
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly limit: number,
    private readonly queueLimit: number,
  ) {}

  /**
   * Runs `task` once a slot is free. Rejects with LookupGateFull when `queueLimit` already wait, or with the
   * signal's reason when it aborts while waiting; a running task keeps its slot until it settles.
   */
  async run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await this.turn(signal);
    try {
      return await task();
    } finally {
      this.handOver();
    }
  }

  private turn(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.waiting.size >= this.queueLimit) return Promise.reject(new LookupGateFull(`${this.limit} lookups running and ${this.waiting.size} waiting`));
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        this.waiting.delete(wake);
        reject(signal.reason);
      };
      this.waiting.add(wake);
      signal.addEventListener('abort', abort, { once: true });
    });
  }

  /** A finished task's slot goes straight to the oldest waiter, so no newcomer can slip in between. */
  private handOver(): void {
    const [next] = this.waiting;
    if (next === undefined) {
      this.running--;
      return;
    }
    this.waiting.delete(next);
    next();
  }
}
