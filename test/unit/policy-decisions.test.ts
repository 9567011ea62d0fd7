// The decision procedure: deny precedence, default deny and enableDefaultDeny, enforcement modes,
// both sides of a flow, audit mode, and the connection cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STAR_WARS, cnp, connect, endpoint, http, kafka, peer, snapshotOf } from '../helpers/policy-fixtures.js';
import { MAX_CACHED_CONNECTIONS } from '../../src/policy/index.js';

const endpoints = [
  endpoint('server', { app: 'server' }, ['127.0.0.10']),
  endpoint('client', { app: 'client' }, ['127.0.0.20']),
  endpoint('other', { app: 'other' }, ['127.0.0.30']),
];

// The allow set of the Cilium deny documentation: L7 (HTTP on 80) + L4 80 + L4 81 + L3 client.
const ALLOW_SET = cnp('allow', `
endpointSelector: {matchLabels: {app: server}}
ingress:
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET, path: /public}]}}]
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "80", protocol: TCP}]}]
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "81", protocol: TCP}]}]
- fromEndpoints: [{matchLabels: {app: client}}]`);
const DENY_L4_80 = cnp('deny-l4', `
endpointSelector: {matchLabels: {app: server}}
ingressDeny:
- toPorts: [{ports: [{port: "80", protocol: TCP}]}]`);
const DENY_L3 = cnp('deny-l3', `
endpointSelector: {matchLabels: {app: server}}
ingressDeny:
- fromEndpoints: [{matchLabels: {app: client}}]`);

test('deny precedence: the table from the Cilium deny documentation', () => {
  const rows: Array<[string, string[], 'FORWARDED' | 'DROPPED', 'FORWARDED' | 'DROPPED']> = [
    ['allow only', [ALLOW_SET], 'FORWARDED', 'FORWARDED'],
    ['deny L4 80', [ALLOW_SET, DENY_L4_80], 'FORWARDED', 'DROPPED'],
    ['deny L3 client', [ALLOW_SET, DENY_L3], 'DROPPED', 'DROPPED'],
    ['deny L4 80 + L3 client', [ALLOW_SET, DENY_L4_80, DENY_L3], 'DROPPED', 'DROPPED'],
    ['no allow, deny L4 80', [DENY_L4_80], 'DROPPED', 'DROPPED'],
  ];
  for (const [name, docs, at81, at80] of rows) {
    const snap = snapshotOf(docs, endpoints);
    assert.equal(connect(snap, 'client', 'server', 81).verdict, at81, `${name}: :81`);
    assert.equal(connect(snap, 'client', 'server', 80).verdict, at80, `${name}: :80`);
  }
});

test('a deny names its rule; an allow of every kind does not outweigh it', () => {
  const snap = snapshotOf([ALLOW_SET, DENY_L4_80], endpoints);
  const d = connect(snap, 'client', 'server', 80);
  assert.equal(d.allowed, false);
  assert.match(d.reason, /^denied by ingressDeny rule spec\.ingressDeny\[0\]\.toPorts\[0\] of CiliumNetworkPolicy default\/deny-l4/);
  assert.equal(d.deniedBy.length, 1);
  assert.equal(d.deniedBy[0]?.policy.name, 'deny-l4');
});

test('an L4 allow for the same peer and port cancels the L7 restriction (allow set above)', () => {
  const snap = snapshotOf(ALLOW_SET, endpoints);
  const d = connect(snap, 'client', 'server', 80);
  assert.equal(d.l7, 'none');
  assert.equal(d.decideHttp(http('DELETE', '/private')).verdict, 'FORWARDED');
});

test('default deny: ingress: [{}] denies everything, an endpoint with no ingress rules is open', () => {
  const snap = snapshotOf(cnp('deny-all', `endpointSelector: {matchLabels: {app: server}}\ningress: [{}]`), endpoints);
  assert.equal(connect(snap, 'client', 'server', 80).verdict, 'DROPPED');
  assert.equal(connect(snap, '127.0.0.1', 'server', 80).verdict, 'DROPPED');
  assert.equal(connect(snap, 'client', 'other', 80).verdict, 'FORWARDED');
  assert.equal(connect(snap, 'server', 'other', 80).verdict, 'FORWARDED'); // egress of server untouched
});

