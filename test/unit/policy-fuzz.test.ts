// Robustness: mutated and randomly typed policy documents never throw - they load or they are reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { buildSnapshot, parsePolicyText } from '../../src/policy/index.js';
import type { PolicyDocument } from '../../src/policy/index.js';
import { STAR_WARS, connect, http, kafka } from '../helpers/policy-fixtures.js';

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED_DOC = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: fuzz, namespace: default}
specs:
- endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  labels: ["a=b"]
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}, matchExpressions: [{key: class, operator: In, values: [tiefighter]}]}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: POST, path: "/v1/.*", headers: ["X-A: b"], headerMatches: [{name: X-T, value: v, mismatch: ADD}]}]}
  - fromCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]
    toPorts: [{ports: [{port: "9092", endPort: 9093}], rules: {kafka: [{role: produce, topic: t}]}}]
  ingressDeny: [{fromEntities: [world], toPorts: [{ports: [{port: "22"}]}]}]
- endpointSelector: {}
  egress:
  - toFQDNs: [{matchPattern: "*.example.com"}]
    toPorts: [{ports: [{port: "443"}], serverNames: ["**.example.com"], terminatingTLS: {secret: {name: s}}}]
  - toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchName: example.com}]}}]
`;

const SCALARS: unknown[] = [null, true, 0, -1, 65536, '', ' ', '*', '0', '80', 'TCP', 'x'.repeat(300), '(', '[', '{}', 'constructor', '__proto__', 1.5, [], {}, [{}], { a: null }];

function randomValue(r: () => number, depth = 0): unknown {
  const x = r();
  if (depth > 2 || x < 0.6) return SCALARS[Math.floor(r() * SCALARS.length)];
  if (x < 0.8) return Array.from({ length: Math.floor(r() * 3) }, () => randomValue(r, depth + 1));
  const keys = ['port', 'ports', 'toPorts', 'rules', 'http', 'kafka', 'matchLabels', 'cidr', 'name', 'fromEndpoints', 'path', 'zzz'];
  return Object.fromEntries(Array.from({ length: Math.floor(r() * 3) }, () => [keys[Math.floor(r() * keys.length)]!, randomValue(r, depth + 1)]));
}

/** Replaces one randomly chosen node of the parsed document with a random value. */
function mutate(doc: unknown, r: () => number): unknown {
  if (doc === null || typeof doc !== 'object') return randomValue(r);
  const entries = Array.isArray(doc) ? doc.map((v, i) => [i, v] as const) : Object.entries(doc);
  if (entries.length === 0 || r() < 0.15) return randomValue(r);
  const [k, v] = entries[Math.floor(r() * entries.length)]!;
  const copy = (Array.isArray(doc) ? [...doc] : { ...doc }) as Record<string | number, unknown>;
  copy[k] = mutate(v, r);
  return copy;
}

function exercise(documents: PolicyDocument[]): void {
  const built = buildSnapshot({ documents, endpoints: STAR_WARS, enforcement: 'default', audit: false, revision: 1, localAddresses: ['127.0.0.0/8'] });
  if (!built.snapshot) return;
  for (const [from, to, port] of [['tiefighter', 'deathstar', 80], ['10.2.3.4', 'deathstar', 9092], ['deathstar', '203.0.113.1', 443]] as const) {
    const c = connect(built.snapshot, from, to, port, 'a.example.com', ['www.example.com']);
    assert.equal(typeof c.reason, 'string');
    c.decideHttp(http('POST', '/v1/x', 'h', [['x-a', 'b']]));
    c.decideKafka(kafka(0, ['t', 'u']));
  }
}

test('the seed document is valid', () => {
  const r = parsePolicyText(SEED_DOC, 'seed.yaml');
  assert.deepEqual(r.errors, []);
  exercise(r.documents);
});

test('structural mutations: 3000 documents with a random node replaced never throw', () => {
  const r = rng(20240601);
  const seed = parse(SEED_DOC) as unknown;
  let valid = 0;
  let invalid = 0;
  for (let i = 0; i < 3000; i++) {
    const text = stringify(mutate(seed, r));
    const result = parsePolicyText(text, `m${i}.yaml`);
    for (const e of result.errors) {
      assert.ok(e.line >= 1 && e.column >= 1 && e.message.length > 0, JSON.stringify(e));
      assert.ok(!/\[object Object\]|undefined|function /.test(e.message), `bad message: ${e.message}`);
    }
    if (result.errors.length === 0) valid++;
    else invalid++;
    exercise(result.documents);
  }
  assert.ok(valid > 0 && invalid > 0, `valid ${valid}, invalid ${invalid}`);
});

test('textual mutations: truncated and corrupted YAML and the demo files never throw', () => {
  const r = rng(7);
  const texts = [SEED_DOC, readFileSync('policies/starwars/sw_l3_l4_l7_policy.yaml', 'utf8')];
  for (let i = 0; i < 2000; i++) {
    const base = texts[i % texts.length]!;
    const at = Math.floor(r() * base.length);
    const junk = ['', ':', '- ', '{', '"', '&a ', '*a', '\t', '\n  ', '!!binary '][Math.floor(r() * 10)]!;
    const text = r() < 0.3 ? base.slice(0, at) : base.slice(0, at) + junk + base.slice(at + Math.floor(r() * 4));
    const result = parsePolicyText(text, 't.yaml');
    exercise(result.documents);
  }
});
