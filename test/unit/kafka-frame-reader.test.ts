// KafkaFrameReader: splitting a byte stream into size-prefixed frames however it is chunked, and
// refusing streams that cannot be Kafka with a reason an operator can act on.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { DEFAULT_MAX_KAFKA_FRAME_SIZE, KafkaFrameReader } from '../../src/protocols/kafka/codec/frame-reader.js';
import { KafkaDecodeError, KafkaFrameError } from '../../src/protocols/kafka/codec/errors.js';
import { seededRandom } from '../helpers/kafka-random-message.js';

function frame(payload: Buffer): Buffer {
  const f = Buffer.alloc(4 + payload.length);
  f.writeInt32BE(payload.length, 0);
  payload.copy(f, 4);
  return f;
}

const frames = [frame(Buffer.from('first')), frame(Buffer.alloc(0)), frame(Buffer.alloc(70_000, 7)), frame(Buffer.from('last'))];
const stream = Buffer.concat(frames);

test('frames come out whole, in order, however the stream is chunked', () => {
  const random = seededRandom(1);
  for (const chunking of ['whole', 'bytes', 'random'] as const) {
    const reader = new KafkaFrameReader();
    const out: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      const n = chunking === 'whole' ? stream.length : chunking === 'bytes' ? 1 : 1 + Math.floor(random() * 9000);
      out.push(...reader.push(stream.subarray(at, at + n)));
      at += n;
    }
    assert.deepEqual(out, frames, chunking);
    assert.equal(reader.bufferedBytes, 0);
  }
});

test('a frame inside one chunk is a view of it, not a copy', () => {
  const chunk = Buffer.concat(frames);
  const [first] = new KafkaFrameReader().push(chunk);
  assert.equal(first!.buffer, chunk.buffer);
});

test('negative and oversized sizes are refused, and the reader stays failed', () => {
  const negative = new KafkaFrameReader();
  assert.throws(() => negative.push(Buffer.from('fffffffe00', 'hex')), (e: unknown) => e instanceof KafkaFrameError && e.message === 'negative Kafka frame size -2');
  assert.throws(() => negative.push(frame(Buffer.from('ok'))), KafkaFrameError, 'no frames after a failure');

  const small = new KafkaFrameReader({ maxFrameSize: 16 });
  assert.deepEqual(small.push(frame(Buffer.alloc(16))).length, 1, 'exactly the maximum is fine');
  assert.throws(() => small.push(frame(Buffer.alloc(17))), (e: unknown) => e instanceof KafkaDecodeError && /size 17 exceeds the maximum of 16 bytes/.test(e.message));

  const huge = Buffer.alloc(4);
  huge.writeInt32BE(DEFAULT_MAX_KAFKA_FRAME_SIZE + 1, 0);
  assert.throws(() => new KafkaFrameReader().push(huge), /exceeds the maximum of 104857600 bytes/);
  // Refused from the size alone: nothing of the announced 100 MiB is waited for or buffered.
  const r = new KafkaFrameReader();
  assert.throws(() => r.push(huge.subarray(0, 4)));
});

/** The first bytes a real client of another protocol sends to a plaintext port. */
async function firstBytesFrom(client: (port: number) => void): Promise<Buffer> {
  const server = createServer();
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client((server.address() as AddressInfo).port);
  try {
    return await got;
  } finally {
    server.close();
  }
}

test('a TLS ClientHello on the plaintext port is named as such', async () => {
  const hello = await firstBytesFrom((port) => connect({ host: '127.0.0.1', port, servername: 'kafka.local' }).on('error', () => undefined));
  assert.equal(hello[0], 0x16);
  assert.throws(() => new KafkaFrameReader().push(hello), (e: unknown) => e instanceof KafkaFrameError && e.message === 'TLS ClientHello received on a plaintext Kafka listener');
  // Split after two bytes the verdict is the same once the size prefix is complete.
  const split = new KafkaFrameReader();
  assert.deepEqual(split.push(hello.subarray(0, 2)), []);
  assert.throws(() => split.push(hello.subarray(2)), /TLS ClientHello/);
});

test('an HTTP request on the Kafka port is named as such', async () => {
  const bytes = await firstBytesFrom((port) => request({ host: '127.0.0.1', port, path: '/' }).on('error', () => undefined).end());
  assert.throws(() => new KafkaFrameReader().push(bytes), /HTTP request received on a Kafka listener/);
});
