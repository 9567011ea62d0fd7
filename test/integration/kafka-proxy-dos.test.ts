// Requests built to exhaust the proxy rather than to be served: one naming millions of topics, frames left
// incomplete, connections left idle, many connections each holding most of a large frame. Each is ended (or made
// to wait) within its bound, the proxy's memory stays bounded, and a client on another connection keeps being
// served meanwhile about as fast as just before the attack (test/helpers/latency.ts). The memory cases run Portcullis as a child process, so its RSS
// and event loop are its own.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, encodeRequest } from '../../src/protocols/kafka/codec/index.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { startKafkaProxyProcess } from '../helpers/kafka-proxy-process.js';
import { assertBystanderUnhurt, baselineOf, latenciesDuring } from '../helpers/latency.js';
import type { ProxyProcess } from '../helpers/proxy-process.js';
import { fetchBody, logEndOffset, metadataBody, rows } from '../helpers/kafka-proxy-requests.js';
import { captureLog } from '../helpers/observe-log-capture.js';
import { waitUntil } from '../helpers/wait.js';

const MiB = 1024 * 1024;

/** A Metadata v4 request naming `count` distinct 8-character topics, written straight into one buffer. */
function metadataNaming(count: number): Buffer {
  const clientId = 'dos';
  const header = 2 + 2 + 4 + 2 + clientId.length;
  const body = 4 + count * 10 + 1;
  const frame = Buffer.allocUnsafe(4 + header + body);
  let at = frame.writeInt32BE(header + body, 0);
  at = frame.writeInt16BE(ApiKey.Metadata, at);
  at = frame.writeInt16BE(4, at);
  at = frame.writeInt32BE(1, at);
  at = frame.writeInt16BE(clientId.length, at);
  at += frame.write(clientId, at, 'latin1');
  at = frame.writeInt32BE(count, at);
  for (let i = 0; i < count; i++) {
    at = frame.writeInt16BE(8, at);
    at += frame.write(i.toString(36).padStart(8, '_'), at, 'latin1');
  }
  frame.writeUInt8(0, at); // allowAutoTopicCreation
  return frame;
}

/** A Produce v9 body of `topics` topics with `partitions` partitions each, no records. */
function produceBody(topics: number, partitions: number) {
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 1000,
    topicData: Array.from({ length: topics }, (_, t) => ({ name: `plans-${t}`, partitionData: Array.from({ length: partitions }, (_, index) => ({ index, records: null })) })),
  };
}

/** A Fetch v11 body asking for `partitions` partitions of each of `topics` deathstar-plans-like topics. */
function fetchingMany(topics: number, partitions: number) {
  const one = fetchBody(ANNOUNCE, 0n, 0) as { topics: Array<{ partitions: unknown[] }> };
  const partition = one.topics[0]!.partitions[0] as Record<string, unknown>;
  return {
    ...one,
    topics: Array.from({ length: topics }, (_, t) => ({ ...one.topics[0], topic: `plans-${t}`, partitions: Array.from({ length: partitions }, (_, p) => ({ ...partition, partition: p })) })),
  };
}

function producing(topics: number, partitions: number): Buffer {
  return encodeRequest({ apiKey: ApiKey.Produce, apiVersion: 9, correlationId: 1, clientId: 'dos' }, produceBody(topics, partitions));
}

async function rawConnect(port: number, localAddress: string = EMPIRE.hq): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Resolves with the ms until `socket` closed (a reset included), or rejects after `limitMs`. */
async function closedWithin(socket: Socket, limitMs: number): Promise<number> {
  const start = Date.now();
  if (socket.destroyed) return 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('close', () => resolve());
      timer = setTimeout(() => reject(new Error(`connection still open after ${limitMs} ms`)), limitMs);
    });
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - start;
}

