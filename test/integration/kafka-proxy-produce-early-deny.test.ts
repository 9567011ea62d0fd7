// A Produce is decided on its first topic as soon as that has arrived: a denied one is read on without its records
// (never buffered, never reserved whole) and answered, once complete, with error 29 for every topic and partition —
// in order behind responses in flight, and not at all for acks=0. Sent from raw sockets, slowly and in pieces.
// Likewise a large frame of an API or version the proxy does not read is refused from its first bytes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, decodeResponse, encodeRequest, KafkaFrameReader, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';
import { buildRecordBatch } from '../helpers/kafka-demo-record-batch.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, PLANS, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { startKafkaProxyProcess } from '../helpers/kafka-proxy-process.js';
import { logEndOffset, metadataBody, rows } from '../helpers/kafka-proxy-requests.js';
import { assertBystanderUnhurt, baselineOf, latenciesDuring } from '../helpers/latency.js';
import type { ProxyProcess } from '../helpers/proxy-process.js';
import { waitUntil } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const MARKER = Buffer.alloc(16, 0xab);
/** Records declared by the large denied Produce: within the default 100 MiB maxFrameSize. */
const DECLARED = 96 * MiB;

/** A Produce whose topics are [name, partition indexes][]; the first partition's records are MARKER, grown by `pieces`. */
function produce(apiVersion: number, correlationId: number, topics: ReadonlyArray<readonly [string, readonly number[]]>, acks = -1): Buffer {
  const batch = buildRecordBatch([{ value: 'rest' }]);
  const topicData = topics.map(([name, partitions], t) => ({
    name,
    partitionData: partitions.map((index, p) => ({ index, records: t === 0 && p === 0 ? MARKER : batch })),
  }));
  return encodeRequest({ apiKey: ApiKey.Produce, apiVersion, correlationId, clientId: 'early-deny' }, { transactionalId: null, acks, timeoutMs: 5000, topicData });
}

/**
 * `frame` (from produce()) with its first record set declared `declared` bytes long instead: the bytes before those
 * records, and the bytes after them; the `declared` record bytes go in between.
 */
function growFirstRecords(frame: Buffer, apiVersion: number, declared: number): { head: Buffer; tail: Buffer } {
  const at = frame.indexOf(MARKER);
  const flexible = apiVersion >= 9;
  let length: Buffer;
  if (flexible) {
    const bytes: number[] = [];
    for (let v = declared + 1; ; v = Math.floor(v / 128)) {
      if (v < 0x80) {
        bytes.push(v);
        break;
      }
      bytes.push((v & 0x7f) | 0x80);
    }
    length = Buffer.from(bytes);
  } else {
    length = Buffer.alloc(4);
    length.writeInt32BE(declared);
  }
  const head = Buffer.concat([frame.subarray(0, at - (flexible ? 1 : 4)), length]);
  const tail = frame.subarray(at + MARKER.length);
  head.writeInt32BE(head.length - 4 + declared + tail.length, 0);
  return { head, tail };
}

