// The flow recorder: `record()` only queues the event; rendering and writing happen in chunks a few
// milliseconds later (BATCH_DELAY_MS), after the protocol has written its response, through pino's asynchronous
// SonicBoom destination. While the destination is behind (half of `maxBufferBytes` unwritten), flows wait in
// the queue; past `maxPending` queued flows they are dropped and counted (`onLost`): a slow reader never grows
// the heap without bound or blocks a request. An `onLine` sink (the Hubble ring) gets every rendered line too, the
// same bytes the file gets; with target `off` and a sink, the recorder renders for the sink and writes nothing.
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { Logger } from 'pino';
import type { FlowEvent, FlowRecorder } from './types.js';
import { ensureWritable, FlowDestination } from './flow-file.js';
import { writeFlow } from './hubble-flow.js';
import { LineSlab } from './line-slab.js';
import { countLines, type FlowTap } from './flow-tap.js';
import type { RenderOptions } from './hubble-flow.js';

export { renderFlow, formatFlowTime } from './hubble-flow.js';
export { redactQuery, redactUrl, REDACTED, type QueryRedaction } from './url-redaction.js';

type SonicBoom = ReturnType<typeof pino.destination>;

export interface FlowRecorderOptions {
  /**
   * `stdout`, `off`, a file path (appended to; parent folders are created), or an open descriptor (a worker's pipe
   * to the primary). `off` records nothing, unless `onLine` is given: then lines are rendered for it alone.
   */
  readonly target: 'stdout' | 'off' | string | number;
  readonly redactHeaders: readonly string[];
  /** `redactQuery` of portcullis.yaml; absent or false: URLs keep their query. */
  readonly redactQuery?: boolean | readonly string[];
  /** Hubble `node_name`; defaults to the host name. */
  readonly nodeName?: string;
  /** Operational log for destination errors (ENOSPC, ...). */
  readonly log?: Logger;
  /** Called with the number of flows dropped because the writer fell behind (wire to `metrics.flowsLost`). */
  readonly onLost?: (count: number) => void;
  /** Flows waiting to be rendered before further ones are dropped. Default 100 000. */
  readonly maxPending?: number;
  /** Rendered bytes the destination may owe: rendering pauses at half; what would exceed it is dropped. 64 MiB. */
  readonly maxBufferBytes?: number;
  /** Longest time a rendered flow may sit in the write buffer, ms. Default 200. */
  readonly flushIntervalMs?: number;
  /** Sees each chunk of rendered lines before it is written (the admin's /flows on a stdout stream). */
  readonly tap?: FlowTap;
  /**
   * Called with each flow's line (no newline) right after it is rendered, and its time: a view of memory reused
   * later, so a sink keeping it copies it. Not called for a flow that could not be rendered.
   */
  readonly onLine?: (line: Uint8Array, timeMs: number) => void;
}

export interface RunningFlowRecorder extends FlowRecorder {
  /** Renders everything queued and waits until it has been handed to the OS. */
  flush(): Promise<void>;
  /** Flushes, then stops recording and closes the file (stdout stays open). */
  close(): Promise<void>;
  /** Reopens the file target after log rotation; no-op for stdout/off. */
  reopen(): void;
  /**
   * The reader is gone for good (a worker whose primary died): drops what is unwritten and records no more. pino
   * flushes the destination synchronously at exit, and SonicBoom's flushSync retries a write that failed with
   * EPIPE every 100 ms, forever: without this the process could not exit.
   */
  abandon(): void;
}

/** Writes are batched up to this size before a syscall, unless the flush interval passes first: each write is a
 * round trip through the libuv thread pool, and the kernel's cost per byte falls with the write's size. */
const MIN_WRITE_BYTES = 256 * 1024;
/** Largest single write (SonicBoom's default of 16 KiB would be below MIN_WRITE_BYTES). */
const MAX_WRITE_BYTES = 4 * MIN_WRITE_BYTES;
/**
 * How long the first flow waits for others before rendering starts, ms. Under load a request's flows would
 * otherwise be rendered and handed to the writer a few at a time, every event-loop turn, and that per-turn work
 * costs more than the rendering itself.
 */
