// Request trailers on HTTP/2 (the one hop that forwards them, to h2/h2c upstreams). Policy decides on the header
// section, as Cilium's Envoy filter does, so a trailer must never add what a header rule would have refused: fields
// a trailer section may not carry (RFC 9110 §6.5.1: Host, framing, authentication, ...) and fields whose name a rule
// of the policy names are dropped; the rest (a checksum) still arrives. Malformed trailer sections (pseudo-headers,
// connection-specific fields, edge whitespace) are a stream error (RFC 9113 §8.1, §8.2).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startH2EchoUpstream, type H2Echo, type H2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { BACKEND, CLIENT, clientPolicy, connectFrom, startH2Proxy, type H2Proxy } from '../helpers/h2-proxy-fixture.js';
import { ErrorCode, Flag, FrameType, RawH2Client, errorCodeOf, headerBlock, requestFields } from '../helpers/h2-raw-client.js';
import { waitUntil } from '../helpers/wait.js';

describe('HTTP/2 request trailers to an h2c upstream', () => {
  let upstream: H2EchoUpstream;
  let proxy: H2Proxy;
  before(async () => {
    upstream = await startH2EchoUpstream(BACKEND);
    proxy = await startH2Proxy({
      upstreamPort: upstream.port,
      policy: clientPolicy([
        '{method: POST, path: /upload, headers: ["X-Role: user"]}',
        '{method: POST, path: /tenant, headerMatches: [{name: X-Tenant, value: blue, mismatch: REPLACE}]}',
      ]),
    });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  async function postWithTrailers(path: string, headers: Record<string, string>, trailers: Record<string, string>): Promise<H2Echo> {
    const session = connectFrom(proxy, CLIENT);
    try {
      const req = session.request({ ':method': 'POST', ':path': path, ...headers }, { waitForTrailers: true });
      req.on('wantTrailers', () => req.sendTrailers(trailers));
      req.end('body');
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      await new Promise<void>((resolve, reject) => req.on('end', () => resolve()).on('error', reject));
      return JSON.parse(Buffer.concat(chunks).toString()) as H2Echo;
    } finally {
      session.close();
    }
  }

  test('a trailer named by a header rule, and forbidden trailer fields, are dropped; others arrive', async () => {
    const echo = await postWithTrailers(
      '/upload',
      { 'x-role': 'user' },
      { 'x-role': 'superuser', host: 'evil', authorization: 'Bearer root', cookie: 'session=admin', 'content-length': '999', 'x-forwarded-for': '10.0.0.1', 'x-checksum': 'c0ffee' },
    );
    assert.equal(echo.body, 'body');
    assert.deepEqual(echo.trailers, { 'x-checksum': 'c0ffee' });
    assert.equal(echo.authority, `127.0.0.1:${proxy.port}`);
  });

  test('a trailer named by a headerMatches action cannot override the value policy set', async () => {
    const echo = await postWithTrailers('/tenant', { 'x-tenant': 'red' }, { 'x-tenant': 'red', 'x-checksum': 'c0ffee' });
    const tenants = [];
    for (let i = 0; i < echo.rawHeaders.length; i += 2) if (echo.rawHeaders[i] === 'x-tenant') tenants.push(echo.rawHeaders[i + 1]);
    assert.deepEqual(tenants, ['blue']);
    assert.deepEqual(echo.trailers, { 'x-checksum': 'c0ffee' });
  });

  test('only dropped fields: the request still ends, without a trailer section', async () => {
    const echo = await postWithTrailers('/upload', { 'x-role': 'user' }, { 'x-role': 'superuser', host: 'evil' });
    assert.equal(echo.body, 'body');
    assert.equal(echo.trailers, undefined);
  });

  for (const [what, field] of [
    ['a pseudo-header', [':authority', 'evil']],
    ['a connection-specific field', ['connection', 'x-role']],
    ['te other than trailers', ['te', 'gzip']],
    ['an upper-case name', ['X-Role', 'superuser']],
    ['a value with edge whitespace', ['x-checksum', ' c0ffee']],
  ] as const) {
    test(`a trailer section with ${what} is a stream error: PROTOCOL_ERROR, nothing relayed`, async () => {
      const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
      try {
        const before = upstream.seen.length;
        const resetsBefore = upstream.resets.length;
        const id = raw.newStreamId();
        raw.headers(id, requestFields(`127.0.0.1:${proxy.port}`, '/upload', 'POST', [['x-role', 'user']]), false);
        raw.write(FrameType.DATA, 0, id, Buffer.from('body'));
        raw.write(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, headerBlock([field]));
        const rst = await raw.waitFor((f) => f.type === FrameType.RST_STREAM && f.streamId === id);
        assert.equal(errorCodeOf(rst), ErrorCode.PROTOCOL_ERROR);
        // The upstream may have seen the request start; then its stream is reset, never completed with the bad trailer.
        await waitUntil('the upstream stream to be reset', () => upstream.seen.length === before || upstream.resets.length > resetsBefore, 2000);
      } finally {
        raw.close();
      }
    });
  }
});