async function rawConnect(port: number, localAddress: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Response frames as they arrive on `socket`. */
function responses(socket: Socket): Buffer[] {
  const reader = new KafkaFrameReader();
  const frames: Buffer[] = [];
  socket.on('data', (d: Buffer) => frames.push(...reader.push(d)));
  return frames;
}

async function write(socket: Socket, bytes: Buffer): Promise<void> {
  if (!socket.write(bytes)) await once(socket, 'drain');
}

/** Sends `bytes` in pieces of `piece` bytes, pausing `pauseMs` every `pauseEvery` pieces. */
async function sendSlowly(socket: Socket, bytes: Buffer, piece: number, pauseMs = 1, pauseEvery = 1): Promise<void> {
  for (let at = 0, i = 0; at < bytes.length; at += piece, i++) {
    await write(socket, bytes.subarray(at, at + piece));
    if (i % pauseEvery === 0) await sleep(pauseMs);
  }
}

/** [topic, [partition, errorCode][]][] of a Produce response. */
function errorsOf(frame: Buffer, apiVersion: number, correlationId: number): Array<[string, Array<[number, number]>]> {
  const r = decodeResponse(frame, ApiKey.Produce, apiVersion);
  assert.equal(r.correlationId, correlationId);
  return rows(r.body.responses).map((t: KafkaStruct) => [t.name as string, rows(t.partitionResponses).map((p) => [p.index as number, p.errorCode as number])]);
}

describe('kafka proxy (child process): a denied Produce is not buffered', { timeout: 120_000 }, () => {
  let broker: DemoBroker;
  let proxy: ProxyProcess;
  let bystander: KafkaWireClient;
  /** The bystander's latencies just before an attack, on the same connection. */
  let baseline: number[];
  const metadata = async () => {
    const r = await bystander.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
    assert.equal(rows(r.topics)[0]!.errorCode, 0);
  };

  /** From the outpost, which may only consume: producing to either topic is denied. Resolves with its answer, once the frame is sent. */
  const deniedProduce = async (apiVersion: number, declared: number): Promise<{ attacker: Socket; answer: Promise<Buffer> }> => {
    const frame = produce(apiVersion, 31, [[ANNOUNCE, [0, 1]], [PLANS, [0]]]);
    const { head, tail } = growFirstRecords(frame, apiVersion, declared);
    const attacker = await rawConnect(proxy.port, EMPIRE.outpost);
    const answers = responses(attacker);
    await sendSlowly(attacker, head, 3); // the header and first topic trickle in
    await sendSlowly(attacker, Buffer.alloc(declared), 256 * 1024, 5, 2);
    await sendSlowly(attacker, tail, 7);
    return { attacker, answer: waitUntil('the answer', () => answers[0]) };
  };

  /** A proxy process of its own for each test: memory a previous test's frame left to the allocator would hide growth. */
  const start = async () => {
    bystander?.close();
    await proxy?.close();
    proxy = await startKafkaProxyProcess({ upstream: broker });
    bystander = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
    for (let i = 0; i < 20; i++) await metadata(); // warm: JIT, buffers
    // Warm too: the first megabytes read through a fresh process leave its allocator bigger, whatever holds them.
    const warm = await deniedProduce(9, 32 * MiB);
    await warm.answer;
    warm.attacker.destroy();
    baseline = await baselineOf(metadata);
  };

  before(async () => {
    broker = await startDemoBroker();
  });
  after(async () => {
    bystander?.close();
    await proxy?.close();
    await broker?.close();
  });

  for (const apiVersion of [7, 9]) {
    test(`Produce v${apiVersion} declaring 96 MiB of records to a denied topic, sent slowly: error 29 for every partition once complete, RSS flat, others are not held up`, async (t) => {
      await start();
      const rssBefore = proxy.rss();
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, proxy.rss())), 20);
      const attack = deniedProduce(apiVersion, DECLARED);
      let latencies: number[];
      try {
        latencies = await latenciesDuring(attack, metadata, 30);
        await sleep(100);
        rssPeak = Math.max(rssPeak, proxy.rss());
      } finally {
        clearInterval(sampler);
      }
      const { attacker, answer } = await attack;
      assert.deepEqual(errorsOf(await answer, apiVersion, 31), [[ANNOUNCE, [[0, 29], [1, 29]]], [PLANS, [[0, 29]]]]);
      const growth = rssPeak - rssBefore;
      // Held whole, the frame alone would be 96 MiB; what grows is the reads not yet collected (V8 collects them by the tens of MiB).
      assert.ok(growth < DECLARED / 2, `proxy RSS grew ${(growth / MiB).toFixed(0)} MiB`);
      t.diagnostic(assertBystanderUnhurt(latencies, baseline, `a denied Produce v${apiVersion} declaring 96 MiB, sent slowly`));
      assert.equal(attacker.destroyed, false, 'the connection stays open');
      attacker.destroy();
    });
  }
});

