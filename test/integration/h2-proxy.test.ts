// Plain HTTP/2 requests through the HTTP/2 handler: curl with prior knowledge and node:http2 clients,
// h2c and HTTP/1.1 upstreams, denials, path normalisation, upstream failures and resets.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/http-proxy-fixture.js';
import { startEchoUpstream, type Echo, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { startH2EchoUpstream, type H2Echo, type H2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { BACKEND, CLIENT, clientPolicy, connectFrom, startH2Proxy, type H2Proxy } from '../helpers/h2-proxy-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const h2curl = (url: string, ...args: string[]) => curl(['--http2-prior-knowledge', '--interface', CLIENT, '-D', '-', ...args, url]);

/** Splits curl `-D -` output into the status, lower-cased headers and the body. */
function parseCurl(out: string): { status: number; headers: Map<string, string[]>; body: string } {
  const end = out.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = out.slice(0, end).split('\r\n');
  const headers = new Map<string, string[]>();
  for (const l of lines) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).toLowerCase();
    headers.set(k, [...(headers.get(k) ?? []), l.slice(i + 1).trim()]);
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: out.slice(end + 4) };
}

/** Sends 4 MiB from a node:http2 client and checks the echo upstream (h2c or HTTP/1.1) got and returned all of it. */
async function assertBodyEchoed(proxy: H2Proxy, method: string, path: string): Promise<void> {
  const body = Buffer.from('0123456789abcdef'.repeat(256 * 1024));
  const session = connectFrom(proxy, CLIENT);
  try {
    const req = session.request({ ':method': method, ':path': path });
    req.end(body);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve, reject) => req.on('end', () => resolve()).on('error', reject));
    const echo = JSON.parse(Buffer.concat(chunks).toString()) as { body: string };
    assert.equal(echo.body.length, body.length);
    assert.equal(echo.body, body.toString());
  } finally {
    session.close();
  }
}

async function closedPort(host: string): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('HTTP/2 to an h2c upstream, under a path policy', () => {
  let upstream: H2EchoUpstream;
  let proxy: H2Proxy;
  before(async () => {
    upstream = await startH2EchoUpstream(BACKEND);
    proxy = await startH2Proxy({
      upstreamPort: upstream.port,
      policy: clientPolicy(['{method: GET, path: /public}', '{method: POST, path: /upload}']),
      http: 'upstreamTimeoutMs: 2000',
    });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test('curl --http2-prior-knowledge: an allowed GET is relayed with :authority, headers and X-Forwarded-For', async () => {
    const r = await h2curl(`${proxy.url}/public`, '-H', 'x-dup: 1', '-H', 'x-dup: 2');
    assert.equal(r.code, 0, r.stderr);
    const res = parseCurl(r.stdout);
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers.get('set-cookie'), ['a=1', 'b=2']);
    const echo = JSON.parse(res.body) as H2Echo;
    assert.equal(echo.method, 'GET');
    assert.equal(echo.authority, `127.0.0.1:${proxy.port}`);
    const pairs = [];
    for (let i = 0; i < echo.rawHeaders.length; i += 2) pairs.push(`${echo.rawHeaders[i]}: ${echo.rawHeaders[i + 1]}`);
    assert.ok(pairs.includes(`x-forwarded-for: ${CLIENT}`), pairs.join('\n'));
    assert.deepEqual(pairs.filter((p) => p.startsWith('x-dup')), ['x-dup: 1', 'x-dup: 2']);
  });

  test('a 4 MiB request body is relayed intact', async () => {
    await assertBodyEchoed(proxy, 'POST', '/upload');
  });

  test('request trailers reach the upstream after the body', async () => {
    const session = connectFrom(proxy, CLIENT);
    try {
      const req = session.request({ ':method': 'POST', ':path': '/upload' }, { waitForTrailers: true });
      req.on('wantTrailers', () => req.sendTrailers({ 'x-checksum': 'c0ffee' }));
      req.end('with trailers');
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      await new Promise<void>((r) => req.on('end', () => r()));
      const echo = JSON.parse(Buffer.concat(chunks).toString()) as H2Echo;
      assert.equal(echo.body, 'with trailers');
      assert.deepEqual(echo.trailers, { 'x-checksum': 'c0ffee' });
    } finally {
      session.close();
    }
  });

  test('expect: 100-continue is answered by the proxy once policy allowed the request, and not forwarded', async () => {
    const body = 'x'.repeat(16 * 1024);
    // curl holds the body back until a 100 arrives or --expect100-timeout passes: 60 s, longer than curl may run here.
    const wait = ['-H', 'Expect: 100-continue', '--expect100-timeout', '60'];
    const r = await h2curl(`${proxy.url}/upload`, ...wait, '--data-binary', body);
    assert.match(r.stdout.slice(0, 40), /^HTTP\/2 100 ?\r\n\r\nHTTP\/2 200 ?\r\n/);
    const echo = JSON.parse(parseCurl(r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4)).body) as H2Echo;
    assert.equal(echo.body, body);
    assert.ok(!echo.rawHeaders.some((h) => h.toLowerCase() === 'expect'), 'the expectation was met here, not passed on');
    // A denied request gets its 403 without a 100 first: the body is never asked for, and the stream is not reset
    // under a client that sent none (curl 7.88 reports such a reset as an empty reply).
    const denied = await h2curl(`${proxy.url}/private`, ...wait, '--data-binary', 'plans');
    assert.match(denied.stdout.slice(0, 40), /^HTTP\/2 403 ?\r\n/, JSON.stringify(denied));
  });

  test('a denied request gets 403 "Access denied\\r\\n" as text/plain, is not forwarded, and is recorded DROPPED', async () => {
    proxy.flows.clear();
    const seenBefore = upstream.seen.length;
    const r = await h2curl(`${proxy.url}/private`);
    const res = parseCurl(r.stdout);
    assert.equal(res.status, 403);
    assert.equal(res.body, 'Access denied\r\n');
    assert.deepEqual(res.headers.get('content-type'), ['text/plain']);
    assert.equal(upstream.seen.length, seenBefore);
    const [req] = proxy.flows.l7('REQUEST');
    assert.equal(req?.verdict, 'DROPPED');
    assert.equal(req?.l7?.http?.protocol, 'HTTP/2');
    assert.deepEqual(req?.localReply, { code: 403 });
    assert.equal(proxy.flows.l7('RESPONSE').length, 0, 'the destination was never asked');
    assert.ok(proxy.metrics.calls.some((c) => c[0] === 'policyL7' && c[1] === 'denied'));
  });

  test('the path is normalised before matching and forwarded normalised', async () => {
    const ok = parseCurl((await h2curl(`${proxy.url}/private/../public`, '--path-as-is')).stdout);
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as H2Echo).path, '/public');
    const denied = parseCurl((await h2curl(`${proxy.url}/public/../private`, '--path-as-is')).stdout);
    assert.equal(denied.status, 403);
    const escaped = parseCurl((await h2curl(`${proxy.url}/public%2F..%2Fprivate`, '--path-as-is')).stdout);
    assert.equal(escaped.status, 400);
  });

  test('an upstream that sends no response headers in time gets 504 (non-gRPC), and its stream is reset', async () => {
    proxy.usePolicy(clientPolicy(['{method: GET}']));
    try {
      const res = parseCurl((await h2curl(`${proxy.url}/hang`)).stdout);
      assert.equal(res.status, 504);
      assert.ok(upstream.resets.includes(http2.constants.NGHTTP2_CANCEL));
    } finally {
      proxy.usePolicy(clientPolicy(['{method: GET, path: /public}', '{method: POST, path: /upload}']));
    }
  });
});

