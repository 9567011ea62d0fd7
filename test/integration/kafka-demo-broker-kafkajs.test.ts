// kafkajs 2.2 against the demo broker over real sockets: plain and idempotent producers, a two-member
// consumer group that reads every message exactly once, a member leaving, and a restarted consumer
// resuming from its committed offset.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { quietKafka, startRecordingConsumer, type ReceivedMessage, type RecordingConsumer } from '../helpers/kafka-demo-kafkajs.js';
import { waitUntil } from '../helpers/wait.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
/** Group joins and rebalances take kafkajs a few of its 300 ms heartbeats, and more on a loaded machine. */
const GROUP_MS = 20_000;
/** A message delivered twice would arrive within this; the quiet period is what the duplicate checks assert on. */
const QUIET_MS = 500;

describe('Kafka demo broker with kafkajs', () => {
  let broker: DemoBroker;
  const running: RecordingConsumer[] = [];

  before(async () => {
    // Two partitions of empire-announce so the group has something to share.
    broker = await startDemoBroker({ topics: { 'empire-announce': 2, 'deathstar-plans': 1 } });
  });
  after(async () => {
    for (const c of running) await c.stop().catch(() => undefined);
    await broker.close();
  });

  test('plain and idempotent producers send 20 messages; a group of two consumers reads each exactly once', async () => {
    const kafka = quietKafka(broker.port, 'empire-hq');
    const received: ReceivedMessage[] = [];
    const a = await startRecordingConsumer(quietKafka(broker.port, 'outpost-8888'), { name: 'a', groupId: 'outposts', topic: 'empire-announce', received });
    const b = await startRecordingConsumer(quietKafka(broker.port, 'outpost-9999'), { name: 'b', groupId: 'outposts', topic: 'empire-announce', received });
    running.push(a, b);
    await waitUntil('both members to own one partition each', () => a.assignment['empire-announce']?.length === 1 && b.assignment['empire-announce']?.length === 1, GROUP_MS);
    assert.notDeepEqual(a.assignment['empire-announce'], b.assignment['empire-announce']);

    const plain = kafka.producer();
    const idempotent = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await plain.connect();
    await idempotent.connect();
    const batch = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ partition: (from + i) % 2, value: `announcement ${from + i}` }));
    const plainResult = await plain.send({ topic: 'empire-announce', messages: batch(0, 10) });
    const idemResult = await idempotent.send({ topic: 'empire-announce', acks: -1, messages: batch(10, 20) });
    assert.ok([...plainResult, ...idemResult].every((r) => r.errorCode === 0));

    await waitUntil('20 messages', () => received.length >= 20, GROUP_MS);
    const values = received.map((m) => m.value).sort();
    assert.deepEqual(values, Array.from({ length: 20 }, (_, i) => `announcement ${i}`).sort());
    assert.equal(new Set(received.map((m) => `${m.partition}@${m.offset}`)).size, 20, 'no message was delivered twice');
    for (const c of [a, b]) {
      const mine = received.filter((m) => m.consumer === c.name);
      assert.equal(mine.length, 10, `member ${c.name} read its partition`);
      assert.ok(mine.every((m) => m.partition === c.assignment['empire-announce']![0]));
    }

    // b leaves: a takes over b's partition from b's committed offset, so nothing is read twice.
    const joinsBefore = a.joins;
    await b.stop();
    running.splice(running.indexOf(b), 1);
    await waitUntil('a to own both partitions', () => a.joins > joinsBefore && a.assignment['empire-announce']?.length === 2, GROUP_MS);
    await plain.send({ topic: 'empire-announce', messages: batch(20, 24) });
    await waitUntil('4 more messages', () => received.length >= 24, GROUP_MS);
    await sleep(QUIET_MS);
    assert.equal(received.length, 24, 'only the new messages were read');
    assert.deepEqual(received.slice(20).map((m) => m.consumer), ['a', 'a', 'a', 'a']);
    await plain.disconnect();
    await idempotent.disconnect();
  });

  test('a restarted consumer resumes after its committed offset, and the admin client sees the commits', async () => {
    const kafka = quietKafka(broker.port, 'empire-hq');
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: 'deathstar-plans', messages: Array.from({ length: 5 }, (_, i) => ({ key: `plan-${i}`, value: `plan ${i}` })) });

    const received: ReceivedMessage[] = [];
    const first = await startRecordingConsumer(quietKafka(broker.port, 'empire-backup'), { name: 'first', groupId: 'backup', topic: 'deathstar-plans', received });
    running.push(first);
    await waitUntil('the first 5 plans', () => received.length >= 5, GROUP_MS);
    await first.stop();
    running.splice(running.indexOf(first), 1);

    const admin = kafka.admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: 'backup', topics: ['deathstar-plans'] });
    assert.deepEqual(committed[0]!.partitions.map((p) => [p.partition, p.offset]), [[0, '5']]);
    const topicOffsets = await admin.fetchTopicOffsets('deathstar-plans');
    assert.deepEqual(topicOffsets.map((p) => [p.partition, p.offset, p.low, p.high]), [[0, '5', '0', '5']]);
    await admin.disconnect();

    await producer.send({ topic: 'deathstar-plans', messages: [{ value: 'plan 5' }, { value: 'plan 6' }] });
    // fromBeginning is ignored once the group has a committed offset.
    const second = await startRecordingConsumer(quietKafka(broker.port, 'empire-backup'), { name: 'second', groupId: 'backup', topic: 'deathstar-plans', received });
    running.push(second);
    await waitUntil('the 2 new plans', () => received.length >= 7, GROUP_MS);
    await sleep(QUIET_MS);
    assert.deepEqual(received.filter((m) => m.consumer === 'second').map((m) => [m.offset, m.value]), [[5, 'plan 5'], [6, 'plan 6']]);
    await producer.disconnect();
  });
});
