// The codec against real clients over real sockets: kafkajs and kcat (librdkafka) produce, consume and
// run consumer groups through a broker whose every response is encoded by the codec
// (test/helpers/kafka-fake-broker.ts), then get the codec's deny responses and must report the
// authorization errors the wire notes (§4c) observed from real brokers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KafkaPolicyFacts } from '../../src/protocols/kafka/proxy/facts.js';
import { kafkajsConsume, kafkajsProduce, runKcat } from '../helpers/kafka-clients.js';
import { KafkaFakeBroker } from '../helpers/kafka-fake-broker.js';
import { ApiKey } from '../../src/protocols/kafka/codec/index.js';

const TOPIC = 'deathstar-plans';

async function withBroker<T>(deny: ((f: KafkaPolicyFacts) => number | undefined) | undefined, run: (b: KafkaFakeBroker) => Promise<T>): Promise<T> {
  const broker = await KafkaFakeBroker.start({ topics: [TOPIC], deny });
  try {
    return await run(broker);
  } finally {
    await broker.close();
  }
}

const apiOf = (b: KafkaFakeBroker) => b.requests.map((r) => `${r.facts.apiKey}v${r.facts.apiVersion}`);

describe('codec responses accepted by real clients', { timeout: 60_000 }, () => {
  test('kafkajs produces, then consumes in a group (Metadata v6, Produce v7, Join v5, Fetch v11, ...)', async () => {
    await withBroker(undefined, async (broker) => {
      await kafkajsProduce(broker.address, TOPIC, ['plan-a', 'plan-b']);
      assert.equal(broker.batches(TOPIC).length, 1);
      assert.deepEqual(await kafkajsConsume(broker.address, TOPIC, 'empire-backup', 2), ['plan-a', 'plan-b']);
      for (const used of ['0v7', '3v6', '10v2', '11v5', '14v3', '9v4', '1v11', '13v3']) assert.ok(apiOf(broker).includes(used), `kafkajs never sent ${used}`);
    });
  });

  test('kcat produces, consumes, and consumes in a group (flexible ApiVersions v3 and OffsetFetch v7)', async () => {
    await withBroker(undefined, async (broker) => {
      const produce = await runKcat(broker.address, ['-P', '-t', TOPIC], { input: 'plan-1\nplan-2\n' });
      assert.equal(produce.code, 0, produce.stderr);
      const consume = await runKcat(broker.address, ['-C', '-t', TOPIC, '-o', 'beginning', '-e']);
      assert.equal(consume.code, 0, consume.stderr);
      assert.equal(consume.stdout, 'plan-1\nplan-2\n');
      const group = await runKcat(broker.address, ['-G', 'empire-backup', '-X', 'auto.offset.reset=earliest', '-c', '2', TOPIC]);
      assert.equal(group.code, 0, group.stderr);
      assert.equal(group.stdout, 'plan-1\nplan-2\n');
      for (const used of ['18v3', '9v7', '8v7', '11v5']) assert.ok(apiOf(broker).includes(used), `kcat never sent ${used}`);
    });
  });
});

describe('codec deny responses as real clients report them', { timeout: 90_000 }, () => {
  const denyKey = (apiKey: number, code: number) => (f: KafkaPolicyFacts) => (f.apiKey === apiKey ? code : undefined);

  test('Produce denied with 29: kafkajs TOPIC_AUTHORIZATION_FAILED, kcat "Delivery failed"', async () => {
    await withBroker(denyKey(0, 29), async (broker) => {
      await assert.rejects(kafkajsProduce(broker.address, TOPIC, ['x']), (e: any) => e.type === 'TOPIC_AUTHORIZATION_FAILED' && e.retriable === false);
      const kcat = await runKcat(broker.address, ['-P', '-t', TOPIC], { input: 'x\n' });
      assert.equal(kcat.code, 1);
      assert.match(kcat.stderr, /Delivery failed for message: Broker: Topic authorization failed/);
      assert.deepEqual(broker.batches(TOPIC), [], 'nothing was stored');
    });
  });

  test('Metadata for a topic denied with 29 (empty partitions): both clients give up at once', async () => {
    await withBroker((f) => (f.apiKey === ApiKey.Metadata && f.topics.includes(TOPIC) ? 29 : undefined), async (broker) => {
      await assert.rejects(kafkajsProduce(broker.address, TOPIC, ['x']), /Not authorized to access topics/);
      const kcat = await runKcat(broker.address, ['-C', '-t', TOPIC, '-o', 'beginning', '-e']);
      assert.equal(kcat.code, 1);
      assert.match(kcat.stderr, /Topic deathstar-plans error: Broker: Topic authorization failed/);
    });
  });

  test('Fetch denied with 29 (high watermark -1): kcat reports the fetch error instead of end of topic', async () => {
    await withBroker(denyKey(1, 29), async (broker) => {
      assert.equal((await runKcat(broker.address, ['-P', '-t', TOPIC], { input: 'x\n' })).code, 0);
      const kcat = await runKcat(broker.address, ['-C', '-t', TOPIC, '-o', 'beginning', '-e']);
      assert.equal(kcat.code, 1);
      assert.match(kcat.stderr, /Fetch from broker 0 failed: Broker: Topic authorization failed/);
    });
  });

  test('JoinGroup denied with 30: kafkajs GROUP_AUTHORIZATION_FAILED, kcat "JoinGroup failed"', async () => {
    await withBroker(denyKey(11, 30), async (broker) => {
      await kafkajsProduce(broker.address, TOPIC, ['x']);
      await assert.rejects(kafkajsConsume(broker.address, TOPIC, 'rebels', 1), (e: any) => e.type === 'GROUP_AUTHORIZATION_FAILED');
      const kcat = await runKcat(broker.address, ['-G', 'rebels', '-c', '1', TOPIC], { timeoutMs: 10_000 });
      assert.match(kcat.stderr, /JoinGroup failed: Broker: Group authorization failed/);
    });
  });

  test('flexible OffsetFetch v7 denied with 30 (response header v1): librdkafka reads it', async () => {
    await withBroker(denyKey(9, 30), async (broker) => {
      assert.equal((await runKcat(broker.address, ['-P', '-t', TOPIC], { input: 'x\n' })).code, 0);
      const kcat = await runKcat(broker.address, ['-G', 'empire-backup', '-c', '1', TOPIC], { timeoutMs: 10_000 });
      assert.match(kcat.stderr, /Failed to fetch committed offsets for 1 partition\(s\) in group "empire-backup": Broker: Group authorization failed/);
      assert.ok(broker.requests.some((r) => r.facts.apiKey === ApiKey.OffsetFetch && r.facts.apiVersion === 7 && r.facts.headerVersion === 2));
    });
  });
});
