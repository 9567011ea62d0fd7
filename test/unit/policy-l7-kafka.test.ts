// Kafka L7 rules: roles, apiKey names, apiVersion, clientID, multi-topic coverage (reference §5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cnp, connect, endpoint, errorsOf, kafka, snapshotOf } from '../helpers/policy-fixtures.js';
import { isTopicApiKey, kafkaApiKeyByName, kafkaApiName, KAFKA_ROLES } from '../../src/policy/kafka-api-keys.js';
import { KAFKA_APIS } from '../../src/policy/generated/kafka-api-keys.js';
import type { ConnectionDecision } from '../../src/policy/index.js';

const endpoints = [
  endpoint('kafka', { app: 'kafka' }, ['127.0.0.40']),
  endpoint('hq', { app: 'empire-hq' }, ['127.0.0.41']),
  endpoint('outpost', { app: 'empire-outpost', outpostid: '8888' }, ['127.0.0.42']),
  endpoint('backup', { app: 'empire-backup' }, ['127.0.0.43']),
];

function broker(rules: string, from = 'hq'): ConnectionDecision {
  const snap = snapshotOf(cnp('k', `
endpointSelector: {matchLabels: {app: kafka}}
ingress:
- toPorts:
  - ports: [{port: "9092", protocol: TCP}]
    rules:
      kafka:
${rules.replace(/^\n/, '').split('\n').map((l) => `      ${l}`).join('\n')}`), endpoints);
  return connect(snap, from, 'kafka', 9092);
}

test('API names: Cilium names and every official name, case-insensitive; display names', () => {
  assert.equal(kafkaApiKeyByName('produce'), 0);
  assert.equal(kafkaApiKeyByName('Produce'), 0);
  assert.equal(kafkaApiKeyByName('offsets'), 2);
  assert.equal(kafkaApiKeyByName('ListOffsets'), 2);
  assert.equal(kafkaApiKeyByName('findcoordinator'), 10);
  assert.equal(kafkaApiKeyByName('DescribeCluster'), 60);
  assert.equal(kafkaApiKeyByName('createtopic'), undefined); // the docs' typo is not a name
  assert.equal(kafkaApiKeyByName('constructor'), undefined);
  assert.equal(kafkaApiName(0), 'produce');
  assert.equal(kafkaApiName(2), 'offsets');
  assert.equal(kafkaApiName(60), 'describecluster');
  assert.equal(kafkaApiName(9999), '9999');
  assert.equal(new Set(KAFKA_APIS.map((a) => a.key)).size, KAFKA_APIS.length);
});

const MESSAGES = '../shared/kafka-protocol/messages';

test('the generated table matches the message definitions it came from', { skip: !existsSync(MESSAGES) && 'message definitions not available' }, () => {
  const dir = MESSAGES;
  for (const api of KAFKA_APIS.filter((a) => [0, 3, 18, 68].includes(a.key))) {
    const text = readFileSync(`${dir}/${api.name}Request.json`, 'utf8').split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n');
    const def = JSON.parse(text) as { apiKey: number; name: string };
    assert.equal(def.apiKey, api.key);
    assert.equal(def.name, `${api.name}Request`);
  }
});

test('topic-bearing APIs: Cilium list plus today\'s APIs', () => {
  for (const k of [0, 1, 2, 3, 8, 9, 19, 20, 37, 47, 75]) assert.equal(isTopicApiKey(k), true, String(k));
  for (const k of [10, 11, 12, 13, 14, 18, 22]) assert.equal(isTopicApiKey(k), false, String(k));
});

