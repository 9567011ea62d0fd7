// HTTP/1.1 clients in front of an upstream that speaks h2c (`upstreamProtocol: h2c`): requests are
// carried over HTTP/2 and the answers, trailers included, come back as HTTP/1.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startProxy, STAR_WARS_L7, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange, withoutDates } from '../helpers/http-raw-client.js';

let upstream: http2.Http2Server;
let proxy: ProxyFixture;
const seen: Array<Record<string, unknown>> = [];

before(async () => {
  upstream = http2.createServer();
  upstream.on('stream', (stream, headers) => {
    seen.push({ ...headers });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-upstream': 'h2c' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'c0ffee' }));
      stream.end(`landed: ${Buffer.concat(chunks).toString()}`);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startProxy({ policy: STAR_WARS_L7, upstreamPort: (upstream.address() as AddressInfo).port, upstreamProtocol: 'h2c' });
});
after(async () => {
  await proxy.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

test('an allowed HTTP/1.1 request is relayed over h2c, trailers and all', async () => {
  const res = await rawExchange(proxy.port, 'POST /v1/request-landing HTTP/1.1\r\nHost: deathstar\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntie', {
    localAddress: TIEFIGHTER,
  });
  assert.equal(
    withoutDates(res.text),
    'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-upstream: h2c\r\ndate: <date>\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n' +
      'b\r\nlanded: tie\r\n0\r\nx-checksum: c0ffee\r\n\r\n',
  );
  assert.equal(seen.length, 1);
  assert.deepEqual(
    [seen[0]![':method'], seen[0]![':path'], seen[0]![':authority'], seen[0]!['x-forwarded-for']],
    ['POST', '/v1/request-landing', 'deathstar', TIEFIGHTER],
  );
});

test('a denied request never reaches the h2c upstream', async () => {
  const res = await rawExchange(proxy.port, 'PUT /v1/exhaust-port HTTP/1.1\r\nHost: deathstar\r\nConnection: close\r\n\r\n', { localAddress: TIEFIGHTER });
  assert.match(res.text, /^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*Access denied\r\n$/);
  assert.equal(seen.length, 1);
});
