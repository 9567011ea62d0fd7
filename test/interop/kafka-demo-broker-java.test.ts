// The Apache Kafka Java client (3.9, via the InteropClient in .interop/kafka) against the demo broker:
// it negotiates the newest versions (Metadata v12, Produce v11, Fetch v17 by topic id, JoinGroup v9,
// OffsetFetch v9 ...), produces plainly and idempotently, consumes with and without a group, resumes
// from committed offsets, and reads and writes the same log as kafkajs and kcat.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { runJavaClient, type JavaClientOutcome } from '../helpers/kafka-broker-real.js';
import { kcat } from '../helpers/kafka-demo-kcat.js';
import { quietKafka } from '../helpers/kafka-demo-kafkajs.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const JAVA_ADDRESS = '127.0.0.31';
const ofType = (outcomes: JavaClientOutcome[], type: JavaClientOutcome['type']) => outcomes.filter((o) => o.type === type);
const summaryOf = (outcomes: JavaClientOutcome[]) => outcomes.at(-1)!;

describe('Kafka demo broker with the Java client', { timeout: 300_000 }, () => {
  let broker: DemoBroker;
  let bootstrap: string;
  const java = (args: string[]): Promise<JavaClientOutcome[]> =>
    runJavaClient([...args, '--bootstrap', bootstrap, '--local-address', JAVA_ADDRESS, '--timeout-ms', '30000']);

  before(async () => {
    broker = await startDemoBroker();
    bootstrap = `${broker.host}:${broker.port}`;
  });
  after(() => broker?.close());

  test('lists the Empire topics', async () => {
    const listed = await java(['topics']);
    assert.deepEqual(ofType(listed, 'topic').map((t) => [t['name'], t['partitions']]).sort(), [['deathstar-plans', 1], ['empire-announce', 1]]);
  });

  test('produces plainly and idempotently, then a consumer group reads all 20 exactly once', async () => {
    const plain = await java(['produce', '--client-id', 'empire-hq', '--topic', 'empire-announce', '--count', '10', '--prefix', 'plain']);
    assert.equal(summaryOf(plain)['ok'], true, JSON.stringify(plain));
    assert.deepEqual(ofType(plain, 'produced').map((p) => p['offset']), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const idempotent = await java(['produce', '--client-id', 'empire-hq', '--topic', 'empire-announce', '--count', '10', '--prefix', 'idem', '--idempotence', 'true']);
    assert.equal(summaryOf(idempotent)['ok'], true, JSON.stringify(idempotent));
    assert.deepEqual(ofType(idempotent, 'produced').map((p) => p['offset']), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);

    const consumed = await java(['consume', '--client-id', 'outpost-8888', '--topic', 'empire-announce', '--group', 'outposts', '--count', '20']);
    assert.equal(summaryOf(consumed)['ok'], true, JSON.stringify(consumed));
    const records = ofType(consumed, 'consumed');
    assert.deepEqual(records.map((r) => r['offset']), Array.from({ length: 20 }, (_, i) => i));
    assert.deepEqual(records.map((r) => r['value']).slice(9, 11), ['plain-9', 'idem-0']);
  });

  test('the group resumes after its committed offsets; messages from kafkajs reach Java and Java messages reach kcat', async () => {
    const producer = quietKafka(broker.port, 'empire-hq').producer();
    await producer.connect();
    await producer.send({ topic: 'empire-announce', messages: [{ value: 'kafkajs-0' }, { value: 'kafkajs-1' }] });
    await producer.disconnect();

    const resumed = await java(['consume', '--client-id', 'outpost-8888', '--topic', 'empire-announce', '--group', 'outposts', '--count', '2']);
    assert.equal(summaryOf(resumed)['ok'], true, JSON.stringify(resumed));
    assert.deepEqual(ofType(resumed, 'consumed').map((r) => [r['offset'], r['value']]), [[20, 'kafkajs-0'], [21, 'kafkajs-1']]);

    // Without a group: assign + seek to the beginning, no group APIs.
    const all = await java(['consume', '--client-id', 'empire-backup', '--topic', 'empire-announce', '--count', '22']);
    assert.equal(summaryOf(all)['ok'], true, JSON.stringify(all));
    assert.equal(ofType(all, 'consumed').length, 22);

    const read = await kcat(['-b', bootstrap, '-C', '-t', 'empire-announce', '-o', 'beginning', '-e', '-f', '%s\n']);
    assert.equal(read.code, 0, read.stderr);
    const lines = read.stdout.trim().split('\n');
    assert.equal(lines.length, 22);
    assert.deepEqual([lines[0], lines[10], lines[21]], ['plain-0', 'idem-0', 'kafkajs-1']);
  });
});
