// Peers other than endpoint selectors: entities, CIDR/CIDRSet with except (IPv4 and IPv6), toFQDNs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cnp, connect, endpoint, snapshotOf } from '../helpers/policy-fixtures.js';
import { compileMatchName, compileMatchPattern } from '../../src/policy/names.js';
import type { PolicySnapshot } from '../../src/policy/index.js';

const endpoints = [
  endpoint('api', { app: 'api' }, ['127.0.0.10', 'fd00::10']),
  endpoint('client', { app: 'client' }, ['127.0.0.20']),
  endpoint('other', { app: 'other' }, ['127.0.0.30'], { namespace: 'elsewhere' }),
];
const api = (ingress: string) => snapshotOf(cnp('api', `endpointSelector: {matchLabels: {app: api}}\ningress:\n${ingress}`), endpoints);
const verdict = (snap: PolicySnapshot, from: string, port = 80) => connect(snap, from, 'api', port).verdict;

test('entities: world, host, cluster, all, world-ipv4/ipv6, none', () => {
  const cases: Array<[string, Record<string, 'FORWARDED' | 'DROPPED'>]> = [
    ['world', { '203.0.113.7': 'FORWARDED', '2001:db8::7': 'FORWARDED', '127.0.0.1': 'DROPPED', client: 'DROPPED' }],
    ['host', { '127.0.0.1': 'FORWARDED', '::1': 'FORWARDED', '203.0.113.7': 'DROPPED', client: 'DROPPED' }],
    ['cluster', { client: 'FORWARDED', 'elsewhere/other': 'FORWARDED', '127.0.0.1': 'FORWARDED', '203.0.113.7': 'DROPPED' }],
    ['all', { client: 'FORWARDED', '127.0.0.1': 'FORWARDED', '203.0.113.7': 'FORWARDED' }],
    ['world-ipv4', { '203.0.113.7': 'FORWARDED', '2001:db8::7': 'DROPPED' }],
    ['world-ipv6', { '203.0.113.7': 'DROPPED', '2001:db8::7': 'FORWARDED' }],
    ['none', { '203.0.113.7': 'DROPPED', client: 'DROPPED', '127.0.0.1': 'DROPPED' }],
  ];
  for (const [entity, expected] of cases) {
    const snap = api(`- fromEntities: [${entity}]`);
    for (const [from, v] of Object.entries(expected)) assert.equal(verdict(snap, from), v, `${entity} from ${from}`);
  }
});

test('fromCIDR and fromCIDRSet with except, IPv4', () => {
  const snap = api(`
- fromCIDR: [198.51.100.0/24]
- fromCIDRSet:
  - cidr: 10.0.0.0/8
    except: [10.96.0.0/12, 10.1.2.3/32]`);
  assert.equal(verdict(snap, '198.51.100.200'), 'FORWARDED');
  assert.equal(verdict(snap, '198.51.101.1'), 'DROPPED');
  assert.equal(verdict(snap, '10.200.0.1'), 'FORWARDED');
  assert.equal(verdict(snap, '10.100.0.1'), 'DROPPED'); // in 10.96.0.0/12
  assert.equal(verdict(snap, '10.1.2.3'), 'DROPPED');
  assert.equal(verdict(snap, '10.1.2.4'), 'FORWARDED');
  assert.equal(verdict(snap, '::ffff:10.200.0.1'), 'FORWARDED'); // IPv4-mapped IPv6 is IPv4
});

test('CIDR rules, IPv6; a bare address is a /128', () => {
  const snap = api(`
- fromCIDRSet:
  - cidr: 2001:db8::/32
    except: ["2001:db8:bad::/48"]
- fromCIDR: ["2001:db9::1"]`);
  assert.equal(verdict(snap, '2001:db8:1::5'), 'FORWARDED');
  assert.equal(verdict(snap, '2001:db8:bad::5'), 'DROPPED');
  assert.equal(verdict(snap, '2001:db9::1'), 'FORWARDED');
  assert.equal(verdict(snap, '2001:db9::2'), 'DROPPED');
  assert.equal(verdict(snap, '198.51.100.1'), 'DROPPED');
});

test('CIDR rules only apply to world: registered endpoints and the host are not selected by address', () => {
  const snap = api(`- fromCIDR: [127.0.0.0/8, 0.0.0.0/0]`);
  assert.equal(verdict(snap, 'client'), 'DROPPED');
  assert.equal(verdict(snap, '127.0.0.1'), 'DROPPED');
  assert.equal(verdict(snap, '8.8.8.8'), 'FORWARDED');
});

