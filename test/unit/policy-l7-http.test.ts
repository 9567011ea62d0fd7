// HTTP L7 rules: RE2 full-match semantics, what is matched (path with query, method case, host with
// port, headers quirks), headerMatches actions, L7 merging, linear-time regexes and the literal index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cnp, connect, endpoint, http, snapshotOf } from '../helpers/policy-fixtures.js';
import { compileFullMatch, literalOf } from '../../src/policy/regex.js';
import type { ConnectionDecision } from '../../src/policy/index.js';

const endpoints = [
  endpoint('server', { app: 'server' }, ['127.0.0.10']),
  endpoint('client', { app: 'client' }, ['127.0.0.20']),
  endpoint('other', { app: 'other' }, ['127.0.0.30']),
];

function withRules(rules: string, from = 'client'): ConnectionDecision {
  const snap = snapshotOf(cnp('l7', `
endpointSelector: {matchLabels: {app: server}}
ingress:
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts:
  - ports: [{port: "80", protocol: TCP}]
    rules:
      http:
${rules.replace(/^\n/, '').split('\n').map((l) => `      ${l}`).join('\n')}`), endpoints);
  return connect(snap, from, 'server', 80);
}
const verdict = (c: ConnectionDecision, ...args: Parameters<typeof http>) => c.decideHttp(http(...args)).verdict;

test('path is a full match and includes the query string', () => {
  const c = withRules(`- path: /public`);
  assert.equal(verdict(c, 'GET', '/public'), 'FORWARDED');
  assert.equal(verdict(c, 'GET', '/public/x'), 'DROPPED');
  assert.equal(verdict(c, 'GET', '/publicity'), 'DROPPED');
  assert.equal(verdict(c, 'GET', '/public?x=1'), 'DROPPED');
  assert.equal(verdict(c, 'GET', '/x/public'), 'DROPPED');
  const prefix = withRules(`- path: "/v1/.*"`);
  assert.equal(verdict(prefix, 'GET', '/v1/'), 'FORWARDED');
  assert.equal(verdict(prefix, 'GET', '/v1/a?b=c'), 'FORWARDED');
  assert.equal(verdict(prefix, 'GET', '/v2/a'), 'DROPPED');
  const anchored = withRules(`- {method: ^PUT$, path: "^/spaceship_diagnostics/stats/.*$"}`);
  assert.equal(verdict(anchored, 'PUT', '/spaceship_diagnostics/stats/1'), 'FORWARDED');
  assert.equal(verdict(anchored, 'PUT', '/x/spaceship_diagnostics/stats/1'), 'DROPPED');
  const alternation = withRules(`- path: "/a|/ab"`);
  assert.equal(verdict(alternation, 'GET', '/ab'), 'FORWARDED');
  assert.equal(verdict(alternation, 'GET', '/abc'), 'DROPPED');
});

test('method is case-sensitive; HEAD is not GET', () => {
  const c = withRules(`- method: GET`);
  assert.equal(verdict(c, 'GET', '/'), 'FORWARDED');
  assert.equal(verdict(c, 'get', '/'), 'DROPPED');
  assert.equal(verdict(c, 'HEAD', '/'), 'DROPPED');
  assert.equal(verdict(withRules(`- method: "GET|HEAD"`), 'HEAD', '/'), 'FORWARDED');
  assert.equal(verdict(withRules(`- method: "(?i)get"`), 'get', '/'), 'FORWARDED');
});

test('host is matched verbatim, port included; an unescaped dot matches any character', () => {
  const c = withRules(`- host: "api\\\\.example\\\\.com"`);
  assert.equal(verdict(c, 'GET', '/', 'api.example.com'), 'FORWARDED');
  assert.equal(verdict(c, 'GET', '/', 'api.example.com:8080'), 'DROPPED');
  assert.equal(verdict(c, 'GET', '/', 'apiXexample.com'), 'DROPPED');
  const withPort = withRules(`- host: "api\\\\.example\\\\.com(:[0-9]+)?"`);
  assert.equal(verdict(withPort, 'GET', '/', 'api.example.com:8080'), 'FORWARDED');
  const dotted = withRules(`- host: foo.bar.com`);
  assert.equal(verdict(dotted, 'GET', '/', 'fooXbar.com'), 'FORWARDED');
});