test('enableDefaultDeny: default-allow policies leave unselected peers open, and enforce their L7 rules on the peers they select', () => {
  const visibility = cnp('visibility', `
endpointSelector: {matchLabels: {app: server}}
enableDefaultDeny: {ingress: false}
ingress:
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET}]}}]`);
  const snap = snapshotOf(visibility, endpoints);
  // The rule's L3/L4 part selects client on 80: its HTTP rules apply (Cilium, cilium/cilium#38676).
  const d = connect(snap, 'client', 'server', 80);
  assert.equal(d.verdict, 'FORWARDED');
  assert.equal(d.l7, 'http');
  assert.equal(d.decideHttp(http('GET', '/x')).verdict, 'FORWARDED');
  assert.equal(d.decideHttp(http('POST', '/x')).verdict, 'DROPPED');
  // Peers and ports the rule does not select are not default-denied, and not L7-restricted.
  for (const [from, port] of [['other', 80], ['client', 81], ['127.0.0.1', 80], ['203.0.113.9', 80]] as const) {
    const o = connect(snap, from, 'server', port);
    assert.deepEqual([o.verdict, o.l7], ['FORWARDED', 'none'], `${from} :${port}`);
    assert.equal(o.decideHttp(http('POST', '/x')).verdict, 'FORWARDED', `${from} :${port}`);
  }
  assert.match(connect(snap, 'other', 'server', 80).reason, /not enforced: only default-allow policies select default\/server/);

  // Once any selecting rule enables default deny, the default-allow rule's allows are ordinary allows.
  const strict = cnp('strict', `endpointSelector: {matchLabels: {app: server}}\ningress: [{fromEndpoints: [{matchLabels: {app: other}}]}]`);
  const both = snapshotOf([visibility, strict], endpoints);
  const c = connect(both, 'client', 'server', 80);
  assert.equal(c.l7, 'http');
  assert.equal(c.decideHttp(http('GET', '/')).verdict, 'FORWARDED');
  assert.equal(c.decideHttp(http('POST', '/')).verdict, 'DROPPED');
  assert.equal(connect(both, 'other', 'server', 80).verdict, 'FORWARDED');
  assert.equal(connect(both, '127.0.0.1', 'server', 80).verdict, 'DROPPED');
});

test('enableDefaultDeny false: L7 rules still apply to selected peers on egress, for Kafka, under audit and enforcement modes', () => {
  // The l7-policy-allow.yaml shape of Cilium's CI, on ingress and on egress.
  const ingress = cnp('l7-default-allow', `
endpointSelector: {matchLabels: {app: server}}
enableDefaultDeny: {ingress: false}
ingress:
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET, path: /public}]}}]`);
  const egress = cnp('egress-default-allow', `
endpointSelector: {matchLabels: {app: client}}
enableDefaultDeny: {egress: false}
egress:
- toEndpoints: [{matchLabels: {app: other}}]
  toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET, path: /public}]}}]
- toEndpoints: [{matchLabels: {app: other}}]
  toPorts: [{ports: [{port: "9092", protocol: TCP}], rules: {kafka: [{role: produce, topic: allowed}]}}]`);
  const snap = snapshotOf([ingress, egress], endpoints);
  const verdicts = (s: typeof snap, from: string, to: string, port: number, path: string) => {
    const d = connect(s, from, to, port);
    return [d.verdict, d.decideHttp(http('GET', path)).verdict];
  };
  assert.deepEqual(verdicts(snap, 'client', 'server', 80, '/public'), ['FORWARDED', 'FORWARDED']);
  assert.deepEqual(verdicts(snap, 'client', 'server', 80, '/private'), ['FORWARDED', 'DROPPED']);
  assert.match(connect(snap, 'client', 'server', 80).decideHttp(http('GET', '/private')).reason, /^L7: no http rule matched GET \/private .*\[ingress of default\/server\]$/);
  assert.deepEqual(verdicts(snap, 'client', 'other', 80, '/private'), ['FORWARDED', 'DROPPED']);
  assert.match(connect(snap, 'client', 'other', 80).decideHttp(http('GET', '/private')).reason, /\[egress of default\/client\]$/);
  assert.deepEqual(verdicts(snap, 'client', 'other', 8080, '/private'), ['FORWARDED', 'FORWARDED']); // port not selected
  const k = connect(snap, 'client', 'other', 9092);
  assert.equal(k.l7, 'kafka');
  assert.equal(k.decideKafka(kafka(0, ['allowed'])).verdict, 'FORWARDED');
  assert.equal(k.decideKafka(kafka(0, ['secret'])).verdict, 'DROPPED');

  // A plain L4 allow for the same peer and port still cancels the L7 restriction, as in a default-deny policy.
  const l4 = cnp('l4-default-allow', `
endpointSelector: {matchLabels: {app: server}}
enableDefaultDeny: {ingress: false}
ingress: [{fromEndpoints: [{matchLabels: {app: client}}], toPorts: [{ports: [{port: "80"}]}]}]`);
  assert.deepEqual(verdicts(snapshotOf([ingress, l4], endpoints), 'client', 'server', 80, '/private'), ['FORWARDED', 'FORWARDED']);

  // A deny rule wins over the default-allow rule's allow.
  const deny = cnp('deny', `endpointSelector: {matchLabels: {app: server}}\nenableDefaultDeny: {ingress: false}\ningressDeny: [{fromEndpoints: [{matchLabels: {app: client}}]}]`);
  assert.equal(connect(snapshotOf([ingress, deny], endpoints), 'client', 'server', 80).verdict, 'DROPPED');

  // always: enforced anyway (L7 applies, unselected peers denied); never: nothing applies.
  const always = snapshotOf(ingress, endpoints, { enforcement: 'always' });
  assert.equal(connect(always, 'client', 'server', 80).decideHttp(http('GET', '/private')).verdict, 'DROPPED');
  assert.equal(connect(always, 'other', 'server', 80).verdict, 'DROPPED');
  const never = snapshotOf(ingress, endpoints, { enforcement: 'never' });
  assert.equal(connect(never, 'client', 'server', 80).decideHttp(http('GET', '/private')).verdict, 'FORWARDED');

  // Audit: the would-be L7 denial is forwarded with verdict AUDIT.
  const audit = snapshotOf(ingress, endpoints, { audit: true });
  const a = connect(audit, 'client', 'server', 80).decideHttp(http('GET', '/private'));
  assert.deepEqual([a.verdict, a.allowed], ['AUDIT', true]);
  assert.match(a.reason, /^audit: would be dropped: L7: no http rule matched GET \/private/);
});

