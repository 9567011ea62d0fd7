// GET /flows on the admin listener: flow records as NDJSON (one record per line, chunked). Without `follow` the
// recent records (`last`, default 20) and the end; with `follow=1` those and then every new record until the
// client goes or the admin closes. A flow file is read by the admin itself (every process appends to it, so this
// works with workers); a stdout stream is tapped (FlowTap) and has no history. Watchers are few and bounded.
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { followFile, lastLines } from './flow-file-read.js';
import type { FlowTap } from './flow-tap.js';

/** Where the admin finds flow records: the `flows:` setting, resolved. */
export type FlowFeed =
  | { readonly kind: 'off' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'tap'; readonly tap: FlowTap };

/** Concurrent /flows responses; each following one holds a connection (of ADMIN_MAX_CONNECTIONS) and a reader. */
export const MAX_FLOW_WATCHERS = 8;
export const DEFAULT_LAST = 20;
export const MAX_LAST = 100_000;
/** How long close() lets open streams finish their last chunk before the connections are cut. */
const END_WAIT_MS = 1000;

interface Stream {
  readonly abort: AbortController;
  readonly done: Promise<unknown>;
}

export class FlowStreams {
  readonly #open = new Set<Stream>();

  constructor(private readonly feed: FlowFeed) {}

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const feed = this.feed;
    if (feed.kind === 'off') return text(res, 409, 'flow records are off (flows: off): there are none to stream\n');
    const query = new URL(req.url ?? '/', 'http://admin').searchParams;
    const follow = ['1', 'true'].includes(query.get('follow') ?? '');
    const lastParam = query.get('last');
    const last = lastParam === null ? DEFAULT_LAST : Number(lastParam);
    if (!Number.isSafeInteger(last) || last < 0) return text(res, 400, `last: expected a whole number of records from 0 to ${MAX_LAST}\n`);
    if (this.#open.size >= MAX_FLOW_WATCHERS) return text(res, 503, `too many flow watchers (at most ${MAX_FLOW_WATCHERS}); try again later\n`);

    const abort = new AbortController();
    const stream: Stream = { abort, done: once(res, 'close').catch(() => undefined) };
    this.#open.add(stream);
    res.once('close', () => {
      abort.abort();
      this.#open.delete(stream);
    });
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...(feed.kind === 'tap' && { 'portcullis-flow-history': 'none' }),
    });
    if (req.method === 'HEAD') return void res.end();
    res.flushHeaders(); // a follower learns it is connected before the first record, which may be long in coming
    try {
      if (feed.kind === 'file') await streamFile(feed.path, res, Math.min(last, MAX_LAST), follow, abort.signal);
      else if (follow) {
        const unsubscribe = feed.tap.subscribe(res);
        await aborted(abort.signal);
        unsubscribe();
      }
    } finally {
      if (!res.destroyed) res.end();
    }
  }

  /** Ends every open stream cleanly (the admin is closing). */
  async close(): Promise<void> {
    const streams = [...this.#open];
    for (const s of streams) s.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(streams.map((s) => s.done)), new Promise((resolve) => (timer = setTimeout(resolve, END_WAIT_MS)))]);
    clearTimeout(timer);
  }
}

async function streamFile(path: string, res: ServerResponse, last: number, follow: boolean, signal: AbortSignal): Promise<void> {
  // History and what follows meet at one offset: nothing is shown twice or skipped.
  const end = (await stat(path).catch(() => undefined))?.size ?? 0;
  const history = end > 0 ? await lastLines(path, end, last) : [];
  if (history.length > 0 && !res.write(`${history.join('\n')}\n`)) await drained(res, signal);
  if (!follow || signal.aborted) return;
  for await (const chunk of followFile(path, end, signal)) {
    if (!res.write(chunk)) await drained(res, signal);
  }
}

/** The socket took what was written, or the stream is over. */
async function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  await once(res, 'drain', { signal }).catch(() => undefined);
}

function aborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

/** The feed for a `flows:` setting; `tap` is where a stdout stream's bytes pass (created by the caller). */
export function flowFeed(target: string, tap: FlowTap | undefined): FlowFeed {
  if (target === 'off') return { kind: 'off' };
  if (target === 'stdout') return tap === undefined ? { kind: 'off' } : { kind: 'tap', tap };
  return { kind: 'file', path: target };
}
