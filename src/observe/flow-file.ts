// Flushing, reopening and ending the flow recorder's SonicBoom destination without its traps (sonic-boom 4.2),
// which ended `portcullis run` with a TypeError stack trace when start-up failed or a SIGTERM came right after start:
// - SonicBoom opens a file asynchronously (when created, and again on reopen). A flush(cb) issued meanwhile makes
//   it write a batch that does not exist once the file is open: a TypeError thrown from an fs callback. So flush(cb)
//   is never used: flushes wait for the open, and their completion is awaited on events.
// - end() on a file that failed to open waits forever for it to open, and pino's exit hook throws flushing it
//   ("sonic boom is not ready yet"). So a file that never opened is not ended but marked closed, and ending is
//   bounded in time.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type pino from 'pino';

type SonicBoom = ReturnType<typeof pino.destination>;

/** Longest wait for a flush: a destination in an error state (ENOSPC, ...) may never drain. */
const FLUSH_WAIT_MS = 1000;
/** Longest wait for the file to be written and closed at shutdown. */
const END_WAIT_MS = 5000;

export class FlowDestination {
  #state: 'opening' | 'open' | 'failed';
  #opened: Promise<void> = Promise.resolve();

  constructor(
    private readonly dest: SonicBoom,
    private readonly isFile: boolean,
  ) {
    this.#state = 'open';
    if (isFile) this.#track('failed');
  }

  /**
   * Writes what is buffered; resolves when SonicBoom's write loop stops (it may still hold less than its minLength
   * when bytes arrived during the last write) or on an error.
   */
  async flush(): Promise<void> {
    await this.#opened;
    if (this.#state === 'failed') return;
    await this.#until(['drain', 'error'], FLUSH_WAIT_MS, () => this.dest.flush());
  }

  /** Reopens the file by its path (log rotation); a reopen that fails keeps the file already open. */
  reopen(): void {
    if (!this.isFile || this.#state !== 'open') return;
    this.dest.reopen();
    this.#track('open');
  }

  /** Writes what is buffered and closes the file (stdout stays open). */
  async end(): Promise<void> {
    await this.#opened;
    if (this.#state === 'failed') return;
    await this.#until(['close', 'error'], END_WAIT_MS, () => this.dest.end());
  }

  /** Until the (re)open completes, flushes and end() wait; an error means it failed. */
  #track(onError: 'open' | 'failed'): void {
    this.#state = 'opening';
    this.#opened = this.#until(['ready', 'error'], Number.POSITIVE_INFINITY, () => {}).then((event) => {
      this.#state = event === 'ready' ? 'open' : onError;
      // 'close' is what tells pino not to flush the destination at exit.
      if (this.#state === 'failed') this.dest.emit('close');
    });
  }

  /** Runs `start`, then resolves with the first of `events` to fire, or undefined after `timeoutMs`. */
  #until(events: readonly string[], timeoutMs: number, start: () => void): Promise<string | undefined> {
    return new Promise((resolve) => {
      const listeners = events.map((event) => [event, () => done(event)] as const);
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => done(undefined), timeoutMs) : undefined;
      const done = (event: string | undefined): void => {
        clearTimeout(timer);
        for (const [name, listener] of listeners) this.dest.off(name, listener);
        resolve(event);
      };
      for (const [name, listener] of listeners) this.dest.on(name, listener);
      start();
    });
  }
}

/** Fail at startup with the OS's reason (EACCES, EISDIR, ...) rather than on the first flow. */
export function ensureWritable(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    closeSync(openSync(path, 'a'));
  } catch (err) {
    throw new Error(`flows: cannot write flow records to ${path}: ${(err as Error).message}`, { cause: err });
  }
}