test('headers: Cilium quirks (first space splits, trailing colon trimmed, no space = presence, exact value)', () => {
  const c = withRules(`- headers: ["X-My-Header: true", "X-Present"]`);
  const h = (headers: Array<[string, string]>) => c.decideHttp(http('GET', '/', 'h', headers)).verdict;
  assert.equal(h([['x-my-header', 'true'], ['x-present', '']]), 'FORWARDED');
  assert.equal(h([['x-my-header', 'true']]), 'DROPPED');
  assert.equal(h([['x-my-header', 'True'], ['x-present', '1']]), 'DROPPED');
  assert.equal(h([['x-my-header', 'true '], ['x-present', '1']]), 'DROPPED');

  // No space: a presence match on a header literally named "X-My-Header:true".
  const noSpace = withRules(`- headers: ["X-My-Header:true"]`);
  assert.equal(noSpace.decideHttp(http('GET', '/', 'h', [['x-my-header', 'true']])).verdict, 'DROPPED');
  assert.equal(noSpace.decideHttp(http('GET', '/', 'h', [['x-my-header:true', 'anything']])).verdict, 'FORWARDED');
  // Only the first space is consumed: the value keeps the second one.
  const twoSpaces = withRules(`- headers: ["X-A:  b"]`);
  assert.equal(twoSpaces.decideHttp(http('GET', '/', 'h', [['x-a', ' b']])).verdict, 'FORWARDED');
  assert.equal(twoSpaces.decideHttp(http('GET', '/', 'h', [['x-a', 'b']])).verdict, 'DROPPED');
});

test('duplicate headers are joined with "," for matching', () => {
  const c = withRules(`- headers: ["X-Role: admin,ops"]`);
  assert.equal(c.decideHttp(http('GET', '/', 'h', [['x-role', 'admin'], ['x-other', 'z'], ['x-role', 'ops']])).verdict, 'FORWARDED');
  assert.equal(c.decideHttp(http('GET', '/', 'h', [['x-role', 'admin']])).verdict, 'DROPPED');
  // A single matching value does not hide a second, different one.
  const single = withRules(`- headers: ["X-Role: admin"]`);
  assert.equal(single.decideHttp(http('GET', '/', 'h', [['x-role', 'admin'], ['x-role', 'root']])).verdict, 'DROPPED');
});

test('headerMatches without mismatch are hard requirements; with LOG/ADD/DELETE/REPLACE they never deny', () => {
  const hard = withRules(`- headerMatches: [{name: X-Token, value: abc}, {name: X-Present}]`);
  assert.equal(hard.decideHttp(http('GET', '/', 'h', [['x-token', 'abc'], ['x-present', '']])).verdict, 'FORWARDED');
  assert.equal(hard.decideHttp(http('GET', '/', 'h', [['x-token', 'abd'], ['x-present', '']])).verdict, 'DROPPED');

  const actions = withRules(`
- path: /a
  headerMatches:
  - {name: X-Log, value: v, mismatch: LOG}
  - {name: X-Add, value: added, mismatch: ADD}
  - {name: X-Del, value: good, mismatch: DELETE}
  - {name: X-Rep, value: fixed, mismatch: REPLACE}`);
  const ok = actions.decideHttp(http('GET', '/a', 'h', [['x-log', 'v'], ['x-add', 'added'], ['x-del', 'good'], ['x-rep', 'fixed']]));
  assert.equal(ok.verdict, 'FORWARDED');
  assert.deepEqual([ok.headerActions, ok.missingHeaders, ok.rejectedHeaders], [[], [], []]);

  const wrong = actions.decideHttp(http('GET', '/a', 'h', [['x-log', 'w'], ['x-del', 'bad'], ['x-rep', 'old']]));
  assert.equal(wrong.verdict, 'FORWARDED');
  assert.deepEqual(wrong.headerActions, [
    { op: 'add', name: 'x-add', value: 'added' },
    { op: 'delete', name: 'x-del', value: '' },
    { op: 'replace', name: 'x-rep', value: 'fixed' },
  ]);
  assert.deepEqual(wrong.missingHeaders, ['x-log', 'x-add', 'x-rep']);
  assert.deepEqual(wrong.rejectedHeaders, ['x-del', 'x-rep']);

  // Absent headers: DELETE has nothing to delete; REPLACE adds without rejecting.
  const absent = actions.decideHttp(http('GET', '/a', 'h', []));
  assert.deepEqual(absent.headerActions.map((a) => a.op), ['add', 'replace']);
  assert.deepEqual(absent.rejectedHeaders, []);
  // Header actions only come from rules whose other constraints matched.
  assert.equal(actions.decideHttp(http('GET', '/b')).verdict, 'DROPPED');
});

