// The endpoint registry and identities: longest-prefix source resolution, host/world, certificates,
// identity numbering (shared by equal label sets, stable across rebuilds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEndpointRegistry } from '../../src/policy/index.js';
import type { EndpointRegistry } from '../../src/policy/index.js';
import { endpoint } from '../helpers/policy-fixtures.js';
import { formatIp, parseCidr, parseIp } from '../../src/policy/ip.js';

function registry(endpoints: Parameters<typeof buildEndpointRegistry>[0], local = ['127.0.0.0/8', '::1', '192.0.2.10']): EndpointRegistry {
  const r = buildEndpointRegistry(endpoints, local);
  assert.deepEqual(r.errors, []);
  return r.registry!;
}

const reg = registry([
  endpoint('deathstar', { org: 'empire', class: 'deathstar' }, ['127.0.0.10']),
  endpoint('fleet', { org: 'empire', class: 'fleet' }, ['127.0.1.0/24', 'fd00:1::/64']),
  endpoint('flagship', { org: 'empire', class: 'flagship' }, ['127.0.1.128/25'], { identities: ['spiffe://empire.local/flagship'] }),
  endpoint('tiefighter', { org: 'empire', class: 'tiefighter' }, ['127.0.0.2'], { namespace: 'fleet', identities: ['tiefighter.empire.local'] }),
]);

test('source resolution: longest prefix among endpoints, then host for local addresses, then world', () => {
  assert.equal(reg.resolveAddress('127.0.0.10').name, 'deathstar');
  assert.equal(reg.resolveAddress('127.0.1.5').name, 'fleet');
  assert.equal(reg.resolveAddress('127.0.1.200').name, 'flagship');
  assert.equal(reg.resolveAddress('fd00:1::abcd').name, 'fleet');
  assert.equal(reg.resolveAddress('::ffff:127.0.0.10').name, 'deathstar');
  assert.equal(reg.resolveAddress('fe80::1%eth0').name, 'world');
  for (const a of ['127.0.0.1', '127.9.9.9', '::1', '192.0.2.10']) {
    const id = reg.resolveAddress(a);
    assert.deepEqual([id.id, id.name, id.labelStrings], [1, 'host', ['reserved:host']], a);
  }
  for (const a of ['8.8.8.8', '2001:db8::1', 'not-an-ip', '']) {
    const id = reg.resolveAddress(a);
    assert.deepEqual([id.id, id.name, id.namespace], [2, 'world', undefined], a);
  }
});

test('certificate identities, names and reserved identities', () => {
  assert.equal(reg.resolveCertificate(['other', 'spiffe://empire.local/flagship'])?.name, 'flagship');
  assert.equal(reg.resolveCertificate(['tiefighter.empire.local'])?.namespace, 'fleet');
  assert.equal(reg.resolveCertificate(['nobody']), undefined);
  assert.equal(reg.byName('fleet/tiefighter')?.name, 'tiefighter');
  assert.equal(reg.byName('tiefighter')?.namespace, 'fleet');
  assert.equal(reg.byName('default/tiefighter'), undefined);
  assert.equal(reg.list().length, 4);
  const ids: Record<string, number> = {
    host: 1, world: 2, unmanaged: 3, health: 4, init: 5, 'remote-node': 6, 'kube-apiserver': 7, ingress: 8, 'world-ipv4': 9, 'world-ipv6': 10,
  };
  for (const [name, id] of Object.entries(ids)) assert.equal(reg.reserved(name).id, id, name);
  assert.throws(() => reg.reserved('nope'), /unknown reserved identity/);
});

test('identities: k8s labels plus namespace and cluster; equal label sets share a number >= 256, stable across rebuilds', () => {
  const ds = reg.byName('deathstar')!.identity;
  assert.ok(ds.id >= 256);
  assert.deepEqual(ds.labelStrings, [
    'k8s:class=deathstar', 'k8s:io.cilium.k8s.policy.cluster=default', 'k8s:io.kubernetes.pod.namespace=default', 'k8s:org=empire',
  ]);
  assert.equal(ds.namespace, 'default');
  const again = registry([
    endpoint('tiefighter', { class: 'tiefighter', org: 'empire' }, ['127.0.0.2'], { namespace: 'fleet' }),
    endpoint('deathstar-2', { class: 'deathstar', org: 'empire' }, ['127.0.0.11']),
    endpoint('deathstar', { org: 'empire', class: 'deathstar' }, ['127.0.0.10']),
  ]);
  assert.equal(again.byName('deathstar')!.identity.id, ds.id);
  assert.equal(again.byName('deathstar-2')!.identity.id, ds.id); // same labels, same identity
  assert.equal(again.byName('deathstar-2')!.identity.name, 'deathstar-2');
  assert.equal(again.byName('tiefighter')!.identity.id, reg.byName('tiefighter')!.identity.id);
  assert.notEqual(again.byName('tiefighter')!.identity.id, ds.id);
});

test('endpoint validation errors', () => {
  const r = buildEndpointRegistry([
    endpoint('a', { app: 'a' }, ['127.0.0.1/40', 'x'], { line: 3 }),
    endpoint('a', { app: 'a' }, [], { line: 9 }),
    endpoint('b', { 'io.kubernetes.pod.namespace': 'x', app: 'a b' }, [], { line: 14, namespace: 'Bad_NS' }),
    endpoint('c', {}, ['10.0.0.0/8'], { line: 20, identities: ['dup'] }),
    endpoint('d', {}, ['10.0.0.0/8'], { line: 25, identities: ['dup'] }),
  ], []);
  assert.equal(r.registry, undefined);
  assert.deepEqual(r.errors.map((e) => `${e.line} ${e.path}: ${e.message.split(' (')[0]}`), [
    '3 endpoints[0].addresses[0]: invalid address "127.0.0.1/40"',
    '3 endpoints[0].addresses[1]: invalid address "x"',
    '9 endpoints[1].name: duplicate endpoint default/a',
    '14 endpoints[2].namespace: invalid namespace "Bad_NS": must be a lower-case DNS label',
    '14 endpoints[2].labels.io.kubernetes.pod.namespace: label io.kubernetes.pod.namespace is set by Portcullis',
    '14 endpoints[2].labels.app: invalid label value "a b": values are 0-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric',
    '25 endpoints[4].addresses[0]: address 10.0.0.0/8 is already used by endpoint default/c',
    '25 endpoints[4].identities[0]: identity "dup" is already used by endpoint default/c',
  ]);
});

test('IP helpers: canonical forms, IPv4-mapped addresses, host bits cleared', () => {
  assert.equal(formatIp(parseIp('::ffff:1.2.3.4')!), '1.2.3.4');
  assert.equal(formatIp(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
  assert.equal(formatIp(parseIp('::')!), '::');
  assert.equal(formatIp(parseIp('fe80::1:0:0:1')!), 'fe80::1:0:0:1');
  assert.equal(parseCidr('10.1.2.3/8')!.text, '10.0.0.0/8');
  assert.equal(parseCidr('2001:db8::1/32')!.text, '2001:db8::/32');
  assert.equal(parseCidr('1.2.3.4')!.text, '1.2.3.4/32');
  for (const bad of ['10.0.0.0/', '10.0.0.0/08', '1.2.3', '::ffff:1.2.3.4/120', 'a/8']) assert.equal(parseCidr(bad), undefined, bad);
});