describe('kafka proxy: a denied Produce and the buffer budget', { timeout: 30_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({ upstream: broker, policies: [EMPIRE_POLICY], kafka: `maxFrameSize: ${4 * MiB}, maxBufferedBytes: ${4 * MiB}` });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  test('a denied Produce still arriving does not hold its size of the budget: an allowed one spanning reads is served meanwhile', async () => {
    const stalled = await rawConnect(proxy.port, EMPIRE.outpost);
    const stalledAnswers = responses(stalled);
    const { head, tail } = growFirstRecords(produce(7, 1, [[ANNOUNCE, [0]]]), 7, 3.5 * MiB);
    await sendSlowly(stalled, head, 5);
    await write(stalled, Buffer.alloc(MiB)); // then nothing, for now
    const offset = await logEndOffset(broker.port, PLANS);
    const producer = await rawConnect(proxy.port, EMPIRE.hq);
    const answers = responses(producer);
    const allowed = growFirstRecords(produce(7, 2, [[PLANS, [0]]]), 7, 0); // a record set of 1 MiB follows
    const batch = buildRecordBatch([{ value: 'x'.repeat(MiB) }]);
    allowed.head.writeInt32BE(allowed.head.length - 4 + batch.length + allowed.tail.length, 0);
    allowed.head.writeInt32BE(batch.length, allowed.head.length - 4);
    await sendSlowly(producer, Buffer.concat([allowed.head, batch, allowed.tail]), 256 * 1024, 5);
    await waitUntil('the answer', () => answers.length >= 1, 3000);
    assert.deepEqual(errorsOf(answers[0]!, 7, 2), [[PLANS, [[0, 0]]]]);
    assert.equal(await logEndOffset(broker.port, PLANS), offset + 1n);
    await write(stalled, Buffer.concat([Buffer.alloc(2.5 * MiB), tail]));
    await waitUntil('the stalled Produce answered', () => stalledAnswers.length >= 1);
    assert.deepEqual(errorsOf(stalledAnswers[0]!, 7, 1), [[ANNOUNCE, [[0, 29]]]]);
    stalled.destroy();
    producer.destroy();
  });
});

describe('kafka proxy: a Produce decided on its first topic', { timeout: 60_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;

  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({ upstream: broker, policies: [EMPIRE_POLICY] });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  test('a denied Produce arriving behind a Metadata in flight is answered after it, every topic and partition listed, nothing reaching the broker', async () => {
    const before = await logEndOffset(broker.port, ANNOUNCE);
    const socket = await rawConnect(proxy.port, EMPIRE.outpost);
    const answers = responses(socket);
    const meta = encodeRequest({ apiKey: ApiKey.Metadata, apiVersion: 6, correlationId: 1, clientId: 'early-deny' }, metadataBody([ANNOUNCE]));
    const frame = produce(9, 2, [[ANNOUNCE, [0, 2, 1]], ['other-topic', [4]], [PLANS, [0]]]);
    const { head, tail } = growFirstRecords(frame, 9, 300_000);
    await write(socket, Buffer.concat([meta, head.subarray(0, 20)]));
    await sendSlowly(socket, head.subarray(20), 1);
    await sendSlowly(socket, Buffer.alloc(300_000), 50_000, 5);
    await sleep(50); // the point: the Produce is not answered before it is complete
    assert.equal(answers.length, 1, 'only the Metadata is answered before the Produce is complete');
    await sendSlowly(socket, tail, 1);
    await waitUntil('both answers', () => answers.length >= 2);
    assert.equal(decodeResponse(answers[0]!, ApiKey.Metadata, 6).correlationId, 1);
    assert.deepEqual(errorsOf(answers[1]!, 9, 2), [[ANNOUNCE, [[0, 29], [2, 29], [1, 29]]], ['other-topic', [[4, 29]]], [PLANS, [[0, 29]]]]);
    const denied = proxy.flows.l7('REQUEST').filter((e) => e.l7?.kafka?.apiKey === ApiKey.Produce && e.l7.kafka.correlationId === 2);
    assert.deepEqual(denied.map((e) => [e.verdict, e.l7?.kafka?.topic, e.l7?.kafka?.errorCode]), [ANNOUNCE, 'other-topic', PLANS].map((t) => ['DROPPED', t, 29]));
    assert.equal(await logEndOffset(broker.port, ANNOUNCE), before);
    socket.destroy();
  });

  test('acks=0: a denied Produce spanning reads gets no answer, and the connection goes on', async () => {
    const socket = await rawConnect(proxy.port, EMPIRE.outpost);
    const answers = responses(socket);
    const { head, tail } = growFirstRecords(produce(7, 5, [[ANNOUNCE, [0]]], 0), 7, 200_000);
    await sendSlowly(socket, head, 2);
    await sendSlowly(socket, Buffer.alloc(200_000), 40_000, 5);
    const meta = encodeRequest({ apiKey: ApiKey.Metadata, apiVersion: 6, correlationId: 6, clientId: 'early-deny' }, metadataBody([ANNOUNCE]));
    await write(socket, Buffer.concat([tail, meta])); // the next request in the same read as the Produce's end
    await waitUntil('the Metadata answered', () => answers.length >= 1);
    await sleep(50); // the point: no answer to the acks=0 Produce follows
    assert.equal(answers.length, 1);
    assert.equal(decodeResponse(answers[0]!, ApiKey.Metadata, 6).correlationId, 6);
    socket.destroy();
  });

  test('first topic allowed, a later one denied: read whole and denied, every partition listed, nothing reaching the broker', async () => {
    const before = await logEndOffset(broker.port, PLANS);
    const socket = await rawConnect(proxy.port, EMPIRE.hq);
    const answers = responses(socket);
    const { head, tail } = growFirstRecords(produce(8, 9, [[PLANS, [0]], ['rebel-base', [0, 1]]]), 8, 100_000);
    await sendSlowly(socket, head, 3);
    await sendSlowly(socket, Buffer.alloc(100_000), 25_000, 5);
    await sendSlowly(socket, tail, 5);
    await waitUntil('the answer', () => answers.length >= 1);
    assert.deepEqual(errorsOf(answers[0]!, 8, 9), [[PLANS, [[0, 29]]], ['rebel-base', [[0, 29], [1, 29]]]]);
    assert.equal(await logEndOffset(broker.port, PLANS), before);
    socket.destroy();
  });

  test('a denied Produce that turns out malformed closes the connection, unanswered', async () => {
    const socket = await rawConnect(proxy.port, EMPIRE.outpost);
    const answers = responses(socket);
    const { head, tail } = growFirstRecords(produce(7, 11, [[ANNOUNCE, [0]], [PLANS, [0]]]), 7, 50_000);
    await sendSlowly(socket, head, 4);
    await write(socket, Buffer.alloc(50_000));
    // The second topic's name declared longer than what is left of the frame.
    const malformed = Buffer.from(tail);
    malformed.writeInt16BE(0x7fff, 0);
    await write(socket, malformed);
    await Promise.race([once(socket, 'close'), sleep(3000).then(() => assert.fail('connection still open'))]);
    assert.equal(answers.length, 0);
  });
});

