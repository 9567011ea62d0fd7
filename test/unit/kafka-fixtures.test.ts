// Frames captured from kafkajs and kcat (test/fixtures/kafka): every one decodes fully, re-encodes to
// the same bytes, and yields the facts policy needs. Versions and headers are checked against what these
// clients were observed to send.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest, encodeRequest } from '../../src/protocols/kafka/codec/index.js';
import { extractPolicyFacts } from '../../src/protocols/kafka/proxy/facts.js';
import { loadKafkaFixture, type KafkaFixtureFrame } from '../helpers/kafka-capture-fixtures.js';

const kafkajs = loadKafkaFixture('kafkajs-requests.json');
const kcat = loadKafkaFixture('kcat-requests.json');

function frame(f: KafkaFixtureFrame): Buffer {
  return Buffer.from(f.hex, 'hex');
}

function find(file: typeof kafkajs, api: string, scenario?: string): KafkaFixtureFrame {
  const f = file.frames.find((x) => x.api === api && (scenario === undefined || x.scenario === scenario));
  assert.ok(f, `${file.client}: no ${api} frame${scenario ? ` in ${scenario}` : ''}`);
  return f;
}

test('every captured frame decodes, re-encodes byte-identically and gives the recorded facts', () => {
  const all = [...kafkajs.frames, ...kcat.frames];
  assert.ok(all.length >= 30, `only ${all.length} frames`);
  for (const f of all) {
    const bytes = frame(f);
    const facts = extractPolicyFacts(bytes);
    assert.deepEqual(
      { apiKey: facts.apiKey, apiVersion: facts.apiVersion, clientId: facts.clientId, topics: facts.topics, groupIds: facts.groupIds },
      { apiKey: f.apiKey, apiVersion: f.apiVersion, clientId: f.clientId, topics: f.topics, groupIds: f.groupIds },
      `${f.scenario} ${f.api}`,
    );
    const req = decodeRequest(bytes);
    assert.equal(req.header.correlationId, facts.correlationId);
    assert.ok(encodeRequest(req.header, req.body).equals(bytes), `${f.scenario} ${f.api} v${f.apiVersion} re-encodes differently`);
  }
});

test('kafkajs 2.2.4 uses the versions the wire notes list, never flexible ones', () => {
  const versions = Object.fromEntries(kafkajs.frames.map((f) => [f.api, f.apiVersion]));
  assert.deepEqual(versions, {
    ApiVersions: 2, Metadata: 6, Produce: 7, FindCoordinator: 2, JoinGroup: 5, SyncGroup: 3,
    OffsetFetch: 4, ListOffsets: 3, Fetch: 11, OffsetCommit: 5, LeaveGroup: 3, CreateTopics: 3,
  });
  for (const f of kafkajs.frames) assert.equal(extractPolicyFacts(frame(f)).headerVersion, 1, f.api);

  const produce = extractPolicyFacts(frame(find(kafkajs, 'Produce')));
  assert.deepEqual(produce.topics, ['empire-announce']);
  assert.equal(produce.acks, -1);
  assert.equal(produce.expectsResponse, true);
  assert.deepEqual(produce.transactionalIds, []);

  const join = extractPolicyFacts(frame(find(kafkajs, 'JoinGroup')));
  assert.deepEqual([join.clientId, join.groupIds, join.topics], ['empire-outpost', ['empire-outposts'], []]);
  const commit = extractPolicyFacts(frame(find(kafkajs, 'OffsetCommit')));
  assert.deepEqual([commit.groupIds, commit.topics], [['empire-outposts'], ['empire-announce']]);
  // kafkajs sends FindCoordinator for its group: key type 0, so the key is a group id.
  assert.deepEqual(extractPolicyFacts(frame(find(kafkajs, 'FindCoordinator'))).groupIds, ['empire-outposts']);
  assert.deepEqual(extractPolicyFacts(frame(find(kafkajs, 'CreateTopics'))).topics, ['empire-reports']);

  // Admin asks for every topic with a null list; the decoded body shows null, not [].
  const allTopics = kafkajs.frames.find((f) => f.scenario === 'admin' && f.api === 'Metadata' && f.topics.length === 0)!;
  assert.equal(decodeRequest(frame(allTopics)).body.topics, null);
});

test('kcat 1.7.1 / librdkafka 2.0.2: flexible ApiVersions v3 and OffsetFetch v7 parse with header v2', () => {
  const apiVersions = find(kcat, 'ApiVersions');
  assert.equal(apiVersions.apiVersion, 3);
  const av = extractPolicyFacts(frame(apiVersions));
  assert.deepEqual([av.headerVersion, av.clientId], [2, 'empire-hq']);
  const avBody = decodeRequest(frame(apiVersions)).body;
  assert.equal(avBody.clientSoftwareName, 'librdkafka');
  assert.equal(avBody.clientSoftwareVersion, '2.0.2');

  const offsetFetch = find(kcat, 'OffsetFetch');
  assert.equal(offsetFetch.apiVersion, 7);
  const of = extractPolicyFacts(frame(offsetFetch));
  assert.deepEqual([of.headerVersion, of.groupIds, of.topics], [2, ['empire-backup'], ['deathstar-plans']]);

  const versions = Object.fromEntries(kcat.frames.map((f) => [f.api, f.apiVersion]));
  assert.deepEqual(versions, {
    ApiVersions: 3, Metadata: 4, Produce: 7, ListOffsets: 2, Fetch: 11, FindCoordinator: 2, JoinGroup: 5,
    SyncGroup: 3, Heartbeat: 3, OffsetFetch: 7, OffsetCommit: 7, LeaveGroup: 1,
  });

  // Metadata topics: null asks for every topic (kcat -L), [] for brokers only (librdkafka's first refresh).
  const listed = kcat.frames.filter((f) => f.scenario === 'list' && f.api === 'Metadata').map((f) => decodeRequest(frame(f)).body.topics);
  assert.deepEqual(listed, [[], null]);

  const produce = extractPolicyFacts(frame(find(kcat, 'Produce')));
  assert.deepEqual([produce.topics, produce.acks], [['deathstar-plans'], -1]);
  // The record batch is carried but not materialised by the facts; the full decoder exposes it as bytes.
  const records = ((decodeRequest(frame(find(kcat, 'Produce'))).body.topicData as any[])[0].partitionData[0].records) as Buffer;
  assert.equal(records.readInt8(16), 2, 'record batch magic v2');
});
