// gRPC through the HTTP/2 handler with real @grpc/grpc-js clients and server: every call kind, metadata
// and trailers both ways, deadlines, cancellation, large messages and long streams, and policy denials.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import grpc from '@grpc/grpc-js';
import type { ClientDuplexStream, ClientReadableStream, ClientWritableStream, Metadata } from '@grpc/grpc-js';
import { echoClient, sha256, startEchoServer, unary, type EchoClient, type EchoServer } from '../helpers/h2-grpc-echo.js';
import { BACKEND, CLIENT, clientPolicy, startH2Proxy, STRANGER, type H2Proxy } from '../helpers/h2-proxy-fixture.js';
import { waitUntil } from '../helpers/wait.js';

describe('gRPC pass-through (h2c upstream, no policy)', () => {
  let echo: EchoServer;
  let proxy: H2Proxy;
  let client: EchoClient;
  before(async () => {
    echo = await startEchoServer(BACKEND);
    proxy = await startH2Proxy({ upstreamPort: echo.port });
    client = echoClient(CLIENT, proxy.host, proxy.port);
  });
  after(async () => {
    client.close();
    await proxy.close();
    await echo.close();
  });

  test('unary: message, request metadata incl. -bin, response headers and trailers arrive intact', async () => {
    const md = new grpc.Metadata();
    md.set('x-token', 'abc');
    md.set('x-blob-bin', Buffer.from([0, 255, 10, 13]));
    const r = await unary(client, 'Unary', Buffer.from('hello door'), md);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.reply, Buffer.from('hello door'));
    assert.deepEqual(echo.lastMetadata?.get('x-token'), ['abc']);
    assert.deepEqual(echo.lastMetadata?.get('x-blob-bin'), [Buffer.from([0, 255, 10, 13])]);
    // The proxy adds X-Forwarded-For (mode append) with the client's address.
    assert.deepEqual(echo.lastMetadata?.get('x-forwarded-for'), [CLIENT]);
    assert.deepEqual(r.headers?.get('x-token'), ['abc']);
    assert.deepEqual(r.headers?.get('x-blob-bin'), [Buffer.from([0, 255, 10, 13])]);
    assert.deepEqual(r.trailers?.get('x-trailer'), ['sent-after-body']);
    assert.deepEqual(r.trailers?.get('x-trailer-bin'), [Buffer.from([0, 1, 2, 254, 255])]);
  });

  test('flow records show protocol HTTP/2 and the gRPC method in the URL', async () => {
    proxy.flows.clear();
    await unary(client, 'Unary', Buffer.from('x'));
    const [req] = proxy.flows.l7('REQUEST');
    assert.equal(req?.verdict, 'FORWARDED');
    assert.equal(req?.l7?.http?.protocol, 'HTTP/2');
    assert.equal(req?.l7?.http?.method, 'POST');
    assert.equal(req?.l7?.http?.url, `http://${proxy.host}:${proxy.port}/test.Echo/Unary`);
    const [res] = proxy.flows.l7('RESPONSE');
    assert.equal(res?.l7?.http?.code, 200);
    // The gRPC response record waits for the trailers, so it carries the call's grpc-status.
    assert.ok(res?.l7?.http?.headers.some(([k, v]) => k === 'grpc-status' && v === '0'));
    assert.ok(proxy.metrics.calls.some((c) => c[0] === 'httpRequest' && c[1] === 'POST' && c[2] === 'HTTP/2' && c[3] === 200));
  });

  test('client streaming: 10,000 messages arrive in order and intact', async () => {
    const expected: Buffer[] = [];
    const out = await new Promise<Buffer>((resolve, reject) => {
      const call = client.Collect((err: Error | null, reply: Buffer) => (err ? reject(err) : resolve(reply))) as ClientWritableStream<Buffer>;
      for (let i = 0; i < 10_000; i++) {
        const m = Buffer.from(`message ${i} `.padEnd(64, '.'));
        expected.push(m);
        call.write(m);
      }
      call.end();
    });
    assert.equal(out.toString(), `10000:${sha256(Buffer.concat(expected))}`);
  });

  test('server streaming: 10,000 messages arrive in order, then the trailers', async () => {
    const call = client.Spray(Buffer.from(JSON.stringify({ count: 10_000, size: 100 }))) as ClientReadableStream<Buffer>;
    let next = 0;
    let trailers: Metadata | undefined;
    await new Promise<void>((resolve, reject) => {
      call.on('data', (m: Buffer) => {
        if (m.readUInt32BE(0) !== next || m.length !== 100) reject(new Error(`message ${next} out of order or damaged`));
        next++;
      });
      call.on('status', (s: grpc.StatusObject) => {
        trailers = s.metadata;
        if (s.code === grpc.status.OK) resolve();
        else reject(new Error(s.details));
      });
    });
    assert.equal(next, 10_000);
    assert.deepEqual(trailers?.get('x-trailer'), ['sent-after-body']);
  });

  test('bidirectional streaming: each message is echoed as it is sent', async () => {
    const call = client.Chat() as ClientDuplexStream<Buffer, Buffer>;
    const received: string[] = [];
    for (let i = 0; i < 50; i++) {
      const echoed = new Promise<Buffer>((resolve) => call.once('data', resolve));
      call.write(Buffer.from(`ping ${i}`));
      received.push((await echoed).toString());
    }
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.end();
    assert.equal((await status).code, grpc.status.OK);
    assert.deepEqual(received, Array.from({ length: 50 }, (_, i) => `ping ${i}`));
  });

  test('a 16 MiB message goes up and comes back byte for byte', async () => {
    const big = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const r = await unary(client, 'Unary', big);
    assert.equal(r.error, undefined);
    assert.equal(r.reply?.length, big.length);
    assert.equal(sha256(r.reply!), sha256(big));
  });

  test('deadline: the client gets DEADLINE_EXCEEDED and the server sees the call cancelled', async () => {
    const before = echo.cancelled.length;
    const r = await unary(client, 'Hang', Buffer.from('wait'), new grpc.Metadata(), { deadline: Date.now() + 300 });
    assert.equal(r.error?.code, grpc.status.DEADLINE_EXCEEDED);
    await waitUntil('the cancellation at the upstream', () => echo.cancelled.length > before, 3000);
    assert.equal(echo.cancelled.at(-1), 'Hang');
  });

  test('cancellation: a client cancel resets the upstream stream (server sees cancelled)', async () => {
    const before = echo.cancelled.length;
    const call = client.Chat() as ClientDuplexStream<Buffer, Buffer>;
    call.on('error', () => {}); // the CANCELLED error; asserted through 'status'
    const first = new Promise<Buffer>((resolve) => call.once('data', resolve));
    call.write(Buffer.from('hi'));
    await first;
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.cancel();
    assert.equal((await status).code, grpc.status.CANCELLED);
    await waitUntil('the cancellation at the upstream', () => echo.cancelled.length > before, 3000);
    assert.equal(echo.cancelled.at(-1), 'Chat');
  });

  test('cancellation from the upstream: a server-side reset reaches the client as a reset', async () => {
    // The echo server is killed with a call in flight (its streams are reset); the client must see the call end, not hang.
    const doomedEcho = await startEchoServer(BACKEND);
    const p = await startH2Proxy({ upstreamPort: doomedEcho.port });
    const c = echoClient(CLIENT, p.host, p.port);
    try {
      const pending = unary(c, 'Hang', Buffer.from('x'));
      await waitUntil('the call at the upstream', () => doomedEcho.lastMetadata !== undefined, 3000);
      doomedEcho.kill();
      const r = await pending;
      assert.ok(r.error, 'the call fails');
      assert.notEqual(r.error.code, grpc.status.OK);
    } finally {
      c.close();
      await p.close();
    }
  });
});

