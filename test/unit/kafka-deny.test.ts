// Deny responses: for every API and version a complete, decodable response with the request's
// correlation id and the error code wherever an error code goes; the shapes clients need (§4d of the
// wire notes); and kafkajs's own response decoders reading our denials of real kafkajs requests.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { requirePlan } from '../../src/protocols/kafka/codec/codec.js';
import {
  ApiKey,
  decodeResponse,
  encodeRequest,
  KAFKA_APIS,
  type KafkaStruct,
  type KafkaValue,
} from '../../src/protocols/kafka/codec/index.js';
import { buildDenyResponse } from '../../src/protocols/kafka/proxy/deny.js';
import { loadKafkaFixture } from '../helpers/kafka-capture-fixtures.js';
import { RandomKafkaValues, seededRandom } from '../helpers/kafka-random-message.js';

function request(apiKey: number, apiVersion: number, body: KafkaStruct, correlationId = 4242): Buffer {
  return encodeRequest({ apiKey, apiVersion, correlationId, clientId: 'deny-test' }, body);
}

function deny(apiKey: number, apiVersion: number, body: KafkaStruct, code = 29): KafkaStruct {
  const frame = buildDenyResponse(request(apiKey, apiVersion, body), code);
  assert.ok(frame, `${apiKey} v${apiVersion}: no response`);
  const res = decodeResponse(frame, apiKey, apiVersion);
  assert.equal(res.correlationId, 4242);
  return res.body;
}

/** Every error-code value in a decoded message, with its path. */
function errorCodes(v: KafkaValue | undefined, path = ''): [string, number][] {
  if (Array.isArray(v)) return v.flatMap((e, i) => errorCodes(e as KafkaValue, `${path}[${i}]`));
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return [];
  return Object.entries(v as KafkaStruct).flatMap(([k, x]): [string, number][] =>
    k.endsWith('rrorCode') && typeof x === 'number' ? [[`${path}.${k}`, x]] : errorCodes(x, `${path}.${k}`),
  );
}

test('every API × version gets a decodable deny response carrying the error code', () => {
  const values = new RandomKafkaValues(seededRandom(2024));
  let versions = 0;
  let withCodes = 0;
  for (const api of KAFKA_APIS.values()) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      for (let sample = 0; sample < 3; sample++) {
        const body = values.struct(requirePlan(api.apiKey, v, 'request'));
        if (api.apiKey === ApiKey.Produce) body.acks = -1; // acks=0 has no response; covered below
        const res = deny(api.apiKey, v, body, 31);
        const codes = errorCodes(res);
        for (const [path, code] of codes) {
          // Fetch keeps the top-level error 0 when partitions carry it.
          if (api.apiKey === ApiKey.Fetch && path === '.errorCode' && (res.responses as unknown[]).length > 0) assert.equal(code, 0);
          else assert.equal(code, 31, `${api.name} v${v} ${path}`);
        }
        if (codes.length > 0) withCodes++;
        // A top-level error code, where the version has one, always carries the denial (Fetch aside).
        if ('errorCode' in res && api.apiKey !== ApiKey.Fetch) assert.equal(res.errorCode, 31, `${api.name} v${v}`);
      }
      versions++;
    }
  }
  assert.equal(versions, 327);
  // Random requests often have empty entry lists; most samples still carry a code somewhere.
  assert.ok(withCodes > 700, `only ${withCodes} of 981 samples carried an error code`);
});

test('Produce: every partition gets the error with -1 offsets; acks=0 gets no response at all', () => {
  const body = { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'deathstar-plans', partitionData: [{ index: 0, records: null }, { index: 3, records: null }] }] };
  for (const v of [3, 7, 8, 9, 11]) {
    const res = deny(0, v, body);
    const topic = (res.responses as KafkaStruct[])[0]!;
    assert.equal(topic.name, 'deathstar-plans');
    const logStart = v >= 5 ? -1n : undefined;
    assert.deepEqual((topic.partitionResponses as KafkaStruct[]).map((p) => [p.index, p.errorCode, p.baseOffset, p.logAppendTimeMs, p.logStartOffset]), [
      [0, 29, -1n, -1n, logStart],
      [3, 29, -1n, -1n, logStart],
    ]);
    assert.equal(res.throttleTimeMs, 0);
  }
  assert.equal(buildDenyResponse(request(0, 7, { ...body, acks: 0 }), 29), null);
});

test('Fetch: partitions carry the error with high watermark -1 and empty records; top-level error 0', () => {
  const topics = [{ topic: 'deathstar-plans', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 5n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }];
  for (const v of [4, 7, 11, 12]) {
    const res = deny(1, v, { replicaId: -1, maxWaitMs: 100, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics, forgottenTopicsData: [], rackId: '' });
    if (v >= 7) assert.deepEqual([res.errorCode, res.sessionId], [0, 0]);
    const p = ((res.responses as KafkaStruct[])[0]!.partitions as KafkaStruct[])[0]!;
    assert.deepEqual([p.partitionIndex, p.errorCode, p.highWatermark, p.lastStableOffset, p.logStartOffset, p.abortedTransactions, (p.records as Buffer).length], [0, 29, -1n, -1n, v >= 5 ? -1n : undefined, null, 0]);
    if (v >= 11) assert.equal(p.preferredReadReplica, -1);
  }
  // Topic ids (v13+) are mirrored so the client can match the error to its topic.
  const id = 'AAAAAAAAAAAAAAAAAAAAAQ';
  const v13 = deny(1, 13, { replicaId: -1, maxWaitMs: 100, minBytes: 1, topics: [{ topicId: id, partitions: [{ partition: 2 }] }] });
  assert.equal((v13.responses as KafkaStruct[])[0]!.topicId, id);
});

