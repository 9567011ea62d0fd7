// The line that says what a revision puts in force: counts of policies, endpoints and rules by protocol, and on a
// reload the policies and endpoints added, removed and changed, by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { packageFile } from '../../src/package-root.js';
import { describeRevision, diffRevisions, summarizeRevision } from '../../src/policy/summary.js';
import { endpoint, snapshotOf, STAR_WARS } from '../helpers/policy-fixtures.js';

const L7 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml'), 'utf8');
const L4 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_policy.yaml'), 'utf8');

const kafkaPolicy = (name: string, topic: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}}
spec:
  endpointSelector: {matchLabels: {class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {class: tiefighter}}]
    toPorts:
    - ports: [{port: "9092", protocol: TCP}]
      rules:
        kafka: [{role: produce, topic: ${topic}}, {role: consume, topic: ${topic}}]
  - fromEndpoints: [{matchLabels: {class: xwing}}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {org: rebels}}]
`;

test('a summary counts policies, endpoints and rules by protocol', () => {
  const s = summarizeRevision(snapshotOf([L7, kafkaPolicy('kafka', 'plans')], STAR_WARS));
  assert.deepEqual(s, {
    revision: 1, policies: 2, endpoints: 3, enforcement: 'default', audit: false,
    // rule1 allows one http rule; the kafka policy two kafka rules, one L3-only allow (xwing) and one deny.
    rules: { l3l4: 1, http: 1, kafka: 2, dns: 0, deny: 1 },
  });
  assert.equal(describeRevision(s), 'revision 1, 2 policies, 3 endpoints, rules 1 l3l4, 1 http, 2 kafka, 1 deny, enforcement default');
});

test('a reload names the policies added, changed and removed, and the endpoints added, changed and removed', () => {
  const before = snapshotOf([L4, kafkaPolicy('kafka', 'plans'), kafkaPolicy('old', 'x')], STAR_WARS);
  const endpoints = [
    ...STAR_WARS.filter((e) => e.name === 'deathstar'),
    endpoint('tiefighter', { org: 'empire', class: 'tiefighter' }, ['127.0.0.2', '127.0.0.4']),
    endpoint('ywing', { org: 'alliance', class: 'ywing' }, ['127.0.0.5']),
  ];
  const after = snapshotOf([L7, kafkaPolicy('kafka', 'plans'), kafkaPolicy('new', 'y')], endpoints);
  const changes = diffRevisions(before, after);
  assert.deepEqual(changes, {
    policies: { added: ['default/new'], removed: ['default/old'], changed: ['default/rule1'] },
    endpoints: { added: ['default/ywing'], removed: ['default/xwing'], changed: ['default/tiefighter'] },
  });
  assert.match(
    describeRevision(summarizeRevision(after), changes),
    /; added policy default\/new; changed policy default\/rule1; removed policy default\/old; added endpoint default\/ywing; changed endpoint default\/tiefighter; removed endpoint default\/xwing$/,
  );
});

test('the same rules read again (another file, other comments) are no change', () => {
  const before = snapshotOf(L7, STAR_WARS);
  const after = snapshotOf(['# moved\n', `# a comment\n${L7}`], STAR_WARS);
  const changes = diffRevisions(before, after);
  assert.deepEqual(changes.policies, { added: [], removed: [], changed: [] });
  assert.deepEqual(changes.endpoints, { added: [], removed: [], changed: [] });
  assert.match(describeRevision(summarizeRevision(after), changes), /; no policy or endpoint changed$/);
});

test('audit mode is part of what is in force', () => {
  assert.match(describeRevision(summarizeRevision(snapshotOf(L7, STAR_WARS, { audit: true }))), /enforcement default, audit mode$/);
});