describe('gRPC under the policy', () => {
  let echo: EchoServer;
  let proxy: H2Proxy;
  before(async () => {
    echo = await startEchoServer(BACKEND);
    proxy = await startH2Proxy({
      upstreamPort: echo.port,
      policy: clientPolicy(['{method: POST, path: /test.Echo/Unary}', '{method: POST, path: /test.Echo/Chat}']),
      // Live sessions are re-decided this often after a reload (production: every 500 ms).
      timings: { reloadCheckMs: 20 },
    });
  });
  after(async () => {
    await proxy.close();
    await echo.close();
  });

  test('an allowed method goes through; a denied one is PERMISSION_DENIED "Access denied" and never reaches the server', async () => {
    const client = echoClient(CLIENT, proxy.host, proxy.port);
    try {
      const ok = await unary(client, 'Unary', Buffer.from('allowed'));
      assert.deepEqual(ok.reply, Buffer.from('allowed'));
      echo.lastMetadata = undefined;
      proxy.flows.clear();
      const denied = await unary(client, 'Hang', Buffer.from('denied'));
      assert.equal(denied.error?.code, grpc.status.PERMISSION_DENIED);
      assert.equal(denied.error?.details, 'Access denied');
      assert.equal(echo.lastMetadata, undefined, 'the denied call was not forwarded');
      const [req] = proxy.flows.l7('REQUEST');
      assert.equal(req?.verdict, 'DROPPED');
      assert.equal(req?.l7?.http?.url, `http://${proxy.host}:${proxy.port}/test.Echo/Hang`);
      // The connection stays usable after a denial.
      const again = await unary(client, 'Unary', Buffer.from('again'));
      assert.deepEqual(again.reply, Buffer.from('again'));
    } finally {
      client.close();
    }
  });

  test('a denied streaming call is answered trailers-only, even while the client is still sending', async () => {
    const client = echoClient(CLIENT, proxy.host, proxy.port);
    try {
      const call = client.Collect(() => {}) as ClientWritableStream<Buffer>;
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('error', () => {});
      call.write(Buffer.alloc(100_000));
      const s = await status;
      assert.equal(s.code, grpc.status.PERMISSION_DENIED);
      assert.equal(s.details, 'Access denied');
    } finally {
      client.close();
    }
  });

  test('a client the policy does not name is refused at L3/L4: no stream is served', async () => {
    const client = echoClient(STRANGER, proxy.host, proxy.port);
    try {
      const r = await unary(client, 'Unary', Buffer.from('x'), new grpc.Metadata(), { deadline: Date.now() + 2000 });
      assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
      assert.ok(proxy.flows.l3l4().some((e) => e.verdict === 'DROPPED' && e.source.address === STRANGER));
    } finally {
      client.close();
    }
  });

  test('a reload that denies a live session closes it', async () => {
    const client = echoClient(CLIENT, proxy.host, proxy.port);
    try {
      assert.deepEqual((await unary(client, 'Unary', Buffer.from('before'))).reply, Buffer.from('before'));
      const call = client.Chat() as ClientDuplexStream<Buffer, Buffer>;
      let status: grpc.StatusObject | undefined;
      call.on('status', (s) => (status = s));
      call.on('error', () => {});
      call.write(Buffer.from('open'));
      await new Promise((r) => call.once('data', r));
      // The new policy only admits app=stranger.
      proxy.usePolicy(clientPolicy(['{method: POST}']).replace('app: client', 'app: stranger'));
      const s = await waitUntil('the session closed by the reload', () => status, 2000);
      assert.equal(s.code, grpc.status.UNAVAILABLE);
    } finally {
      client.close();
      proxy.usePolicy(clientPolicy(['{method: POST, path: /test.Echo/Unary}', '{method: POST, path: /test.Echo/Chat}']));
    }
  });
});

