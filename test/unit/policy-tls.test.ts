// TLS at the policy level: serverNames (Cilium's `*` and `**.` wildcards), SNI decisions at connection
// time, terminatingTLS/originatingTLS references and their conflicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cnp, connect, endpoint, errorsOf, http, snapshotOf } from '../helpers/policy-fixtures.js';
import { compileServerName, serverNameProblem } from '../../src/policy/names.js';

const endpoints = [endpoint('web', { app: 'web' }, ['127.0.0.50']), endpoint('bot', { app: 'bot' }, ['127.0.0.51'])];

test('serverNames wildcard table (Cilium API documentation examples and more)', () => {
  const table: Array<[string, string, boolean]> = [
    ['one.one.one.one', 'one.one.one.one', true],
    ['one.one.one.one', 'ONE.one.one.one', true],
    ['one.one.one.one', 'one.one.one.one.', true],
    ['one.one.one.one', 'two.one.one.one', false],
    ['*', 'anything.example.com', true],
    ['*', 'localhost', true],
    ['*.cilium.io', 'www.cilium.io', true],
    ['*.cilium.io', 'cilium.io', false],
    ['*.cilium.io', 'a.b.cilium.io', false],
    ['*cilium.io', 'cilium.io', true],
    ['*cilium.io', 'subcilium.io', true],
    ['*cilium.io', 'sub-cilium.io', true],
    ['*cilium.io', 'www.cilium.io', false],
    ['sub*.cilium.io', 'sub.cilium.io', true],
    ['sub*.cilium.io', 'subdomain.cilium.io', true],
    ['sub*.cilium.io', 'other.cilium.io', false],
    ['**.cilium.io', 'app.cilium.io', true],
    ['**.cilium.io', 'test.app.cilium.io', true],
    ['**.cilium.io', 'cilium.io', false],
    ['***.cilium.io', 'a.b.cilium.io', true],
    ['a.**', 'a.b', true], // `**` that is not a prefix collapses to `*`
    ['a.**', 'a.b.c', false],
    ['*.cilium.io', 'www.cilium.io.evil.com', false],
  ];
  for (const [pattern, sni, expected] of table) assert.equal(compileServerName(pattern).matches(sni), expected, `${pattern} vs ${sni}`);
});

test('serverNames validation', () => {
  assert.equal(serverNameProblem(''), 'empty server name is not allowed');
  assert.match(serverNameProblem('a..b')!, /invalid server name/);
  assert.match(serverNameProblem('a b.com')!, /invalid server name/);
  assert.match(serverNameProblem('a***b.com')!, /invalid server name/);
  assert.equal(serverNameProblem('**.example.com'), undefined);
  assert.equal(serverNameProblem('example.com.'), undefined);
});

const sni = snapshotOf(cnp('sni', `
endpointSelector: {matchLabels: {app: bot}}
egress:
- toPorts:
  - ports: [{port: "443", protocol: TCP}]
    serverNames: ["api.example.com", "*.cdn.example.com"]`), endpoints);

test('SNI is checked at connection time; a rule with serverNames only counts when the SNI matches', () => {
  assert.equal(connect(sni, 'bot', '203.0.113.1', 443, 'api.example.com').verdict, 'FORWARDED');
  assert.equal(connect(sni, 'bot', '203.0.113.1', 443, 'img.cdn.example.com').verdict, 'FORWARDED');
  const wrong = connect(sni, 'bot', '203.0.113.1', 443, 'evil.com');
  assert.equal(wrong.verdict, 'DROPPED');
  assert.match(wrong.reason, /^SNI evil\.com not in serverNames \[api\.example\.com, \*\.cdn\.example\.com\] of egress rule spec\.egress\[0\]\.toPorts\[0\]/);
  const none = connect(sni, 'bot', '203.0.113.1', 443);
  assert.equal(none.verdict, 'DROPPED');
  assert.match(none.reason, /^no TLS SNI, but serverNames/);
  assert.equal(connect(sni, 'bot', '203.0.113.1', 80, 'api.example.com').verdict, 'DROPPED');
});

test('another applicable rule without serverNames still allows the connection', () => {
  const snap = snapshotOf(cnp('sni', `
endpointSelector: {matchLabels: {app: bot}}
egress:
- toPorts: [{ports: [{port: "443"}], serverNames: [api.example.com]}]
- toEntities: [host]
  toPorts: [{ports: [{port: "443"}]}]`), endpoints);
  assert.equal(connect(snap, 'bot', '127.0.0.1', 443, 'evil.com').verdict, 'FORWARDED');
  assert.equal(connect(snap, 'bot', '203.0.113.1', 443, 'evil.com').verdict, 'DROPPED');
});

