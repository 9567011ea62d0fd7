// Bounds on what clients can make the proxy hold towards its upstream: the connections of an upstream pool
// (upstreamMaxConnections), the requests queued for them (upstreamMaxPending, then 503 with an ERROR flow), and
// stalled uploads (streamIdleTimeoutMs), which must neither block other requests nor hold a stream for long.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect, type Socket } from 'node:net';
import { Pool } from 'undici';
import { startProxy, STAR_WARS_L4, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { startCountingUpstream, type CountingUpstream } from '../helpers/http-load.js';
import { assertBystanderUnhurt, baselineOf, latenciesOf } from '../helpers/latency.js';
import { waitUntil } from '../helpers/wait.js';

let proxy: ProxyFixture | undefined;
let upstream: CountingUpstream | undefined;
afterEach(async () => {
  await proxy?.close();
  await upstream?.close();
  proxy = upstream = undefined;
});

for (const protocol of ['http1', 'h2c'] as const) {
  test(`${protocol} upstream: past upstreamMaxConnections requests queue, past upstreamMaxPending they get 503 with an ERROR flow`, async () => {
    // One stream per h2c connection, so the connection limit is what bounds the requests in flight.
    upstream = await startCountingUpstream(protocol, 1);
    proxy = await startProxy({ policy: STAR_WARS_L4, upstreamPort: upstream.port, upstreamProtocol: protocol, http: 'upstreamMaxConnections: 2, upstreamMaxPending: 3' });
    const client = new Pool(proxy.url, { localAddress: TIEFIGHTER, connections: 10 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await client.request({ path: '/slow', method: 'GET' });
          return `${res.statusCode} ${await res.body.text()}`;
        }),
      );
      assert.equal(answers.filter((a) => a === '200 /slow').length, 5, answers.join(', '));
      assert.equal(answers.filter((a) => a === '503 upstream overloaded\r\n').length, 5, answers.join(', '));
      assert.ok(upstream.maxOpen() <= 2, `${upstream.maxOpen()} upstream connections`);
      // The 503s are the proxy's: ERROR records in the request's direction, not responses of the deathstar.
      const refused = proxy.flows.failures();
      assert.equal(refused.length, 5);
      assert.deepEqual(proxy.flows.l7('RESPONSE').map((f) => f.verdict), Array(5).fill('FORWARDED'));
      assert.deepEqual(refused.map((f) => f.localReply), Array(5).fill({ code: 503 }));
      assert.match(refused[0]!.reason ?? '', /upstream overloaded: 2 connections busy and 3 requests queued \(upstreamMaxConnections, upstreamMaxPending\)/);
    } finally {
      await client.destroy();
    }
  });
}

const STALLED = 120;

for (const protocol of ['h2c', 'http1'] as const) {
  test(`${protocol} upstream: ${STALLED} stalled uploads from HTTP/1.1 and from HTTP/2 clients block nobody and are released after streamIdleTimeoutMs`, async (t) => {
    upstream = await startCountingUpstream(protocol, 100);
    proxy = await startProxy({ policy: STAR_WARS_L4, upstreamPort: upstream.port, upstreamProtocol: protocol, http: 'streamIdleTimeoutMs: 1500' });
    const port = proxy.port;
    const sockets: Socket[] = [];
    const h2Sessions: http2.ClientHttp2Session[] = [];
    const h1Answers: string[] = [];
    const client = new Pool(proxy.url, { localAddress: TIEFIGHTER });
    const other = async () => {
      const res = await client.request({ path: '/other', method: 'GET' });
      assert.equal(await res.body.text(), '/other');
    };
    try {
      const baseline = await baselineOf(other);
      for (let i = 0; i < STALLED; i++) {
        const socket = connect({ port, host: '127.0.0.1', localAddress: TIEFIGHTER });
        socket.on('error', () => undefined);
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
        socket.on('close', () => h1Answers.push(text));
        socket.write('POST /upload HTTP/1.1\r\nHost: deathstar\r\nContent-Length: 1000\r\n\r\nx');
        sockets.push(socket);
      }
      const h2Resets: number[] = [];
      for (let s = 0; s < 2; s++) {
        const session = http2.connect(proxy.url, { createConnection: () => connect({ port, host: '127.0.0.1', localAddress: TIEFIGHTER }) });
        session.on('error', () => undefined);
        h2Sessions.push(session);
        for (let i = 0; i < STALLED / 2; i++) {
          const stream = session.request({ ':method': 'POST', ':path': '/upload' }, { endStream: false });
          stream.on('error', () => undefined);
          stream.on('close', () => h2Resets.push(stream.rstCode ?? -1));
          stream.write('x');
        }
      }
      await waitUntil(`${2 * STALLED} uploads at the upstream`, () => upstream!.uploading() >= 2 * STALLED, 5000);

      t.diagnostic(assertBystanderUnhurt(await latenciesOf(40, other), baseline, `${2 * STALLED} stalled uploads`));

      // Released after the idle bound (sweeps make it up to 1¼ of it): HTTP/1.1 clients get a 408, HTTP/2 streams a reset.
      await waitUntil('no upload held upstream', () => upstream!.uploading() === 0, 4000);
      await waitUntil(`${STALLED} HTTP/1.1 and ${STALLED} HTTP/2 uploads ended`, () => h1Answers.length === STALLED && h2Resets.length === STALLED, 2000);
      assert.ok(h1Answers.every((t) => t.startsWith('HTTP/1.1 408 Request Timeout\r\n') && t.endsWith('request body timeout\r\n')), h1Answers[0]);
      assert.ok(h2Resets.every((code) => code === http2.constants.NGHTTP2_CANCEL), String(h2Resets[0]));
      const timedOut = proxy.flows.failures().filter((f) => /request body made no progress for 1500 ms/.test(f.reason ?? ''));
      assert.equal(timedOut.length, STALLED, 'one ERROR flow per stalled HTTP/1.1 upload');
    } finally {
      for (const s of sockets) s.destroy();
      for (const s of h2Sessions) s.destroy();
      await client.destroy();
    }
  });
}
