// bench:workers is proxy-bound only if every request walks all of walkedRegexPolicy's rules: none of them may be a
// literal path (literal paths are indexed, one Map lookup for thousands), and the landing must be allowed by the
// last rule alone, so the matcher, which tries rules in order and stops at the first match, tries every one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { walkedRegexPolicy } from '../../bench/lib/policies.js';
import { literalOf } from '../../src/policy/regex.js';
import { STAR_WARS, connect, http, snapshotOf } from '../helpers/policy-fixtures.js';

const COUNT = 500;
const yaml = walkedRegexPolicy(COUNT);

test('every path of the walked policy is a regex, not an indexed literal', () => {
  const paths = [...yaml.matchAll(/path: "([^"]*)"/g)].map((m) => m[1]!);
  assert.equal(paths.length, COUNT);
  assert.deepEqual(paths.filter((p) => literalOf(p) !== undefined), []);
});

test('the tiefighter lands by the last rule only, and what no rule allows is dropped', () => {
  const c = connect(snapshotOf(yaml, STAR_WARS), 'tiefighter', 'deathstar', 80);
  const landing = c.decideHttp(http('POST', '/v1/request-landing'));
  assert.equal(landing.verdict, 'FORWARDED');
  assert.deepEqual(landing.allowedBy.map((r) => r.path), [`spec.ingress[0].toPorts[0].rules.http[${COUNT - 1}]`]);
  assert.equal(c.decideHttp(http('PUT', '/v1/exhaust-port')).verdict, 'DROPPED');
  assert.equal(c.decideHttp(http('GET', '/v1/request-landing')).verdict, 'DROPPED');
});