test('L7 merging: rules of several applicable entries are unioned; an L4 or L3 allow for the peer cancels them', () => {
  const rule = (extra: string) => cnp('merge', `
endpointSelector: {matchLabels: {app: server}}
ingress:
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "80"}], rules: {http: [{method: GET}]}}]
- toPorts: [{ports: [{port: "80"}], rules: {http: [{method: POST, path: /submit}]}}]
${extra}`);
  const union = connect(snapshotOf(rule(''), endpoints), 'client', 'server', 80);
  assert.equal(union.l7, 'http');
  assert.equal(verdict(union, 'GET', '/x'), 'FORWARDED');
  assert.equal(verdict(union, 'POST', '/submit'), 'FORWARDED');
  assert.equal(verdict(union, 'DELETE', '/x'), 'DROPPED');
  const otherPeer = connect(snapshotOf(rule(''), endpoints), 'other', 'server', 80);
  assert.equal(verdict(otherPeer, 'GET', '/x'), 'DROPPED'); // the GET rule is for the client only
  assert.equal(verdict(otherPeer, 'POST', '/submit'), 'FORWARDED');

  const l4 = snapshotOf(rule(`- fromEndpoints: [{matchLabels: {app: client}}]\n  toPorts: [{ports: [{port: "80"}]}]`), endpoints);
  assert.equal(connect(l4, 'client', 'server', 80).l7, 'none');
  assert.equal(verdict(connect(l4, 'other', 'server', 80), 'DELETE', '/'), 'DROPPED'); // still restricted for other peers
  const range = snapshotOf(rule(`- fromEndpoints: [{matchLabels: {app: client}}]\n  toPorts: [{ports: [{port: "1", endPort: 1000}]}]`), endpoints);
  assert.equal(connect(range, 'client', 'server', 80).l7, 'none');
  const l3 = snapshotOf(rule(`- fromEndpoints: [{matchLabels: {app: client}}]`), endpoints);
  assert.equal(connect(l3, 'client', 'server', 80).l7, 'none');
  const port0 = snapshotOf(rule(`- fromEntities: [all]\n  toPorts: [{ports: [{port: "0"}]}]`), endpoints);
  assert.equal(verdict(connect(port0, 'other', 'server', 80), 'DELETE', '/'), 'FORWARDED');
});

test('an L4 allow does not drop header actions of other rules on the port', () => {
  const snap = snapshotOf(cnp('actions', `
endpointSelector: {matchLabels: {app: server}}
ingress:
- toPorts: [{ports: [{port: "80"}], rules: {http: [{headerMatches: [{name: X-Tenant, value: t1, mismatch: ADD}]}]}}]
- fromEndpoints: [{matchLabels: {app: client}}]
  toPorts: [{ports: [{port: "80"}]}]`), endpoints);
  const c = connect(snap, 'client', 'server', 80);
  assert.equal(c.l7, 'http');
  const d = c.decideHttp(http('DELETE', '/anything'));
  assert.equal(d.verdict, 'FORWARDED');
  assert.deepEqual(d.headerActions, [{ op: 'add', name: 'x-tenant', value: 't1' }]);
});

test('http: [{}] restricts nothing but keeps the connection at L7 (visibility)', () => {
  const c = withRules(`- {}`);
  assert.equal(c.l7, 'http');
  assert.equal(verdict(c, 'PATCH', '/anything?x'), 'FORWARDED');
});

