// Label selectors: operators, label sources and `any` semantics, and Cilium's namespace injection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelSelector, peerSelector, subjectSelector } from '../../src/policy/selector.js';
import type { Requirement } from '../../src/policy/selector.js';
import { endpointLabels } from '../../src/policy/labels.js';
import type { Label } from '../../src/policy/types.js';
import { ccnp, cnp, connect, endpoint, snapshotOf } from '../helpers/policy-fixtures.js';

const labels = endpointLabels({ org: 'empire', class: 'deathstar', tier: 'db' }, 'default');
const host: Label[] = [{ source: 'reserved', key: 'host', value: '' }];
const req = (source: string, key: string, operator: Requirement['operator'], values: string[] = []): Requirement => ({ source, key, operator, values });

test('endpoint labels: k8s: labels plus namespace and cluster, sorted', () => {
  assert.deepEqual(
    labels.map((l) => `${l.source}:${l.key}=${l.value}`),
    ['k8s:class=deathstar', 'k8s:io.cilium.k8s.policy.cluster=default', 'k8s:io.kubernetes.pod.namespace=default', 'k8s:org=empire', 'k8s:tier=db'],
  );
});

test('operators: In, NotIn, Exists, DoesNotExist; requirements are ANDed; {} is a wildcard', () => {
  const cases: Array<[Requirement[], boolean]> = [
    [[req('k8s', 'org', 'In', ['empire', 'alliance'])], true],
    [[req('k8s', 'org', 'In', ['alliance'])], false],
    [[req('k8s', 'org', 'NotIn', ['alliance'])], true],
    [[req('k8s', 'org', 'NotIn', ['empire'])], false],
    [[req('k8s', 'missing', 'NotIn', ['x'])], true],
    [[req('k8s', 'tier', 'Exists')], true],
    [[req('k8s', 'missing', 'Exists')], false],
    [[req('k8s', 'missing', 'DoesNotExist')], true],
    [[req('k8s', 'tier', 'DoesNotExist')], false],
    [[req('k8s', 'org', 'In', ['empire']), req('k8s', 'class', 'In', ['deathstar'])], true],
    [[req('k8s', 'org', 'In', ['empire']), req('k8s', 'class', 'In', ['xwing'])], false],
    [[], true],
  ];
  for (const [reqs, expected] of cases) assert.equal(new LabelSelector(reqs).matches(labels), expected, JSON.stringify(reqs));
  assert.equal(LabelSelector.wildcard.matches(host), true);
});

test('sources: any: matches every source, k8s: only k8s labels, reserved: only reserved labels', () => {
  assert.equal(new LabelSelector([req('any', 'org', 'In', ['empire'])]).matches(labels), true);
  assert.equal(new LabelSelector([req('reserved', 'org', 'In', ['empire'])]).matches(labels), false);
  assert.equal(new LabelSelector([req('reserved', 'host', 'Exists')]).matches(host), true);
  assert.equal(new LabelSelector([req('any', 'host', 'Exists')]).matches(host), true);
  assert.equal(new LabelSelector([req('k8s', 'host', 'Exists')]).matches(host), false);
  // The reverse of `any` does not hold: a selector on k8s: never matches an any: label.
  assert.equal(new LabelSelector([req('k8s', 'org', 'Exists')]).matches([{ source: 'any', key: 'org', value: 'empire' }]), false);
});

test('namespace injection helpers: CNP subject pinned, CNP peers pinned unless namespaced/reserved, CCNP peers need a namespace', () => {
  const other = endpointLabels({ org: 'empire' }, 'other');
  const mine = endpointLabels({ org: 'empire' }, 'default');
  const sel = new LabelSelector([req('any', 'org', 'In', ['empire'])]);
  // A CNP subject selector always selects in the policy's namespace, even if it names another one.
  const pinned = subjectSelector(sel.with(req('k8s', 'io.kubernetes.pod.namespace', 'In', ['other'])), 'default');
  assert.equal(pinned.matches(mine), true);
  assert.equal(pinned.matches(other), false);
  // CCNP subject: as written.
  assert.equal(subjectSelector(sel, undefined).matches(other), true);
  // CNP peers: pinned; a selector that names the namespace (any source) or a reserved label is kept.
  assert.equal(peerSelector(sel, 'default').matches(other), false);
  assert.equal(peerSelector(sel.with(req('any', 'io.kubernetes.pod.namespace', 'In', ['other'])), 'default').matches(other), true);
  assert.equal(peerSelector(new LabelSelector([req('reserved', 'host', 'Exists')]), 'default').matches(host), true);
  // CCNP peers: any namespace, but reserved identities (no namespace label) are excluded.
  assert.equal(peerSelector(LabelSelector.wildcard, undefined).matches(other), true);
  assert.equal(peerSelector(LabelSelector.wildcard, undefined).matches(host), false);
});

const endpoints = [
  endpoint('db', { app: 'db' }, ['127.0.1.1'], { namespace: 'prod' }),
  endpoint('web', { app: 'web' }, ['127.0.1.2'], { namespace: 'prod' }),
  endpoint('web', { app: 'web' }, ['127.0.2.2'], { namespace: 'dev' }),
  endpoint('tool', { app: 'tool', team: 'ops' }, ['127.0.2.3'], { namespace: 'dev' }),
];