test('terminatingTLS/originatingTLS: secret references with the policy namespace as default', () => {
  const snap = snapshotOf(cnp('inspect', `
endpointSelector: {matchLabels: {app: bot}}
egress:
- toFQDNs: [{matchName: httpbin.org}]
  toPorts:
  - ports: [{port: "443", protocol: TCP}]
    terminatingTLS: {secret: {name: httpbin-tls-data}}
    originatingTLS: {secret: {namespace: kube-system, name: tls-orig-data}, trustedCA: bundle.crt}
    rules: {http: [{}]}`, 'empire'), [endpoint('bot', { app: 'bot' }, ['127.0.0.51'], { namespace: 'empire' })]);
  const d = snap.decideConnection({
    source: { identity: snap.endpoints.byName('empire/bot')!.identity },
    destination: { identity: snap.endpoints.reserved('world'), address: '54.1.2.3', names: ['httpbin.org'] },
    port: 443,
    sni: 'httpbin.org',
  });
  assert.equal(d.verdict, 'FORWARDED');
  assert.equal(d.l7, 'http');
  assert.deepEqual(d.terminatingTLS, { namespace: 'empire', name: 'httpbin-tls-data' });
  assert.deepEqual(d.originatingTLS, { namespace: 'kube-system', name: 'tls-orig-data', trustedCA: 'bundle.crt' });
  assert.equal(d.decideHttp(http('GET', '/anything', 'httpbin.org')).verdict, 'FORWARDED');
});

test('serverNames with L7 rules need terminatingTLS; a CCNP secret needs a namespace', () => {
  const missing = errorsOf(cnp('x', `
endpointSelector: {}
egress:
- toPorts:
  - ports: [{port: "443", protocol: TCP}]
    serverNames: [a.com]
    rules: {http: [{method: GET}]}`));
  assert.deepEqual(missing.map((e) => [e.line, e.path, e.message]), [
    [10, 'spec.egress[0].toPorts[0].serverNames', 'ServerNames are not allowed with L7 rules without TLS termination'],
  ]);
  const ccnp = errorsOf(`apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: x}
spec:
  endpointSelector: {}
  egress:
  - toPorts:
    - ports: [{port: "443"}]
      terminatingTLS: {secret: {name: s}}`);
  assert.deepEqual(ccnp.map((e) => [e.line, e.path, e.message]), [
    [9, 'spec.egress[0].toPorts[0].terminatingTLS.secret', 'secret.namespace is required in a CiliumClusterwideNetworkPolicy'],
  ]);
});

test('conflicting TLS contexts for the same peers and port are rejected when the snapshot is built', () => {
  const doc = cnp('tls', `
endpointSelector: {matchLabels: {app: web}}
ingress:
- toPorts: [{ports: [{port: "443"}], terminatingTLS: {secret: {name: a}}, rules: {http: [{method: GET}]}}]
- toPorts: [{ports: [{port: "443"}], terminatingTLS: {secret: {name: b}}, rules: {http: [{method: POST}]}}]`);
  assert.throws(() => snapshotOf(doc, endpoints), /policy-0\.yaml:9:15: spec\.ingress\[1\]\.toPorts\[0\]: cannot merge conflicting terminatingTLS contexts \(default\/a and default\/b\)/);
});

test('different TLS contexts for different peers that both match one connection fail closed with ERROR', () => {
  const snap = snapshotOf(cnp('tls', `
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEntities: [world]
  toPorts: [{ports: [{port: "443"}], terminatingTLS: {secret: {name: a}}}]
- fromCIDR: [203.0.113.0/24]
  toPorts: [{ports: [{port: "443"}], terminatingTLS: {secret: {name: b}}}]`), endpoints);
  const d = connect(snap, '203.0.113.9', 'web', 443, 'web.example');
  assert.equal(d.verdict, 'ERROR');
  assert.equal(d.allowed, false);
  assert.match(d.reason, /conflicting terminatingTLS contexts default\/a .* and default\/b/);
  assert.deepEqual(connect(snap, '198.51.100.1', 'web', 443).terminatingTLS, { namespace: 'default', name: 'a' });
});
