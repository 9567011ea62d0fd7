// Pipelined HTTP/1.1 requests are served one at a time, in order: a client that pipelines thousands of requests
// without reading holds one upstream connection, not thousands, and other clients keep being served.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
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

const PIPELINED = 2000;

for (const protocol of ['http1', 'h2c'] as const) {
  test(`${protocol} upstream: ${PIPELINED} pipelined GETs go upstream one at a time, are answered in order, and others are served meanwhile`, async (t) => {
    upstream = await startCountingUpstream(protocol, 1);
    proxy = await startProxy({ policy: STAR_WARS_L4, upstreamPort: upstream.port, upstreamProtocol: protocol });
    const port = proxy.port;
    const client = new Pool(`http://127.0.0.1:${port}`, { localAddress: TIEFIGHTER });
    const other = async () => {
      const res = await client.request({ path: '/other', method: 'GET' });
      assert.equal(await res.body.text(), '/other');
    };
    const baseline = await baselineOf(other);
    const attacker = connect({ port, host: '127.0.0.1', localAddress: TIEFIGHTER });
    attacker.pause();
    let requests = '';
    for (let i = 0; i < PIPELINED; i++) requests += `GET /p/${i} HTTP/1.1\r\nHost: deathstar\r\n\r\n`;
    attacker.write(requests);
    try {
      // Alone, the pipeline has one request upstream at a time (until it stalls on the client's unread socket).
      // undici's pool sometimes opens a second connection for strictly sequential requests, so two may be open.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(upstream.maxActive(), 1, `${upstream.maxActive()} requests upstream at once from one pipelining client`);
      assert.ok(upstream.maxOpen() <= 2, `${upstream.maxOpen()} upstream connections for one pipelining client`);
      const latencies = await latenciesOf(100, other);
      t.diagnostic(assertBystanderUnhurt(latencies, baseline, `a pipeline of ${PIPELINED} GETs`));
      // One request at a time from the pipeline, one from the other client.
      assert.ok(upstream.maxActive() <= 2, `${upstream.maxActive()} requests upstream at once`);

      let text = '';
      attacker.on('data', (c: Buffer) => (text += c.toString('latin1')));
      attacker.resume();
      const bodies = () => text.match(/\/p\/\d+/g) ?? [];
      await waitUntil(`${PIPELINED} responses`, () => bodies().length >= PIPELINED, 15_000);
      assert.deepEqual(bodies(), Array.from({ length: PIPELINED }, (_, i) => `/p/${i}`));
    } finally {
      attacker.destroy();
      await client.close();
    }
  });
}
