// The primary's workers: one slot per worker, forked with node:cluster, replaced with back-off when one exits
// unasked, drained on request, replaced one by one for a rolling restart. Messages the primary itself must answer
// (metrics, Kafka broker ports) are handed to `onMessage`.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { WORKER_FLOWS_FD, type FromWorker, type ToWorker } from './cluster-messages.js';
import type { Sources } from './compile.js';
import { StartupError } from './listeners.js';

/** First restart after this long; doubles per consecutive failure up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
/** A worker that served this long before exiting starts the back-off afresh. */
const STABLE_AFTER_MS = 10_000;
/** How long a drained worker may take to finish its connections before it is killed. */
const DRAIN_KILL_MS = 15_000;
/** How long a new worker may take to serve before it counts as failed (a hung start must not hang the primary). */
const START_WAIT_MS = 60_000;
/** How long every worker may take to apply a revision before the laggard is replaced. */
const APPLY_WAIT_MS = 30_000;

export interface Revision {
  readonly sources: Sources;
  readonly revision: number;
}

export interface PoolOptions {
  readonly size: number;
  readonly log: Logger;
  /** What every worker starts with: the latest revision (asked at each fork) and the shared secrets. */
  latest(): Revision;
  readonly ticketKeys: Buffer;
  readonly watchCerts: boolean;
  /** A worker's flow pipe, to merge into the flow stream (absent with `flows: off`). */
  readonly onFlows?: (pipe: Readable) => void;
  onMessage(worker: Worker, message: FromWorker): void;
  /** A worker that exited unasked, about to be replaced. */
  onRestart(slot: number): void;
}

interface Slot {
  readonly index: number;
  worker?: Worker;
  ready: boolean;
  revision: number;
  failures: number;
  readyAt: number;
  /** Settles when the slot's current worker serves or fails to. */
  started: Promise<void>;
  timer?: NodeJS.Timeout;
}

export class WorkerPool {
  readonly #slots: Slot[];
  /** Workers asked to exit (drained or replaced): their exit is not a failure. */
  readonly #leaving = new Set<Worker>();
  readonly #readyWaiters = new Map<Worker, { resolve(): void; reject(err: Error): void }>();
  readonly #applyWaiters = new Map<Worker, () => void>();
  /** Forked workers not yet up: each gets the latest revision when it is. */
  readonly #unstarted = new Set<Worker>();
  #stopping = false;
  /** Set once every first worker served: from then on a worker that exits is replaced. */
  #running = false;

