// Failures on either side of the proxy: an upstream that is down or slow gets a 503/504 local reply and
// an ERROR flow; resets mid-body and clients that leave are contained; the listener keeps serving.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { curl, startProxy, STAR_WARS_L4, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange, withoutDates } from '../helpers/http-raw-client.js';
import { waitUntil } from '../helpers/wait.js';

let proxy: ProxyFixture | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('upstream down: 503 with a plain-text body, an ERROR flow saying why, and the connection kept', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4, upstreamPort: await closedPort() });
  const res = await rawExchange(
    proxy.port,
    'POST /v1/request-landing HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\n\r\nabc' + 'GET /again HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
    { localAddress: TIEFIGHTER },
  );
  const reply =
    'HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 24\r\nDate: <date>\r\n';
  assert.equal(
    withoutDates(res.text),
    reply + 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nupstream connect error\r\n' + reply + 'Connection: close\r\n\r\nupstream connect error\r\n',
  );
  // The deathstar never answered: no response records, an ERROR record per request saying what the client got.
  assert.equal(proxy.flows.l7('RESPONSE').length, 0);
  const failures = proxy.flows.failures();
  assert.deepEqual(failures.map((e) => e.localReply), [{ code: 503 }, { code: 503 }]);
  // The reason names the socket's own code, then its message.
  assert.match(failures[0]!.reason ?? '', /^upstream ECONNREFUSED: connect ECONNREFUSED /);
  // Pipelined requests fail independently, so their records may come in either order.
  assert.deepEqual(proxy.metrics.of('httpRequest').map(String).sort(), ['GET,HTTP/1.1,503', 'POST,HTTP/1.1,503']);
});

test('upstream drops the connection mid-upload: 503, the rest of the upload is discarded, the connection kept', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4 });
  const upload = 'u'.repeat(2_000_000);
  const res = await rawExchange(
    proxy.port,
    [`POST /drop-upload HTTP/1.1\r\nHost: d\r\nContent-Length: ${upload.length}\r\n\r\n${upload}`, 'POST /v1/request-landing HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n'],
    { localAddress: TIEFIGHTER, waitMs: 5000 },
  );
  assert.match(res.text, /^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*\r\n\r\nupstream connect error\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*Ship landed\n$/);
  assert.equal(res.ending, 'closed');
  const [failure, ...others] = proxy.flows.failures();
  assert.equal(others.length, 0);
  assert.deepEqual(failure?.localReply, { code: 503 });
  assert.match(failure?.reason ?? '', /upstream/);
});

test('upstream too slow: 504 after upstreamTimeoutMs, with an ERROR flow', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4, http: 'upstreamTimeoutMs: 300' });
  const started = Date.now();
  const res = await curl(['-i', '--interface', TIEFIGHTER, `${proxy.url}/delay/3000`]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^HTTP\/1\.1 504 Gateway Timeout\r\n[\s\S]*\r\n\r\nupstream request timeout\r\n$/);
  assert.ok(Date.now() - started < 2500, 'answered at the timeout, not when the upstream finished');
  assert.equal(proxy.flows.l7('RESPONSE').length, 0);
  const [failure] = proxy.flows.failures();
  assert.deepEqual(failure?.localReply, { code: 504 });
  assert.equal(failure?.reason, 'upstream PCL_UPSTREAM_RESPONSE_TIMEOUT: no response head within 300 ms (upstreamTimeoutMs)');
});

test('upstream resets mid-body: the client sees a truncated response, never a complete one', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4 });
  const res = await curl(['--interface', TIEFIGHTER, `${proxy.url}/reset-mid-body`]);
  // curl 18: transfer closed with outstanding read data remaining.
  assert.equal(res.code, 18, res.stderr);
  assert.equal(res.stdout, '0123456789');
  const after = await curl(['--interface', TIEFIGHTER, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.equal(after.stdout, 'Ship landed\n', 'the listener keeps serving');
});

test('a client that leaves mid-download aborts the upstream exchange; the listener keeps serving', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4 });
  const socket = connect({ port: proxy.port, host: '127.0.0.1', localAddress: TIEFIGHTER });
  socket.write('GET /bytes/104857600 HTTP/1.1\r\nHost: d\r\n\r\n');
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.destroy();
  // Aborting the exchange closes its upstream connection, long before 100 MB could have been sent.
  await waitUntil('the upstream connection to close', () => proxy!.upstream.closedConnections() > 0, 3000);
  assert.equal(proxy.upstream.closedConnections(), 1);
  const after = await curl(['--interface', TIEFIGHTER, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.equal(after.stdout, 'Ship landed\n');
});

test('a client that leaves mid-upload does not hurt the next request', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4 });
  const socket = connect({ port: proxy.port, host: '127.0.0.1', localAddress: TIEFIGHTER });
  socket.write('POST /echo-stream HTTP/1.1\r\nHost: d\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(1000));
  await waitUntil('the upload at the upstream', () => proxy!.upstream.seen.some((r) => r.url === '/echo-stream'));
  socket.destroy();
  const after = await curl(['--interface', TIEFIGHTER, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.equal(after.stdout, 'Ship landed\n');
});

test('slow request headers get 408 after headersTimeoutMs', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4, http: 'headersTimeoutMs: 300' });
  const res = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: d\r\nX-Slow: ', { localAddress: TIEFIGHTER, waitMs: 4000 });
  assert.match(res.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.equal(res.ending, 'closed');
});

test('idle keep-alive connections are closed after idleTimeoutMs', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L4, http: 'idleTimeoutMs: 300' });
  const started = Date.now();
  const res = await rawExchange(proxy.port, 'POST /v1/request-landing HTTP/1.1\r\nHost: d\r\n\r\n', { localAddress: TIEFIGHTER, waitMs: 4000 });
  assert.match(res.text, /Keep-Alive: timeout=0\r\n[\s\S]*Ship landed\n$/);
  assert.equal(res.ending, 'closed');
  assert.ok(Date.now() - started < 3000);
});