const BATCH_DELAY_MS = 10;
/** Longest rendering stretch per event-loop turn, ms: other I/O waits at most this long for flow logging. */
const TURN_BUDGET_MS = 2;
/** Rendered flows kept at the front of the queue before it is compacted. */
const COMPACT_AFTER = 4096;
const WRITER_RETRY_MS = 1000;

/** RenderOptions' `redactQuery`: left out when nothing is redacted, so the renderer pays nothing for it. */
function queryRedaction(setting: FlowRecorderOptions['redactQuery']): Pick<RenderOptions, 'redactQuery'> {
  if (setting === true) return { redactQuery: true };
  if (setting === undefined || setting === false || setting.length === 0) return {};
  return { redactQuery: new Set(setting) };
}

/** How the recorder renders records (the Hubble ring keeps these very lines, so both are redacted alike). */
function renderOptions(opts: Pick<FlowRecorderOptions, 'redactHeaders' | 'redactQuery' | 'nodeName'>): RenderOptions {
  return {
    redactHeaders: new Set(opts.redactHeaders.map((h) => h.toLowerCase())),
    ...queryRedaction(opts.redactQuery),
    nodeName: opts.nodeName ?? hostname(),
  };
}

export function createFlowRecorder(opts: FlowRecorderOptions): RunningFlowRecorder {
  if (opts.target === 'off' && opts.onLine === undefined) return disabledRecorder();
  const render = renderOptions(opts);
  const { onLine } = opts;
  const maxPending = opts.maxPending ?? 100_000;
  const maxBufferBytes = opts.maxBufferBytes ?? 64 * 1024 * 1024;
  // Writes start below half the bound, and a chunk stays within an eighth of it (plus its last flow), so the
  // bound is never exceeded except by a single flow larger than it.
  const chunkBytes = Math.min(64 * 1024, maxBufferBytes / 8);
  const path = typeof opts.target === 'string' && opts.target !== 'stdout' && opts.target !== 'off' ? opts.target : undefined;
  const toFile = path !== undefined;
  if (toFile) ensureWritable(path);
  const dest: SonicBoom | undefined = opts.target === 'off' ? undefined : pino.destination({
    dest: path ?? (typeof opts.target === 'number' ? opts.target : 1),
    sync: false,
    minLength: MIN_WRITE_BYTES,
    maxWrite: MAX_WRITE_BYTES,
    // Each chunk is encoded once here; in text mode SonicBoom re-measures its whole pending string per write.
    contentMode: 'buffer',
    maxLength: maxBufferBytes,
    mkdir: toFile,
  });
  const file = dest && new FlowDestination(dest, toFile);
  const flushIntervalMs = opts.flushIntervalMs ?? 200;

  const lines = new LineSlab();
  let pending: FlowEvent[] = [];
  let head = 0; // pending[head..] are not rendered yet
  let scheduled = false;
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(drainTurn, BATCH_DELAY_MS);
  };
  let closed = false;
  let closing: Promise<void> | undefined;
  let broken = false; // EPIPE: the reader went away; pino turns the destination into a no-op
  // Batches smaller than MIN_WRITE_BYTES wait in SonicBoom's buffer; this timer bounds how long. It is armed
  // only while bytes are unwritten, so an idle proxy makes no syscalls.
  let unwritten = 0;
  let flushTimer: NodeJS.Timeout | undefined;
  const armFlush = (): void => {
    flushTimer ??= setTimeout(timedFlush, flushIntervalMs).unref();
  };
  const timedFlush = (): void => {
    flushTimer = undefined;
    if (unwritten > 0 && !broken && !closed) dest?.flush(); // no-op while a write is in flight; 'write' re-arms
  };
  const reportedErrors = new Set<string>();

  const lost = (count: number): void => {
    if (count > 0) opts.onLost?.(count);
  };
  // Every byte handed to the destination comes back, in order, as written or dropped: the slab reuses its memory.
  dest?.on('drop', (data: string | Buffer) => {
    const bytes = Buffer.byteLength(data);
    unwritten -= bytes;
    lines.done(bytes);
    lost(countLines(typeof data === 'string' ? Buffer.from(data) : data));
  });
  dest?.on('write', (bytes: number) => {
    unwritten -= bytes;
    lines.done(bytes);
    reportedErrors.clear();
    if (unwritten > 0) armFlush();
  });
  dest?.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') broken = true;
    const code = err.code ?? err.message;
    if (reportedErrors.has(code)) return;
    reportedErrors.add(code);
    opts.log?.warn({ err, target: opts.target }, 'flow records could not be written');
  });

  /** Renders for at most TURN_BUDGET_MS per event-loop turn, so a burst of flows never holds the loop long. */
  function drainTurn(): void {
    if (closed) return;
    const deadline = performance.now() + TURN_BUDGET_MS;
    while (head < pending.length && !writerBehind() && performance.now() < deadline) drainChunk();
    if (head === pending.length) {
      scheduled = false;
    } else if (writerBehind()) {
      // Flows wait in the queue (bounded by maxPending) rather than overflow the write buffer.
      void writerCaughtUp().then(() => {
        scheduled = false;
        schedule();
      });
    } else {
      setImmediate(drainTurn);
    }
  }

  function writerBehind(): boolean {
    return !broken && unwritten > maxBufferBytes / 2;
  }

  let catchingUp: Promise<void> | undefined;
  function writerCaughtUp(): Promise<void> {
    catchingUp ??= new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(retry);
        dest?.off('drain', done);
        catchingUp = undefined;
        resolve();
      };
      // A destination in an error state (ENOSPC, ...) never drains: try again after a pause, never stall.
      const retry = setTimeout(done, WRITER_RETRY_MS);
      dest?.on('drain', done);
    });
    return catchingUp;
  }

  /** Renders queued flows until their text reaches `chunkBytes`, and writes them. */
  function drainChunk(): void {
    if (broken) {
      lost(pending.length - head);
      pending = [];
      head = 0;
      return;
    }
    let i = head;
    while (i < pending.length && lines.pending < chunkBytes) {
      const event = pending[i++]!;
      try {
        writeFlow(lines, event, render);
      } catch (err) {
        lines.abandonLine();
        // A malformed event must cost one record, not the batch or the process.
        lost(1);
        opts.log?.error({ err, listener: event.listener }, 'flow record could not be rendered');
        continue;
      }
      onLine?.(lines.lastLine(), event.time.getTime());
    }
    head = i;
    if (head === pending.length) {
      pending = [];
      head = 0;
    } else if (head >= COMPACT_AFTER) {
      // Under sustained load the queue never empties; drop the rendered prefix so it can be collected.
      pending = pending.slice(head);
      head = 0;
    }
    if (lines.pending === 0) return;
    const bytes = lines.take();
    if (dest === undefined) {
      lines.done(bytes.length); // rendered for the sink alone
      return;
    }
    opts.tap?.publish(bytes);
    unwritten += bytes.length;
    dest.write(bytes as unknown as string); // SonicBoom's typings predate its buffer mode
    armFlush();
  }

  async function flushDestination(): Promise<void> {
    while (head < pending.length) {
      if (writerBehind()) await writerCaughtUp();
      drainChunk();
    }
    // A flush may leave up to minLength bytes buffered when a write was in flight: flush again while that makes
    // progress (a destination in an error state makes none).
    let before = Number.POSITIVE_INFINITY;
    do {
      if (broken || closed || file === undefined) return;
      before = unwritten;
      await file.flush();
    } while (unwritten > 0 && unwritten < before);
  }

  return {
    enabled: true,
    record(event) {
      if (closing) return;
      if (pending.length - head >= maxPending) {
        lost(1);
        return;
      }
      pending.push(event);
      schedule();
    },
    flush: flushDestination,
    close() {
      closing ??= (async () => {
        await flushDestination();
        closed = true;
        clearTimeout(flushTimer);
        if (!broken) await file?.end();
      })();
      return closing;
    },
    reopen() {
      if (!closing && !broken) file?.reopen();
    },
    abandon() {
      closing ??= Promise.resolve();
      closed = broken = true;
      clearTimeout(flushTimer);
      dest?.destroy(); // marks it destroyed at once: the exit-time flush skips it
    },
  };
}

function disabledRecorder(): RunningFlowRecorder {
  return { enabled: false, record() {}, flush: async () => {}, close: async () => {}, reopen() {}, abandon() {} };
}
