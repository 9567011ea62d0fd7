// With two workers, an `http` listener enforces policy on every connection whichever worker the primary hands it to:
// HTTP/1.1 (undici), h2c (node:http2) and gRPC (@grpc/grpc-js) over several connections held open at once, each
// asked an allowed and a denied request, while /workers shows both workers holding some of them.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { STAR_WARS_L7, TIEFIGHTER } from '../helpers/http-proxy-fixture.js';
import { echoClient, startEchoServer, unary, type EchoServer } from '../helpers/h2-grpc-echo.js';
import { BACKEND, CLIENT, clientPolicy } from '../helpers/h2-proxy-fixture.js';
import { assertBothWorkersHold, openInTurn, startWorkersProxy, waitUntilIdle, workersConfig, type WorkersProxy } from '../helpers/workers-proxy.js';

/** Connections each test holds open at once: round-robin puts three on each worker. */
const CONNECTIONS = 6;
const LANDING = { method: 'POST', path: '/v1/request-landing' } as const;
const EXHAUST = { method: 'PUT', path: '/v1/exhaust-port' } as const;

describe('workers: http listener', { timeout: 60_000 }, () => {
  let upstream: EchoUpstream;
  let grpcServer: EchoServer;
  let proxy: WorkersProxy;
  let web: number;
  let grpcPort: number;

  before(async () => {
    upstream = await startEchoUpstream();
    grpcServer = await startEchoServer(BACKEND);
    const config = workersConfig({
      policies: ['starwars.yaml', 'grpc.yaml'],
      endpoints: `
- {name: deathstar, labels: {org: empire, class: deathstar}, addresses: [127.0.0.10]}
- {name: tiefighter, labels: {org: empire, class: tiefighter}, addresses: [${TIEFIGHTER}]}
- {name: backend, labels: {app: backend}, addresses: [${BACKEND}]}
- {name: client, labels: {app: client}, addresses: [${CLIENT}]}`,
      listeners: `
- {name: web, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.1:${upstream.port}", port: 80}
- {name: grpc, listen: "127.0.0.1:0", protocol: http, to: backend, upstream: "${BACKEND}:${grpcServer.port}", port: 8080, upstreamProtocol: h2c}`,
    });
    proxy = await startWorkersProxy(config, { 'starwars.yaml': STAR_WARS_L7, 'grpc.yaml': clientPolicy(['{method: POST, path: /test.Echo/Unary}']) });
    web = await proxy.listenerPort('web');
    grpcPort = await proxy.listenerPort('grpc');
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
    await grpcServer?.close();
  });

  test('HTTP/1.1: keep-alive connections on both workers; each lands (200) and is refused the exhaust port (403)', async () => {
    await waitUntilIdle(proxy);
    const clients = await openInTurn(CONNECTIONS, async () => {
      const client = new Client(`http://127.0.0.1:${web}`, { localAddress: TIEFIGHTER, pipelining: 1, bodyTimeout: 5000, headersTimeout: 5000 });
      const r = await client.request({ ...LANDING, body: 'x' });
      assert.deepEqual({ status: r.statusCode, body: await r.body.text() }, { status: 200, body: 'Ship landed\n' });
      return client;
    });
    try {
      await assertBothWorkersHold(proxy, 'the HTTP/1.1 connections');
      for (const client of clients) {
        const r = await client.request(EXHAUST);
        assert.deepEqual({ status: r.statusCode, body: await r.body.text() }, { status: 403, body: 'Access denied\r\n' });
      }
      assert.equal(upstream.seen.filter((s) => s.url === EXHAUST.path).length, 0, 'no denied request reached the upstream');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  test('h2c: sessions on both workers; each lands (200) and is refused the exhaust port (403)', async () => {
    await waitUntilIdle(proxy);
    const sessions = await openInTurn(CONNECTIONS, async () => {
      const session = http2.connect(`http://127.0.0.1:${web}`, { createConnection: () => net.connect({ host: '127.0.0.1', port: web, localAddress: TIEFIGHTER }) });
      session.on('error', () => {});
      assert.deepEqual(await h2Request(session, LANDING), { status: 200, body: 'Ship landed\n' });
      return session;
    });
    try {
      await assertBothWorkersHold(proxy, 'the h2c sessions');
      for (const session of sessions) assert.deepEqual(await h2Request(session, EXHAUST), { status: 403, body: 'Access denied\r\n' });
    } finally {
      for (const s of sessions) s.close();
    }
  });

  test('gRPC: channels on both workers; each gets its Unary answer and PERMISSION_DENIED (7) for Hang', async () => {
    await waitUntilIdle(proxy);
    const clients = await openInTurn(CONNECTIONS, async (i) => {
      const client = echoClient(CLIENT, '127.0.0.1', grpcPort);
      const r = await unary(client, 'Unary', Buffer.from(`call ${i}`), undefined, { deadline: Date.now() + 5000 });
      assert.equal(r.error, undefined);
      assert.deepEqual(r.reply, Buffer.from(`call ${i}`));
      return client;
    });
    try {
      await assertBothWorkersHold(proxy, 'the gRPC channels');
      for (const client of clients) {
        // Forwarded, Hang would never answer: the deadline (4) would end it instead of the proxy's denial.
        const r = await unary(client, 'Hang', Buffer.from('x'), undefined, { deadline: Date.now() + 5000 });
        assert.equal(r.error?.code, 7, r.error?.message);
      }
    } finally {
      for (const c of clients) c.close();
    }
  });
});

function h2Request(session: http2.ClientHttp2Session, o: { method: string; path: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': o.method, ':path': o.path });
    let status = 0;
    let body = '';
    stream.setTimeout(5000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8').on('data', (d: string) => (body += d));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
    stream.end();
  });
}