describe('HTTP/2 cancellation', () => {
  test('a client RST_STREAM resets the upstream stream with the same code', async () => {
    const upstream = await startH2EchoUpstream(BACKEND);
    const proxy = await startH2Proxy({ upstreamPort: upstream.port });
    const session = connectFrom(proxy, CLIENT);
    try {
      const req = session.request({ ':method': 'GET', ':path': '/hang' });
      req.on('error', () => {});
      await waitUntil('the request at the upstream', () => upstream.seen.includes('/hang'));
      req.close(http2.constants.NGHTTP2_STREAM_CLOSED);
      await waitUntil('the upstream stream to be reset', () => upstream.resets.length > 0, 3000);
      assert.deepEqual(upstream.resets, [http2.constants.NGHTTP2_STREAM_CLOSED]);
    } finally {
      session.destroy();
      await proxy.close();
      await upstream.close();
    }
  });
});

describe('HTTP/2 to an HTTP/1.1 upstream', () => {
  let upstream: EchoUpstream;
  let proxy: H2Proxy;
  before(async () => {
    upstream = await startEchoUpstream(BACKEND);
    proxy = await startH2Proxy({ upstreamPort: upstream.port, upstreamProtocol: 'http1' });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test('an h2 request is relayed as HTTP/1.1 with Host from :authority, and the body both ways', async () => {
    const r = await h2curl(`${proxy.url}/v1/things?x=1`, '-X', 'POST', '--data-binary', 'payload-123');
    assert.equal(r.code, 0, r.stderr);
    const res = parseCurl(r.stdout);
    assert.equal(res.status, 200);
    const echo = JSON.parse(res.body) as Echo;
    assert.equal(echo.httpVersion, '1.1');
    assert.equal(echo.url, '/v1/things?x=1');
    assert.equal(echo.body, 'payload-123');
    const host = echo.rawHeaders.findIndex((h) => h.toLowerCase() === 'host');
    assert.equal(echo.rawHeaders[host + 1], `127.0.0.1:${proxy.port}`);
    // HTTP/1.1 connection fields never reach an HTTP/2 client.
    assert.equal(res.headers.get('connection'), undefined);
    assert.equal(res.headers.get('transfer-encoding'), undefined);
  });

  test('a 4 MiB body goes up and comes back intact, with flow control on the HTTP/2 side', async () => {
    await assertBodyEchoed(proxy, 'PUT', '/big');
  });
});

describe('HTTP/2 upstream failures', () => {
  test('an unreachable upstream gives 503', async () => {
    const proxy = await startH2Proxy({ upstreamPort: await closedPort(BACKEND) });
    try {
      const res = parseCurl((await h2curl(`${proxy.url}/x`)).stdout);
      assert.equal(res.status, 503);
      assert.equal(res.body, 'upstream connect error\r\n');
      assert.equal(proxy.flows.l7('RESPONSE').length, 0);
      assert.deepEqual(proxy.flows.failures().map((f) => f.localReply), [{ code: 503 }]);
    } finally {
      await proxy.close();
    }
  });
});
