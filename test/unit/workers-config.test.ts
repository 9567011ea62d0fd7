// `workers:` in portcullis.yaml and `--workers` on `portcullis run`: auto by default, a count, or an error naming the
// line; and the compile step workers use reproduces the primary's revision from its sources alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { formatSourceError } from '../../src/policy/types.js';
import { compile, compileSources } from '../../src/runtime/compile.js';

const parse = (text: string) => parseConfigText(text, 'portcullis.yaml');

test('workers is auto unless set; a count from 1 to 256 is taken as is', () => {
  assert.equal(parse('enforcement: default\n').config!.workers, 'auto');
  assert.equal(parse('workers: auto\n').config!.workers, 'auto');
  assert.equal(parse('workers: 1\n').config!.workers, 1);
  assert.equal(parse('workers: 8\n').config!.workers, 8);
});

test('a workers value that is not auto or 1..256 is an error with its line and field', () => {
  for (const bad of ['0', '257', 'many', '1.5', '-2', 'true']) {
    const { config, errors } = parse(`audit: false\nworkers: ${bad}\n`);
    assert.equal(config, undefined, bad);
    assert.match(errors.map(formatSourceError).join('\n'), /portcullis\.yaml:2:\d+: workers: must be (auto or )?an integer from 1 to 256/, bad);
  }
});

test('a worker compiles the same revision from the primary sources, whatever the files hold by then', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sources-'));
  try {
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, cnp('/v1/first'));
    const configFile = join(dir, 'portcullis.yaml');
    writeFileSync(configFile, 'policies: [policy.yaml]\nendpoints:\n  - {name: deathstar, labels: {org: empire}, addresses: [127.0.0.9]}\n');
    const primary = compile(configFile, { revision: 3 }).compiled!;
    writeFileSync(policy, cnp('/v1/second')); // the disk changes after the primary read it
    const worker = compileSources(primary.sources, { revision: 3 }).compiled!;
    assert.equal(worker.snapshot.revision, 3);
    assert.deepEqual(JSON.stringify(worker.snapshot.policies), JSON.stringify(primary.snapshot.policies));
    assert.match(JSON.stringify(worker.snapshot.policies), /\/v1\/first/);
    assert.doesNotMatch(JSON.stringify(worker.snapshot.policies), /\/v1\/second/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function cnp(path: string): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: rule1}
spec:
  endpointSelector: {matchLabels: {org: empire}}
  ingress:
    - toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http: [{method: GET, path: "${path}"}]
`;
}