describe('gRPC upstream failures', () => {
  test('an unreachable upstream is UNAVAILABLE (14)', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, BACKEND, () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const proxy = await startH2Proxy({ upstreamPort: closed });
    const client = echoClient(CLIENT, proxy.host, proxy.port);
    try {
      const r = await unary(client, 'Unary', Buffer.from('x'));
      assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
      assert.match(r.error?.details ?? '', /upstream connect error/);
      // The client got the proxy's UNAVAILABLE: a trailers-only 200 with grpc-status 14.
      assert.deepEqual(proxy.flows.failures().map((e) => e.localReply), [{ code: 200, grpcStatus: grpc.status.UNAVAILABLE }]);
      assert.equal(proxy.flows.l7('RESPONSE').length, 0);
    } finally {
      client.close();
      await proxy.close();
    }
  });

  test('a gRPC call on an http1 upstream fails with INTERNAL (13) and says why', async () => {
    const echo = await startEchoServer(BACKEND);
    const proxy = await startH2Proxy({ upstreamPort: echo.port, upstreamProtocol: 'http1' });
    const client = echoClient(CLIENT, proxy.host, proxy.port);
    try {
      const r = await unary(client, 'Unary', Buffer.from('x'));
      assert.equal(r.error?.code, grpc.status.INTERNAL);
      assert.match(r.error?.details ?? '', /gRPC needs HTTP\/2 to the upstream/);
    } finally {
      client.close();
      await proxy.close();
      await echo.close();
    }
  });
});
