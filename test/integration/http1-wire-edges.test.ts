// Corners of the own HTTP/1.x server wire, each checked against what the upstream saw: HTTP/1.0 keep-alive, a
// denied request that expects 100-continue, a chunked body arriving one byte per TCP segment, and a chunked
// request with the next request pipelined behind it in the same packet.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Echo } from '../helpers/http-echo-upstream.js';
import { deathstarHttpPolicy, startProxy, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange } from '../helpers/http-raw-client.js';

const POLICY = deathstarHttpPolicy(
  'echo-only',
  `
        - {method: GET, path: "/echo.*"}
        - {method: POST, path: "/echo.*"}`,
);

let proxy: ProxyFixture;
before(async () => {
  proxy = await startProxy({ policy: POLICY });
});
after(() => proxy.close());

/** The responses in `text` (each `HTTP/1.1 ...` to the next), as head and body. */
function responses(text: string): Array<{ head: string; body: string }> {
  return text
    .split(/(?=HTTP\/1\.1 \d{3} )/)
    .filter((r) => r !== '')
    .map((r) => {
      const end = r.indexOf('\r\n\r\n');
      return { head: r.slice(0, end), body: r.slice(end + 4) };
    });
}

function echoOf(body: string): Echo {
  return JSON.parse(body) as Echo;
}

test('HTTP/1.0 keep-alive: the connection carries a second request, which closes it', async () => {
  const seen = proxy.upstream.seen.length;
  const res = await rawExchange(proxy.port, ['GET /echo/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 'GET /echo/b HTTP/1.0\r\n\r\n'], { localAddress: TIEFIGHTER });
  const [first, second, ...rest] = responses(res.text);
  assert.equal(rest.length, 0);
  assert.match(first!.head, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: \d+\r\n[\s\S]*Connection: keep-alive\r\nKeep-Alive: timeout=5$/);
  assert.match(second!.head, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nConnection: close$/);
  assert.equal(echoOf(first!.body).url, '/echo/a');
  assert.equal(echoOf(second!.body).url, '/echo/b');
  assert.equal(res.ending, 'closed');
  assert.deepEqual(proxy.upstream.seen.slice(seen).map((r) => r.url), ['/echo/a', '/echo/b']);
});

test('a denied request with Expect: 100-continue gets 403 and no 100; the upstream sees nothing', async () => {
  const seen = proxy.upstream.seen.length;
  const res = await rawExchange(proxy.port, 'PUT /echo/x HTTP/1.1\r\nHost: d\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n', {
    localAddress: TIEFIGHTER,
    until: (text) => text.endsWith('Access denied\r\n'),
  });
  assert.match(res.text, /^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*\r\n\r\nAccess denied\r\n$/);
  assert.doesNotMatch(res.text, /100 Continue/);
  assert.equal(proxy.upstream.seen.length, seen);
});

test('a chunked body (extensions and trailers too) arriving one byte per TCP segment is forwarded whole', async () => {
  const socket = connect({ host: '127.0.0.1', port: proxy.port, localAddress: TIEFIGHTER, noDelay: true });
  let text = '';
  socket.setEncoding('latin1').on('data', (d: string) => (text += d));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write('POST /echo/bytes HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
  for (const byte of Buffer.from('5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: c0ffee\r\n\r\n', 'latin1')) {
    await sleep(2); // each byte its own segment, and its own read at the proxy
    socket.write(Buffer.of(byte));
  }
  await closed;
  const [response] = responses(text);
  assert.match(response!.head, /^HTTP\/1\.1 200 OK\r\n/);
  const echo = echoOf(response!.body);
  assert.equal(echo.body, 'hello world');
  assert.deepEqual(echo.rawTrailers, ['x-checksum', 'c0ffee']);
});

test('a chunked request with the next request pipelined in the same packet: both answered, in order', async () => {
  const seen = proxy.upstream.seen.length;
  const res = await rawExchange(
    proxy.port,
    'POST /echo/1 HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n' + 'GET /echo/2 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
    { localAddress: TIEFIGHTER },
  );
  const answers = responses(res.text).map((r) => echoOf(r.body));
  assert.deepEqual(
    answers.map((e) => [e.method, e.url, e.body]),
    [
      ['POST', '/echo/1', 'body'],
      ['GET', '/echo/2', ''],
    ],
  );
  assert.deepEqual(proxy.upstream.seen.slice(seen).map((r) => `${r.method} ${r.url}`), ['POST /echo/1', 'GET /echo/2']);
  assert.equal(res.ending, 'closed');
});
