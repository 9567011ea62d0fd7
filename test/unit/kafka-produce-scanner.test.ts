// ProduceScanner: a Produce read as it streams in, without its records. Fed the same request in every split
// (whole, 1-byte chunks, random), it must find what the whole-frame facts reader finds, and keep a frame whose
// deny answer is the one the whole request gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_KAFKA_REQUEST_LIMITS } from '../../src/config/kafka-request-limits.js';
import {
  ApiKey,
  decodeRequest,
  encodeRequest,
  KafkaDecodeError,
  type KafkaStruct,
  UNKNOWN_TAGGED_FIELDS,
} from '../../src/protocols/kafka/codec/index.js';
import { buildDenyResponse } from '../../src/protocols/kafka/proxy/deny.js';
import { extractPolicyFacts } from '../../src/protocols/kafka/proxy/facts.js';
import { KafkaLimitError } from '../../src/protocols/kafka/codec/errors.js';
import { ProduceScanner } from '../../src/protocols/kafka/proxy/produce-scanner.js';
import { seededRandom } from '../helpers/kafka-random-message.js';

const MiB = 1024 * 1024;
const VERSIONS = [0, 2, 3, 7, 8, 9, 11];

function records(n: number, fill: number): Buffer {
  return Buffer.alloc(n, fill);
}

function produce(apiVersion: number, o: { acks?: number; tagged?: boolean } = {}): Buffer {
  const tags = (data: string) => (o.tagged && apiVersion >= 9 ? { [UNKNOWN_TAGGED_FIELDS]: [{ tag: 7, data: Buffer.from(data) }] } : {});
  const body: KafkaStruct = {
    transactionalId: apiVersion >= 3 ? 'txn-1' : null,
    acks: o.acks ?? -1,
    timeoutMs: 3000,
    topicData: [
      { name: 'denied-first', partitionData: [{ index: 0, records: records(5000, 1), ...tags('p') }, { index: 3, records: null }], ...tags('topic') },
      { name: 'second', partitionData: [{ index: 1, records: records(70_000, 2) }] },
      { name: 'third', partitionData: [{ index: 2, records: records(3, 3) }, { index: 5, records: records(0, 0) }, { index: 9, records: records(300, 4) }] },
    ],
    ...tags('top'),
  };
  return encodeRequest({ apiKey: ApiKey.Produce, apiVersion, correlationId: 4242, clientId: 'scanner-test' }, body);
}

function splits(frame: Buffer, sizes: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < frame.length; ) {
    const n = Math.max(1, sizes());
    out.push(frame.subarray(at, at + n));
    at += n;
  }
  return out;
}

function scan(frame: Buffer, chunks: readonly Buffer[], maxKept = MiB): ProduceScanner {
  const scanner = new ProduceScanner(frame.readInt32BE(0), DEFAULT_KAFKA_REQUEST_LIMITS, maxKept);
  for (const c of chunks) {
    assert.equal(scanner.done, false, 'not done before the last byte');
    assert.equal(scanner.push(c), c.length);
  }
  return scanner;
}

/** Topics and partitions as the full decoder reads them. */
function entries(frame: Buffer): Array<[string, number[]]> {
  const body = decodeRequest(frame).body;
  return (body.topicData as KafkaStruct[]).map((t) => [t.name as string, (t.partitionData as KafkaStruct[]).map((p) => p.index as number)]);
}