  constructor(private readonly opts: PoolOptions) {
    this.#slots = Array.from({ length: opts.size }, (_, index) => ({ index: index + 1, ready: false, revision: 0, failures: 0, readyAt: 0, started: Promise.resolve() }));
    cluster.setupPrimary({
      exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)),
      args: [],
      // fd 3: the worker's flow records (WORKER_FLOWS_FD); the IPC channel after it.
      stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'ipc'],
    });
  }

  /** Forks every worker; resolves when all serve, rejects with the first start-up failure. */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.#fork(slot)));
    this.#running = true;
  }

  /** Workers serving now. */
  serving(): number {
    return this.#slots.filter((s) => s.ready).length;
  }

  /** Every slot has a worker serving. */
  allServing(): boolean {
    return !this.#stopping && this.#slots.every((s) => s.ready);
  }

  /** The live workers, by slot (for scrapes and /workers). */
  workers(): { slot: number; worker: Worker; ready: boolean; revision: number }[] {
    return this.#slots.flatMap((s) => (s.worker === undefined ? [] : [{ slot: s.index, worker: s.worker, ready: s.ready, revision: s.revision }]));
  }

  /**
   * Has every live worker switch to `next` and resolves once all run it. A worker that does not confirm in time is
   * replaced (its replacement starts with the latest revision, which is `next`).
   */
  async apply(next: Revision): Promise<void> {
    const message: ToWorker = { t: 'policy', sources: next.sources, revision: next.revision };
    await Promise.all(
      this.#slots.map(async (slot) => {
        // A worker still starting may have been given the revision before `next`.
        if (!slot.ready) await slot.started.catch(() => {});
        const worker = slot.worker;
        if (worker === undefined || !slot.ready || slot.revision >= next.revision) return;
        const applied = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), APPLY_WAIT_MS);
          this.#applyWaiters.set(worker, () => {
            clearTimeout(timer);
            resolve(true);
          });
          worker.once('exit', () => resolve(true)); // its replacement starts with `next`
        });
        worker.send(message);
        if (!(await applied)) {
          this.opts.log.error({ worker: slot.index, workerPid: worker.process.pid, revision: next.revision }, 'worker did not apply the revision in time; replacing it');
          await this.#replace(slot);
        }
        this.#applyWaiters.delete(worker);
      }),
    );
  }

  /** Replaces the workers one at a time, each only once its replacement serves: no connection is refused. */
  async restartAll(): Promise<void> {
    for (const slot of this.#slots) {
      if (this.#stopping) return;
      await this.#replace(slot);
    }
  }

  /** Drains every worker and resolves when all have exited (killing those that outstay DRAIN_KILL_MS). */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const slot of this.#slots) clearTimeout(slot.timer);
    await Promise.all(this.#slots.map((slot) => (slot.worker === undefined ? undefined : this.#drain(slot.worker))));
  }

  /** A worker's message about itself; the rest go to the primary. */
  handle(worker: Worker, message: FromWorker): void {
    const slot = this.#slots.find((s) => s.worker === worker);
    switch (message.t) {
      case 'up': {
        if (!this.#unstarted.delete(worker)) return;
        const { sources, revision } = this.opts.latest();
        worker.send({ t: 'start', sources, revision, ticketKeys: this.opts.ticketKeys.toString('base64'), watchCerts: this.opts.watchCerts } satisfies ToWorker);
        return;
      }
      case 'ready':
        if (slot !== undefined) {
          slot.ready = true;
          slot.revision = message.revision;
          slot.readyAt = Date.now();
        }
        this.#readyWaiters.get(worker)?.resolve();
        return;
      case 'failed':
        this.#readyWaiters.get(worker)?.reject(new StartupError(message.message));
        return;
      case 'applied':
        if (slot !== undefined) slot.revision = message.revision;
        this.#applyWaiters.get(worker)?.();
        return;
      case 'rejected':
        // The primary compiled the same sources: the worker is in a bad state, and is replaced below by apply().
        this.opts.log.error({ worker: slot?.index, revision: message.revision, error: message.message }, 'worker could not apply the revision');
        return;
      default:
        this.opts.onMessage(worker, message);
    }
  }

  /** Forks the slot's worker; resolves once it serves. */
  #fork(slot: Slot): Promise<void> {
    const worker = cluster.fork({ PORTCULLIS_WORKER: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    const pipe = worker.process.stdio?.[WORKER_FLOWS_FD] as Readable | null | undefined;
    if (pipe) {
      if (this.opts.onFlows) this.opts.onFlows(pipe);
      else pipe.resume();
    }
    worker.on('message', (message: FromWorker) => this.handle(worker, message));
    worker.once('exit', (code, signal) => this.#exited(slot, worker, code, signal));
    this.#unstarted.add(worker);
    let timer: NodeJS.Timeout | undefined;
    slot.started = new Promise<void>((resolve, reject) => {
      this.#readyWaiters.set(worker, { resolve, reject });
      timer = setTimeout(() => {
        reject(new Error(`worker ${slot.index} did not serve within ${START_WAIT_MS / 1000} s`));
        worker.process.kill('SIGKILL');
      }, START_WAIT_MS);
    }).finally(() => {
      clearTimeout(timer);
      this.#readyWaiters.delete(worker);
    });
    return slot.started;
  }

  /** Forks a new worker into the slot and, once it serves, drains the one it replaces. */
  async #replace(slot: Slot): Promise<void> {
    const old = slot.worker;
    if (old !== undefined) this.#leaving.add(old);
    try {
      await this.#fork(slot);
    } catch (err) {
      this.opts.log.error({ worker: slot.index, err }, 'replacement worker failed to start');
    }
    if (old !== undefined) await this.#drain(old);
  }

  #drain(worker: Worker): Promise<void> {
    this.#leaving.add(worker);
    if (worker.isDead()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), DRAIN_KILL_MS);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (worker.isConnected()) worker.send({ t: 'drain' } satisfies ToWorker);
      else worker.process.kill('SIGTERM');
    });
  }

  #exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    const waiter = this.#readyWaiters.get(worker);
    waiter?.reject(new Error(`worker ${slot.index} exited before it served (${signal ?? `code ${code}`})`));
    const asked = this.#leaving.delete(worker);
    if (slot.worker !== worker) return; // already replaced
    const stable = slot.ready && Date.now() - slot.readyAt >= STABLE_AFTER_MS;
    slot.ready = false;
    slot.worker = undefined;
    if (asked || this.#stopping || !this.#running) return;
    slot.failures = stable ? 1 : slot.failures + 1;
    const delay = Math.min(FIRST_BACKOFF_MS * 2 ** (slot.failures - 1), MAX_BACKOFF_MS);
    this.opts.log.error({ worker: slot.index, workerPid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; replacing it');
    this.opts.onRestart(slot.index);
    slot.timer = setTimeout(() => {
      if (this.#stopping) return;
      this.#fork(slot).catch((err: unknown) => this.opts.log.error({ worker: slot.index, err }, 'replacement worker failed to start'));
    }, delay);
  }
}
