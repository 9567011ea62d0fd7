// The primary's workers: one slot per worker, forked with node:cluster, replaced with back-off when one exits
// unasked, drained on request, replaced one by one for a rolling restart. Messages the primary itself must answer
// (metrics, Kafka broker ports) are handed to `onMessage`.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { LogOptions } from '../config/log-options.js';
import { WORKER_FLOWS_FD, workerEnv, type FromWorker, type ToWorker } from './cluster-messages.js';
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
/** How a send to a worker that has exited fails. */
const CLOSED_CHANNEL = new Set(['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED']);

export interface Revision {
  readonly sources: Sources;
  readonly revision: number;
}

export interface PoolOptions {
  readonly size: number;
  readonly log: Logger;
  /** The level and format every worker logs with (the primary's). */
  readonly logOptions: LogOptions;
  /** What every worker starts with: the latest revision (asked at each fork) and the shared secrets. */
  latest(): Revision;
  readonly ticketKeys: Buffer;
  readonly watchCerts: boolean;
  /** A worker's flow pipe, to merge into stdout (absent unless `flows: stdout`). */
  readonly onFlows?: (pipe: Readable) => void;
  onMessage(worker: Worker, message: FromWorker): void;
  /** A worker that exited unasked, about to be replaced. */
  onRestart(slot: number): void;
  /** A worker is gone (drained, replaced or dead). */
  onExit(worker: Worker): void;
}

/** One forked worker. */
interface Member {
  readonly worker: Worker;
  readonly slot: Slot;
  serving: boolean;
  revision: number;
  readyAt: number;
  /** Asked to exit (drained or replaced): its exit is not a failure. */
  leaving: boolean;
  /** Settles when it serves or fails to. */
  started: Promise<void>;
  starting?: { resolve(): void; reject(err: Error): void };
  /** Forked, not yet up: it gets the latest revision when it is. */
  unstarted: boolean;
  applied?: (ok: boolean) => void;
}

interface Slot {
  readonly index: number;
  current?: Member;
  /** The worker a rolling restart is replacing: it serves until its replacement does. */
  outgoing?: Member;
  failures: number;
  timer?: NodeJS.Timeout;
}

export interface WorkerInfo {
  readonly slot: number;
  readonly worker: Worker;
  readonly serving: boolean;
  readonly revision: number;
}

export class WorkerPool {
  readonly #slots: Slot[];
  readonly #members = new Map<Worker, Member>();
  #stopping = false;
  /** Set once every first worker served: from then on a worker that exits is replaced. */
  #running = false;

