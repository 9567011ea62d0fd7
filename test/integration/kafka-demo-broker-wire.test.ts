// The demo broker at the wire level, over real sockets: version negotiation, malformed input, Metadata,
// Produce/Fetch (long poll, topic ids, errors), acks=0, idempotent producers and ListOffsets.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, encodeRequest, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { buildRecordBatch, readRecordValues } from '../helpers/kafka-demo-record-batch.js';

type Rows = readonly KafkaStruct[];
const rows = (v: unknown): Rows => v as Rows;

function produceBody(topic: string, partition: number, records: Buffer | null, acks = 1): KafkaStruct {
  return { transactionalId: null, acks, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

function partitionOf(produceResponse: KafkaStruct): KafkaStruct {
  return rows(rows(produceResponse.responses)[0]!.partitionResponses)[0]!;
}

function fetchBody(topic: { name?: string; id?: string }, offset: bigint, o: { maxWaitMs?: number; minBytes?: number; sessionId?: number; sessionEpoch?: number } = {}): KafkaStruct {
  return {
    replicaId: -1,
    maxWaitMs: o.maxWaitMs ?? 0,
    minBytes: o.minBytes ?? 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: o.sessionId ?? 0,
    sessionEpoch: o.sessionEpoch ?? -1,
    topics: [{ topic: topic.name ?? '', topicId: topic.id, partitions: [{ partition: 0, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  };
}

function fetchedPartition(fetchResponse: KafkaStruct): KafkaStruct {
  return rows(rows(fetchResponse.responses)[0]!.partitions)[0]!;
}

describe('Kafka demo broker: wire protocol', () => {
  let broker: DemoBroker;
  const clients: KafkaWireClient[] = [];
  const client = async (): Promise<KafkaWireClient> => {
    const c = await KafkaWireClient.connect(broker.port);
    clients.push(c);
    return c;
  };

  before(async () => {
    broker = await startDemoBroker({
      topics: { 'empire-announce': 1, 'deathstar-plans': 1, 'wire-log': 1, 'wire-idem': 1, 'wire-acks0': 1, 'wire-time': 1, 'wire-poll': 1 },
      advertisedHost: '127.0.0.77',
      advertisedPort: 19092,
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.close();
  });

  test('ApiVersions v0-v4 list the served APIs; an unknown version gets v0 with error 35 and the connection stays open', async () => {
    const c = await client();
    for (let v = 0; v <= 4; v++) {
      const r = await c.request(ApiKey.ApiVersions, v, v >= 3 ? { clientSoftwareName: 'wire-test', clientSoftwareVersion: '1.0' } : {});
      assert.equal(r.errorCode, 0);
      const keys = new Map(rows(r.apiKeys).map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
      assert.deepEqual([...keys.keys()].sort((a, b) => (a as number) - (b as number)), [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18, 22]);
      assert.deepEqual(keys.get(ApiKey.ApiVersions), [0, 4]);
      assert.deepEqual(keys.get(ApiKey.Fetch), [4, 17]);
    }
    // v5 does not exist in the definitions: the header is flexible (v3+ rule), the body unreadable.
    const v5 = encodeRequest({ apiKey: ApiKey.ApiVersions, apiVersion: 4, correlationId: 500, clientId: 'future' }, { clientSoftwareName: 'future', clientSoftwareVersion: '9' });
    v5.writeInt16BE(5, 6);
    const fallback = await c.requestFrame(v5, { responseVersion: 0 });
    assert.equal(fallback.errorCode, 35);
    assert.deepEqual(rows(fallback.apiKeys).find((k) => k.apiKey === ApiKey.ApiVersions), { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 4 });
    const again = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'wire-test', clientSoftwareVersion: '1.0' });
    assert.equal(again.errorCode, 0);
  });

  test('requests for unserved APIs or versions, and bytes that are not Kafka, close the connection; the broker keeps serving', async () => {
    const createTopics = await client();
    await assert.rejects(createTopics.request(19, 3, { topics: [], timeoutMs: 1000, validateOnly: false }), /connection closed/);
    const oldProduce = await client();
    await assert.rejects(oldProduce.request(ApiKey.Produce, 2, { acks: 1, timeoutMs: 1000, topicData: [] }), /connection closed/);

    const garbage = async (bytes: Buffer): Promise<void> => {
      const s = connect({ host: '127.0.0.1', port: broker.port });
      await once(s, 'connect');
      s.on('error', () => undefined);
      s.write(bytes);
      await once(s, 'close');
    };
    await garbage(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await garbage(Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0]));
    // A Metadata v1 header followed by a topic count that promises more than the frame holds.
    const truncated = Buffer.from([0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 7, 0, 2, 0x61, 0x62, 0, 0, 0, 9]);
    await garbage(truncated);
    // Trailing bytes after a valid ApiVersions v0 request.
    await garbage(Buffer.from([0, 0, 0, 12, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0, 0xde, 0xad]));

    const fresh = await client();
    const r = await fresh.request(ApiKey.Metadata, 1, { topics: null });
    assert.equal(rows(r.topics).length, 7);
  });

  test('Metadata: null and v0 [] mean every topic, [] means none, unknown and invalid names get errors, v12 asks by id; the advertised address is reported', async () => {
    const c = await client();
    const all = await c.request(ApiKey.Metadata, 1, { topics: null });
    assert.deepEqual(rows(all.brokers), [{ nodeId: broker.nodeId, host: '127.0.0.77', port: 19092, rack: null }]);
    assert.equal(all.controllerId, broker.nodeId);
    assert.ok(rows(all.topics).some((t) => t.name === 'empire-announce' && rows(t.partitions).length === 1 && rows(t.partitions)[0]!.leaderId === broker.nodeId));
    assert.equal(rows((await c.request(ApiKey.Metadata, 0, { topics: [] })).topics).length, 7);
    assert.equal(rows((await c.request(ApiKey.Metadata, 4, { topics: [], allowAutoTopicCreation: true })).topics).length, 0);

    const named = await c.request(ApiKey.Metadata, 9, { topics: [{ name: 'deathstar-plans' }, { name: 'no-such-topic' }, { name: 'bad/name' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
    assert.deepEqual(rows(named.topics).map((t) => [t.name, t.errorCode, rows(t.partitions).length]), [
      ['deathstar-plans', 0, 1],
      ['no-such-topic', 3, 0],
      ['bad/name', 17, 0],
    ]);
    const id = rows((await c.request(ApiKey.Metadata, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'deathstar-plans' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })).topics)[0]!.topicId as string;
    assert.notEqual(id, 'AAAAAAAAAAAAAAAAAAAAAA');
    const byId = await c.request(ApiKey.Metadata, 12, { topics: [{ topicId: id, name: null }, { topicId: 'BBBBBBBBBBBBBBBBBBBBBA', name: null }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(rows(byId.topics).map((t) => [t.name, t.errorCode]), [['deathstar-plans', 0], [null, 100]]);
  });

  test('Produce stamps offsets; Fetch returns the batches from the fetch offset with the high watermark; Fetch v13 finds topics by id', async () => {
    const c = await client();
    const first = partitionOf(await c.request(ApiKey.Produce, 7, produceBody('wire-log', 0, buildRecordBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }]))));
    assert.deepEqual([first.errorCode, first.baseOffset, first.logStartOffset], [0, 0n, 0n]);
    const second = partitionOf(await c.request(ApiKey.Produce, 9, produceBody('wire-log', 0, buildRecordBatch([{ value: 'd' }, { value: 'e' }]))));
    assert.deepEqual([second.errorCode, second.baseOffset], [0, 3n]);

    const fromStart = fetchedPartition(await c.request(ApiKey.Fetch, 11, fetchBody({ name: 'wire-log' }, 0n)));
    assert.equal(fromStart.highWatermark, 5n);
    assert.equal(fromStart.lastStableOffset, 5n);
    assert.deepEqual(readRecordValues(fromStart.records as Buffer).map((r) => `${r.offset}:${r.value}`), ['0:a', '1:b', '2:c', '3:d', '4:e']);
    const fromFour = fetchedPartition(await c.request(ApiKey.Fetch, 11, fetchBody({ name: 'wire-log' }, 4n)));
    assert.deepEqual(readRecordValues(fromFour.records as Buffer, 4).map((r) => r.value), ['e']);

    const meta = await c.request(ApiKey.Metadata, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'wire-log' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const topicId = rows(meta.topics)[0]!.topicId as string;
    const byId = await c.request(ApiKey.Fetch, 13, fetchBody({ id: topicId }, 3n));
    assert.equal(rows(byId.responses)[0]!.topicId, topicId);
    assert.deepEqual(readRecordValues(fetchedPartition(byId).records as Buffer).map((r) => r.value), ['d', 'e']);
    const unknownId = await c.request(ApiKey.Fetch, 13, fetchBody({ id: 'BBBBBBBBBBBBBBBBBBBBBA' }, 0n));
    assert.equal(fetchedPartition(unknownId).errorCode, 100);

    const outOfRange = fetchedPartition(await c.request(ApiKey.Fetch, 11, fetchBody({ name: 'wire-log' }, 99n)));
    assert.deepEqual([outOfRange.errorCode, outOfRange.highWatermark], [1, 5n]);
    const unknown = fetchedPartition(await c.request(ApiKey.Fetch, 11, fetchBody({ name: 'nope' }, 0n)));
    assert.deepEqual([unknown.errorCode, unknown.highWatermark], [3, -1n]);
    const session = await c.request(ApiKey.Fetch, 11, fetchBody({ name: 'wire-log' }, 0n, { sessionId: 42, sessionEpoch: 1 }));
    assert.equal(session.errorCode, 70);
  });

  test('Produce refuses bad batches per partition with Kafka error codes', async () => {
    const c = await client();
    const corrupt = buildRecordBatch([{ value: 'x' }]);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    const valid = buildRecordBatch([{ value: 'y' }]);
    const cases: Array<[string, KafkaStruct, number]> = [
      ['CRC mismatch', produceBody('wire-log', 0, corrupt), 2],
      ['two batches', produceBody('wire-log', 0, Buffer.concat([valid, valid])), 87],
      ['no records', produceBody('wire-log', 0, null), 87],
      ['unknown partition', produceBody('wire-log', 7, valid), 3],
      ['unknown topic', produceBody('no-such-topic', 0, valid), 3],
      ['acks=2', produceBody('wire-log', 0, valid, 2), 21],
      ['transactional batch', produceBody('wire-log', 0, buildRecordBatch([{ value: 't' }], { attributes: 0x10, producerId: 9n, producerEpoch: 0, baseSequence: 0 })), 48],
    ];
    for (const [name, body, code] of cases) {
      const p = partitionOf(await c.request(ApiKey.Produce, 8, body));
      assert.equal(p.errorCode, code, name);
      assert.equal(p.baseOffset, -1n, name);
      assert.equal(typeof p.errorMessage, 'string', name);
    }
  });

  test('acks=0 gets no response (the next response answers the next request); a failed acks=0 produce closes the connection', async () => {
    const c = await client();
    const silent = c.send(ApiKey.Produce, 7, produceBody('wire-acks0', 0, buildRecordBatch([{ value: 'fire and forget' }]), 0));
    const meta = await c.request(ApiKey.Metadata, 1, { topics: [{ name: 'wire-acks0' }] });
    assert.equal(rows(meta.topics)[0]!.errorCode, 0);
    assert.ok(!c.answered.includes(silent));
    const stored = fetchedPartition(await c.request(ApiKey.Fetch, 11, fetchBody({ name: 'wire-acks0' }, 0n)));
    assert.deepEqual(readRecordValues(stored.records as Buffer).map((r) => r.value), ['fire and forget']);

    const failing = await client();
    failing.send(ApiKey.Produce, 7, produceBody('no-such-topic', 0, buildRecordBatch([{ value: 'lost' }]), 0));
    await failing.closed;
  });

  test('idempotent producers: InitProducerId, retried batches are acknowledged once, gaps and stale epochs are refused', async () => {
    const c = await client();
    const init = await c.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 });
    assert.equal(init.errorCode, 0);
    const producerId = init.producerId as bigint;
    assert.ok(producerId > 0n);
    const other = await c.request(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 60000 });
    assert.notEqual(other.producerId, producerId);
    const txn = await c.request(ApiKey.InitProducerId, 1, { transactionalId: 'empire-tx', transactionTimeoutMs: 60000 });
    assert.equal(txn.errorCode, 42);

    const batch = (seq: number, epoch = 0, values = ['v']): Buffer =>
      buildRecordBatch(values.map((value) => ({ value })), { producerId, producerEpoch: epoch, baseSequence: seq });
    const send = async (b: Buffer): Promise<KafkaStruct> => partitionOf(await c.request(ApiKey.Produce, 7, produceBody('wire-idem', 0, b, -1)));
    const firstWrite = await send(batch(0, 0, ['a', 'b']));
    assert.deepEqual([firstWrite.errorCode, firstWrite.baseOffset], [0, 0n]);
    const retry = await send(batch(0, 0, ['a', 'b']));
    assert.deepEqual([retry.errorCode, retry.baseOffset], [0, 0n], 'a retried batch gets its original offset');
    assert.deepEqual([(await send(batch(2))).baseOffset], [2n]);
    assert.equal((await send(batch(7))).errorCode, 45, 'a sequence gap is out of order');
    assert.deepEqual([(await send(batch(0, 1))).baseOffset], [3n], 'a new epoch restarts at sequence 0');
    assert.equal((await send(batch(3, 0))).errorCode, 47, 'an older epoch is fenced');
    assert.equal((await send(batch(4, 2))).errorCode, 45, 'a new epoch must start at 0');
    const log = fetchedPartition(await c.request(ApiKey.Fetch, 11, fetchBody({ name: 'wire-idem' }, 0n)));
    assert.deepEqual(readRecordValues(log.records as Buffer).map((r) => r.value), ['a', 'b', 'v', 'v']);
    assert.equal(log.highWatermark, 4n);
  });

  test('Fetch long-polls until data arrives or max wait passes, and responses keep request order', async () => {
    const c = await client();
    const producer = await client();
    const started = Date.now();
    const empty = fetchedPartition(await c.request(ApiKey.Fetch, 11, fetchBody({ name: 'wire-poll' }, 0n, { maxWaitMs: 400 })));
    const waited = Date.now() - started;
    assert.ok(waited >= 350 && waited < 2000, `waited ${waited} ms`);
    assert.equal((empty.records as Buffer).length, 0);

    const polling = c.request(ApiKey.Fetch, 11, fetchBody({ name: 'wire-poll' }, 0n, { maxWaitMs: 10_000 }));
    const behind = c.request(ApiKey.Metadata, 1, { topics: [{ name: 'wire-poll' }] });
    const pollId = c.answered.length;
    await new Promise((r) => setTimeout(r, 200)); // the point: the fetch and the request behind it stay unanswered
    assert.equal(c.answered.length, pollId, 'nothing answered while the fetch waits');
    const t0 = Date.now();
    await producer.request(ApiKey.Produce, 7, produceBody('wire-poll', 0, buildRecordBatch([{ value: 'wake up' }])));
    const woke = fetchedPartition(await polling);
    assert.ok(Date.now() - t0 < 2000, 'the append ended the wait');
    assert.deepEqual(readRecordValues(woke.records as Buffer).map((r) => r.value), ['wake up']);
    await behind;
    const [fetchCorr, metaCorr] = c.answered.slice(-2);
    assert.ok(fetchCorr! < metaCorr!, 'the Metadata response came after the Fetch it followed');
  });

  test('close() ends long polls and waiting joins at once and closes every connection', async () => {
    const other = await startDemoBroker({ topics: { t: 1 } });
    const poller = await KafkaWireClient.connect(other.port);
    const joiner = await KafkaWireClient.connect(other.port);
    const poll = poller.request(ApiKey.Fetch, 11, fetchBody({ name: 't' }, 0n, { maxWaitMs: 30_000 }));
    const join = joiner.request(11, 5, { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
    const answered = Promise.all([assert.rejects(poll, /connection closed/), assert.rejects(join, /connection closed/)]);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await Promise.all([other.close(), other.close()]);
    await Promise.all([poller.closed, joiner.closed]);
    assert.ok(Date.now() - started < 2000);
    await answered;
    await assert.rejects(KafkaWireClient.connect(other.port), /ECONNREFUSED/);
  });

  test('ListOffsets: earliest, latest, by timestamp (exact in uncompressed batches) and max timestamp', async () => {
    const c = await client();
    const t = 1_700_000_000_000;
    await c.request(ApiKey.Produce, 7, produceBody('wire-time', 0, buildRecordBatch([{ value: 'r0', timestamp: t }, { value: 'r1', timestamp: t + 10 }, { value: 'r2', timestamp: t + 20 }], { baseTimestamp: t })));
    await c.request(ApiKey.Produce, 7, produceBody('wire-time', 0, buildRecordBatch([{ value: 'r3', timestamp: t + 5 }], { baseTimestamp: t + 5 })));
    const ask = async (version: number, timestamp: bigint): Promise<[unknown, unknown, unknown]> => {
      const r = await c.request(ApiKey.ListOffsets, version, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'wire-time', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }], timeoutMs: 1000 });
      const p = rows(rows(r.topics)[0]!.partitions)[0]!;
      return [p.errorCode, p.offset, p.timestamp];
    };
    assert.deepEqual(await ask(2, -2n), [0, 0n, -1n]);
    assert.deepEqual(await ask(2, -1n), [0, 4n, -1n]);
    assert.deepEqual(await ask(1, BigInt(t + 10)), [0, 1n, BigInt(t + 10)]);
    assert.deepEqual(await ask(5, BigInt(t + 15)), [0, 2n, BigInt(t + 20)]);
    assert.deepEqual(await ask(5, BigInt(t + 21)), [0, -1n, -1n]);
    assert.deepEqual(await ask(7, -3n), [0, 2n, BigInt(t + 20)]);
    assert.deepEqual(await ask(10, -4n), [0, 0n, -1n]);
    const unknown = await c.request(ApiKey.ListOffsets, 2, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'nope', partitions: [{ partitionIndex: 0, timestamp: -1n }] }] });
    assert.equal(rows(rows(unknown.topics)[0]!.partitions)[0]!.errorCode, 3);
  });
});
