// The YAML-with-positions helper (src/config/yaml-source.ts) that policy and config errors rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childPath, parseYamlSource } from '../../src/config/yaml-source.js';

const TEXT = `a: 1
b:
  list: [1, "two", null]
  empty:
  "k8s:io.x": y
---
# only a comment
---
- item
`;

test('documents, kinds, values, paths and 1-based positions', () => {
  const { documents, errors } = parseYamlSource(TEXT, 'f.yaml');
  assert.deepEqual(errors, []);
  assert.equal(documents.length, 2); // the comment-only document is skipped
  const [root, seq] = documents as [NonNullable<(typeof documents)[0]>, NonNullable<(typeof documents)[0]>];
  assert.equal(root.kind, 'map');
  assert.deepEqual(root.fields().map((f) => [f.name, f.key.line, f.key.column, f.value.kind]), [['a', 1, 1, 'scalar'], ['b', 2, 1, 'map']]);
  const items = root.get('b').get('list').items();
  assert.deepEqual(items.map((i) => [i.path, i.kind, i.value, i.line, i.column]), [
    ['b.list[0]', 'scalar', 1, 3, 10],
    ['b.list[1]', 'scalar', 'two', 3, 13],
    ['b.list[2]', 'null', null, 3, 20],
  ]);
  assert.equal(root.get('b').get('empty').kind, 'null');
  assert.equal(root.get('b').get('empty').present, true);
  const quoted = root.get('b').get('k8s:io.x');
  assert.deepEqual([quoted.path, quoted.string], ['b["k8s:io.x"]', 'y']);
  const missing = root.get('b').get('nope');
  assert.deepEqual([missing.kind, missing.present, missing.path, missing.line, missing.column], ['missing', false, 'b.nope', 3, 3]);
  assert.deepEqual(missing.error('x is required'), { file: 'f.yaml', line: 3, column: 3, path: 'b.nope', message: 'x is required' });
  assert.equal(seq.kind, 'seq');
  assert.deepEqual(seq.items()[0]!.toJS(), 'item');
  assert.deepEqual(root.toJS(), { a: 1, b: { list: [1, 'two', null], empty: null, 'k8s:io.x': 'y' } });
});

test('YAML 1.2 core schema: yes/on stay strings, numbers stay numbers', () => {
  const { documents } = parseYamlSource('a: yes\nb: on\nc: true\nd: 0x10\ne: "80"\n', 'f.yaml');
  const d = documents[0]!;
  assert.deepEqual(['a', 'b', 'c', 'd', 'e'].map((k) => d.get(k).value), ['yes', 'on', true, 16, '80']);
});

test('aliases are resolved; billion laughs and duplicate keys are errors with positions', () => {
  const ok = parseYamlSource('base: &sel {app: x}\nuse: *sel\n', 'f.yaml');
  assert.deepEqual(ok.documents[0]!.get('use').get('app').value, 'x');
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (const c of 'bcdefg') laughs.push(`${c}: &${c} [${Array(10).fill(`*${String.fromCharCode(c.charCodeAt(0) - 1)}`).join(', ')}]`);
  const bomb = parseYamlSource(`---\nfine: 1\n---\n${laughs.join('\n')}\n`, 'bomb.yaml');
  assert.equal(bomb.documents.length, 1);
  assert.equal(bomb.errors.length, 1);
  assert.match(bomb.errors[0]!.message, /^invalid YAML: .*(alias|resource exhaustion)/i);
  assert.equal(bomb.errors[0]!.line, 4);
  const dup = parseYamlSource('x: 1\ny: 2\nx: 3\n', 'dup.yaml');
  assert.equal(dup.documents.length, 0);
  assert.deepEqual(dup.errors.map((e) => [e.line, e.column, e.message]), [[3, 1, 'invalid YAML: Map keys must be unique']]);
  const syntax = parseYamlSource('a: [1, 2\n', 's.yaml');
  assert.equal(syntax.documents.length, 0);
  assert.ok(syntax.errors.length >= 1 && syntax.errors[0]!.message.startsWith('invalid YAML: '));
});

test('JSON is YAML', () => {
  const json = '{"kind": "X", "spec": {"a": [1, 2]}}';
  const { documents, errors } = parseYamlSource(json, 'p.json');
  assert.deepEqual(errors, []);
  const col = json.indexOf('[1') + 2;
  assert.deepEqual(documents[0]!.get('spec').get('a').items().map((i) => [i.path, i.value, i.column]), [['spec.a[0]', 1, col], ['spec.a[1]', 2, col + 3]]);
});

test('childPath formats keys that are not identifiers as ["..."]', () => {
  assert.equal(childPath('', 'spec'), 'spec');
  assert.equal(childPath('spec', 'ingress'), 'spec.ingress');
  assert.equal(childPath('spec.ingress', 0), 'spec.ingress[0]');
  assert.equal(childPath('m', 'k8s:app'), 'm["k8s:app"]');
  assert.equal(childPath('m', 'app.kubernetes.io/name'), 'm["app.kubernetes.io/name"]');
});
