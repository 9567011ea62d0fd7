// Kafka primitive encoders over a growable buffer. finish() returns a view of the written bytes.
import { KafkaEncodeError } from './errors.js';

const UUID_TEXT = /^[A-Za-z0-9_-]{22}$/;

/** Kafka UUID text (22-char URL-safe base64) → 16 bytes; rejects anything that would not round-trip. */
export function uuidBytes(text: string): Buffer {
  const bytes = UUID_TEXT.test(text) ? Buffer.from(text, 'base64url') : undefined;
  if (!bytes || bytes.length !== 16 || bytes.toString('base64url') !== text) {
    throw new KafkaEncodeError(`not a Kafka UUID (22 characters of URL-safe base64): ${JSON.stringify(text)}`);
  }
  return bytes;
}

export class KafkaWriter {
  private buf: Buffer;
  offset = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.offset + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  int8(v: number): void {
    this.ensure(1);
    this.offset = this.buf.writeInt8(v, this.offset);
  }

  bool(v: boolean): void {
    this.int8(v ? 1 : 0);
  }

  int16(v: number): void {
    this.ensure(2);
    this.offset = this.buf.writeInt16BE(v, this.offset);
  }

  uint16(v: number): void {
    this.ensure(2);
    this.offset = this.buf.writeUInt16BE(v, this.offset);
  }

  int32(v: number): void {
    this.ensure(4);
    this.offset = this.buf.writeInt32BE(v, this.offset);
  }

  uint32(v: number): void {
    this.ensure(4);
    this.offset = this.buf.writeUInt32BE(v, this.offset);
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.offset = this.buf.writeBigInt64BE(v, this.offset);
  }

  float64(v: number): void {
    this.ensure(8);
    this.offset = this.buf.writeDoubleBE(v, this.offset);
  }

  uvarint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new KafkaEncodeError(`unsigned varint out of range: ${v}`);
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.offset++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.offset++] = v;
  }

  varint(v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new KafkaEncodeError(`varint out of range: ${v}`);
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  varlong(v: bigint): void {
    if (v < -(1n << 63n) || v >= 1n << 63n) throw new KafkaEncodeError(`varlong out of range: ${v}`);
    let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    this.ensure(10);
    while (z >= 0x80n) {
      this.buf[this.offset++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.offset++] = Number(z);
  }

  uuid(text: string): void {
    this.raw(uuidBytes(text));
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  /** STRING (int16 length) or COMPACT_STRING (uvarint N+1); null writes the null marker. */
  string(v: string | null, compact: boolean): void {
    if (v === null) {
      if (compact) this.uvarint(0);
      else this.int16(-1);
      return;
    }
    const n = Buffer.byteLength(v, 'utf8');
    if (compact) this.uvarint(n + 1);
    else if (n > 0x7fff) throw new KafkaEncodeError(`string of ${n} bytes does not fit an int16 length`);
    else this.int16(n);
    this.ensure(n);
    this.offset += this.buf.write(v, this.offset, n, 'utf8');
  }

  /** BYTES/RECORDS (int32 length) or their compact forms; null writes the null marker. */
  bytes(v: Uint8Array | null, compact: boolean): void {
    this.length(v === null ? -1 : v.length, compact);
    if (v !== null) this.raw(v);
  }

  /** An array or bytes length, -1 for null. */
  length(n: number, compact: boolean): void {
    if (compact) this.uvarint(n + 1);
    else this.int32(n);
  }

  /** Reserve 4 bytes (a frame size) and return their position for patchInt32. */
  reserveInt32(): number {
    this.ensure(4);
    const at = this.offset;
    this.offset += 4;
    return at;
  }

  patchInt32(at: number, v: number): void {
    this.buf.writeInt32BE(v, at);
  }

  /** The bytes written so far (a view; the writer must not be used afterwards). */
  finish(): Buffer {
    return this.buf.subarray(0, this.offset);
  }
}
