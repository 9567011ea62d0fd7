// Idempotent-producer bookkeeping for one partition: what Kafka's ProducerStateManager does for
// producers without transactions. Each producer id remembers its epoch and its last five batches, so a
// retried batch is acknowledged with its original offset instead of being written twice, and a gap in
// sequence numbers is refused.
import type { RecordBatchHeader } from './record-batch.js';
import { ErrorCode } from '../../../protocols/kafka/codec/index.js';

/** Kafka keeps the metadata of this many recent batches per producer for duplicate detection. */
const RETAINED_BATCHES = 5;
/** Sequence numbers wrap from Integer.MAX_VALUE back to 0. */
const SEQUENCE_MODULUS = 2 ** 31;

interface BatchSequences {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: BatchSequences[];
}

export type SequenceCheck =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number }
  | { readonly kind: 'error'; readonly errorCode: number; readonly message: string };

function lastSequence(h: RecordBatchHeader): number {
  return (h.baseSequence + h.lastOffsetDelta) % SEQUENCE_MODULUS;
}

export class ProducerStates {
  private readonly entries = new Map<bigint, ProducerEntry>();

  check(h: RecordBatchHeader): SequenceCheck {
    if (h.producerId < 0n) return { kind: 'append' };
    const entry = this.entries.get(h.producerId);
    // No state (first batch, or a producer id from before a restart): accept, as Kafka does once state is gone.
    if (!entry) return { kind: 'append' };
    if (h.producerEpoch < entry.epoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `producer epoch ${h.producerEpoch} is older than ${entry.epoch}` };
    }
    if (h.producerEpoch > entry.epoch) {
      return h.baseSequence === 0
        ? { kind: 'append' }
        : { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `a new producer epoch must start at sequence 0, got ${h.baseSequence}` };
    }
    const last = lastSequence(h);
    const duplicate = entry.batches.find((b) => b.firstSeq === h.baseSequence && b.lastSeq === last);
    if (duplicate) return { kind: 'duplicate', baseOffset: duplicate.baseOffset };
    const expected = (entry.batches[entry.batches.length - 1]!.lastSeq + 1) % SEQUENCE_MODULUS;
    if (h.baseSequence === expected) return { kind: 'append' };
    return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `expected sequence ${expected}, got ${h.baseSequence}` };
  }

  /** Record an appended batch; call only after check() said 'append'. */
  record(h: RecordBatchHeader, baseOffset: number): void {
    if (h.producerId < 0n) return;
    let entry = this.entries.get(h.producerId);
    if (!entry || h.producerEpoch !== entry.epoch) {
      entry = { epoch: h.producerEpoch, batches: [] };
      this.entries.set(h.producerId, entry);
    }
    entry.batches.push({ firstSeq: h.baseSequence, lastSeq: lastSequence(h), baseOffset });
    if (entry.batches.length > RETAINED_BATCHES) entry.batches.shift();
  }
}
