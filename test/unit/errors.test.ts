// The error catalogue (src/errors.ts): stable, well-formed codes, one per error class, and every error class in
// src is a PortcullisError that keeps its name, message and cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageFile } from '../../src/package-root.js';
import { ERROR_CODES, PortcullisError, type PortcullisErrorCode } from '../../src/errors.js';
import { UsageError } from '../../src/cli/offline-decision.js';
import { CloseConnection } from '../../src/demo/kafka/broker/context.js';
import { LookupGateFull } from '../../src/protocols/forward/lookup-gate.js';
import { FilterError } from '../../src/observe/hubble/filters.js';
import { ResolveError } from '../../src/protocols/forward/resolve.js';
import { UpstreamError } from '../../src/protocols/http/h1/exchange.js';
import { HpackError } from '../../src/protocols/http/h2/wire/huffman.js';
import { KafkaDecodeError, KafkaEncodeError, KafkaFrameError, KafkaLimitError } from '../../src/protocols/kafka/codec/errors.js';
import { ClientHelloError } from '../../src/protocols/tls/client-hello.js';
import { TlsHandshakeError } from '../../src/protocols/tls/terminate.js';
import { StartupError } from '../../src/runtime/listeners.js';
import { CertToolError } from '../../src/secrets/certs-tool.js';
import { SecretNameError } from '../../src/secrets/secret-path.js';
import { TlsSecretError } from '../../src/secrets/store.js';

const SRC = packageFile('src');

/** Each error class, its code, and how to make one with `message` and `cause` (constructors differ). */
const CLASSES: ReadonlyArray<{ readonly type: abstract new (...args: never[]) => PortcullisError; readonly code: PortcullisErrorCode; make(message: string, cause: Error): PortcullisError }> = [
  { type: StartupError, code: 'PCL_ERR_STARTUP', make: (m, cause) => new StartupError(m, { cause }) },
  { type: UsageError, code: 'PCL_ERR_USAGE', make: (m, cause) => new UsageError(m, { cause }) },
  { type: SecretNameError, code: 'PCL_ERR_SECRET_NAME', make: (m, cause) => new SecretNameError(m, { cause }) },
  { type: TlsSecretError, code: 'PCL_ERR_TLS_SECRET', make: (m, cause) => new TlsSecretError('ns/name', m, { cause }) },
  { type: CertToolError, code: 'PCL_ERR_CERT_TOOL', make: (m, cause) => new CertToolError(m, { cause }) },
  { type: TlsHandshakeError, code: 'PCL_ERR_TLS_HANDSHAKE', make: (m, cause) => new TlsHandshakeError(m, { cause }) },
  { type: ClientHelloError, code: 'PCL_ERR_CLIENT_HELLO', make: (m, cause) => new ClientHelloError('malformed', m, { cause }) },
  { type: HpackError, code: 'PCL_ERR_HPACK', make: (m, cause) => new HpackError(m, { cause }) },
  { type: UpstreamError, code: 'PCL_ERR_UPSTREAM', make: (m, cause) => new UpstreamError('PCL_UPSTREAM_ERROR', m, { cause }) },
  { type: KafkaDecodeError, code: 'PCL_ERR_KAFKA_DECODE', make: (m, cause) => new KafkaDecodeError(m, undefined, { cause }) },
  { type: KafkaFrameError, code: 'PCL_ERR_KAFKA_FRAME', make: (m, cause) => new KafkaFrameError(m, undefined, { cause }) },
  { type: KafkaLimitError, code: 'PCL_ERR_KAFKA_LIMIT', make: (m, cause) => new KafkaLimitError(m, undefined, { cause }) },
  { type: KafkaEncodeError, code: 'PCL_ERR_KAFKA_ENCODE', make: (m, cause) => new KafkaEncodeError(m, { cause }) },
  { type: LookupGateFull, code: 'PCL_ERR_LOOKUP_GATE_FULL', make: (m, cause) => new LookupGateFull(m, { cause }) },
  { type: ResolveError, code: 'PCL_ERR_RESOLVE', make: (m, cause) => new ResolveError(m, 502, { cause }) },
  { type: FilterError, code: 'PCL_ERR_HUBBLE_FILTER', make: (m, cause) => new FilterError(m, { cause }) },
  { type: CloseConnection, code: 'PCL_ERR_DEMO_CLOSE_CONNECTION', make: (m, cause) => new CloseConnection(m, { cause }) },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const sources = sourceFiles(SRC).map((file) => ({ file: relative(SRC, file), text: readFileSync(file, 'utf8') }));

test('every code is PCL_ERR_ in upper case and has a one-line description', () => {
  const codes = Object.keys(ERROR_CODES);
  assert.ok(codes.length >= CLASSES.length, `${codes.length} codes`);
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^PCL_ERR_[A-Z0-9_]+$/);
    assert.ok(meaning.length > 0 && !meaning.includes('\n'), `${code}: ${JSON.stringify(meaning)}`);
  }
});

test('each code belongs to exactly one class, and every code in the catalogue is used', () => {
  const seen = new Map<string, string>();
  for (const c of CLASSES) {
    const other = seen.get(c.code);
    assert.equal(other, undefined, `${c.type.name} and ${other} share ${c.code}`);
    seen.set(c.code, c.type.name);
  }
  assert.deepEqual([...seen.keys()].sort(), Object.keys(ERROR_CODES).sort());
});

test('each class carries its code, its name, its message and its cause, and is still an instance of itself', () => {
  for (const c of CLASSES) {
    const cause = new Error('underlying');
    const err = c.make('what went wrong', cause);
    assert.ok(err instanceof c.type && err instanceof PortcullisError && err instanceof Error, c.type.name);
    assert.equal(err.code, c.code, c.type.name);
    assert.equal(err.name, c.type.name);
    assert.equal(err.message, 'what went wrong', c.type.name);
    assert.equal(err.cause, cause, c.type.name);
    assert.match(String(err), new RegExp(`^${c.type.name}: what went wrong$`));
  }
});

test('the Kafka frame and limit errors are still decode errors', () => {
  assert.ok(new KafkaFrameError('x') instanceof KafkaDecodeError);
  assert.ok(new KafkaLimitError('x') instanceof KafkaDecodeError);
  assert.equal(new KafkaDecodeError('short', 7).message, 'short (at byte 7)');
});

test('no class in src extends Error but PortcullisError (src/errors.ts)', () => {
  const offending = sources.filter((s) => s.file !== 'errors.ts' && /\bextends\s+Error\b/.test(s.text)).map((s) => s.file);
  assert.deepEqual(offending, []);
});

test('every error class in src is listed here (so the tests above check it)', () => {
  const declared = sources.flatMap((s) => [...s.text.matchAll(/\bclass\s+(\w+)\s+extends\s+(\w+)/g)].map((m) => ({ name: m[1]!, parent: m[2]! })));
  // PortcullisError's subclasses, and theirs (KafkaFrameError extends KafkaDecodeError).
  const errorClasses = new Set(['PortcullisError']);
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of declared) {
      if (!errorClasses.has(c.parent) || errorClasses.has(c.name)) continue;
      errorClasses.add(c.name);
      grew = true;
    }
  }
  errorClasses.delete('PortcullisError');
  assert.deepEqual([...errorClasses].sort(), CLASSES.map((c) => c.type.name).sort());
});

test('src/errors.ts imports nothing, so every folder can import it without a cycle', () => {
  const text = sources.find((s) => s.file === 'errors.ts')!.text;
  assert.doesNotMatch(text, /^\s*import\b|\bimport\(|\brequire\(/m);
});
