// extractPolicyFacts: the topics, topic ids, groups and transactional ids policy needs, read without
// decoding the message — cross-checked against the full decoder for every API and version.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requirePlan, ZERO_UUID } from '../../src/protocols/kafka/codec/codec.js';
import { KafkaLimitError } from '../../src/protocols/kafka/codec/errors.js';
import { exceededLimit } from '../../src/protocols/kafka/proxy/facts.js';
import {
  decodeRequest,
  encodeRequest,
  KAFKA_APIS,
  KafkaDecodeError,
  type KafkaStruct,
  type KafkaValue,
} from '../../src/protocols/kafka/codec/index.js';
import { extractPolicyFacts } from '../../src/protocols/kafka/proxy/facts.js';
import type { StructPlan } from '../../src/protocols/kafka/codec/schema.js';
import { RandomKafkaValues, seededRandom } from '../helpers/kafka-random-message.js';

function frame(apiKey: number, apiVersion: number, body: KafkaStruct, clientId: string | null = 'cli'): Buffer {
  return encodeRequest({ apiKey, apiVersion, correlationId: 7, clientId }, body);
}

/** Reference: collect entity fields from a fully decoded message by walking its plan. */
function reference(plan: StructPlan, value: KafkaStruct, out: { topics: Set<string>; topicIds: Set<string>; groups: Set<string>; txns: Set<string> }): void {
  for (const f of [...plan.fields, ...plan.tagged]) {
    const v = value[f.key];
    if (v === undefined || v === null) continue;
    const items = (f.array ? v : [v]) as readonly KafkaValue[];
    for (const item of items) {
      if (f.struct) reference(f.struct, item as KafkaStruct, out);
      else if (f.type === 'string' && f.definition.entityType === 'topicName') out.topics.add(item as string);
      else if (f.type === 'string' && f.definition.entityType === 'groupId') out.groups.add(item as string);
      else if (f.type === 'string' && f.definition.entityType === 'transactionalId') out.txns.add(item as string);
      else if (f.type === 'uuid' && f.name === 'TopicId' && item !== ZERO_UUID) out.topicIds.add(item as string);
    }
  }
}

// Where facts come from more than entity annotations (config resources, FindCoordinator keys).
const SPECIAL = new Set([10, 32, 33, 44]);

test('facts equal what the full decoder finds, for random messages of every API and version', () => {
  const values = new RandomKafkaValues(seededRandom(77));
  let checked = 0;
  for (const api of KAFKA_APIS.values()) {
    if (SPECIAL.has(api.apiKey)) continue;
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const plan = requirePlan(api.apiKey, v, 'request');
      for (let i = 0; i < 4; i++) {
        const bytes = frame(api.apiKey, v, values.struct(plan));
        const ref = { topics: new Set<string>(), topicIds: new Set<string>(), groups: new Set<string>(), txns: new Set<string>() };
        reference(plan, decodeRequest(bytes).body, ref);
        const facts = extractPolicyFacts(bytes);
        assert.deepEqual(
          [facts.topics, facts.topicIds, facts.groupIds, facts.transactionalIds],
          [[...ref.topics], [...ref.topicIds], [...ref.groups], [...ref.txns]],
          `${api.name} v${v}`,
        );
        checked++;
      }
    }
  }
  assert.ok(checked > 1000);
});

test('Produce: transactional id, acks, de-duplicated topics; acks=0 expects no response', () => {
  const body = { transactionalId: 'tx-1', acks: 0, timeoutMs: 1, topicData: [{ name: 'a', partitionData: [{ index: 0, records: Buffer.alloc(70) }] }, { name: 'b', partitionData: [] }, { name: 'a', partitionData: [] }] };
  const facts = extractPolicyFacts(frame(0, 9, body));
  assert.deepEqual(
    { topics: facts.topics, transactionalIds: facts.transactionalIds, acks: facts.acks, expectsResponse: facts.expectsResponse, headerVersion: facts.headerVersion, correlationId: facts.correlationId },
    { topics: ['a', 'b'], transactionalIds: ['tx-1'], acks: 0, expectsResponse: false, headerVersion: 2, correlationId: 7 },
  );
  assert.equal(extractPolicyFacts(frame(0, 2, { acks: -1, timeoutMs: 1, topicData: [] })).expectsResponse, true);
});

test('a Fetch opens a fetch session only with session id 0 and epoch 0, in every version that has sessions (v7+)', () => {
  const values = new RandomKafkaValues(seededRandom(7));
  const fetch = KAFKA_APIS.get(1)!;
  for (let v = fetch.minVersion; v <= fetch.maxVersion; v++) {
    const body = values.struct(requirePlan(1, v, 'request'));
    const opens = (sessionId: number, sessionEpoch: number) => extractPolicyFacts(frame(1, v, { ...body, sessionId, sessionEpoch })).opensFetchSession;
    assert.deepEqual([opens(0, 0), opens(0, -1), opens(5, 3), opens(5, 0)], [v >= 7, false, false, false], `Fetch v${v}`);
  }
  assert.equal(extractPolicyFacts(frame(3, 12, { topics: null })).opensFetchSession, false);
});