test('0.0.0.0/0 also selects world peers that carry no address', () => {
  const snap = api(`- fromCIDR: [0.0.0.0/0]`);
  const d = snap.decideConnection({ source: { identity: snap.endpoints.reserved('world') }, destination: { identity: snap.endpoints.byName('api')!.identity }, port: 80 });
  assert.equal(d.verdict, 'FORWARDED');
  const narrow = api(`- fromCIDR: [10.0.0.0/8]`);
  const d2 = narrow.decideConnection({ source: { identity: narrow.endpoints.reserved('world') }, destination: { identity: narrow.endpoints.byName('api')!.identity }, port: 80 });
  assert.equal(d2.verdict, 'DROPPED');
});

test('a peer field that is present but empty selects nothing; no peer at all with toPorts selects every peer', () => {
  const empty = api(`- fromEndpoints: []\n  toPorts: [{ports: [{port: "80"}]}]`);
  assert.equal(verdict(empty, 'client'), 'DROPPED');
  const wildcard = api(`- toPorts: [{ports: [{port: "80"}]}]`);
  for (const from of ['client', 'elsewhere/other', '127.0.0.1', '203.0.113.9']) assert.equal(verdict(wildcard, from), 'FORWARDED', from);
  assert.equal(verdict(wildcard, 'client', 81), 'DROPPED');
});

test('toFQDNs matchName and matchPattern (§7.2) against the names the destination was reached by', () => {
  const snap = snapshotOf(cnp('egress', `
endpointSelector: {matchLabels: {app: client}}
egress:
- toFQDNs:
  - matchName: api.github.com
  - matchPattern: "*.cilium.io"
  - matchPattern: "**.example.org"
  toPorts: [{ports: [{port: "443"}]}]`), endpoints);
  const to = (names: string[], address = '140.82.112.5') =>
    snap.decideConnection({ source: { identity: snap.endpoints.byName('client')!.identity }, destination: { identity: snap.endpoints.resolveAddress(address), address, names }, port: 443 }).verdict;
  assert.equal(to(['api.github.com']), 'FORWARDED');
  assert.equal(to(['API.GitHub.com.']), 'FORWARDED');
  assert.equal(to(['github.com']), 'DROPPED');
  assert.equal(to(['docs.cilium.io']), 'FORWARDED');
  assert.equal(to(['cilium.io']), 'DROPPED');
  assert.equal(to(['a.b.cilium.io']), 'DROPPED');
  assert.equal(to(['a.example.org']), 'FORWARDED');
  assert.equal(to(['a.b.c.example.org']), 'FORWARDED');
  assert.equal(to(['example.org']), 'DROPPED');
  assert.equal(to([]), 'DROPPED');
  // A local (host) destination reached by name still matches; a registered endpoint never does.
  assert.equal(to(['api.github.com'], '127.0.0.99'), 'FORWARDED');
  assert.equal(to(['api.github.com'], '127.0.0.10'), 'DROPPED');
});

test('matchPattern wildcard table', () => {
  const table: Array<[string, string, boolean]> = [
    ['*', 'anything.at.all', true],
    ['*', 'x', true],
    ['*.cilium.io', 'sub.cilium.io', true],
    ['*.cilium.io', 'cilium.io', false],
    ['*.cilium.io', 'a.b.cilium.io', false],
    ['part*ial.com', 'partial.com', true],
    ['part*ial.com', 'part-extra-ial.com', true],
    ['part*ial.com', 'part.x.ial.com', false],
    ['**.cilium.io', 'a.cilium.io', true],
    ['**.cilium.io', 'a.b.cilium.io', true],
    ['**.cilium.io', 'cilium.io', false],
    ['cilium.io', 'CILIUM.IO', true],
    ['special*service.api.cilium.io', 'special-1-service.api.cilium.io', true],
  ];
  for (const [pattern, name, expected] of table) assert.equal(compileMatchPattern(pattern).matches(name), expected, `${pattern} vs ${name}`);
  assert.equal(compileMatchName('cilium.io.').matches('Cilium.IO'), true);
  assert.equal(compileMatchName('cilium.io').matches('www.cilium.io'), false);
});