describe('kafka proxy: a large frame of an API the proxy does not read', { timeout: 30_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({ upstream: broker, policies: [EMPIRE_POLICY] });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  for (const [apiKey, apiVersion] of [[9999, 0], [ApiKey.Produce, 99]] as const) {
    test(`API ${apiKey} v${apiVersion} declaring 50 MiB is refused from its first bytes, not once buffered whole`, async () => {
      proxy.metrics.clear();
      const socket = await rawConnect(proxy.port, EMPIRE.hq);
      const answers = responses(socket);
      const head = Buffer.alloc(20 * 1024);
      head.writeInt32BE(50 * MiB, 0);
      head.writeInt16BE(apiKey, 4);
      head.writeInt16BE(apiVersion, 6);
      head.writeInt32BE(1, 8);
      head.writeInt16BE(2, 12);
      head.write('hq', 14, 'latin1');
      const closed = once(socket, 'close');
      for (let at = 0; at < head.length && !socket.destroyed; at += 4096) {
        socket.write(head.subarray(at, at + 4096)); // not waiting for 'drain': the proxy may close first
        await sleep(1);
      }
      await Promise.race([closed, sleep(2000).then(() => assert.fail('connection still open 2 s after 20 KiB of it'))]);
      assert.equal(answers.length, 0);
      assert.deepEqual(proxy.metrics.of('kafkaUnsupported'), [[apiKey, apiVersion]]);
    });
  }
});

describe('kafka proxy: a denied Produce left incomplete', { timeout: 30_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({ upstream: broker, policies: [EMPIRE_POLICY], kafka: 'requestTimeoutMs: 300' });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  test('is closed after requestTimeoutMs, though none of it is held, and counted', async () => {
    proxy.metrics.clear();
    const socket = await rawConnect(proxy.port, EMPIRE.outpost);
    const answers = responses(socket);
    const { head } = growFirstRecords(produce(9, 1, [[ANNOUNCE, [0]]]), 9, 10 * MiB);
    const closed = once(socket, 'close');
    await sendSlowly(socket, head, 8);
    socket.write(Buffer.alloc(100_000)); // then nothing
    const started = Date.now();
    await Promise.race([closed, sleep(3000).then(() => assert.fail('connection still open'))]);
    assert.ok(Date.now() - started < 1500, `closed after ${Date.now() - started} ms`);
    assert.equal(answers.length, 0);
    assert.deepEqual(proxy.metrics.of('policyL7'), [['parse_errors', 'kafka']]);
  });
});
