// The boundaries between src/ folders, checked on the sources' import statements: a new import that crosses one
// fails here, with the importing file and the imported one named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { packageFile } from '../../src/package-root.js';

const SRC = packageFile('src');

interface Import {
  readonly from: string;
  readonly to: string;
  /** `import type` / `export type`: gone at run time. */
  readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of every file under src/, static and dynamic, as paths relative to src/. */
function imports(): Import[] {
  const found: Import[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const statements = /^\s*(import|export)\s+(type\s+)?[^;'"]*?\bfrom\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)|^\s*import\s+'(\.[^']+)'/gm;
    for (const m of text.matchAll(statements)) {
      const spec = m[3] ?? m[4] ?? m[5]!;
      const to = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      found.push({ from: relative(SRC, file), to: relative(SRC, to), typeOnly: m[2] !== undefined });
    }
  }
  return found;
}

const all = imports();
const crossing = (from: RegExp, to: RegExp): string[] => all.filter((i) => from.test(i.from) && to.test(i.to)).map((i) => `${i.from} -> ${i.to}`);

test('the scan sees the imports it checks (a broken scanner would pass every rule)', () => {
  assert.ok(all.length > 300, `${all.length} imports`);
  assert.ok(all.some((i) => i.from === 'runtime/server.ts' && i.to === 'observe/admin.ts'));
  assert.ok(all.some((i) => i.from === 'runtime/listeners.ts' && i.to === 'protocols/http/listener.ts'), 'dynamic imports are seen');
  assert.ok(all.some((i) => i.from.startsWith('demo/kafka/') && i.to === 'protocols/kafka/codec/index.ts'), 'the demo broker\'s codec imports are seen');
  assert.ok(all.some((i) => i.typeOnly));
});

test('protocols never import the runtime, the CLI or the demos', () => {
  assert.deepEqual(crossing(/^protocols\//, /^(runtime|cli|demo)\//), []);
});

test('the policy engine imports nothing but itself and the config', () => {
  assert.deepEqual(crossing(/^policy\//, /^(?!policy\/|config\/)/), []);
});

test('observers import nothing from the protocols, the runtime, the CLI or the demos', () => {
  assert.deepEqual(crossing(/^observe\//, /^(protocols|runtime|cli|demo)\//), []);
});

test('the config imports no runtime, CLI or demo code', () => {
  assert.deepEqual(crossing(/^config\//, /^(runtime|cli|demo)\//), []);
});

test('the config imports no protocol code (the defaults it needs live in config/)', () => {
  assert.deepEqual(crossing(/^config\//, /^protocols\//), []);
});

test('secrets import no protocol, runtime, CLI or demo code', () => {
  assert.deepEqual(crossing(/^secrets\//, /^(protocols|runtime|cli|demo)\//), []);
});

test('the demos use the Kafka codec through its public surface, never the proxy or codec internals', () => {
  assert.deepEqual(crossing(/^demo\//, /^protocols\/kafka\/(?!codec\/index\.ts$)/), []);
});

test('the Kafka codec imports nothing from the Kafka proxy', () => {
  assert.deepEqual(crossing(/^protocols\/kafka\/codec\//, /^protocols\/kafka\/proxy\//), []);
});

test('TLS never imports HTTP: the HTTP side serves what the TLS front terminates', () => {
  assert.deepEqual(crossing(/^protocols\/tls\//, /^protocols\/http\//), []);
});

test('node-forge is the certs tool\'s alone, and only the CLI and the demos import that tool', () => {
  const forge = sourceFiles(SRC).filter((file) => /\bfrom 'node-forge'|\bimport\(\s*'node-forge'/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(forge.map((file) => relative(SRC, file)), ['secrets/certs-tool.ts']);
  assert.deepEqual(crossing(/^(?!cli\/|demo\/)/, /^secrets\/certs-tool\.ts$/), []);
});

test('no import cycle in src/, type-only imports included', () => {
  const edges = new Map<string, string[]>();
  for (const i of all) edges.set(i.from, [...(edges.get(i.from) ?? []), i.to]);
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next].join(' -> '));
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of edges.keys()) if (state.get(file) === undefined) visit(file);
  assert.deepEqual(cycles, []);
});
