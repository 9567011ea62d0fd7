// One partition's log, in memory: record batches kept as the bytes clients sent, stamped with offsets.
// Single node, so the high watermark is the log end offset; nothing is ever deleted, so the log start
// offset stays 0.
import { ProducerStates } from './producer-state.js';
import { checkProducedBatch, recordTimestamps, setBaseOffset } from './record-batch.js';
import { ErrorCode } from '../../../protocols/kafka/codec/index.js';

export interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly bytes: Buffer;
}

export type AppendResult =
  | { readonly errorCode: typeof ErrorCode.NONE; readonly baseOffset: number }
  | { readonly errorCode: number; readonly message: string };

export interface OffsetAndTimestamp {
  readonly offset: number;
  readonly timestamp: number;
}

export class PartitionLog {
  readonly logStartOffset = 0;
  private readonly batches: StoredBatch[] = [];
  private endOffset = 0;
  private readonly producers = new ProducerStates();
  private readonly appendListeners = new Set<() => void>();

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get highWatermark(): number {
    return this.endOffset;
  }

  /** Validate and append the record batch of one produced partition. */
  append(records: Buffer | null): AppendResult {
    const checked = checkProducedBatch(records);
    if (!checked.ok) return checked;
    const h = checked.header;
    if (h.transactional) return { errorCode: ErrorCode.INVALID_TXN_STATE, message: 'transactions are not supported by the demo broker' };
    const sequence = this.producers.check(h);
    if (sequence.kind === 'error') return sequence;
    if (sequence.kind === 'duplicate') return { errorCode: ErrorCode.NONE, baseOffset: sequence.baseOffset };
    // Copy: the request frame must not stay alive for as long as the log does.
    const bytes = Buffer.from(records!);
    const baseOffset = this.endOffset;
    setBaseOffset(bytes, baseOffset);
    this.batches.push({ baseOffset, lastOffset: baseOffset + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, bytes });
    this.endOffset += h.lastOffsetDelta + 1;
    this.producers.record(h, baseOffset);
    for (const listener of [...this.appendListeners]) listener();
    return { errorCode: ErrorCode.NONE, baseOffset };
  }

  /**
   * Whole batches from the one holding `fetchOffset` on, within `maxBytes`; the first batch is
   * returned even when larger if `atLeastOne` (KIP-74), so a big batch cannot stall a consumer.
   * Clients skip the records before `fetchOffset` in the first batch themselves.
   */
  read(fetchOffset: number, maxBytes: number, atLeastOne: boolean): Buffer[] {
    const out: Buffer[] = [];
    let size = 0;
    for (let i = this.indexOfOffset(fetchOffset); i < this.batches.length; i++) {
      const bytes = this.batches[i]!.bytes;
      if (size + bytes.length > maxBytes && !(atLeastOne && out.length === 0)) break;
      out.push(bytes);
      size += bytes.length;
    }
    return out;
  }

  /** The first offset whose record timestamp is at least `timestamp` (ListOffsets by time). */
  offsetForTimestamp(timestamp: number): OffsetAndTimestamp | undefined {
    const batch = this.batches.find((b) => b.maxTimestamp >= timestamp);
    if (!batch) return undefined;
    const exact = recordTimestamps(batch.bytes)?.find((r) => r.timestamp >= timestamp);
    // Compressed batches resolve to the batch: its records are not decoded.
    return exact ? { offset: batch.baseOffset + exact.offsetDelta, timestamp: exact.timestamp } : { offset: batch.baseOffset, timestamp: batch.maxTimestamp };
  }

  /** The record with the largest timestamp (ListOffsets -3, KIP-734). */
  offsetOfMaxTimestamp(): OffsetAndTimestamp | undefined {
    let best: StoredBatch | undefined;
    for (const b of this.batches) if (!best || b.maxTimestamp > best.maxTimestamp) best = b;
    if (!best) return undefined;
    const exact = recordTimestamps(best.bytes)?.find((r) => r.timestamp === best.maxTimestamp);
    return { offset: exact ? best.baseOffset + exact.offsetDelta : best.lastOffset, timestamp: best.maxTimestamp };
  }

  /** Call `listener` after every append until the returned function is called. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** Index of the first batch whose last offset is at or after `offset` (binary search). */
  private indexOfOffset(offset: number): number {
    let lo = 0;
    let hi = this.batches.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.batches[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Resolves after the first append to any of `logs`, after `ms`, or when `signal` aborts. */
export function waitForAppend(logs: readonly PartitionLog[], ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const unsubscribe = logs.map((log) => log.onAppend(done));
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      for (const u of unsubscribe) u();
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
