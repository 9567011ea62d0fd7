// With workers and `flows: stdout`, the one flow stream: each worker renders its records and writes them to a pipe;
// the primary copies whole lines from every pipe to its stdout. A record is never split between writes from
// different workers, because only the bytes up to a pipe's last newline are passed on and the rest waits for its
// end. (A flow file needs none of this: every worker appends to it, each write whole, as nginx workers do.) When the destination falls behind, the pipes are no longer read, the workers' writes wait, and their
// recorders queue and then drop (and count) flows: back-pressure reaches the recorder's existing bound.
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import pino from 'pino';
import type { Logger } from 'pino';
import { FlowDestination } from './flow-file.js';
import type { FlowTap } from './flow-tap.js';

/** How long close() waits for the workers' pipes to end (their recorders flush on drain). */
const SOURCES_END_WAIT_MS = 15_000;

export class FlowMerge {
  readonly #dest: ReturnType<typeof pino.destination>;
  readonly #out: FlowDestination;
  readonly #sources = new Set<Readable>();
  #paused = false;
  #reported = new Set<string>();

  /** `tap` sees every chunk of whole lines passed on (the admin's /flows). */
  constructor(
    private readonly log: Logger,
    private readonly tap?: FlowTap,
  ) {
    // Chunks arrive batched by the workers' recorders: they are written as they come, not batched again.
    this.#dest = pino.destination({ dest: 1, sync: false, minLength: 0, contentMode: 'buffer' });
    this.#out = new FlowDestination(this.#dest, false);
    this.#dest.on('drain', () => this.#resume());
    this.#dest.on('write', () => this.#reported.clear());
    this.#dest.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      if (this.#reported.has(code)) return;
      this.#reported.add(code);
      this.log.warn({ err, target: 'stdout' }, 'flow records could not be written');
    });
  }

  /** Copies `source`'s whole lines until it ends. */
  add(source: Readable): void {
    let partial: Buffer | undefined;
    this.#sources.add(source);
    source.on('data', (chunk: Buffer) => {
      const end = chunk.lastIndexOf(0x0a) + 1;
      if (end === 0) {
        partial = partial === undefined ? chunk : Buffer.concat([partial, chunk]);
        return;
      }
      const whole = partial === undefined ? chunk.subarray(0, end) : Buffer.concat([partial, chunk.subarray(0, end)]);
      partial = end < chunk.length ? chunk.subarray(end) : undefined;
      this.tap?.publish(whole);
      if (!this.#dest.write(whole as unknown as string)) this.#pause(); // SonicBoom's typings predate its buffer mode
    });
    // A worker that died mid-write leaves part of a record: it is not a record, so it is not passed on.
    source.once('close', () => this.#sources.delete(source));
    source.on('error', () => {});
    if (this.#paused) source.pause();
  }

  /** Waits for the workers' pipes to end, then writes what is left. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.#sources].map((source) => once(source, 'close'))),
      new Promise((resolve) => (timer = setTimeout(resolve, SOURCES_END_WAIT_MS))),
    ]);
    clearTimeout(timer);
    for (const source of this.#sources) source.destroy();
    await this.#out.end();
  }

  #pause(): void {
    this.#paused = true;
    for (const source of this.#sources) source.pause();
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    for (const source of this.#sources) source.resume();
  }
}