for (const version of VERSIONS) {
  test(`Produce v${version}: every split gives the whole-frame facts, entries and deny answer, without the records`, () => {
    const frame = produce(version, { tagged: true });
    // The kept copy drops unknown tagged fields with the records, so it counts fewer entries; every fact policy
    // decides on is the same.
    const { entries: _all, ...expected } = extractPolicyFacts(frame);
    const random = seededRandom(version + 1);
    const ways: Record<string, Buffer[]> = {
      whole: [frame],
      '1-byte chunks': splits(frame, () => 1),
      'random splits': splits(frame, () => Math.floor(random() * 40)),
      'random large splits': splits(frame, () => Math.floor(random() * 20_000)),
    };
    for (const [way, chunks] of Object.entries(ways)) {
      const scanner = scan(frame, chunks);
      assert.equal(scanner.done, true, way);
      assert.equal(scanner.firstTopic, 'denied-first', way);
      assert.deepEqual(scanner.header, { apiKey: ApiKey.Produce, apiVersion: version, correlationId: 4242, clientId: 'scanner-test', headerVersion: version >= 9 ? 2 : 1 }, way);
      assert.equal(scanner.bytesRead, frame.length, way);
      const kept = scanner.keptFrame();
      assert.ok(kept.length < 200, `${way}: kept ${kept.length} of ${frame.length} bytes`);
      const { entries: _kept, ...facts } = extractPolicyFacts(kept);
      assert.deepEqual(facts, expected, way);
      assert.deepEqual(entries(kept), entries(frame), way);
      assert.deepEqual(buildDenyResponse(kept, 29), buildDenyResponse(frame, 29), way);
    }
  });
}

test('the first topic is known as soon as its name has arrived, before any record byte', () => {
  const frame = produce(9);
  const name = frame.indexOf('denied-first');
  const scanner = scan(frame, splits(frame.subarray(0, name + 'denied-first'.length - 1), () => 1));
  assert.equal(scanner.firstTopic, undefined);
  scanner.push(frame.subarray(name + 'denied-first'.length - 1, name + 'denied-first'.length));
  assert.equal(scanner.firstTopic, 'denied-first');
  assert.equal(scanner.header?.correlationId, 4242);
});

test('acks=0 is kept: the kept frame expects no response', () => {
  for (const version of [3, 9]) {
    const frame = produce(version, { acks: 0 });
    const kept = scan(frame, splits(frame, () => 7)).keptFrame();
    assert.equal(extractPolicyFacts(kept).expectsResponse, false);
    assert.equal(buildDenyResponse(kept, 29), null);
  }
});

test('a request that is not a Produce, or of a version the codec does not read, is left alone', () => {
  const metadata = encodeRequest({ apiKey: ApiKey.Metadata, apiVersion: 4, correlationId: 1, clientId: 'x' }, { topics: [{ name: 't' }], allowAutoTopicCreation: false });
  const other = scan(metadata, [metadata]);
  assert.equal(other.notProduce, true);
  assert.equal(other.firstTopic, undefined);
  const future = produce(9);
  future.writeInt16BE(99, 6);
  assert.equal(scan(future, [future]).notProduce, true);
});

test('a record set declared 64 MiB long is dropped as it arrives, not held', () => {
  const head = encodeRequest(
    { apiKey: ApiKey.Produce, apiVersion: 7, correlationId: 1, clientId: 'big' },
    { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'big', partitionData: [{ index: 0, records: Buffer.alloc(0) }] }] },
  );
  const declared = 64 * MiB;
  head.writeInt32BE(head.length - 4 + declared, 0);
  head.writeInt32BE(declared, head.length - 4);
  const scanner = new ProduceScanner(head.readInt32BE(0), DEFAULT_KAFKA_REQUEST_LIMITS, MiB);
  scanner.push(head);
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < 64; i++) scanner.push(block);
  assert.equal(scanner.done, true);
  assert.deepEqual(extractPolicyFacts(scanner.keptFrame()).topics, ['big']);
});

test('malformed and oversized requests throw: truncated, trailing bytes, limits, what is kept', () => {
  const frame = produce(8);
  const truncated = Buffer.from(frame.subarray(0, 40));
  truncated.writeInt32BE(36, 0);
  assert.throws(() => scan(truncated, [truncated]), KafkaDecodeError);
  const trailing = Buffer.concat([frame, Buffer.from([0, 0])]);
  trailing.writeInt32BE(trailing.length - 4, 0);
  assert.throws(() => scan(trailing, splits(trailing, () => 3)), /2 unexpected trailing bytes/);
  assert.throws(() => new ProduceScanner(frame.length - 4, { maxTopics: 2, maxPartitions: 100 }, MiB).push(frame), KafkaLimitError);
  assert.throws(() => new ProduceScanner(frame.length - 4, { maxTopics: 100, maxPartitions: 5 }, MiB).push(frame), KafkaLimitError);
  assert.throws(() => scan(frame, [frame], 64), /take more than 64 bytes without their records/);
});