test('enableDefaultDeny false: serverNames of a rule apply to the peers it selects', () => {
  const snap = snapshotOf(cnp('sni-default-allow', `
endpointSelector: {matchLabels: {app: server}}
enableDefaultDeny: {ingress: false}
ingress:
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "443", protocol: TCP}], serverNames: [api.example.com]}]`), endpoints);
  assert.equal(connect(snap, 'client', 'server', 443, 'api.example.com').verdict, 'FORWARDED');
  assert.equal(connect(snap, 'client', 'server', 443, 'evil.example.com').verdict, 'DROPPED');
  assert.match(connect(snap, 'client', 'server', 443, 'evil.example.com').reason, /^SNI evil\.example\.com not in serverNames \[api\.example\.com\]/);
  assert.equal(connect(snap, 'other', 'server', 443, 'evil.example.com').verdict, 'FORWARDED');
});

test('enableDefaultDeny: a deny rule still applies in a default-allow policy; ingress: true without rules denies all', () => {
  const denyOnly = snapshotOf(cnp('deny-other', `
endpointSelector: {matchLabels: {app: server}}
enableDefaultDeny: {ingress: false}
ingressDeny: [{fromEndpoints: [{matchLabels: {app: other}}]}]`), endpoints);
  assert.equal(connect(denyOnly, 'other', 'server', 80).verdict, 'DROPPED');
  assert.equal(connect(denyOnly, 'client', 'server', 80).verdict, 'FORWARDED');

  const lockdown = snapshotOf(cnp('lockdown', `
endpointSelector: {matchLabels: {app: server}}
enableDefaultDeny: {ingress: true, egress: false}
egress: [{toEndpoints: [{matchLabels: {app: client}}]}]`), endpoints);
  assert.equal(connect(lockdown, 'client', 'server', 80).verdict, 'DROPPED');
  assert.equal(connect(lockdown, 'server', 'other', 80).verdict, 'FORWARDED');
});

test('enforcement modes: always denies unselected endpoints; never ignores every rule, deny included', () => {
  const docs = [ALLOW_SET, DENY_L3];
  const always = snapshotOf(ALLOW_SET, endpoints, { enforcement: 'always' });
  // The client has no egress policy, but under `always` its egress is enforced too.
  assert.equal(connect(always, 'client', 'server', 81).verdict, 'DROPPED');
  assert.match(connect(always, 'client', 'server', 81).reason, /^no egress rule of default\/client allows default\/server on port 81 \(enforcement: always, no policy selects it\)/);
  const clientEgress = cnp('client-out', `endpointSelector: {matchLabels: {app: client}}\negress: [{toEntities: [all]}]`);
  const always2 = snapshotOf([ALLOW_SET, clientEgress], endpoints, { enforcement: 'always' });
  assert.equal(connect(always2, 'client', 'server', 81).verdict, 'FORWARDED');
  assert.equal(connect(always2, 'client', 'other', 80).verdict, 'DROPPED'); // other has no ingress policy, still enforced
  assert.match(connect(always2, 'client', 'other', 80).reason, /no ingress rule of default\/other .*enforcement: always/);
  assert.equal(connect(always2, '127.0.0.1', 'client', 80).verdict, 'DROPPED');
  assert.equal(connect(always, '203.0.113.1', '198.51.100.1', 443).verdict, 'FORWARDED'); // no registered endpoint on either side

  const never = snapshotOf(docs, endpoints, { enforcement: 'never' });
  assert.equal(connect(never, 'client', 'server', 80).verdict, 'FORWARDED');
  assert.equal(connect(never, 'other', 'server', 9999).verdict, 'FORWARDED');
  assert.equal(connect(never, 'client', 'server', 80).decideHttp(http('DELETE', '/')).verdict, 'FORWARDED');
});

