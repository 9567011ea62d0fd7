// Bounds-checked reads of Kafka's primitive types from one frame. Every read checks the bytes left
// before touching the buffer, so a hostile length can never make the codec read past the frame or
// allocate more than the frame could hold: it throws KafkaDecodeError instead.
import { KafkaDecodeError } from './errors.js';

export class KafkaReader {
  offset: number;
  readonly end: number;
  /** Set by a reader of a message's first bytes only (response-errors.ts) when a skip runs past them: walks stop there. */
  cut = false;

  constructor(readonly buf: Buffer, start = 0, end = buf.length) {
    this.offset = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Throws unless n more bytes are available. */
  need(n: number): void {
    if (n > this.end - this.offset) {
      throw new KafkaDecodeError(`truncated: need ${n} bytes, ${this.end - this.offset} left`, this.offset);
    }
  }

  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.offset++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  /** Unsigned LEB128 of at most 5 bytes (Kafka's UNSIGNED_VARINT: lengths, tags, sizes). */
  uvarint(): number {
    let value = 0;
    for (let i = 0, scale = 1; i < 5; i++, scale *= 128) {
      this.need(1);
      const b = this.buf[this.offset++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw new KafkaDecodeError('unsigned varint does not fit in 32 bits', this.offset);
  }

  /** Zig-zag signed 32-bit varint (record fields). */
  varint(): number {
    const v = this.uvarint();
    return (v >>> 1) ^ -(v & 1);
  }

  /** Zig-zag signed 64-bit varint of at most 10 bytes (record fields). */
  varlong(): bigint {
    let value = 0n;
    for (let i = 0n; i < 10n; i++) {
      this.need(1);
      const b = this.buf[this.offset++]!;
      value |= BigInt(b & 0x7f) << (7n * i);
      if (b < 0x80) {
        if (value > 0xffffffffffffffffn) break;
        return (value >> 1n) ^ -(value & 1n);
      }
    }
    throw new KafkaDecodeError('varlong does not fit in 64 bits', this.offset);
  }

  /** A UUID in Kafka's own text form: 22 characters of URL-safe base64 without padding. */
  uuid(): string {
    this.need(16);
    const s = this.buf.toString('base64url', this.offset, this.offset + 16);
    this.offset += 16;
    return s;
  }

  utf8(length: number): string {
    this.need(length);
    const s = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return s;
  }

  /** A view (no copy) of the next `length` bytes. */
  view(length: number): Buffer {
    this.need(length);
    const b = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return b;
  }

  /** Length of a STRING (int16) or COMPACT_STRING (uvarint N+1); negative means null, as Kafka reads it. */
  stringLength(compact: boolean): number {
    return compact ? this.uvarint() - 1 : this.int16();
  }

  /** Length of BYTES/ARRAY (int32) or their compact forms (uvarint N+1); negative means null. */
  length(compact: boolean): number {
    return compact ? this.uvarint() - 1 : this.int32();
  }
}
