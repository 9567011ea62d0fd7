// The admin endpoint's live view of a `flows: stdout` stream: the rendered bytes, tapped where they already exist
// (the recorder's chunk in one process, the primary's FlowMerge with workers) and copied to each watcher. Nobody
// watching costs one size check per chunk. The copy is needed because the recorder's LineSlab reuses its memory
// once a chunk is written. Each watcher queues at most WATCHER_QUEUE_BYTES while its connection is behind; what
// would exceed that is dropped and counted, and the count is sent, as Hubble's GetFlowsResponse does, as a line
// `{"lost_events":{"num_events_lost":N}}` once the watcher catches up: a stalled watcher never grows the proxy's
// memory or slows it.
import type { ServerResponse } from 'node:http';

/** Bytes a watcher may have queued (beyond its socket's own buffer) before chunks for it are dropped. */
export const WATCHER_QUEUE_BYTES = 1024 * 1024;

export class FlowTap {
  readonly #watchers = new Set<Watcher>();

  /** A chunk of whole flow lines, about to be written; `bytes` may be reused as soon as this returns. */
  publish(bytes: Uint8Array): void {
    if (this.#watchers.size === 0) return;
    const copy = Buffer.from(bytes);
    for (const watcher of this.#watchers) watcher.push(copy);
  }

  /** Streams every chunk published from now on to `res` until it closes; returns the unsubscribe. */
  subscribe(res: ServerResponse, maxQueued = WATCHER_QUEUE_BYTES): () => void {
    const watcher = new Watcher(res, maxQueued);
    this.#watchers.add(watcher);
    const remove = (): void => {
      this.#watchers.delete(watcher);
    };
    res.once('close', remove);
    return remove;
  }
}

class Watcher {
  #queue: Buffer[] = [];
  #queued = 0;
  #lost = 0;
  #waiting = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly maxQueued: number,
  ) {
    res.on('drain', () => this.#drain());
  }

  push(chunk: Buffer): void {
    if (!this.#waiting) {
      this.#write(chunk);
      return;
    }
    if (this.#queued + chunk.length > this.maxQueued) {
      this.#lost += countLines(chunk);
      return;
    }
    this.#queue.push(chunk);
    this.#queued += chunk.length;
  }

  #drain(): void {
    this.#waiting = false;
    if (this.#lost > 0) {
      this.#write(Buffer.from(`${JSON.stringify({ lost_events: { num_events_lost: this.#lost } })}\n`));
      this.#lost = 0;
    }
    while (this.#queue.length > 0 && !this.#waiting) {
      const chunk = this.#queue.shift()!;
      this.#queued -= chunk.length;
      this.#write(chunk);
    }
  }

  #write(chunk: Buffer): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    if (!this.res.write(chunk)) this.#waiting = true;
  }
}

export function countLines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
}