test('both sides: the source egress and the destination ingress must both allow', () => {
  const snap = snapshotOf([
    cnp('client-egress', `
endpointSelector: {matchLabels: {app: client}}
egress:
- toEndpoints: [{matchLabels: {app: server}}]
  toPorts: [{ports: [{port: "80"}], rules: {http: [{path: "/api/.*"}]}}]`),
    cnp('server-ingress', `
endpointSelector: {matchLabels: {app: server}}
ingress:
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "80"}], rules: {http: [{method: GET}]}}]`),
  ], endpoints);
  const d = connect(snap, 'client', 'server', 80);
  assert.equal(d.verdict, 'FORWARDED');
  assert.match(d.reason, /^egress: allowed by egress rule .*client-egress.*; ingress: allowed by ingress rule .*server-ingress/);
  assert.equal(d.allowedBy.length, 2);
  assert.equal(d.decideHttp(http('GET', '/api/x')).verdict, 'FORWARDED');
  assert.equal(d.decideHttp(http('GET', '/api/x')).allowedBy.length, 2);
  assert.match(d.decideHttp(http('GET', '/other')).reason, /\[egress of default\/client\]$/);
  assert.match(d.decideHttp(http('POST', '/api/x')).reason, /\[ingress of default\/server\]$/);
  // Egress alone decides where the destination has no policy; ingress alone where the source has none.
  assert.equal(connect(snap, 'client', 'other', 80).verdict, 'DROPPED');
  assert.match(connect(snap, 'client', 'other', 80).reason, /^no egress rule of default\/client allows default\/other on port 80/);
  assert.equal(connect(snap, 'other', 'server', 80).verdict, 'DROPPED');
  assert.equal(connect(snap, 'client', '203.0.113.5', 80).verdict, 'DROPPED');
});

test('audit mode: would-be denials are forwarded with verdict AUDIT and the reason kept', () => {
  const snap = snapshotOf([ALLOW_SET, DENY_L4_80], endpoints, { audit: true });
  const denied = connect(snap, 'client', 'server', 80);
  assert.equal(denied.verdict, 'AUDIT');
  assert.equal(denied.allowed, true);
  assert.match(denied.reason, /^audit: would be dropped: denied by ingressDeny rule/);
  const req = denied.decideHttp(http('GET', '/'));
  assert.equal(req.verdict, 'AUDIT');
  assert.equal(req.allowed, true);
  assert.match(req.reason, /connection would have been dropped/);
  assert.equal(connect(snap, 'client', 'server', 81).verdict, 'FORWARDED');

  const sw = snapshotOf(cnp('rule1', `
endpointSelector: {matchLabels: {org: empire, class: deathstar}}
ingress:
- fromEndpoints: [{matchLabels: {org: empire}}]
  toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: POST, path: /v1/request-landing}]}}]`), STAR_WARS, { audit: true });
  const xwing = connect(sw, 'xwing', 'deathstar', 80);
  assert.equal(xwing.verdict, 'AUDIT');
  assert.match(xwing.reason, /no ingress rule of default\/deathstar allows default\/xwing on port 80/);
  const tie = connect(sw, 'tiefighter', 'deathstar', 80);
  assert.equal(tie.verdict, 'FORWARDED');
  const put = tie.decideHttp(http('PUT', '/v1/exhaust-port'));
  assert.deepEqual([put.verdict, put.allowed], ['AUDIT', true]);
  assert.match(put.reason, /^audit: would be dropped: L7: no http rule matched PUT \/v1\/exhaust-port/);
  assert.equal(tie.decideHttp(http('POST', '/v1/request-landing')).verdict, 'FORWARDED');
});

