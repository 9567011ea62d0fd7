// Framing checks on raw header lists: the smuggling vectors llhttp lets through to the application,
// the ones it already refuses (checked again here in case a parser ever does not), and header counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FramingError, inspectRequestHead, type RequestHead } from '../../src/protocols/http/h1/framing.js';

function head(raw: string[], minor = 1, maxCount = 100): RequestHead {
  const out = inspectRequestHead(raw, minor, maxCount);
  assert.ok(!(out instanceof FramingError), out instanceof FramingError ? out.reason : '');
  return out as RequestHead;
}

function error(raw: string[], minor = 1, maxCount = 100): FramingError {
  const out = inspectRequestHead(raw, minor, maxCount);
  assert.ok(out instanceof FramingError, 'expected a framing error');
  return out as FramingError;
}

test('a plain request: host, no body', () => {
  const h = head(['Host', 'deathstar', 'Accept', '*/*']);
  assert.equal(h.host, 'deathstar');
  assert.equal(h.hasBody, false);
  assert.equal(h.expectContinue, false);
  assert.equal(h.upgrade, undefined);
  assert.equal(h.connectionOptions, undefined);
});

test('bodies: Content-Length > 0 or chunked; Content-Length 0 is no body', () => {
  assert.equal(head(['host', 'a', 'content-length', '17']).hasBody, true);
  assert.equal(head(['host', 'a', 'Content-Length', '0']).hasBody, false);
  assert.equal(head(['host', 'a', 'content-length', '000']).hasBody, false);
  assert.equal(head(['host', 'a', 'Transfer-Encoding', 'chunked']).hasBody, true);
  assert.equal(head(['host', 'a', 'transfer-encoding', ' Chunked ']).hasBody, true);
});

test('duplicate or missing Host is refused (400)', () => {
  const dup = error(['Host', 'a', 'host', 'b']);
  assert.equal(dup.status, 400);
  assert.match(dup.reason, /duplicate Host/);
  assert.match(error(['Host', 'a', 'HOST', 'a']).reason, /duplicate Host/);
  assert.match(error(['Accept', '*/*']).reason, /missing Host/);
  // HTTP/1.0 has no Host requirement.
  assert.equal(head(['Accept', '*/*'], 0).host, undefined);
});

test('Content-Length: duplicates (equal or not), lists and non-digits are refused', () => {
  assert.match(error(['host', 'a', 'Content-Length', '3', 'Content-Length', '3']).reason, /duplicate Content-Length/);
  assert.match(error(['host', 'a', 'Content-Length', '3', 'content-length', '4']).reason, /duplicate Content-Length/);
  assert.match(error(['host', 'a', 'Content-Length', '3, 3']).reason, /invalid Content-Length/);
  assert.match(error(['host', 'a', 'Content-Length', '-1']).reason, /invalid Content-Length/);
  assert.match(error(['host', 'a', 'Content-Length', '+5']).reason, /invalid Content-Length/);
});

test('CL+TE, non-chunked or repeated Transfer-Encoding, and TE on HTTP/1.0 are refused', () => {
  assert.match(error(['host', 'a', 'Content-Length', '3', 'Transfer-Encoding', 'chunked']).reason, /both Content-Length and Transfer-Encoding/);
  assert.match(error(['host', 'a', 'Transfer-Encoding', 'chunked', 'Content-Length', '3']).reason, /both/);
  for (const te of ['gzip', 'gzip, chunked', 'chunked, gzip', 'xchunked', 'chunked;q=1', 'identity', '']) {
    assert.match(error(['host', 'a', 'Transfer-Encoding', te]).reason, /Transfer-Encoding other than/, te);
  }
  assert.match(error(['host', 'a', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked']).reason, /Transfer-Encoding other than/);
  assert.match(error(['host', 'a', 'Transfer-Encoding', 'chunked'], 0).reason, /HTTP\/1\.0/);
});

test('more headers than maxHeaderCount is 431; exactly the limit is fine', () => {
  const raw = ['host', 'a'];
  for (let i = 1; i < 10; i++) raw.push(`x-h${i}`, 'v');
  assert.equal(head(raw, 1, 10).host, 'a');
  raw.push('x-h10', 'v');
  const tooMany = error(raw, 1, 10);
  assert.equal(tooMany.status, 431);
});

test('Expect: 100-continue and Upgrade are reported', () => {
  const h = head(['Host', 'a', 'Expect', '100-Continue', 'Upgrade', 'websocket', 'Connection', 'Upgrade']);
  assert.equal(h.expectContinue, true);
  assert.equal(h.upgrade, 'websocket');
  assert.equal(h.connectionOptions, undefined);
});

test('Connection options name extra hop-by-hop headers, but never Host or Content-Length', () => {
  const h = head(['Host', 'a', 'Connection', 'keep-alive, X-Secret ,close', 'connection', 'Host, content-length, x-other']);
  assert.deepEqual(h.connectionOptions, ['x-secret', 'x-other']);
});