test('CNP in namespace prod: fromEndpoints [{}] means every endpoint of prod only', () => {
  const snap = snapshotOf(cnp('db-from-ns', `
endpointSelector: {matchLabels: {app: db}}
ingress:
- fromEndpoints: [{}]`, 'prod'), endpoints);
  assert.equal(connect(snap, 'prod/web', 'prod/db', 5432).verdict, 'FORWARDED');
  assert.equal(connect(snap, 'dev/web', 'prod/db', 5432).verdict, 'DROPPED');
  assert.equal(connect(snap, '127.0.0.1', 'prod/db', 5432).verdict, 'DROPPED'); // host is not in the namespace
});

test('CNP peers may name another namespace explicitly, with any: or k8s: source, or via matchExpressions', () => {
  for (const sel of [
    `{matchLabels: {"k8s:io.kubernetes.pod.namespace": dev, app: web}}`,
    `{matchLabels: {io.kubernetes.pod.namespace: dev, app: web}}`,
    `{matchExpressions: [{key: io.kubernetes.pod.namespace, operator: In, values: [dev]}], matchLabels: {app: web}}`,
  ]) {
    const snap = snapshotOf(cnp('db-from-dev', `
endpointSelector: {matchLabels: {app: db}}
ingress:
- fromEndpoints: [${sel}]`, 'prod'), endpoints);
    assert.equal(connect(snap, 'dev/web', 'prod/db', 5432).verdict, 'FORWARDED', sel);
    assert.equal(connect(snap, 'prod/web', 'prod/db', 5432).verdict, 'DROPPED', sel);
  }
});

test('a CNP only selects subjects in its own namespace', () => {
  const snap = snapshotOf(cnp('deny-all-web', `
endpointSelector: {matchLabels: {app: web, "k8s:io.kubernetes.pod.namespace": dev}}
ingress: [{}]`, 'prod'), endpoints);
  // The namespace match was replaced by prod: prod/web is default-deny, dev/web is untouched.
  assert.equal(connect(snap, 'dev/tool', 'prod/web', 80).verdict, 'DROPPED');
  assert.equal(connect(snap, 'dev/tool', 'dev/web', 80).verdict, 'FORWARDED');
});

test('CCNP: subject in any namespace; fromEndpoints [{}] means every endpoint but not reserved identities', () => {
  const snap = snapshotOf(ccnp('web-from-all', `
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{}]`), endpoints);
  assert.equal(connect(snap, 'dev/tool', 'prod/web', 80).verdict, 'FORWARDED');
  assert.equal(connect(snap, 'prod/db', 'dev/web', 80).verdict, 'FORWARDED');
  assert.equal(connect(snap, '127.0.0.1', 'dev/web', 80).verdict, 'DROPPED');
  assert.equal(connect(snap, '192.0.2.1', 'dev/web', 80).verdict, 'DROPPED');
});

test('selectors on reserved labels and $host select reserved identities', () => {
  for (const sel of ['{matchLabels: {"reserved:host": ""}}', '{matchLabels: {"$host": ""}}', '{matchExpressions: [{key: "reserved:host", operator: Exists}]}']) {
    const snap = snapshotOf(cnp('from-host', `
endpointSelector: {matchLabels: {app: db}}
ingress:
- fromEndpoints: [${sel}]`, 'prod'), endpoints);
    assert.equal(connect(snap, '127.0.0.1', 'prod/db', 80).verdict, 'FORWARDED', sel);
    assert.equal(connect(snap, 'prod/web', 'prod/db', 80).verdict, 'DROPPED', sel);
  }
});

test('reserved.<name> keys (older Cilium examples, e.g. the guestbook policy) are reserved labels, as Cilium parses them', () => {
  for (const sel of ['{matchLabels: {"reserved.host": ""}}', '{matchLabels: {reserved.host: ""}}', '{matchExpressions: [{key: "reserved.host", operator: Exists}]}']) {
    const snap = snapshotOf(cnp('from-host', `
endpointSelector: {matchLabels: {app: db}}
ingress:
- fromEndpoints: [${sel}]`, 'prod'), endpoints);
    assert.equal(connect(snap, '127.0.0.1', 'prod/db', 80).verdict, 'FORWARDED', sel);
    assert.equal(connect(snap, '203.0.113.1', 'prod/db', 80).verdict, 'DROPPED', sel);
    assert.equal(connect(snap, 'prod/web', 'prod/db', 80).verdict, 'DROPPED', sel);
  }
  const world = snapshotOf(cnp('from-world', `
endpointSelector: {matchLabels: {app: db}}
ingress:
- fromEndpoints: [{matchLabels: {"reserved.world": ""}}]`, 'prod'), endpoints);
  assert.equal(connect(world, '203.0.113.1', 'prod/db', 80).verdict, 'FORWARDED');
  assert.equal(connect(world, '127.0.0.1', 'prod/db', 80).verdict, 'DROPPED');
});

test('matchExpressions NotIn and DoesNotExist in a policy', () => {
  const snap = snapshotOf(cnp('not-ops', `
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints:
  - matchExpressions:
    - {key: team, operator: DoesNotExist}
    - {key: app, operator: NotIn, values: [db]}
    - {key: "k8s:io.kubernetes.pod.namespace", operator: Exists}`, 'dev'), endpoints);
  assert.equal(connect(snap, 'dev/tool', 'dev/web', 80).verdict, 'DROPPED'); // has team
  assert.equal(connect(snap, 'prod/web', 'dev/web', 80).verdict, 'FORWARDED'); // namespace named: any namespace
  assert.equal(connect(snap, 'prod/db', 'dev/web', 80).verdict, 'DROPPED'); // app=db
});