test('roles expand to Cilium\'s key sets', () => {
  assert.deepEqual([...KAFKA_ROLES.produce].sort((a, b) => a - b), [0, 3, 18]);
  assert.deepEqual([...KAFKA_ROLES.consume].sort((a, b) => a - b), [1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18]);
  const c = broker(`- {role: produce, topic: empire-announce}`);
  assert.equal(c.decideKafka(kafka(0, ['empire-announce'])).verdict, 'FORWARDED');
  assert.equal(c.decideKafka(kafka(3, ['empire-announce'])).verdict, 'FORWARDED');
  assert.equal(c.decideKafka(kafka(18)).verdict, 'FORWARDED'); // ApiVersions has no topics
  assert.equal(c.decideKafka(kafka(0, ['deathstar-plans'])).verdict, 'DROPPED');
  assert.equal(c.decideKafka(kafka(1, ['empire-announce'])).verdict, 'DROPPED'); // fetch is consume
  assert.equal(c.decideKafka(kafka(22)).verdict, 'DROPPED'); // InitProducerId is in no role
  const consume = broker(`- {role: Consume, topic: empire-announce}`);
  for (const k of [1, 2, 8, 9]) assert.equal(consume.decideKafka(kafka(k, ['empire-announce'])).verdict, 'FORWARDED', String(k));
  for (const k of [10, 11, 12, 13, 14]) assert.equal(consume.decideKafka(kafka(k)).verdict, 'FORWARDED', String(k));
});

test('multi-topic requests need every topic covered, possibly by several rules', () => {
  const c = broker(`
- {role: produce, topic: deathstar-plans}
- {role: produce, topic: empire-announce}`);
  assert.equal(c.decideKafka(kafka(0, ['deathstar-plans', 'empire-announce'])).verdict, 'FORWARDED');
  const d = c.decideKafka(kafka(0, ['deathstar-plans', 'secret'], { apiVersion: 9 }));
  assert.equal(d.verdict, 'DROPPED');
  assert.match(d.reason, /^L7: no kafka rule matched produce v9 client "client" topics \[deathstar-plans, secret\] \(not allowed: secret\)/);
  // A topic-bearing request with no topics (Metadata for all topics) never matches a topic rule.
  assert.equal(c.decideKafka(kafka(3, [])).verdict, 'DROPPED');
  // ... but a topic-less rule allows it.
  const withMeta = broker(`- {apiKey: metadata}\n- {apiKey: produce, topic: deathstar-plans}`);
  assert.equal(withMeta.decideKafka(kafka(3, [])).verdict, 'FORWARDED');
  assert.equal(withMeta.decideKafka(kafka(3, ['anything'])).verdict, 'FORWARDED');
});

test('apiKey, apiVersion and clientID constrain exactly', () => {
  const c = broker(`
- {apiKey: apiversions}
- {apiKey: Produce, apiVersion: "7", clientID: hq-1, topic: empire-announce}`);
  assert.equal(c.decideKafka(kafka(18, [], { apiVersion: 3 })).verdict, 'FORWARDED');
  assert.equal(c.decideKafka(kafka(0, ['empire-announce'], { apiVersion: 7, clientId: 'hq-1' })).verdict, 'FORWARDED');
  assert.equal(c.decideKafka(kafka(0, ['empire-announce'], { apiVersion: 8, clientId: 'hq-1' })).verdict, 'DROPPED');
  assert.equal(c.decideKafka(kafka(0, ['empire-announce'], { apiVersion: 7, clientId: 'hq-2' })).verdict, 'DROPPED');
  assert.equal(c.decideKafka(kafka(0, ['empire-announce'], { apiVersion: 7, clientId: null })).verdict, 'DROPPED');
  // A topic constraint is ignored for APIs that carry no topics.
  const group = broker(`- {apiKey: joingroup, topic: empire-announce}`);
  assert.equal(group.decideKafka(kafka(11)).verdict, 'FORWARDED');
  assert.equal(broker(`- {}`).decideKafka(kafka(42, ['x'])).verdict, 'FORWARDED');
});

