// HTTP/1.1 clients that abandon partial uploads to an h2c upstream. Two POSTs whose Content-Length is larger
// than what was sent, closed at the same moment, used to send undici's H2CClient (then the HTTP/1.1 → h2c
// client) into a loop at 100 % CPU and gigabytes of memory. The proxy runs as a child process here so its own
// CPU and memory can be watched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Pool } from 'undici';
import { deathstarProcessConfig, STAR_WARS_L7, TIEFIGHTER } from '../helpers/http-proxy-fixture.js';
import { assertBystanderUnhurt, baselineOf, latenciesOf } from '../helpers/latency.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { waitUntil } from '../helpers/wait.js';

let upstream: http2.Http2Server;
let proxy: ProxyProcess;
let streams = 0;

before(async () => {
  upstream = http2.createServer();
  upstream.on('stream', (stream) => {
    streams++;
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end('Ship landed\n');
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startProxyProcess(
    deathstarProcessConfig((upstream.address() as AddressInfo).port, ', upstreamProtocol: h2c'),
    { files: { 'policy.yaml': STAR_WARS_L7 } },
  );
});
after(async () => {
  await proxy.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

function partialPost(): Socket {
  const socket = connect({ port: proxy.port, host: '127.0.0.1', localAddress: TIEFIGHTER });
  socket.on('error', () => undefined);
  socket.write(`POST /v1/request-landing HTTP/1.1\r\nHost: deathstar\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`);
  return socket;
}

test('partial POSTs closed together: the proxy stays responsive, its CPU and memory stay normal', async (t) => {
  const client = new Pool(`http://127.0.0.1:${proxy.port}`, { localAddress: TIEFIGHTER });
  const land = async () => {
    const res = await client.request({ path: '/v1/request-landing', method: 'POST', body: 'tie' });
    assert.equal(await res.body.text(), 'Ship landed\n');
  };
  try {
    const baseline = await baselineOf(land);
    const rssBefore = proxy.rss();
    for (let round = 0; round < 5; round++) {
      const seen = streams;
      const pair = [partialPost(), partialPost()];
      // Usually both are upstream by then; either way they are closed together.
      await waitUntil('both uploads at the upstream', () => streams >= seen + 2, 1000).catch(() => undefined);
      for (const s of pair) s.destroy();
      await new Promise((r) => setTimeout(r, 100)); // rounds apart: each pair is closed on its own
    }
    const cpuBefore = proxy.cpuMs();
    await new Promise((r) => setTimeout(r, 1000)); // the point: the CPU the proxy uses in a quiet second
    const cpuIdle = proxy.cpuMs() - cpuBefore;
    assert.ok(proxy.alive(), 'the proxy is still running');
    assert.ok(cpuIdle < 300, `the proxy used ${cpuIdle} ms of CPU in the second after the aborts`);
    t.diagnostic(assertBystanderUnhurt(await latenciesOf(40, land), baseline, 'after 5 pairs of partial POSTs closed together'));
    const growth = proxy.rss() - rssBefore;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(0)} MiB`);
  } finally {
    await client.destroy();
  }
});
