// Ambiguous framing and oversized headers sent on raw sockets: each must be refused (400/431) and must
// never reach the upstream, whether llhttp catches it or the proxy's own checks do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, STAR_WARS_L4, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { connect } from 'node:net';
import { rawExchange } from '../helpers/http-raw-client.js';
import { waitUntil } from '../helpers/wait.js';

/** After a refusal the proxy drains the client's bytes this long before closing (production: a second). */
const LINGER_MS = 100;

let proxy: ProxyFixture;
before(async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4, http: 'maxHeaderCount: 20, maxHeaderBytes: 4096', timings: { lingerMs: LINGER_MS } });
});
after(async () => {
  await proxy.close();
});

const VECTORS: ReadonlyArray<readonly [name: string, request: string]> = [
  ['CL+TE', 'POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGPOST / HTTP/1.1\r\n\r\n'],
  ['TE+CL', 'POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n'],
  ['duplicate equal Content-Length', 'POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
  ['duplicate differing Content-Length', 'POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
  ['Content-Length list', 'POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 3, 3\r\n\r\nabc'],
  ['duplicate Host', 'GET / HTTP/1.1\r\nHost: deathstar\r\nHost: evil\r\n\r\n'],
  ['missing Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: d\r\nX-Folded: a\r\n b\r\n\r\n'],
  ['TE gzip', 'POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: gzip\r\n\r\nabc'],
  ['TE gzip, chunked', 'POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
  ['TE chunked, gzip', 'POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n'],
  ['TE xchunked', 'POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['TE twice', 'POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['TE on HTTP/1.0', 'POST / HTTP/1.0\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['space before colon', 'POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
  ['bare LF line ends', 'GET / HTTP/1.1\nHost: d\n\n'],
  ['bad chunk size', 'POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
  ['NUL in path', 'GET /a%00b HTTP/1.1\r\nHost: d\r\n\r\n'],
  ['bad percent-encoding', 'GET /a%zzb HTTP/1.1\r\nHost: d\r\n\r\n'],
  ['fragment in target', 'GET /a#frag HTTP/1.1\r\nHost: d\r\n\r\n'],
  ['encoded slash', 'GET /v1%2F..%2Fadmin HTTP/1.1\r\nHost: d\r\n\r\n'],
  ['asterisk-form on GET', 'GET * HTTP/1.1\r\nHost: d\r\n\r\n'],
  ['control byte in header value', 'GET / HTTP/1.1\r\nHost: d\r\nX-A: b\u0001c\r\n\r\n'],
];

for (const [name, bytes] of VECTORS) {
  test(`${name} → 400, connection closed, nothing forwarded`, async () => {
    const seen = proxy.upstream.seen.length;
    const res = await rawExchange(proxy.port, bytes, { localAddress: TIEFIGHTER });
    assert.match(res.text, /^HTTP\/1\.1 400 Bad Request\r\n/, res.text);
    assert.equal((res.text.match(/^HTTP\/1\.1 /gm) ?? []).length, 1, 'exactly one response');
    assert.notEqual(res.ending, 'open');
    assert.equal(proxy.upstream.seen.length, seen, 'nothing reached the upstream');
  });
}

test('more headers than maxHeaderCount → 431', async () => {
  const headers = Array.from({ length: 20 }, (_, i) => `X-H${i}: v\r\n`).join('');
  const res = await rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: d\r\n${headers}\r\n`, { localAddress: TIEFIGHTER });
  assert.match(res.text, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.notEqual(res.ending, 'open');
  // Exactly the limit (18 + Host + Connection = 20) is fine.
  const atLimit = Array.from({ length: 18 }, (_, i) => `X-H${i}: v\r\n`).join('');
  const ok = await rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: d\r\n${atLimit}Connection: close\r\n\r\n`, { localAddress: TIEFIGHTER });
  assert.match(ok.text, /^HTTP\/1\.1 200 OK\r\n/);
});

test('header bytes above maxHeaderBytes → 431, nothing forwarded', async () => {
  const seen = proxy.upstream.seen.length;
  const res = await rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: d\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`, { localAddress: TIEFIGHTER });
  assert.match(res.text, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.notEqual(res.ending, 'open');
  assert.equal(proxy.upstream.seen.length, seen);
});

test('a smuggled request after a valid one is never forwarded', async () => {
  const seen = proxy.upstream.seen.length;
  const res = await rawExchange(
    proxy.port,
    'GET /first HTTP/1.1\r\nHost: d\r\n\r\nPOST /second HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    { localAddress: TIEFIGHTER },
  );
  assert.match(res.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.deepEqual(proxy.upstream.seen.slice(seen).map((r) => r.url), ['/first']);
  assert.notEqual(res.ending, 'open');
});

test('after a refusal the connection is closed on a deadline, even if the client keeps sending', async () => {
  // Half-open: the client does not end its side when the proxy ends its own, so only the deadline can close it.
  const socket = connect({ port: proxy.port, host: '127.0.0.1', localAddress: TIEFIGHTER, allowHalfOpen: true });
  socket.on('error', () => {});
  let closed = false;
  socket.once('close', () => (closed = true));
  let reply = '';
  socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
  socket.write('GET / HTTP/1.1\r\nHost: d\r\nHost: e\r\n\r\n');
  const flood = setInterval(() => socket.writable && socket.write('garbage that never ends '), 20);
  try {
    await waitUntil('the proxy to close the connection', () => closed, 3000);
  } finally {
    clearInterval(flood);
    socket.destroy();
  }
  assert.match(reply, /^HTTP\/1\.1 400 /);
});

test('refusals are counted as parse errors', () => {
  const parseErrors = proxy.metrics.of('policyL7').filter(([rule]) => rule === 'parse_errors').length;
  assert.ok(parseErrors >= VECTORS.length + 2, `${parseErrors} parse errors counted`);
});