test('connection decisions are cached per peer/port/SNI and world peers are keyed by address', () => {
  const snap = snapshotOf(cnp('w', `endpointSelector: {matchLabels: {app: server}}\ningress: [{fromCIDR: [198.51.100.0/24]}]`), endpoints);
  const a = connect(snap, 'client', 'server', 80);
  assert.equal(connect(snap, 'client', 'server', 80), a);
  assert.notEqual(connect(snap, 'client', 'server', 81), a);
  assert.equal(connect(snap, '198.51.100.1', 'server', 80).verdict, 'FORWARDED');
  assert.equal(connect(snap, '198.51.101.1', 'server', 80).verdict, 'DROPPED');
  // The cache is bounded: past the limit it starts over instead of growing.
  for (let i = 0; i <= MAX_CACHED_CONNECTIONS; i++) connect(snap, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'server', 80);
  const again = connect(snap, 'client', 'server', 80);
  assert.notEqual(again, a);
  assert.equal(again.verdict, a.verdict);
});

test('rule references carry derived and rule labels and the rule\'s log value', () => {
  const snap = snapshotOf(cnp('labelled', `
endpointSelector: {matchLabels: {app: server}}
labels: ["team=payments", {key: tier, value: gold, source: k8s}]
log: {value: server-ingress}
ingress: [{fromEndpoints: [{matchLabels: {app: client}}]}]`, 'prod'), [
    endpoint('server', { app: 'server' }, ['127.0.0.10'], { namespace: 'prod' }),
    endpoint('client', { app: 'client' }, ['127.0.0.20'], { namespace: 'prod' }),
  ]);
  const ref = connect(snap, 'prod/client', 'prod/server', 80).allowedBy[0]!;
  assert.equal(ref.log, 'server-ingress');
  assert.deepEqual(ref.policy, {
    name: 'labelled',
    namespace: 'prod',
    kind: 'CiliumNetworkPolicy',
    labels: [
      'k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy',
      'k8s:io.cilium.k8s.policy.name=labelled',
      'k8s:io.cilium.k8s.policy.namespace=prod',
      'unspec:team=payments',
      'k8s:tier=gold',
    ],
  });
  assert.deepEqual([ref.direction, ref.file, ref.line, ref.path], ['ingress', 'policy-0.yaml', 10, 'spec.ingress[0]']);
  assert.deepEqual(snap.policies.map((p) => [p.kind, p.name, p.namespace, p.rules, p.line]), [['CiliumNetworkPolicy', 'labelled', 'prod', 1, 1]]);
});

test('forward-proxy clients: only sources some policy selects for egress, in every mode; audit forwards with AUDIT', () => {
  const egress = cnp('client-out', `endpointSelector: {matchLabels: {app: client}}\negress: [{toCIDR: [203.0.113.0/24]}]`);
  const ask = (snap: ReturnType<typeof snapshotOf>, from: string, forwardClients: 'selected' | 'any') =>
    snap.decideConnection({ source: peer(snap, from), destination: peer(snap, '203.0.113.7'), port: 443, forwardClients });
  for (const enforcement of ['default', 'always', 'never'] as const) {
    const snap = snapshotOf(egress, endpoints, { enforcement });
    assert.equal(ask(snap, 'client', 'selected').verdict, 'FORWARDED', enforcement);
    assert.match(ask(snap, 'other', 'selected').reason, /^forward proxy client refused: no policy selects default\/other for egress/, enforcement);
    assert.match(ask(snap, '198.51.100.1', 'selected').reason, /^forward proxy client refused: world \(198\.51\.100\.1\) is not a registered endpoint/, enforcement);
    // Admitted unselected: nothing governs them except under `always`.
    assert.equal(ask(snap, '198.51.100.1', 'any').verdict, enforcement === 'always' ? 'DROPPED' : 'FORWARDED', enforcement);
  }
  // Not a forward-proxy request: no policy on either side means no policy applies (reverse listeners always have one).
  const always = snapshotOf(egress, endpoints, { enforcement: 'always' });
  assert.equal(always.decideConnection({ source: peer(always, '198.51.100.1'), destination: peer(always, '203.0.113.7'), port: 443 }).verdict, 'FORWARDED');
  const audit = snapshotOf(egress, endpoints, { audit: true });
  const a = ask(audit, 'other', 'selected');
  assert.deepEqual([a.verdict, a.allowed], ['AUDIT', true]);
  // A default-allow egress policy selects its subject too.
  const visibility = cnp('other-out', `endpointSelector: {matchLabels: {app: other}}\nenableDefaultDeny: {egress: false}\negress: [{toCIDR: [192.0.2.0/24]}]`);
  assert.equal(ask(snapshotOf([egress, visibility], endpoints), 'other', 'selected').verdict, 'FORWARDED');
});
