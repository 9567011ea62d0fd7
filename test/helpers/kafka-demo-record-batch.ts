// Builds Kafka record batches (message format v2, uncompressed) for the demo broker's wire tests, the
// way a producer lays them out: header, CRC-32C over attributes..end, zig-zag varint records.
import { crc32c } from '../../src/demo/kafka/broker/crc32c.js';

export interface TestRecord {
  readonly value: string;
  readonly key?: string;
  /** Absolute timestamp; default the batch's base timestamp. */
  readonly timestamp?: number;
}

export interface TestBatchOptions {
  readonly baseTimestamp?: number;
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly attributes?: number;
}

function varint(n: number): Buffer {
  let v = BigInt(n);
  v = (v << 1n) ^ (v >> 63n); // zig-zag
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return Buffer.from(out);
}

function bytesField(s: string | undefined): Buffer {
  if (s === undefined) return varint(-1);
  const b = Buffer.from(s);
  return Buffer.concat([varint(b.length), b]);
}

export function buildRecordBatch(records: readonly TestRecord[], o: TestBatchOptions = {}): Buffer {
  const baseTimestamp = o.baseTimestamp ?? 1_700_000_000_000;
  const encoded = records.map((r, i) => {
    const body = Buffer.concat([
      Buffer.from([0]), // attributes
      varint((r.timestamp ?? baseTimestamp) - baseTimestamp),
      varint(i),
      bytesField(r.key),
      bytesField(r.value),
      varint(0), // headers
    ]);
    return Buffer.concat([varint(body.length), body]);
  });
  const header = Buffer.alloc(61);
  const recordBytes = Buffer.concat(encoded);
  header.writeBigInt64BE(0n, 0);
  header.writeInt32BE(61 - 12 + recordBytes.length, 8);
  header.writeInt32BE(-1, 12); // partition leader epoch
  header.writeInt8(2, 16); // magic
  header.writeInt16BE(o.attributes ?? 0, 21);
  header.writeInt32BE(records.length - 1, 23);
  header.writeBigInt64BE(BigInt(baseTimestamp), 27);
  header.writeBigInt64BE(BigInt(Math.max(...records.map((r) => r.timestamp ?? baseTimestamp))), 35);
  header.writeBigInt64BE(o.producerId ?? -1n, 43);
  header.writeInt16BE(o.producerEpoch ?? -1, 51);
  header.writeInt32BE(o.baseSequence ?? -1, 53);
  header.writeInt32BE(records.length, 57);
  const batch = Buffer.concat([header, recordBytes]);
  batch.writeUInt32BE(crc32c(batch, 21, batch.length), 17);
  return batch;
}

/** Values of the records in a Fetch response's records bytes (uncompressed batches), skipping those before `fromOffset`. */
export function readRecordValues(records: Buffer, fromOffset = 0): Array<{ offset: number; value: string }> {
  const out: Array<{ offset: number; value: string }> = [];
  let pos = 0;
  const at = { pos: 0 };
  const readVarint = (): number => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = records[at.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7n;
    }
    return Number((v >> 1n) ^ -(v & 1n));
  };
  while (pos + 61 <= records.length) {
    const baseOffset = Number(records.readBigInt64BE(pos));
    const size = 12 + records.readInt32BE(pos + 8);
    const count = records.readInt32BE(pos + 57);
    at.pos = pos + 61;
    for (let i = 0; i < count; i++) {
      const length = readVarint();
      const end = at.pos + length;
      at.pos++; // attributes
      readVarint(); // timestamp delta
      const offsetDelta = readVarint();
      const keyLength = readVarint();
      if (keyLength > 0) at.pos += keyLength;
      const valueLength = readVarint();
      const value = records.subarray(at.pos, at.pos + valueLength).toString();
      if (baseOffset + offsetDelta >= fromOffset) out.push({ offset: baseOffset + offsetDelta, value });
      at.pos = end;
    }
    pos += size;
  }
  return out;
}
