// What allowed traffic looks like on the other side of the proxy: requests arrive at the broker byte for
// byte (a recording broker shows it), except a Fetch asking to open an incremental fetch session, which
// goes sessionless; large responses stream back intact; many pipelined requests keep their order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, decodeRequest, encodeRequest } from '../../src/protocols/kafka/codec/index.js';
import { buildRecordBatch } from '../helpers/kafka-demo-record-batch.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { KafkaFakeBroker } from '../helpers/kafka-fake-broker.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, PLANS, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { fetchBody, metadataBody, produceBody, rows } from '../helpers/kafka-proxy-requests.js';
import { waitUntil } from '../helpers/wait.js';

describe('kafka proxy: what reaches the broker', { timeout: 30_000 }, () => {
  let broker: KafkaFakeBroker;
  let proxy: KafkaProxy;

  before(async () => {
    broker = await KafkaFakeBroker.start({ topics: [ANNOUNCE, PLANS] });
    proxy = await startKafkaProxy({ upstream: { host: '127.0.0.1', port: Number(broker.address.split(':')[1]) }, policies: [EMPIRE_POLICY] });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  const sendAs = async (localAddress: string, frames: readonly Buffer[]) => {
    const c = await KafkaWireClient.connect(proxy.port, localAddress);
    try {
      for (const f of frames) await c.requestFrame(f);
    } finally {
      c.close();
    }
  };

  test('allowed requests are forwarded unchanged', async () => {
    const frames = [
      encodeRequest({ apiKey: ApiKey.Metadata, apiVersion: 6, correlationId: 1, clientId: 'empire-hq' }, metadataBody([ANNOUNCE, PLANS])),
      encodeRequest({ apiKey: ApiKey.Produce, apiVersion: 7, correlationId: 2, clientId: 'empire-hq' }, produceBody([ANNOUNCE, PLANS])),
      // Sessionless already (kafkajs, librdkafka): untouched.
      encodeRequest({ apiKey: ApiKey.Fetch, apiVersion: 11, correlationId: 3, clientId: 'empire-outpost' }, fetchBody(ANNOUNCE, 0n)),
    ];
    const seen = broker.requests.length;
    await sendAs(EMPIRE.hq, frames.slice(0, 2));
    await sendAs(EMPIRE.outpost, frames.slice(2));
    const forwarded = broker.requests.slice(seen).map((r) => r.frame);
    assert.deepEqual(forwarded, frames);
  });

  test('a Fetch that would open an incremental fetch session is forwarded sessionless; nothing else about it changes', async () => {
    const body = { ...fetchBody(ANNOUNCE, 0n), sessionId: 0, sessionEpoch: 0 };
    const frame = encodeRequest({ apiKey: ApiKey.Fetch, apiVersion: 11, correlationId: 4, clientId: 'empire-outpost' }, body);
    const seen = broker.requests.length;
    await sendAs(EMPIRE.outpost, [frame]);
    const [forwarded] = broker.requests.slice(seen).map((r) => r.frame);
    const { header, body: sent } = decodeRequest(forwarded!);
    assert.deepEqual(header, decodeRequest(frame).header);
    assert.deepEqual(sent, { ...decodeRequest(frame).body, sessionEpoch: -1 });
  });
});

describe('kafka proxy: large, pipelined and unread traffic (demo broker)', { timeout: 60_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;

  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({ upstream: { host: broker.host, port: broker.port }, policies: [EMPIRE_POLICY] });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  test('a multi-megabyte Fetch response streams through byte for byte', async () => {
    const hq = await KafkaWireClient.connect(proxy.port, EMPIRE.hq);
    const value = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 64; i++) {
      const batch = buildRecordBatch(Array.from({ length: 1 }, () => ({ value })));
      const r = await hq.request(ApiKey.Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: PLANS, partitionData: [{ index: 0, records: batch }] }] });
      assert.equal(rows(rows(r.responses)[0]!.partitionResponses)[0]!.errorCode, 0);
    }
    hq.close();
    const body = { ...fetchBody(PLANS, 0n), maxBytes: 16 << 20, topics: [{ topic: PLANS, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 16 << 20 }] }] };
    const viaProxy = await KafkaWireClient.connect(proxy.port, EMPIRE.backup);
    const direct = await KafkaWireClient.connect(broker.port);
    try {
      const [a, b] = await Promise.all([viaProxy.request(ApiKey.Fetch, 11, body), direct.request(ApiKey.Fetch, 11, body)]);
      const records = (r: typeof a) => rows(rows(r.responses)[0]!.partitions)[0]!.records as Buffer;
      assert.ok(records(a).length > 4 * 1024 * 1024, `fetched ${records(a).length} bytes`);
      assert.ok(records(a).equals(records(b)));
    } finally {
      viaProxy.close();
      direct.close();
    }
  });

  test('hundreds of pipelined requests, allowed and denied mixed, are answered in order', async () => {
    const c = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
    try {
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          i % 3 === 0 ? c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE])) : c.request(ApiKey.Metadata, 6, metadataBody([i % 3 === 1 ? ANNOUNCE : PLANS])),
        ),
      );
      assert.equal(answers.length, 300);
      assert.deepEqual(c.answered, Array.from({ length: 300 }, (_, i) => i + 1));
      answers.forEach((r, i) => {
        if (i % 3 === 0) assert.equal(rows(rows(r.responses)[0]!.partitionResponses)[0]!.errorCode, 29);
        else assert.equal(rows(r.topics)[0]!.errorCode, i % 3 === 1 ? 0 : 29);
      });
    } finally {
      c.close();
    }
  });

  test('a client that never reads its answers is throttled: the proxy stops reading its requests, then catches up in order', async () => {
    // Denied Fetches of 999 partitions (the most a denied request is answered with, with its topic): ~15 KB
    // requests, ~30 KB answers, 800 of them (~24 MB of answers).
    const partitions = Array.from({ length: 999 }, (_, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1024 }));
    const body = { ...fetchBody(ANNOUNCE, 0n), topics: [{ topic: ANNOUNCE, partitions }] };
    const c = await KafkaWireClient.connect(proxy.port, EMPIRE.hq); // hq may not fetch
    try {
      c.socket.pause();
      const flowsBefore = proxy.flows.events.length;
      const answers = Array.from({ length: 800 }, () => c.request(ApiKey.Fetch, 11, body));
      // The proxy stops reading once its answers back up: wait until it has decided nothing new for 200 ms (one
      // that kept reading would go on to decide all 800).
      let decided = -1;
      let movedAt = Date.now();
      await waitUntil('the proxy to stop deciding requests', () => {
        if (proxy.flows.events.length !== decided) [decided, movedAt] = [proxy.flows.events.length, Date.now()];
        return Date.now() - movedAt >= 200;
      });
      const decidedWhileBlocked = proxy.flows.events.length - flowsBefore;
      assert.ok(decidedWhileBlocked < 800, `the proxy stopped reading: ${decidedWhileBlocked} of 800 decided`);
      assert.ok(c.socket.writableLength > 0, 'the client cannot write everything');
      const other = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
      assert.equal(rows((await other.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]))).topics)[0]!.errorCode, 0, 'others are served meanwhile');
      other.close();
      c.socket.resume();
      const all = await Promise.all(answers);
      assert.equal(all.length, 800);
      assert.ok(all.every((r) => rows(rows(r.responses)[0]!.partitions).length === 999));
      assert.deepEqual(c.answered.slice(-800), Array.from({ length: 800 }, (_, i) => c.answered.at(-800)! + i));
    } finally {
      c.close();
    }
  });
});
