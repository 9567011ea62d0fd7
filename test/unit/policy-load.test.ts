// Loading policy paths: folders (recursive, *.yaml/*.yml/*.json), files, multi-document files, JSON,
// and unreadable paths reported as located errors instead of exceptions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicyPaths } from '../../src/policy/index.js';
import { cnp } from '../helpers/policy-fixtures.js';

let dir = '';
const policy = (name: string) => cnp(name, `endpointSelector: {matchLabels: {app: ${name}}}\ningress: [{}]`);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-policy-load-'));
  mkdirSync(join(dir, 'nested', 'deeper'), { recursive: true });
  mkdirSync(join(dir, '.hidden'));
  writeFileSync(join(dir, 'a.yaml'), `${policy('a1')}---\n${policy('a2')}---\n# trailing empty document\n`);
  writeFileSync(join(dir, 'nested', 'b.yml'), policy('b'));
  writeFileSync(join(dir, 'nested', 'deeper', 'c.json'), JSON.stringify({
    apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'c' },
    spec: { endpointSelector: {}, ingress: [{ fromEntities: ['host'] }] },
  }));
  writeFileSync(join(dir, 'nested', 'notes.txt'), 'not a policy');
  writeFileSync(join(dir, 'nested', 'b.expect.yaml'), 'from: a\nto: b\ncases: [{expect: allowed}]\n');
  writeFileSync(join(dir, '.hidden', 'h.yaml'), policy('hidden'));
  writeFileSync(join(dir, '.editor-swap.yaml'), 'garbage: [');
  writeFileSync(join(dir, 'bad.yaml'), cnp('bad', `endpointSelector: {}\ningress: [{fromEntities: [nobody]}]`));
  symlinkSync(join(dir, 'missing-target.yaml'), join(dir, 'dangling.yaml'));
  symlinkSync(dir, join(dir, 'nested', 'loop'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('a folder is read recursively; dot-files, other extensions, `portcullis test` expectation files and symlink loops are skipped', () => {
  const r = loadPolicyPaths([dir]);
  assert.deepEqual(r.documents.map((d) => d.name).sort(), ['a1', 'a2', 'b', 'c']);
  assert.deepEqual(r.files.map((f) => f.slice(dir.length + 1)), ['a.yaml', 'bad.yaml', 'nested/b.yml', 'nested/deeper/c.json']);
  assert.deepEqual(r.errors.map((e) => [e.file.slice(dir.length + 1), e.line, e.path, e.message.split(':')[0]]), [
    ['dangling.yaml', 1, '', 'cannot read'],
    ['bad.yaml', 7, 'spec.ingress[0].fromEntities[0]', 'unsupported entity'],
  ]);
  const a2 = r.documents.find((d) => d.name === 'a2')!;
  assert.equal(a2.line, 9);
  assert.equal(a2.file, join(dir, 'a.yaml'));
});

test('files are read whatever their extension; a missing path is an error, not an exception', () => {
  const r = loadPolicyPaths([join(dir, 'nested', 'b.yml'), join(dir, 'nested', 'notes.txt'), join(dir, 'nope')]);
  assert.deepEqual(r.documents.map((d) => d.name), ['b']);
  assert.equal(r.errors.length, 2);
  assert.equal(r.errors[0]!.file, join(dir, 'nope'));
  assert.match(r.errors[0]!.message, /^cannot read: ENOENT/);
  assert.equal(r.errors[1]!.file, join(dir, 'nested', 'notes.txt'));
  assert.match(r.errors[1]!.message, /^expected a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy document \(a map\), got a scalar/);
});

test('the same file named twice is read once', () => {
  const r = loadPolicyPaths([join(dir, 'a.yaml'), dir]);
  assert.equal(r.files.filter((f) => f.endsWith('a.yaml')).length, 1);
  assert.equal(r.documents.filter((d) => d.name === 'a1').length, 1);
});
