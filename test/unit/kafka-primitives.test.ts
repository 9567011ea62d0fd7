// Kafka primitive types: known wire vectors, round trips at the edges, and bounds checks that throw
// KafkaDecodeError instead of reading past the end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaDecodeError, KafkaEncodeError } from '../../src/protocols/kafka/codec/errors.js';
import { KafkaReader } from '../../src/protocols/kafka/codec/reader.js';
import { KafkaWriter, uuidBytes } from '../../src/protocols/kafka/codec/writer.js';

const hex = (write: (w: KafkaWriter) => void): string => {
  const w = new KafkaWriter(1); // start tiny so growth is exercised too
  write(w);
  return w.finish().toString('hex');
};
const reader = (h: string): KafkaReader => new KafkaReader(Buffer.from(h, 'hex'));

test('unsigned varints (tag counts, compact lengths) match the LEB128 vectors Kafka uses', () => {
  const vectors: [number, string][] = [[0, '00'], [1, '01'], [127, '7f'], [128, '8001'], [300, 'ac02'], [16384, '808001'], [0xffffffff, 'ffffffff0f']];
  for (const [n, h] of vectors) {
    assert.equal(hex((w) => w.uvarint(n)), h, `encode ${n}`);
    const r = reader(h);
    assert.equal(r.uvarint(), n, `decode ${h}`);
    assert.equal(r.remaining, 0);
  }
  assert.throws(() => reader('ffffffff1f').uvarint(), KafkaDecodeError, 'more than 32 bits');
  assert.throws(() => reader('8080808080').uvarint(), KafkaDecodeError, 'six-byte varint');
  assert.throws(() => reader('80').uvarint(), KafkaDecodeError, 'truncated varint');
  assert.throws(() => hex((w) => w.uvarint(-1)), KafkaEncodeError);
});

test('zig-zag varint and varlong (record fields)', () => {
  const ints: [number, string][] = [[0, '00'], [-1, '01'], [1, '02'], [-64, '7f'], [64, '8001'], [2147483647, 'feffffff0f'], [-2147483648, 'ffffffff0f']];
  for (const [n, h] of ints) {
    assert.equal(hex((w) => w.varint(n)), h, `varint ${n}`);
    assert.equal(reader(h).varint(), n);
  }
  const longs: [bigint, string][] = [[0n, '00'], [-1n, '01'], [150n, 'ac02'], [(1n << 63n) - 1n, 'feffffffffffffffff01'], [-(1n << 63n), 'ffffffffffffffffff01']];
  for (const [n, h] of longs) {
    assert.equal(hex((w) => w.varlong(n)), h, `varlong ${n}`);
    assert.equal(reader(h).varlong(), n);
  }
  assert.throws(() => reader('ffffffffffffffffff7f').varlong(), KafkaDecodeError, 'over 64 bits');
  assert.throws(() => hex((w) => w.varlong(1n << 63n)), KafkaEncodeError);
});

test('fixed-width integers, float64 and bool are big-endian', () => {
  assert.equal(hex((w) => (w.int8(-2), w.int16(-2), w.uint16(65535), w.int32(-2), w.uint32(4294967295))), 'fe' + 'fffe' + 'ffff' + 'fffffffe' + 'ffffffff');
  assert.equal(hex((w) => w.int64(-2n)), 'fffffffffffffffe');
  assert.equal(hex((w) => w.float64(1.5)), '3ff8000000000000');
  const r = reader('fe' + 'fffe' + 'ffff' + 'fffffffe' + 'ffffffff' + 'fffffffffffffffe' + '3ff8000000000000' + '02');
  assert.deepEqual([r.int8(), r.int16(), r.uint16(), r.int32(), r.uint32(), r.int64(), r.float64(), r.bool()], [-2, -2, 65535, -2, 4294967295, -2n, 1.5, true]);
});

test('strings: classic int16 and compact uvarint lengths, null markers, UTF-8 byte lengths', () => {
  assert.equal(hex((w) => w.string('é', false)), '0002c3a9');
  assert.equal(hex((w) => w.string('é', true)), '03c3a9');
  assert.equal(hex((w) => w.string(null, false)), 'ffff');
  assert.equal(hex((w) => w.string(null, true)), '00');
  assert.equal(hex((w) => w.string('', true)), '01');
  assert.throws(() => hex((w) => w.string('x'.repeat(0x8000), false)), KafkaEncodeError);
  assert.equal(reader('ffff').stringLength(false), -1);
  assert.equal(reader('00').stringLength(true), -1);
  assert.equal(hex((w) => w.bytes(Buffer.from([1, 2]), false)), '000000020102');
  assert.equal(hex((w) => w.bytes(null, true)), '00');
});

test('UUIDs use Kafka\'s text form (URL-safe base64, 22 chars) and reject anything else', () => {
  const one = Buffer.alloc(16);
  one[15] = 1;
  assert.equal(new KafkaReader(one).uuid(), 'AAAAAAAAAAAAAAAAAAAAAQ');
  assert.ok(uuidBytes('AAAAAAAAAAAAAAAAAAAAAQ').equals(one));
  const random = Buffer.from('f0e1d2c3b4a5968778695a4b3c2d1e0f', 'hex');
  assert.ok(uuidBytes(new KafkaReader(random).uuid()).equals(random));
  for (const bad of ['', 'AAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAQ=', 'AAAAAAAAAAAAAAAAAAAA+Q', 'AAAAAAAAAAAAAAAAAAAAAB']) {
    assert.throws(() => uuidBytes(bad), KafkaEncodeError, bad); // last one: non-zero padding bits
  }
});

test('reads never cross the reader\'s end, even when the buffer continues', () => {
  const buf = Buffer.from('0001020304050607', 'hex');
  const r = new KafkaReader(buf, 2, 5); // three bytes visible
  assert.equal(r.int16(), 0x0203);
  assert.throws(() => r.int16(), (e: unknown) => e instanceof KafkaDecodeError && /need 2 bytes, 1 left/.test(e.message));
  assert.equal(r.int8(), 4);
  assert.throws(() => r.int8(), KafkaDecodeError);
  assert.throws(() => new KafkaReader(buf, 0, 4).utf8(5), KafkaDecodeError);
  assert.throws(() => new KafkaReader(buf, 0, 4).view(0x7fffffff), KafkaDecodeError);
  assert.throws(() => new KafkaReader(buf, 0, 4).int64(), KafkaDecodeError);
});
