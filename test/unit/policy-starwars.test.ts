// The Cilium Star Wars demo (reference §8.1) with the verbatim policy files from policies/starwars.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { STAR_WARS, connect, http, snapshotOf } from '../helpers/policy-fixtures.js';
import { loadPolicyPaths } from '../../src/policy/index.js';

const L3_L4 = 'policies/starwars/sw_l3_l4_policy.yaml';
const L7 = 'policies/starwars/sw_l3_l4_l7_policy.yaml';

test('both demo files load without errors', () => {
  const r = loadPolicyPaths([L3_L4, L7]);
  assert.deepEqual(r.errors, []);
  assert.equal(r.documents.length, 2);
  assert.deepEqual(r.files, [L3_L4, L7]);
});

test('L3/L4 policy: tiefighter reaches the deathstar on port 80, xwing is dropped at L3/L4', () => {
  const snap = snapshotOf(readFileSync(L3_L4, 'utf8'), STAR_WARS);
  const tie = connect(snap, 'tiefighter', 'deathstar', 80);
  assert.equal(tie.verdict, 'FORWARDED');
  assert.equal(tie.l7, 'none');
  assert.equal(tie.decideHttp(http('PUT', '/v1/exhaust-port')).verdict, 'FORWARDED');
  assert.match(tie.reason, /allowed by ingress rule spec\.ingress\[0\]\.toPorts\[0\] of CiliumNetworkPolicy default\/rule1/);
  assert.equal(tie.allowedBy[0]?.policy.name, 'rule1');

  const xwing = connect(snap, 'xwing', 'deathstar', 80);
  assert.equal(xwing.verdict, 'DROPPED');
  assert.equal(xwing.allowed, false);
  assert.match(xwing.reason, /^no ingress rule of default\/deathstar allows default\/xwing on port 80/);
  assert.equal(connect(snap, 'tiefighter', 'deathstar', 443).verdict, 'DROPPED');
});

test('L7 policy: POST /v1/request-landing allowed, PUT /v1/exhaust-port denied, xwing still dropped', () => {
  const snap = snapshotOf(readFileSync(L7, 'utf8'), STAR_WARS);
  const tie = connect(snap, 'tiefighter', 'deathstar', 80);
  assert.equal(tie.verdict, 'FORWARDED');
  assert.equal(tie.l7, 'http');
  const landing = tie.decideHttp(http('POST', '/v1/request-landing'));
  assert.equal(landing.verdict, 'FORWARDED');
  assert.equal(landing.allowedBy[0]?.path, 'spec.ingress[0].toPorts[0].rules.http[0]');
  assert.equal(landing.allowedBy[0]?.line, 21);
  const exhaust = tie.decideHttp(http('PUT', '/v1/exhaust-port'));
  assert.equal(exhaust.verdict, 'DROPPED');
  assert.equal(exhaust.allowed, false);
  assert.match(exhaust.reason, /^L7: no http rule matched PUT \/v1\/exhaust-port \(rules: POST \/v1\/request-landing\)/);
  assert.equal(connect(snap, 'xwing', 'deathstar', 80).verdict, 'DROPPED');
});

test('loading both files at once is an error: two policies named default/rule1', () => {
  const r = loadPolicyPaths(['policies/starwars']);
  assert.deepEqual(r.errors, []);
  assert.throws(() => snapshotOf([readFileSync(L3_L4, 'utf8'), readFileSync(L7, 'utf8')], STAR_WARS), /duplicate CiliumNetworkPolicy default\/rule1/);
});
