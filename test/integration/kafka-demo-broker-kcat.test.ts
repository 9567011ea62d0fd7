// kcat 1.7 (librdkafka 2.0.2) against the demo broker over real sockets: metadata listing, producing
// (plain and idempotent), consuming from the beginning, and consuming with a consumer group that
// resumes from its committed offsets.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EMPIRE_TOPICS, startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { kcat } from '../helpers/kafka-demo-kcat.js';

describe('Kafka demo broker with kcat', () => {
  let broker: DemoBroker;
  let bootstrap: string;

  before(async () => {
    broker = await startDemoBroker({ topics: { ...EMPIRE_TOPICS, compressed: 1 } });
    bootstrap = `${broker.host}:${broker.port}`;
  });
  after(() => broker.close());

  test('kcat -L lists the broker and the Empire topics', async () => {
    const plain = await kcat(['-b', bootstrap, '-L']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, new RegExp(`broker ${broker.nodeId} at ${bootstrap} \\(controller\\)`));
    assert.match(plain.stdout, /topic "empire-announce" with 1 partitions/);
    assert.match(plain.stdout, /topic "deathstar-plans" with 1 partitions/);
    const json = JSON.parse((await kcat(['-b', bootstrap, '-L', '-J'])).stdout) as { topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number }> }> };
    assert.deepEqual(json.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.leader])]).sort(), [
      ['compressed', [[0, broker.nodeId]]],
      ['deathstar-plans', [[0, broker.nodeId]]],
      ['empire-announce', [[0, broker.nodeId]]],
    ]);
  });

  test('kcat -P produces lines (plain and idempotent) and kcat -C -o beginning -e reads them back', async () => {
    const produced = await kcat(['-b', bootstrap, '-P', '-t', 'empire-announce'], { input: 'The Death Star is operational\nAll hands report\n' });
    assert.equal(produced.code, 0, produced.stderr);
    const idempotent = await kcat(['-b', bootstrap, '-P', '-t', 'empire-announce', '-X', 'enable.idempotence=true'], { input: 'Idempotence is on\n' });
    assert.equal(idempotent.code, 0, idempotent.stderr);

    const consumed = await kcat(['-b', bootstrap, '-C', '-t', 'empire-announce', '-o', 'beginning', '-e', '-f', '%p:%o %s\n']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), ['0:0 The Death Star is operational', '0:1 All hands report', '0:2 Idempotence is on']);
    assert.match(consumed.stderr, /Reached end of topic empire-announce \[0\] at offset 3/);
    const fromOffset = await kcat(['-b', bootstrap, '-C', '-t', 'empire-announce', '-o', '2', '-e', '-f', '%o %s\n']);
    assert.equal(fromOffset.stdout, '2 Idempotence is on\n');
  });

  test('compressed batches (gzip, snappy, lz4, zstd) are stored as sent and read back', async () => {
    const codecs = ['gzip', 'snappy', 'lz4', 'zstd'];
    for (const z of codecs) {
      const r = await kcat(['-b', bootstrap, '-P', '-t', 'compressed', '-z', z], { input: `${z} one\n${z} two\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    const read = await kcat(['-b', bootstrap, '-C', '-t', 'compressed', '-o', 'beginning', '-e', '-f', '%o %s\n']);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(read.stdout.trim().split('\n'), codecs.flatMap((z, i) => [`${2 * i} ${z} one`, `${2 * i + 1} ${z} two`]));
  });

  test('kcat -G consumes with a group and a second run resumes after the committed offsets', async () => {
    const produced = await kcat(['-b', bootstrap, '-P', '-t', 'deathstar-plans'], { input: 'plan A\nplan B\n' });
    assert.equal(produced.code, 0, produced.stderr);
    const group = ['-b', bootstrap, '-G', 'empire-backup', 'deathstar-plans', '-e', '-f', '%o %s\n', '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=6000'];
    const first = await kcat(group);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, '0 plan A\n1 plan B\n');
    assert.match(first.stderr, /assigned: deathstar-plans \[0\]/);

    await kcat(['-b', bootstrap, '-P', '-t', 'deathstar-plans'], { input: 'plan C\n' });
    const second = await kcat(group);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, '2 plan C\n');
  });
});
