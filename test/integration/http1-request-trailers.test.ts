// Request trailers of chunked HTTP/1.1 requests are forwarded, to HTTP/1.1 and to h2c upstreams, filtered as
// HTTP/2 request trailers are (h2-request-trailers.test.ts): policy decides on the header section, so fields a
// trailer section may not carry (RFC 9110 §6.5.1: Host, framing, authentication, hop-by-hop, X-Forwarded-For) and
// fields whose name a rule of the policy names are dropped; the rest (a checksum) arrives.
import assert from 'node:assert/strict';
import { request, type OutgoingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Echo } from '../helpers/http-echo-upstream.js';
import { startH2EchoUpstream, type H2Echo, type H2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { deathstarHttpPolicy, startProxy, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';

const POLICY = deathstarHttpPolicy(
  'trailers',
  `
        - {method: POST, path: /upload, headers: ["X-Role: user"]}
        - {method: POST, path: /tenant, headerMatches: [{name: X-Tenant, value: blue, mismatch: REPLACE}]}`,
);

/** Everything a trailer section must not smuggle past the header rules, plus one field that may pass. */
const HOSTILE_TRAILERS = {
  'X-Role': 'superuser',
  Host: 'evil',
  Authorization: 'Bearer root',
  Cookie: 'session=admin',
  'Content-Length': '999',
  'Transfer-Encoding': 'gzip',
  TE: 'trailers',
  'Keep-Alive': 'timeout=1',
  'X-Forwarded-For': '10.0.0.1',
  'X-Checksum': 'c0ffee',
};

/** A chunked POST from node:http with `trailers` after the body `body`; resolves with the status and JSON body. */
function postWithTrailers(port: number, path: string, headers: OutgoingHttpHeaders, trailers: Record<string, string>): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', localAddress: TIEFIGHTER, agent: false, headers: { ...headers, 'Transfer-Encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.write('bo');
    req.write('dy');
    req.addTrailers(trailers);
    req.end();
  });
}

/** Values of `name` (lower-case) in a flat raw header list. */
function valuesOf(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

describe('HTTP/1.1 request trailers to an HTTP/1.1 upstream', () => {
  let proxy: ProxyFixture;
  before(async () => {
    proxy = await startProxy({ policy: POLICY });
  });
  after(() => proxy.close());

  test('forbidden trailer fields and one named by a header rule are dropped; the others arrive', async () => {
    const { status, json } = await postWithTrailers(proxy.port, '/upload', { 'X-Role': 'user' }, HOSTILE_TRAILERS);
    const echo = json as Echo;
    assert.equal(status, 200);
    assert.equal(echo.body, 'body');
    assert.deepEqual(echo.rawTrailers, ['x-checksum', 'c0ffee']);
    assert.deepEqual(valuesOf(echo.rawHeaders, 'x-role'), ['user']);
    assert.deepEqual(valuesOf(echo.rawHeaders, 'transfer-encoding'), ['chunked']);
  });

  test('a trailer named by a headerMatches action cannot override the value policy set', async () => {
    const { json } = await postWithTrailers(proxy.port, '/tenant', { 'X-Tenant': 'red' }, { 'X-Tenant': 'red', 'X-Checksum': 'c0ffee' });
    const echo = json as Echo;
    assert.deepEqual(valuesOf(echo.rawHeaders, 'x-tenant'), ['blue']);
    assert.deepEqual(echo.rawTrailers, ['x-checksum', 'c0ffee']);
  });

  test('only dropped fields: the body ends without a trailer section', async () => {
    const { json } = await postWithTrailers(proxy.port, '/upload', { 'X-Role': 'user' }, { 'X-Role': 'superuser', Host: 'evil' });
    const echo = json as Echo;
    assert.equal(echo.body, 'body');
    assert.deepEqual(echo.rawTrailers, []);
  });
});

describe('HTTP/1.1 request trailers to an h2c upstream', () => {
  let upstream: H2EchoUpstream;
  let proxy: ProxyFixture;
  before(async () => {
    upstream = await startH2EchoUpstream('127.0.0.1');
    proxy = await startProxy({ policy: POLICY, upstreamPort: upstream.port, upstreamProtocol: 'h2c' });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test('forbidden trailer fields and one named by a header rule are dropped; the others arrive', async () => {
    const { status, json } = await postWithTrailers(proxy.port, '/upload', { 'X-Role': 'user' }, HOSTILE_TRAILERS);
    const echo = json as H2Echo;
    assert.equal(status, 200);
    assert.equal(echo.body, 'body');
    assert.deepEqual(echo.trailers, { 'x-checksum': 'c0ffee' });
  });

  test('a trailer named by a headerMatches action cannot override the value policy set', async () => {
    const { json } = await postWithTrailers(proxy.port, '/tenant', { 'X-Tenant': 'red' }, { 'X-Tenant': 'red', 'X-Checksum': 'c0ffee' });
    const echo = json as H2Echo;
    assert.deepEqual(valuesOf(echo.rawHeaders, 'x-tenant'), ['blue']);
    assert.deepEqual(echo.trailers, { 'x-checksum': 'c0ffee' });
  });

  test('only dropped fields: the stream ends without a trailer section', async () => {
    const { json } = await postWithTrailers(proxy.port, '/upload', { 'X-Role': 'user' }, { 'X-Role': 'superuser', Host: 'evil' });
    const echo = json as H2Echo;
    assert.equal(echo.body, 'body');
    assert.equal(echo.trailers, undefined);
  });
});
