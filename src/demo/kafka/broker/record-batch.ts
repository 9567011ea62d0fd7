// Kafka record batches (message format v2) as the broker sees them: a fixed 61-byte header it validates
// and stamps with offsets, followed by records it never needs to decode — except to answer timestamp
// lookups precisely in uncompressed batches.
import { crc32c } from './crc32c.js';
import { ErrorCode } from '../../../protocols/kafka/codec/index.js';

// Header layout (DefaultRecordBatch): every field's byte offset.
const BASE_OFFSET = 0;
const BATCH_LENGTH = 8;
const MAGIC = 16;
const CRC = 17;
const ATTRIBUTES = 21;
const LAST_OFFSET_DELTA = 23;
const BASE_TIMESTAMP = 27;
const MAX_TIMESTAMP = 35;
const PRODUCER_ID = 43;
const PRODUCER_EPOCH = 51;
const BASE_SEQUENCE = 53;
const RECORDS_COUNT = 57;
const BATCH_HEADER_SIZE = 61;
/** baseOffset and batchLength precede the part batchLength counts. */
const LOG_OVERHEAD = 12;

const COMPRESSION_MASK = 0x07;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

export interface RecordBatchHeader {
  readonly lastOffsetDelta: number;
  readonly transactional: boolean;
  readonly maxTimestamp: number;
  /** -1 for producers that are not idempotent. */
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

export type BatchCheck = { readonly ok: true; readonly header: RecordBatchHeader } | { readonly ok: false; readonly errorCode: number; readonly message: string };

function reject(errorCode: number, message: string): BatchCheck {
  return { ok: false, errorCode, message };
}

/**
 * Validate the records of one produced partition the way Kafka does for Produce v3+: exactly one
 * batch, magic 2, a length that matches, a correct CRC, at least one record, and offset deltas that
 * agree with the record count.
 */
export function checkProducedBatch(records: Buffer | null): BatchCheck {
  if (records === null || records.length < BATCH_HEADER_SIZE) return reject(ErrorCode.INVALID_RECORD, 'produce requests must carry exactly one record batch');
  const size = LOG_OVERHEAD + records.readInt32BE(BATCH_LENGTH);
  if (records.readInt8(MAGIC) !== 2) return reject(ErrorCode.INVALID_RECORD, 'only record batches of message format v2 are accepted');
  if (size < BATCH_HEADER_SIZE || size > records.length) return reject(ErrorCode.CORRUPT_MESSAGE, 'record batch length does not match its bytes');
  if (size !== records.length) return reject(ErrorCode.INVALID_RECORD, 'produce requests must carry exactly one record batch');
  if (records.readUInt32BE(CRC) !== crc32c(records, ATTRIBUTES, size)) return reject(ErrorCode.CORRUPT_MESSAGE, 'record batch CRC mismatch');
  const attributes = records.readInt16BE(ATTRIBUTES);
  const lastOffsetDelta = records.readInt32BE(LAST_OFFSET_DELTA);
  const recordCount = records.readInt32BE(RECORDS_COUNT);
  if (recordCount < 1 || lastOffsetDelta !== recordCount - 1) return reject(ErrorCode.INVALID_RECORD, 'record count and offset deltas disagree');
  if (attributes & CONTROL_FLAG) return reject(ErrorCode.INVALID_RECORD, 'clients may not produce control batches');
  return {
    ok: true,
    header: {
      lastOffsetDelta,
      transactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
      maxTimestamp: Number(records.readBigInt64BE(MAX_TIMESTAMP)),
      producerId: records.readBigInt64BE(PRODUCER_ID),
      producerEpoch: records.readInt16BE(PRODUCER_EPOCH),
      baseSequence: records.readInt32BE(BASE_SEQUENCE),
    },
  };
}

/** baseOffset is outside the CRC, so the broker can assign offsets without re-checksumming. */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  batch.writeBigInt64BE(BigInt(baseOffset), BASE_OFFSET);
}

/** Reads a zig-zag varint/varlong as a JS number (enough for deltas and lengths); undefined if truncated. */
function readVarlong(buf: Buffer, at: { pos: number }, end: number): number | undefined {
  let value = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (at.pos >= end) return undefined;
    const b = buf[at.pos++]!;
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return Number((value >> 1n) ^ -(value & 1n));
  }
  return undefined;
}

/**
 * (offset delta, timestamp) of each record of an uncompressed batch, in order; undefined when the batch
 * is compressed (its records would need a codec Node lacks for snappy, lz4 and zstd) or malformed.
 */
export function recordTimestamps(batch: Buffer): Array<{ offsetDelta: number; timestamp: number }> | undefined {
  if ((batch.readInt16BE(ATTRIBUTES) & COMPRESSION_MASK) !== 0) return undefined;
  const baseTimestamp = Number(batch.readBigInt64BE(BASE_TIMESTAMP));
  const count = batch.readInt32BE(RECORDS_COUNT);
  const out: Array<{ offsetDelta: number; timestamp: number }> = [];
  const at = { pos: BATCH_HEADER_SIZE };
  for (let i = 0; i < count; i++) {
    const length = readVarlong(batch, at, batch.length);
    if (length === undefined || length < 0) return undefined;
    const end = at.pos + length;
    if (end > batch.length) return undefined;
    at.pos++; // attributes
    const timestampDelta = readVarlong(batch, at, end);
    const offsetDelta = readVarlong(batch, at, end);
    if (timestampDelta === undefined || offsetDelta === undefined) return undefined;
    out.push({ offsetDelta, timestamp: baseTimestamp + timestampDelta });
    at.pos = end;
  }
  return out;
}