test('gRPC calls are POST /package.Service/Method', () => {
  const c = withRules(`
- {method: POST, path: /cloudcity.DoorManager/GetName}
- {method: POST, path: "/cloudcity.DoorManager/GetLocation"}`);
  assert.equal(verdict(c, 'POST', '/cloudcity.DoorManager/GetName'), 'FORWARDED');
  assert.equal(verdict(c, 'POST', '/cloudcity.DoorManager/SetAccessCode'), 'DROPPED');
  assert.equal(verdict(c, 'GET', '/cloudcity.DoorManager/GetName'), 'DROPPED');
});

test('regexes run in linear time: (a+)+$ against a 50 KB path answers quickly and correctly', () => {
  const c = withRules(`- path: "/(a+)+$"`);
  const start = process.hrtime.bigint();
  assert.equal(verdict(c, 'GET', `/${'a'.repeat(50_000)}!`), 'DROPPED');
  assert.equal(verdict(c, 'GET', `/${'a'.repeat(50_000)}`), 'FORWARDED');
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.ok(ms < 10_000, `took ${ms} ms`);
  // Reasons stay short even for huge paths.
  assert.ok(c.decideHttp(http('GET', `/${'b'.repeat(50_000)}`)).reason.length < 1000);
});

test('literal patterns become string comparisons; regex syntax does not', () => {
  assert.equal(literalOf('/v1/request-landing'), '/v1/request-landing');
  assert.equal(literalOf('^PUT$'), 'PUT');
  assert.equal(literalOf('/path1$'), '/path1');
  assert.equal(literalOf('/a\\.b'), '/a.b');
  assert.equal(literalOf('/a\\$'), '/a$');
  assert.equal(literalOf('/a.b'), undefined);
  assert.equal(literalOf('/a\\d'), undefined);
  assert.equal(literalOf('/a*'), undefined);
  assert.equal(literalOf('/caf\\é'), undefined);
  assert.ok('error' in compileFullMatch('/caf\\é'));
  const m = compileFullMatch('/a\\$');
  assert.ok(!('error' in m) && m.matches('/a$') && !m.matches('/a'));
  const err = compileFullMatch('/v1/(abc');
  assert.deepEqual(err, { error: 'invalid RE2 regex: missing closing )' });
});

test('10,000 literal rules cost about the same per request as one (indexed by path)', () => {
  const rules = Array.from({ length: 10_000 }, (_, i) => `- {method: GET, path: /item/${i}}`).join('\n');
  const big = withRules(rules);
  const one = withRules(`- {method: GET, path: /item/9999}`);
  assert.equal(verdict(big, 'GET', '/item/9999'), 'FORWARDED');
  assert.equal(verdict(big, 'GET', '/item/10000'), 'DROPPED');
  assert.equal(verdict(big, 'POST', '/item/5'), 'DROPPED');
  const time = (c: ConnectionDecision) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 20_000; i++) c.decideHttp(http('GET', '/item/9999'));
    return Number(process.hrtime.bigint() - start);
  };
  time(big);
  time(one);
  // Generous bound (shared CI machine): a linear scan would be ~10,000x slower.
  assert.ok(time(big) < time(one) * 20 + 50e6, 'indexed lookup');
  // The allowed decision for a rule is shared, not rebuilt per request.
  assert.equal(big.decideHttp(http('GET', '/item/1')), big.decideHttp(http('GET', '/item/1')));
});

test('HTTP requests on a connection restricted by Kafka rules are denied, not waved through', () => {
  const snap = snapshotOf(cnp('k', `
endpointSelector: {matchLabels: {app: server}}
ingress:
- toPorts: [{ports: [{port: "9092"}], rules: {kafka: [{role: produce}]}}]`), endpoints);
  const c = connect(snap, 'client', 'server', 9092);
  assert.equal(c.l7, 'kafka');
  const d = c.decideHttp(http('GET', '/'));
  assert.equal(d.verdict, 'DROPPED');
  assert.match(d.reason, /kafka rules; an HTTP request cannot match them/);
});