  constructor(private readonly opts: PoolOptions) {
    this.#slots = Array.from({ length: opts.size }, (_, index) => ({ index: index + 1, failures: 0 }));
    cluster.setupPrimary({
      exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)),
      args: [],
      // fd 3: the worker's flow records (WORKER_FLOWS_FD); the IPC channel after it.
      stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'ipc'],
    });
  }

  /** Forks every worker; resolves when all serve, rejects with the first start-up failure. */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => (slot.current = this.#spawn(slot)).started));
    this.#running = true;
  }

  /** Slots with a worker serving now. */
  serving(): number {
    return this.#slots.filter((s) => s.current?.serving === true || s.outgoing?.serving === true).length;
  }

  /** Every slot has a worker serving. */
  allServing(): boolean {
    return !this.#stopping && this.serving() === this.#slots.length;
  }

  /** Every live worker (a replaced one still draining included), for scrapes and /workers. */
  workers(): WorkerInfo[] {
    return [...this.#members.values()].map((m) => ({ slot: m.slot.index, worker: m.worker, serving: m.serving, revision: m.revision }));
  }

  /**
   * Has every live worker switch to `next` and resolves once all run it. A worker that does not confirm in time is
   * replaced (its replacement starts with the latest revision, which is `next`).
   */
  async apply(next: Revision): Promise<void> {
    const message: ToWorker = { t: 'policy', sources: next.sources, revision: next.revision };
    await Promise.all(
      [...this.#members.values()].map(async (m) => {
        // A worker still starting may have been given the revision before `next`.
        await m.started.catch(() => {});
        if (!m.serving || m.revision >= next.revision || !this.#members.has(m.worker)) return;
        const applied = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), APPLY_WAIT_MS);
          m.applied = (ok) => {
            clearTimeout(timer);
            resolve(ok);
          };
          m.worker.once('exit', () => m.applied?.(true)); // its replacement starts with `next`
        });
        m.worker.send(message);
        const ok = await applied;
        m.applied = undefined;
        if (ok || !this.#members.has(m.worker)) return;
        this.opts.log.error({ worker: m.slot.index, workerPid: m.worker.process.pid, revision: next.revision }, 'worker did not apply the revision; replacing it');
        if (m.slot.current === m) await this.#replace(m.slot);
        else await this.#drain(m, 0);
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

  /** Sends `message` to every live worker. */
  broadcast(message: ToWorker): void {
    for (const m of this.#members.values()) if (m.worker.isConnected()) m.worker.send(message);
  }

  /** Drains every worker and resolves when all have exited (killing those that outstay DRAIN_KILL_MS). */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const slot of this.#slots) clearTimeout(slot.timer);
    await Promise.all([...this.#members.values()].map((m) => this.#drain(m, DRAIN_KILL_MS)));
  }

  #handle(m: Member, message: FromWorker): void {
    switch (message.t) {
      case 'up': {
        if (!m.unstarted) return;
        m.unstarted = false;
        const { sources, revision } = this.opts.latest();
        m.worker.send({ t: 'start', sources, revision, ticketKeys: this.opts.ticketKeys.toString('base64'), watchCerts: this.opts.watchCerts } satisfies ToWorker);
        return;
      }
      case 'ready':
        m.serving = true;
        m.revision = message.revision;
        m.readyAt = Date.now();
        m.starting?.resolve();
        return;
      case 'failed':
        m.starting?.reject(new StartupError(message.message));
        return;
      case 'applied':
        m.revision = message.revision;
        m.applied?.(true);
        return;
      case 'rejected':
        // The primary compiled the same sources: this worker is in a bad state (apply() replaces it).
        this.opts.log.error({ worker: m.slot.index, revision: message.revision, error: message.message }, 'worker could not apply the revision');
        m.applied?.(false);
        return;
      default:
        this.opts.onMessage(m.worker, message);
    }
  }

  /** Forks a worker for `slot`; its `started` settles once it serves or fails to. */
  #spawn(slot: Slot): Member {
    const worker = cluster.fork(workerEnv(slot.index, this.opts.logOptions));
    const m: Member = { worker, slot, serving: false, revision: 0, readyAt: 0, leaving: false, unstarted: true, started: Promise.resolve() };
    this.#members.set(worker, m);
    const pipe = worker.process.stdio?.[WORKER_FLOWS_FD] as Readable | null | undefined;
    if (pipe) {
      if (this.opts.onFlows) this.opts.onFlows(pipe);
      else pipe.resume();
    }
    worker.on('message', (message: FromWorker) => this.#handle(m, message));
    // A worker's exit reaches the primary only when its event loop next runs: a message sent in between (a drain, a
    // scrape, a revision) fails on the closed channel. The exit is what counts; the message is moot.
    worker.on('error', (err: NodeJS.ErrnoException) => {
      if (CLOSED_CHANNEL.has(err.code ?? '')) this.opts.log.debug({ worker: slot.index, err }, 'message to an exited worker dropped');
      else this.opts.log.error({ worker: slot.index, err }, 'worker process error');
    });
    // 'exit' can come before the last messages (a start-up failure's reason): those are read by the time the IPC
    // channel is closed.
    worker.once('exit', (code, signal) => {
      if (worker.isConnected()) worker.once('disconnect', () => this.#exited(m, code, signal));
      else this.#exited(m, code, signal);
    });
    let timer: NodeJS.Timeout | undefined;
    m.started = new Promise<void>((resolve, reject) => {
      m.starting = { resolve, reject };
      timer = setTimeout(() => {
        reject(new Error(`worker ${slot.index} did not serve within ${START_WAIT_MS / 1000} s`));
        worker.process.kill('SIGKILL');
      }, START_WAIT_MS);
    }).finally(() => {
      clearTimeout(timer);
      m.starting = undefined;
    });
    return m;
  }

  /** Forks a new worker into the slot and, once it serves, drains the one it replaces (kept if the new one fails). */
  async #replace(slot: Slot): Promise<void> {
    const old = slot.current;
    slot.outgoing = old;
    const next = (slot.current = this.#spawn(slot));
    try {
      await next.started;
    } catch (err) {
      this.opts.log.error({ worker: slot.index, err }, 'replacement worker failed to start; the worker it was to replace keeps serving');
      void this.#drain(next, 0);
      if (old !== undefined && this.#members.has(old.worker)) slot.current = old;
      else if (slot.current === next) slot.current = undefined;
      slot.outgoing = undefined;
      if (slot.current === undefined) this.#restartLater(slot);
      return;
    }
    slot.outgoing = undefined;
    if (old !== undefined) await this.#drain(old, DRAIN_KILL_MS);
  }

  /** Asks `m` to finish its connections and exit; kills it after `killAfterMs`. Resolves when it has exited. */
  #drain(m: Member, killAfterMs: number): Promise<void> {
    m.leaving = true;
    const { worker } = m;
    if (!this.#members.has(worker)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), killAfterMs);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (worker.isConnected()) worker.send({ t: 'drain' } satisfies ToWorker);
      else worker.process.kill('SIGTERM');
    });
  }

  #exited(m: Member, code: number | null, signal: string | null): void {
    this.#members.delete(m.worker);
    this.opts.onExit(m.worker);
    m.starting?.reject(new Error(`worker ${m.slot.index} exited before it served (${signal ?? `code ${code}`})`));
    const { slot } = m;
    const stable = m.serving && Date.now() - m.readyAt >= STABLE_AFTER_MS;
    m.serving = false;
    if (slot.outgoing === m) slot.outgoing = undefined;
    if (slot.current !== m) return;
    slot.current = undefined;
    // A rolling restart in progress, a drain or the start-up handle their own workers.
    if (m.leaving || this.#stopping || !this.#running) return;
    if (slot.outgoing !== undefined) return;
    slot.failures = stable ? 1 : slot.failures + 1;
    const delay = this.#restartLater(slot);
    this.opts.log.error({ worker: slot.index, workerPid: m.worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; replacing it');
    this.opts.onRestart(slot.index);
  }

  /** Forks the slot's worker after the back-off its failures call for; returns the delay. */
  #restartLater(slot: Slot): number {
    const delay = Math.min(FIRST_BACKOFF_MS * 2 ** Math.max(0, slot.failures - 1), MAX_BACKOFF_MS);
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      if (this.#stopping || slot.current !== undefined) return;
      const m = (slot.current = this.#spawn(slot));
      m.started.catch((err: unknown) => this.opts.log.error({ worker: slot.index, err }, 'replacement worker failed to start'));
    }, delay);
    return delay;
  }
}