test('the Cilium Empire demo policy (specs with three rules)', () => {
  const snap = snapshotOf(`apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "secure-empire-kafka"
specs:
  - description: Allow only permitted Kafka requests to empire Kafka broker
    endpointSelector: {matchLabels: {app: kafka}}
    ingress:
    - fromEndpoints: [{matchLabels: {app: empire-hq}}]
      toPorts:
      - ports: [{port: "9092", protocol: TCP}]
        rules:
          kafka:
          - {role: "produce", topic: "deathstar-plans"}
          - {role: "produce", topic: "empire-announce"}
    - fromEndpoints: [{matchLabels: {app: kafka}}]
  - endpointSelector: {matchLabels: {app: kafka}}
    ingress:
    - fromEndpoints: [{matchLabels: {app: empire-outpost}}]
      toPorts:
      - ports: [{port: "9092", protocol: TCP}]
        rules: {kafka: [{role: "consume", topic: "empire-announce"}]}
  - endpointSelector: {matchLabels: {app: kafka}}
    ingress:
    - fromEndpoints: [{matchLabels: {app: empire-backup}}]
      toPorts:
      - ports: [{port: "9092", protocol: TCP}]
        rules: {kafka: [{role: "consume", topic: "deathstar-plans"}]}
`, endpoints);
  const hq = connect(snap, 'hq', 'kafka', 9092);
  const outpost = connect(snap, 'outpost', 'kafka', 9092);
  const backup = connect(snap, 'backup', 'kafka', 9092);
  assert.equal(hq.decideKafka(kafka(0, ['empire-announce'])).verdict, 'FORWARDED');
  assert.equal(hq.decideKafka(kafka(0, ['deathstar-plans'])).verdict, 'FORWARDED');
  assert.equal(outpost.decideKafka(kafka(1, ['empire-announce'])).verdict, 'FORWARDED');
  assert.equal(outpost.decideKafka(kafka(1, ['deathstar-plans'])).verdict, 'DROPPED');
  assert.equal(outpost.decideKafka(kafka(0, ['empire-announce'])).verdict, 'DROPPED');
  assert.equal(backup.decideKafka(kafka(1, ['deathstar-plans'])).verdict, 'FORWARDED');
  assert.equal(connect(snap, '127.0.0.1', 'kafka', 9092).verdict, 'DROPPED');
  const allowed = hq.decideKafka(kafka(0, ['empire-announce']));
  assert.equal(allowed.allowedBy[0]?.path, 'specs[0].ingress[0].toPorts[0].rules.kafka[1]');
});

test('Kafka rule validation errors', () => {
  const doc = (rule: string) => cnp('k', `endpointSelector: {}\ningress:\n- toPorts: [{ports: [{port: "9092"}], rules: {kafka: [${rule}]}}]`);
  const cases: Array<[string, RegExp]> = [
    ['{role: produce, apiKey: fetch}', /cannot set both Role "produce" and APIKey "fetch" together/],
    ['{role: admin}', /invalid Kafka Role "admin"/],
    ['{apiKey: createtopic}', /invalid Kafka APIKey "createtopic"/],
    ['{apiVersion: "x1"}', /invalid Kafka APIVersion "x1"/],
    ['{apiVersion: "40000"}', /invalid Kafka APIVersion "40000"/],
    ['{topic: "a b"}', /invalid Kafka Topic name "a b"/],
    [`{topic: ${'t'.repeat(256)}}`, /kafka topic exceeds maximum len of 255/],
    ['{clientID: "a/b"}', /invalid Kafka clientID "a\/b"/],
  ];
  for (const [rule, message] of cases) {
    const errors = errorsOf(doc(rule));
    assert.equal(errors.length, 1, `${rule}: ${JSON.stringify(errors)}`);
    assert.match(errors[0]!.message, message);
  }
});

test('allowed Kafka requests share one decision per rule; denials name the side and the port rule', () => {
  const c = broker(`- {role: produce, topic: a}\n- {role: produce, topic: b}`);
  const first = c.decideKafka(kafka(0, ['a']));
  assert.equal(first, c.decideKafka(kafka(0, ['a'])));
  assert.match(first.reason, /^allowed by kafka rule spec\.ingress\[0\]\.toPorts\[0\]\.rules\.kafka\[0\] of CiliumNetworkPolicy default\/k/);
  const denied = c.decideKafka(kafka(1, ['a']));
  assert.match(denied.reason, /\[ingress of default\/kafka\]$/);
  // The port rule whose Kafka rules did not match is named; no deny rule was involved.
  assert.deepEqual(denied.allowedBy.map((r) => r.path), ['spec.ingress[0].toPorts[0]']);
  assert.deepEqual(denied.deniedBy, []);
});