test('topic ids where the version names topics by UUID (Fetch v13+, Metadata v10+); zero UUIDs ignored', () => {
  const id = 'AAAAAAAAAAAAAAAAAAAAAQ';
  const fetch = extractPolicyFacts(frame(1, 13, { replicaId: -1, maxWaitMs: 1, minBytes: 1, topics: [{ topicId: id, partitions: [] }], forgottenTopicsData: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAg', partitions: [1] }] }));
  assert.deepEqual([fetch.topics, fetch.topicIds], [[], [id, 'AAAAAAAAAAAAAAAAAAAAAg']]);
  const metadata = extractPolicyFacts(frame(3, 12, { topics: [{ topicId: ZERO_UUID, name: 'by-name' }, { topicId: id, name: null }] }));
  assert.deepEqual([metadata.topics, metadata.topicIds], [['by-name'], [id]]);
});

test('FindCoordinator keys are groups or transactional ids according to their key type', () => {
  assert.deepEqual(extractPolicyFacts(frame(10, 0, { key: 'g0' })).groupIds, ['g0']);
  const txn = extractPolicyFacts(frame(10, 3, { key: 'tx', keyType: 1 }));
  assert.deepEqual([txn.groupIds, txn.transactionalIds], [[], ['tx']]);
  const batch = extractPolicyFacts(frame(10, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2'] }));
  assert.deepEqual([batch.groupIds, batch.transactionalIds], [['g1', 'g2'], []]);
});

test('config resources name topics only when their type is TOPIC (2)', () => {
  const facts = extractPolicyFacts(frame(32, 4, { resources: [{ resourceType: 2, resourceName: 'deathstar-plans', configurationKeys: null }, { resourceType: 4, resourceName: '1', configurationKeys: null }] }));
  assert.deepEqual(facts.topics, ['deathstar-plans']);
  const alter = extractPolicyFacts(frame(44, 1, { resources: [{ resourceType: 2, resourceName: 't', configs: [] }], validateOnly: false }));
  assert.deepEqual(alter.topics, ['t']);
});

test('groups and transactions from their arrays; header variants', () => {
  assert.deepEqual(extractPolicyFacts(frame(15, 5, { groups: ['a', 'b'] })).groupIds, ['a', 'b']);
  assert.deepEqual(extractPolicyFacts(frame(65, 0, { transactionalIds: ['t1'] })).transactionalIds, ['t1']);
  // ControlledShutdown v0 uses request header v0: no client id at all.
  const cs = extractPolicyFacts(frame(7, 0, { brokerId: 1 }, 'ignored'));
  assert.deepEqual([cs.headerVersion, cs.clientId], [0, null]);
  assert.equal(extractPolicyFacts(frame(3, 1, { topics: [] }, null)).clientId, null);
  // A tagged field in a v2 request header is skipped.
  const plain = frame(18, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
  const clientEnd = 4 + 8 + 2 + 3;
  const tagged = Buffer.concat([plain.subarray(0, clientEnd), Buffer.from('01050201ff', 'hex'), plain.subarray(clientEnd + 1)]);
  tagged.writeInt32BE(tagged.length - 4, 0);
  assert.deepEqual(extractPolicyFacts(tagged).clientId, 'cli');
});

test('what cannot be read is refused with KafkaDecodeError', () => {
  const unknown = frame(3, 1, { topics: [] });
  unknown.writeInt16BE(999, 4);
  assert.throws(() => extractPolicyFacts(unknown), (e: unknown) => e instanceof KafkaDecodeError && /unknown Kafka API key 999/.test(e.message));
  const tooNew = frame(3, 12, { topics: [] });
  tooNew.writeInt16BE(13, 6);
  assert.throws(() => extractPolicyFacts(tooNew), /unsupported Metadata request version 13 \(this codec speaks 0-12\)/);
  const trailing = Buffer.concat([frame(12, 3, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }), Buffer.from([0])]);
  trailing.writeInt32BE(trailing.length - 4, 0);
  assert.throws(() => extractPolicyFacts(trailing), /1 unexpected trailing bytes/);
  const badPrefix = frame(12, 0, { groupId: 'g', generationId: 1, memberId: 'm' });
  badPrefix.writeInt32BE(1000, 0);
  assert.throws(() => extractPolicyFacts(badPrefix), /size prefix 1000 does not match/);
  // A known tagged field must fill exactly the size it declares (else we and the broker would disagree).
  const fetch = frame(1, 12, { replicaId: -1, maxWaitMs: 1, minBytes: 1, topics: [], forgottenTopicsData: [], rackId: '', clusterId: 'c' });
  assert.equal(fetch.subarray(-5).toString('hex'), '0100020263', 'top-level tags: ClusterId (tag 0) = "c"');
  const padded = Buffer.concat([fetch.subarray(0, -5), Buffer.from('010003026300', 'hex')]);
  padded.writeInt32BE(padded.length - 4, 0);
  assert.throws(() => extractPolicyFacts(padded), /tagged field ClusterId declares 3 bytes but its value takes 2/);
  assert.throws(() => decodeRequest(padded), /tagged field ClusterId declares 3 bytes/);
});

test('limits: topic entries over maxTopics and other entries over maxPartitions are refused with KafkaLimitError', () => {
  const limits = { maxTopics: 3, maxPartitions: 4 };
  const topics = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);
  const metadata = (n: number) => frame(3, 12, { topics: topics(n).map((name) => ({ topicId: ZERO_UUID, name })), allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  assert.deepEqual(extractPolicyFacts(metadata(3), limits).topics, topics(3));
  assert.throws(() => extractPolicyFacts(metadata(4), limits), (e) => e instanceof KafkaLimitError && /more than 3 topics \(kafka\.maxTopicsPerRequest\)/.test(e.message));
  // Topics across every topic array of a request count together: a Fetch's topics and its forgotten topics.
  const fetch = (n: number, forgotten: number) => frame(1, 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1000, isolationLevel: 0, sessionId: 1, sessionEpoch: 1,
    topics: topics(n).map((topic) => ({ topic, partitions: [] })),
    forgottenTopicsData: topics(forgotten).map((topic) => ({ topic, partitions: [] })),
    rackId: '',
  });
  assert.doesNotThrow(() => extractPolicyFacts(fetch(2, 1), limits));
  assert.throws(() => extractPolicyFacts(fetch(2, 2), limits), KafkaLimitError);
  // Partitions (and any other entries) count against maxPartitions, across topics.
  const produce = (partitions: number[]) => frame(0, 9, {
    transactionalId: null, acks: -1, timeoutMs: 1000,
    topicData: partitions.map((n, t) => ({ name: `t${t}`, partitionData: Array.from({ length: n }, (_, index) => ({ index, records: null })) })),
  });
  assert.doesNotThrow(() => extractPolicyFacts(produce([2, 2]), limits));
  assert.throws(() => extractPolicyFacts(produce([2, 3]), limits), (e) => e instanceof KafkaLimitError && /more than 4 partitions or other entries \(kafka\.maxPartitionsPerRequest\)/.test(e.message));
});

test('limits: a flood of tagged fields counts as entries', () => {
  const flood = (n: number) => frame(3, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, _unknownTaggedFields: Array.from({ length: n }, (_, i) => ({ tag: 1000 + i, data: Buffer.alloc(0) })) });
  assert.doesNotThrow(() => extractPolicyFacts(flood(4), { maxTopics: 3, maxPartitions: 4 }));
  assert.throws(() => extractPolicyFacts(flood(5), { maxTopics: 3, maxPartitions: 4 }), KafkaLimitError);
});

test('limits: the first bytes of a frame still arriving already show a topic count over the limit', () => {
  const names = Array.from({ length: 500 }, (_, i) => ({ name: `topic-${i}` }));
  const whole = frame(3, 4, { topics: names, allowAutoTopicCreation: false });
  const prefix = whole.subarray(0, 64);
  assert.match(exceededLimit(prefix, { maxTopics: 499, maxPartitions: 10 })?.error.message ?? '', /more than 499 topics/);
  assert.equal(exceededLimit(prefix, { maxTopics: 500, maxPartitions: 10 }), undefined, 'within the limit: the prefix tells nothing more');
  assert.deepEqual(exceededLimit(prefix, { maxTopics: 1, maxPartitions: 10 })?.header.correlationId, 7);
});

test('a request header declaring more tagged fields than any Kafka version defines is refused before they are walked', () => {
  const body = frame(3, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }).subarray(4 + 2 + 2 + 4 + 2 + 3 + 1);
  const header = (tags: number) => {
    const h = Buffer.from([0, 3, 0, 12, 0, 0, 0, 7, 0, 3, 0x63, 0x6c, 0x69]);
    const count = tags < 128 ? [tags] : [(tags & 0x7f) | 0x80, tags >> 7];
    const fields = Array.from({ length: tags }, (_, i) => [i, 0]).flat();
    return Buffer.concat([h, Buffer.from(count), Buffer.from(fields)]);
  };
  const request = (tags: number) => {
    const payload = Buffer.concat([header(tags), body]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    return Buffer.concat([size, payload]);
  };
  assert.deepEqual(extractPolicyFacts(request(64)).topics, []);
  assert.throws(() => extractPolicyFacts(request(100)), (e) => e instanceof KafkaDecodeError && /100 tagged fields declared \(at most 64\)/.test(e.message));
});