describe('kafka proxy (child process): bounded work and memory under attack', { timeout: 120_000 }, () => {
  let broker: DemoBroker;
  let bystander: KafkaWireClient;
  let proxy: ProxyProcess;
  /** The bystander's latencies just before an attack, on the same connection. */
  let baseline: number[];
  const metadata = async () => {
    const r = await bystander.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
    assert.equal(rows(r.topics)[0]!.errorCode, 0);
  };

  before(async () => {
    broker = await startDemoBroker();
  });
  after(async () => {
    bystander?.close();
    await proxy?.close();
    await broker?.close();
  });

  const start = async (kafka?: string) => {
    bystander?.close();
    await proxy?.close();
    proxy = await startKafkaProxyProcess({ upstream: broker, ...(kafka === undefined ? {} : { kafka }) });
    bystander = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
    for (let i = 0; i < 20; i++) await metadata(); // warm: JIT, buffers
    baseline = await baselineOf(metadata);
  };

  test('a Metadata request naming 2 million topics is refused before they are read; others are not held up', async (t) => {
    await start();
    const frame = metadataNaming(2_000_000); // 20 MB, within the default 100 MiB maxFrameSize
    const rssBefore = proxy.rss();
    const attacker = await rawConnect(proxy.port);
    let answered = 0;
    attacker.on('data', (d: Buffer) => (answered += d.length));
    attacker.write(frame);
    const closed = closedWithin(attacker, 10_000);
    const latencies = await latenciesDuring(closed, metadata, 30);
    const rssGrowth = proxy.rss() - rssBefore;
    await closed;
    assert.equal(answered, 0, 'nothing answered');
    assert.match(proxy.log(), /refused Kafka request: request names more than 10000 topics \(kafka\.maxTopicsPerRequest\)/);
    t.diagnostic(assertBystanderUnhurt(latencies, baseline, 'a Metadata request naming 2 million topics'));
    // The frame itself is buffered (it must be whole to be refused): 20 MB, plus a copy while it is assembled.
    assert.ok(rssGrowth < 80 * MiB, `proxy RSS grew ${(rssGrowth / MiB).toFixed(0)} MiB`);
    await metadata();
  });

  test('a denied request too large to answer in band is closed, not answered; smaller ones get their errors; others are not held up', async (t) => {
    await start();
    // 10 topics of 5,000 partitions: within the limits, but mirroring every entry in a deny answer took ~100 ms.
    const big = producing(10, 5000);
    let answered = 0;
    let attacks = 0;
    const attack = (async () => {
      for (const until = Date.now() + 2000; Date.now() < until; attacks++) {
        const attacker = await rawConnect(proxy.port, EMPIRE.outpost);
        attacker.on('data', (d: Buffer) => (answered += d.length));
        attacker.write(big);
        await closedWithin(attacker, 5000);
        await sleep(20); // paced, so the test process's own writes do not slow the bystander it measures
      }
    })();
    const latencies = await latenciesDuring(attack, metadata, 30);
    await attack;
    assert.equal(answered, 0, 'nothing answered');
    assert.match(proxy.log(), /denied request with more than 1000 entries.* is closed, not answered/);
    t.diagnostic(assertBystanderUnhurt(latencies, baseline, `${attacks} denied Produce requests too large to answer`));
    // At the bound (10 topics + 990 partitions) the client still gets an authorization error for every partition.
    const outpost = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
    try {
      // A denied request of another API read whole (a Fetch of 2,000 partitions of a topic the outpost may not read) is closed too.
      const fetcher = await rawConnect(proxy.port, EMPIRE.outpost);
      fetcher.on('data', (d: Buffer) => (answered += d.length));
      fetcher.write(encodeRequest({ apiKey: ApiKey.Fetch, apiVersion: 11, correlationId: 1, clientId: 'dos' }, fetchingMany(20, 100)));
      await closedWithin(fetcher, 5000);
      assert.equal(answered, 0, 'nothing answered');
      const closedUnanswered = /denied request with more than 1000 entries \(2020\) is closed, not answered/;
      await waitUntil('the reason logged', () => closedUnanswered.test(proxy.log()), 2000);
      const r = await outpost.request(ApiKey.Produce, 9, produceBody(10, 99));
      const codes = rows(r.responses).flatMap((t) => rows(t.partitionResponses).map((p) => p.errorCode));
      assert.equal(codes.length, 990);
      assert.ok(codes.every((c) => c === 29), 'TOPIC_AUTHORIZATION_FAILED everywhere');
    } finally {
      outpost.close();
    }
  });

  test('24 connections each holding 3.5 MiB of a 4 MiB frame stay within maxBufferedBytes; others are not held up', async (t) => {
    await start(`maxFrameSize: ${4 * MiB}, maxBufferedBytes: ${8 * MiB}`);
    const rssBefore = proxy.rss();
    const partial = Buffer.alloc(3.5 * MiB);
    partial.writeInt32BE(4 * MiB, 0);
    const attackers = await Promise.all(Array.from({ length: 24 }, () => rawConnect(proxy.port)));
    for (const a of attackers) a.write(partial);
    // Held for a while: long enough for every byte the proxy would read to have been read.
    const latencies = await latenciesDuring(sleep(1500), metadata, 30);
    const rssGrowth = proxy.rss() - rssBefore;
    for (const a of attackers) a.destroy();
    t.diagnostic(assertBystanderUnhurt(latencies, baseline, '24 connections holding most of a 4 MiB frame'));
    // Without the budget: 24 × 3.5 = 84 MiB held. With it: 8 MiB, plus at most a socket read per connection.
    assert.ok(rssGrowth < 40 * MiB, `proxy RSS grew ${(rssGrowth / MiB).toFixed(0)} MiB`);
    await metadata();
  });
});

