// Allowed HTTP/1.1 traffic through the listener, checked on the wire: curl, undici and raw sockets
// against a real upstream, under the Star Wars L3/L4 policy (empire ships may send anything on port 80).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { patternBytes, type Echo } from '../helpers/http-echo-upstream.js';
import { curl, startProxy, STAR_WARS_L4, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange, withoutDates } from '../helpers/http-raw-client.js';

let proxy: ProxyFixture;
const tiefighter = new Agent({ localAddress: TIEFIGHTER });

before(async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4 });
});
after(async () => {
  await tiefighter.close();
  await proxy.close();
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

test('curl: an allowed POST gets the upstream response byte for byte', async () => {
  const res = await curl(['-i', '--interface', TIEFIGHTER, '-X', 'POST', '-d', 'landing-request', `${proxy.url}/v1/request-landing`]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(
    withoutDates(res.stdout),
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nDate: <date>\r\n' +
      'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nShip landed\n',
  );
});

test('the upstream sees method, normalised path, headers (lower-cased, in order, duplicates kept) and body', async () => {
  const body = '{"ship":"tie"}';
  const res = await rawExchange(
    proxy.port,
    'PATCH /cargo//bay/./items?sort=desc HTTP/1.1\r\nHost: deathstar.local\r\nX-Tag: one\r\nx-tag: two\r\n' +
      'Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nX-Forwarded-Proto: https\r\n' +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    { localAddress: TIEFIGHTER, until: (t) => t.endsWith('}') },
  );
  const echo = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as Echo;
  assert.equal(echo.method, 'PATCH');
  assert.equal(echo.url, '/cargo/bay/items?sort=desc');
  assert.equal(echo.body, body);
  // undici frames the upstream hop: host and its own connection first, content-length last.
  assert.deepEqual(echo.rawHeaders, [
    'host', 'deathstar.local',
    'connection', 'keep-alive',
    'x-tag', 'one',
    'x-tag', 'two',
    'content-type', 'application/json',
    'x-forwarded-for', TIEFIGHTER,
    'forwarded', `for=${TIEFIGHTER};proto=http`,
    'x-forwarded-proto', 'http',
    'content-length', String(body.length),
  ]);
});

test('every method llhttp accepts is forwarded; HEAD keeps its headers and has no body', async () => {
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'PURGE']) {
    const res = await request(`${proxy.url}/method-check`, { method, dispatcher: tiefighter });
    const echo = (await res.body.json()) as Echo;
    assert.equal(res.statusCode, 200, method);
    assert.equal(echo.method, method);
  }
  const head = await rawExchange(proxy.port, 'HEAD /v1/request-landing HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n', { localAddress: TIEFIGHTER });
  assert.equal(
    withoutDates(head.text),
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nDate: <date>\r\nConnection: close\r\n\r\n',
  );
});

test('a chunked request body reaches the upstream whole', async () => {
  const res = await rawExchange(
    proxy.port,
    'POST /chunked HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      '5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n',
    { localAddress: TIEFIGHTER },
  );
  const echo = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as Echo;
  assert.equal(echo.body, 'hello world');
});

test('response trailers pass through in the chunked encoding', async () => {
  const res = await rawExchange(proxy.port, 'GET /trailers HTTP/1.1\r\nHost: d\r\nTE: trailers\r\nConnection: close\r\n\r\n', { localAddress: TIEFIGHTER });
  assert.equal(
    withoutDates(res.text),
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Checksum\r\nDate: <date>\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n' +
      'a\r\npart one, \r\n8\r\npart two\r\n0\r\nX-Checksum: c0ffee\r\n\r\n',
  );
});

test('103 Early Hints is relayed ahead of the final response', async () => {
  const res = await rawExchange(proxy.port, 'GET /early-hints HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n', { localAddress: TIEFIGHTER });
  assert.equal(
    withoutDates(res.text),
    'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nx-hint: early\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nDate: <date>\r\nConnection: close\r\n\r\nok',
  );
});

test('Expect: 100-continue gets a 100 from the proxy, then the body is forwarded', async () => {
  const res = await curl(['-i', '--interface', TIEFIGHTER, '-H', 'Expect: 100-continue', '--data-binary', 'payload', `${proxy.url}/expect`]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  const echo = JSON.parse(res.stdout.slice(res.stdout.lastIndexOf('\r\n\r\n') + 4)) as Echo;
  assert.equal(echo.body, 'payload');
  assert.ok(!echo.rawHeaders.map((h) => h.toLowerCase()).includes('expect'), 'Expect is answered by the proxy, not forwarded');
});

test('5 MB streams both ways at once: the echo starts before the upload ends', async () => {
  const size = 5 * 1024 * 1024;
  const half = size / 2;
  let firstEchoByte!: () => void;
  const echoStarted = new Promise<void>((resolve) => (firstEchoByte = resolve));
  // The second half is only sent after echoed bytes came back, which deadlocks if either hop buffers a whole body.
  async function* upload(): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < half; sent += 65536) yield patternBytes(65536, sent);
    await echoStarted;
    for (let sent = half; sent < size; sent += 65536) yield patternBytes(65536, sent);
  }
  const res = await request(`${proxy.url}/echo-stream`, { method: 'POST', body: Readable.from(upload()), dispatcher: tiefighter });
  const received: Buffer[] = [];
  for await (const chunk of res.body) {
    received.push(chunk as Buffer);
    firstEchoByte();
  }
  const all = Buffer.concat(received);
  assert.equal(all.length, size);
  assert.equal(sha256(all), sha256(patternBytes(size)));
});

