// The generated API-key table, whole: every key/name pair against Apache Kafka's message definitions (when
// they are here: ../shared/kafka-protocol/messages or $KAFKA_MESSAGES_DIR), and always against the codec's
// generated schema and the policy engine's table, which come from the same definitions.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KAFKA_APIS as POLICY_APIS } from '../../src/policy/generated/kafka-api-keys.js';
import { ApiKey, KAFKA_APIS } from '../../src/protocols/kafka/codec/index.js';
import { KAFKA_MESSAGE_DEFINITIONS } from '../../src/protocols/kafka/codec/generated/messages.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const definitions = process.env.KAFKA_MESSAGES_DIR ?? join(repo, '..', 'shared', 'kafka-protocol', 'messages');

/** [name, key] pairs in key order, the way the table lists them. */
const table = Object.entries(ApiKey);

test('ApiKey holds every request in the message definitions, by its Kafka name, in key order', { skip: existsSync(definitions) ? false : `no definitions at ${definitions}` }, () => {
  const requests = readdirSync(definitions)
    .filter((n) => n.endsWith('.json'))
    // The definitions are JSON after whole-line `//` comments (the license header).
    .map((n) => JSON.parse(readFileSync(join(definitions, n), 'utf8').split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n')) as { type: string; name: string; apiKey?: number })
    .filter((d) => d.type === 'request')
    .map((d): [string, number] => [d.name.replace(/Request$/, ''), d.apiKey!])
    .sort((a, b) => a[1] - b[1]);
  assert.ok(requests.length >= 80, `${requests.length} requests`);
  assert.deepEqual(table, requests);
});

test('ApiKey agrees with the codec\'s schema and the policy engine\'s table, pair for pair', () => {
  const schema = KAFKA_MESSAGE_DEFINITIONS.filter((m) => m.type === 'request').map((m) => [m.name.replace(/Request$/, ''), m.apiKey]);
  assert.deepEqual(table, schema);
  assert.deepEqual(table, [...KAFKA_APIS.values()].map((a) => [a.name, a.apiKey]));
  assert.deepEqual(table, POLICY_APIS.map((a) => [a.name, a.key]));
});

test('ApiKey names the keys clients and brokers agree on', () => {
  // Anchors written from Kafka's protocol guide, not from the generator: a generator that mislabelled
  // every table the same way would still fail here.
  assert.equal(ApiKey.Produce, 0);
  assert.equal(ApiKey.Fetch, 1);
  assert.equal(ApiKey.ListOffsets, 2);
  assert.equal(ApiKey.Metadata, 3);
  assert.equal(ApiKey.FindCoordinator, 10);
  assert.equal(ApiKey.SaslHandshake, 17);
  assert.equal(ApiKey.ApiVersions, 18);
  assert.equal(ApiKey.InitProducerId, 22);
  assert.equal(ApiKey.DescribeCluster, 60);
  assert.equal(new Set(table.map(([, key]) => key)).size, table.length, 'no key twice');
});