describe('kafka proxy: a frame waiting for buffer room', { timeout: 30_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({ upstream: broker, kafka: 'maxFrameSize: 65536, maxBufferedBytes: 65536, requestTimeoutMs: 400' });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  test('waits while a stalled frame holds the budget, without its own clock running, and is served once that one is closed', async () => {
    const stalled = await rawConnect(proxy.port);
    stalled.write(Buffer.from([0, 0, 0xea, 0x60, 0, 3])); // declares 60,000 bytes: reserved, then nothing more
    await sleep(50);
    // 20 kB in two writes: the frame spans reads, so it needs room the stalled frame holds.
    const request = encodeRequest({ apiKey: ApiKey.Metadata, apiVersion: 6, correlationId: 99, clientId: 'x'.repeat(20_000) }, metadataBody([ANNOUNCE]));
    const waiting = await rawConnect(proxy.port, EMPIRE.outpost);
    const answer = new Promise<Buffer>((resolve) => {
      let received = Buffer.alloc(0);
      waiting.on('data', (d: Buffer) => {
        received = Buffer.concat([received, d]);
        if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) resolve(received);
      });
    });
    const started = Date.now();
    waiting.write(request.subarray(0, 10_000));
    await sleep(50);
    waiting.write(request.subarray(10_000));
    const response = await answer;
    assert.equal(response.readInt32BE(4), 99, 'the answer to the waiting request');
    assert.ok(stalled.destroyed || (await closedWithin(stalled, 1000)) >= 0, 'the stalled frame was ended by its request timeout');
    assert.ok(Date.now() - started >= 250, 'served only once the stalled frame was gone');
    assert.equal(waiting.destroyed, false, 'the waiting connection was not timed out');
    waiting.destroy();
  });
});

describe('kafka proxy: request and idle timeouts', { timeout: 60_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  const log = captureLog();
  const reasons = () => log.lines().filter((l) => l.msg === 'closing Kafka connection').map((l) => String(l.reason));

  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({
      upstream: broker,
      policies: [EMPIRE_POLICY],
      kafka: 'requestTimeoutMs: 300, idleTimeoutMs: 800',
      log: pino({ level: 'info' }, log.stream),
    });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  test('a frame left incomplete is closed after requestTimeoutMs, counted, with the reason logged', async () => {
    proxy.metrics.clear();
    const socket = await rawConnect(proxy.port);
    socket.write(Buffer.from([0, 0, 0x03, 0xe8, 0, 3, 0, 4])); // 1000 bytes declared, 4 sent
    const ms = await closedWithin(socket, 3000);
    assert.ok(ms >= 250, `closed after ${ms} ms`);
    assert.match(reasons().at(-1) ?? '', /request frame incomplete 300 ms after its first bytes \(8 bytes received, kafka\.requestTimeoutMs\)/);
    assert.deepEqual(proxy.metrics.of('policyL7'), [['parse_errors', 'kafka']]);
  });

  test('trickling a frame a byte at a time does not restart the clock', async () => {
    const socket = await rawConnect(proxy.port);
    const trickle = setInterval(() => socket.write(Buffer.from([0])), 50);
    try {
      socket.write(Buffer.from([0, 0, 0x03, 0xe8]));
      const ms = await closedWithin(socket, 3000);
      assert.ok(ms >= 250 && ms < 1500, `closed after ${ms} ms`);
    } finally {
      clearInterval(trickle);
    }
  });

  test('a connection with nothing in flight is closed after idleTimeoutMs', async () => {
    const socket = await rawConnect(proxy.port);
    const ms = await closedWithin(socket, 5000);
    assert.ok(ms >= 700, `closed after ${ms} ms`);
    assert.match(reasons().at(-1) ?? '', /idle for 800 ms \(kafka\.idleTimeoutMs\)/);
  });

  test('a long poll longer than idleTimeoutMs is answered: a connection awaiting a response is not idle', async () => {
    const offset = await logEndOffset(broker.port, ANNOUNCE);
    const consumer = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
    try {
      const started = Date.now();
      const r = await consumer.request(ApiKey.Fetch, 11, fetchBody(ANNOUNCE, offset, 1500));
      assert.ok(Date.now() - started >= 1200, 'the broker held the fetch');
      assert.equal(rows(rows(r.responses)[0]!.partitions)[0]!.errorCode, 0);
      const again = await consumer.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
      assert.equal(rows(again.topics)[0]!.errorCode, 0);
    } finally {
      consumer.close();
    }
  });
});