test('curl: a 5 MB download arrives intact', async () => {
  const size = 5 * 1024 * 1024;
  const res = await curl(['--interface', TIEFIGHTER, `${proxy.url}/bytes/${size}`]);
  assert.equal(res.code, 0, res.stderr);
  const body = Buffer.from(res.stdout, 'latin1');
  assert.equal(body.length, size);
  assert.equal(sha256(body), sha256(patternBytes(size)));
});

test('a non-WebSocket upgrade (h2c) is forwarded as a plain request, never as a tunnel', async () => {
  const seenBefore = proxy.upstream.seen.length;
  const res = await rawExchange(
    proxy.port,
    'GET /h2c HTTP/1.1\r\nHost: d\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    { localAddress: TIEFIGHTER },
  );
  assert.match(res.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(res.text, /\r\nconnection: close\r\n/i);
  assert.equal(res.ending, 'closed');
  const seen = proxy.upstream.seen.slice(seenBefore);
  assert.equal(seen.length, 1);
  const names = seen[0]!.rawHeaders.filter((_, i) => i % 2 === 0);
  assert.ok(!names.includes('upgrade') && !names.includes('http2-settings'), names.join(','));
});

test('absolute-form targets are forwarded with their authority as Host', async () => {
  const res = await rawExchange(proxy.port, 'GET http://deathstar.example:8080/v1/./status HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n', {
    localAddress: TIEFIGHTER,
  });
  const echo = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as Echo;
  assert.equal(echo.url, '/v1/status');
  assert.equal(echo.rawHeaders[echo.rawHeaders.indexOf('host') + 1], 'deathstar.example:8080');
  assert.equal(echo.rawHeaders.filter((h) => h === 'host').length, 1);
});

test('an upstream that answers before reading the upload: the client gets the answer and keeps the connection', async () => {
  const upload = 'x'.repeat(3_000_000);
  const res = await rawExchange(
    proxy.port,
    [`POST /early-reply HTTP/1.1\r\nHost: d\r\nContent-Length: ${upload.length}\r\n\r\n${upload}`, 'POST /v1/request-landing HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n'],
    { localAddress: TIEFIGHTER, waitMs: 5000 },
  );
  assert.equal(
    withoutDates(res.text),
    'HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nDate: <date>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\ntoo large' +
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nDate: <date>\r\nConnection: close\r\n\r\nShip landed\n',
  );
});

test('a chunked request announcing trailers: the body arrives whole, the Trailer announcement is not forwarded', async () => {
  const res = await rawExchange(
    proxy.port,
    'POST /with-trailers HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: close\r\n\r\n' +
      '4\r\ndata\r\n0\r\nX-Sum: 42\r\n\r\n',
    { localAddress: TIEFIGHTER },
  );
  const echo = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as Echo;
  assert.equal(echo.body, 'data');
  assert.ok(!echo.rawHeaders.includes('trailer'));
});

test('HTTP/1.0 clients: no Host needed, no 1xx, close-delimited bodies without trailers', async () => {
  const res = await rawExchange(proxy.port, 'GET /trailers HTTP/1.0\r\n\r\n', { localAddress: TIEFIGHTER });
  // No chunked encoding for HTTP/1.0, so no trailers and no Trailer announcement.
  assert.equal(withoutDates(res.text), 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nConnection: close\r\n\r\npart one, part two');
  assert.equal(res.ending, 'closed');
  const hints = await rawExchange(proxy.port, 'GET /early-hints HTTP/1.0\r\n\r\n', { localAddress: TIEFIGHTER });
  assert.match(hints.text, /^HTTP\/1\.1 200 OK\r\n/);
});

test('a Trailer announcement on a response that cannot carry trailers (Content-Length, HEAD) is dropped', async () => {
  for (const method of ['GET', 'HEAD']) {
    const res = await rawExchange(proxy.port, `${method} /announced-trailer HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`, { localAddress: TIEFIGHTER });
    assert.equal(
      withoutDates(res.text),
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: <date>\r\nConnection: close\r\n\r\n${method === 'GET' ? 'hello' : ''}`,
      method,
    );
  }
});