test('Metadata: denied topics with error, empty partitions, INT32_MIN operations; brokers as given', () => {
  const res = deny(3, 9, { topics: [{ name: 'empire-announce' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
  assert.deepEqual(res.topics, [{ errorCode: 29, name: 'empire-announce', isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 }]);
  assert.deepEqual(res.brokers, []);
  const frame = buildDenyResponse(request(3, 4, { topics: [{ name: 'a' }], allowAutoTopicCreation: false }), 29, {
    brokers: [{ nodeId: 1, host: '127.0.0.1', port: 19092 }],
    controllerId: 1,
    clusterId: 'empire',
  })!;
  const withBrokers = decodeResponse(frame, 3, 4).body;
  assert.deepEqual(withBrokers.brokers, [{ nodeId: 1, host: '127.0.0.1', port: 19092, rack: null }]);
  assert.deepEqual([withBrokers.controllerId, withBrokers.clusterId], [1, 'empire']);
  // A null (all topics) request is answered with no topics: what it may see is nothing.
  assert.deepEqual(deny(3, 4, { topics: null, allowAutoTopicCreation: false }).topics, []);
});

test('group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch, OffsetCommit', () => {
  assert.deepEqual(deny(10, 2, { key: 'empire-backup', keyType: 0 }, 30), { throttleTimeMs: 0, errorCode: 30, errorMessage: null, nodeId: -1, host: '', port: -1 });
  assert.deepEqual(deny(10, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2'] }, 30).coordinators, [
    { key: 'g1', nodeId: -1, host: '', port: -1, errorCode: 30, errorMessage: null },
    { key: 'g2', nodeId: -1, host: '', port: -1, errorCode: 30, errorMessage: null },
  ]);
  const join = deny(11, 5, { groupId: 'g', sessionTimeoutMs: 1, rebalanceTimeoutMs: 1, memberId: 'm-1', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from([1]) }] }, 30);
  assert.deepEqual(join, { throttleTimeMs: 0, errorCode: 30, generationId: -1, protocolName: '', leader: '', memberId: 'm-1', members: [] });
  assert.deepEqual(deny(14, 3, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null, assignments: [] }, 30), { throttleTimeMs: 0, errorCode: 30, assignment: Buffer.alloc(0) });
  assert.deepEqual(deny(12, 3, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }, 30), { throttleTimeMs: 0, errorCode: 30 });
  assert.deepEqual(deny(13, 3, { groupId: 'g', members: [{ memberId: 'm', groupInstanceId: null }] }, 30).members, [{ memberId: 'm', groupInstanceId: null, errorCode: 30 }]);
  // OffsetFetch v1: per partition only; v2+ also top level; v8+ per group.
  const v1 = deny(9, 1, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] }, 30);
  assert.deepEqual(v1.topics, [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: -1n, metadata: '', errorCode: 30 }] }]);
  assert.equal(v1.errorCode, undefined);
  assert.equal(deny(9, 7, { groupId: 'g', topics: null, requireStable: false }, 30).errorCode, 30);
  const v8 = deny(9, 8, { groups: [{ groupId: 'g', topics: [{ name: 't', partitionIndexes: [1] }] }], requireStable: false }, 30);
  assert.deepEqual((v8.groups as KafkaStruct[]).map((g) => [g.groupId, g.errorCode, ((g.topics as KafkaStruct[])[0]!.partitions as KafkaStruct[])[0]!.errorCode]), [['g', 30, 30]]);
  const commit = deny(8, 7, { groupId: 'g', generationIdOrMemberEpoch: 1, memberId: 'm', groupInstanceId: null, topics: [{ name: 't', partitions: [{ partitionIndex: 4, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] }] }, 29);
  assert.deepEqual(commit.topics, [{ name: 't', partitions: [{ partitionIndex: 4, errorCode: 29 }] }]);
});

test('ListOffsets, CreateTopics and InitProducerId use -1 sentinels and mirror their entries', () => {
  const lo = deny(2, 4, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: 0, timestamp: -2n }] }] });
  assert.deepEqual(lo.topics, [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 29, timestamp: -1n, offset: -1n, leaderEpoch: -1 }] }]);
  const ct = deny(19, 5, { topics: [{ name: 'new', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1, validateOnly: false });
  assert.deepEqual((ct.topics as KafkaStruct[]).map((t) => [t.name, t.errorCode, t.errorMessage]), [['new', 29, null]]);
  assert.deepEqual(deny(22, 4, { transactionalId: null, transactionTimeoutMs: 1, producerId: 7n, producerEpoch: 1 }, 31), { throttleTimeMs: 0, errorCode: 31, producerId: -1n, producerEpoch: -1 });
});

test('flexible versions answer with response header v1 (tag buffer after the correlation id)', () => {
  const frame = buildDenyResponse(request(9, 7, { groupId: 'g', topics: null, requireStable: false }), 30)!;
  assert.equal(frame.readInt32BE(4), 4242);
  assert.equal(frame[8], 0, 'empty header tag buffer');
  // ApiVersions keeps header v0 even when flexible (KIP-511).
  const av = buildDenyResponse(request(18, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }), 31)!;
  assert.equal(av.readInt16BE(8), 31, 'error code straight after the correlation id');
});

test('an error message can be attached for clients that display it', () => {
  const frame = buildDenyResponse(request(10, 2, { key: 'g', keyType: 0 }), 30, { errorMessage: 'denied by policy' })!;
  assert.equal(decodeResponse(frame, 10, 2).body.errorMessage, 'denied by policy');
});

// kafkajs's own response decoders (CommonJS under node_modules/kafkajs/src) on denials of real kafkajs requests.
const requireCjs = createRequire(import.meta.url);
interface KafkajsResponse {
  decode(payload: Buffer): Promise<Record<string, any>>;
  parse(decoded: Record<string, any>): Promise<unknown>;
}
function kafkajsResponse(dir: string, version: number): KafkajsResponse {
  return requireCjs(`kafkajs/src/protocol/requests/${dir}/v${version}/response.js`) as KafkajsResponse;
}

test('kafkajs decodes our denials of its own requests and raises the authorization errors', async () => {
  const fixtures = loadKafkaFixture('kafkajs-requests.json').frames;
  // [api, kafkajs dir, code, expected error type, parser version if the request's own one is unusable]
  const cases: [string, string, number, string, number?][] = [
    ['Produce', 'produce', 29, 'TOPIC_AUTHORIZATION_FAILED'],
    ['Fetch', 'fetch', 29, 'TOPIC_AUTHORIZATION_FAILED'],
    ['Metadata', 'metadata', 29, 'TOPIC_AUTHORIZATION_FAILED'],
    ['ListOffsets', 'listOffsets', 29, 'TOPIC_AUTHORIZATION_FAILED'],
    ['FindCoordinator', 'findCoordinator', 30, 'GROUP_AUTHORIZATION_FAILED'],
    ['JoinGroup', 'joinGroup', 30, 'GROUP_AUTHORIZATION_FAILED'],
    ['SyncGroup', 'syncGroup', 30, 'GROUP_AUTHORIZATION_FAILED'],
    ['OffsetFetch', 'offsetFetch', 30, 'GROUP_AUTHORIZATION_FAILED'],
    ['OffsetCommit', 'offsetCommit', 29, 'TOPIC_AUTHORIZATION_FAILED'],
    // kafkajs's LeaveGroup v3 parse leaves its v2 parse's rejection unhandled; v2's parse reads the same fields.
    ['LeaveGroup', 'leaveGroup', 30, 'GROUP_AUTHORIZATION_FAILED', 2],
    ['CreateTopics', 'createTopics', 29, 'TOPIC_AUTHORIZATION_FAILED'],
  ];
  for (const [api, dir, code, type, parseVersion] of cases) {
    const fixture = fixtures.find((f) => f.api === api && (api !== 'Metadata' || f.topics.length > 0))!;
    const frame = buildDenyResponse(Buffer.from(fixture.hex, 'hex'), code)!;
    const { decode } = kafkajsResponse(dir, fixture.apiVersion);
    const { parse } = kafkajsResponse(dir, parseVersion ?? fixture.apiVersion);
    const decoded = await decode(frame.subarray(8)); // kafkajs strips the size and correlation id
    // CreateTopics wraps per-topic errors in an aggregate.
    const errorType = (e: any): string => e.errors?.[0]?.type ?? e.type;
    await assert.rejects(parse(decoded), (e: any) => errorType(e) === type, `${api} v${fixture.apiVersion}`);
    if (api === 'LeaveGroup') assert.deepEqual(decoded.members.map((m: any) => m.errorCode), [30]);
    if (api === 'Produce') {
      assert.deepEqual(decoded.topics, [{ topicName: 'empire-announce', partitions: [{ partition: 0, errorCode: 29, baseOffset: '-1', logAppendTime: '-1', logStartOffset: '-1' }] }]);
      assert.equal(decoded.throttleTime, 0);
    }
    if (api === 'Fetch') {
      const p = decoded.responses[0].partitions[0];
      assert.deepEqual([decoded.responses[0].topicName, p.errorCode, p.highWatermark, p.messages], ['empire-announce', 29, '-1', []]);
    }
    if (api === 'Metadata') {
      assert.deepEqual(decoded.topicMetadata, [{ topicErrorCode: 29, topic: fixture.topics[0], isInternal: false, partitionMetadata: [] }]);
    }
  }
});
