// `workers` stopping and replacing on purpose: SIGTERM drains every worker (responses in flight complete over
// HTTP/1.1 and h2c, no new connection is accepted, their flow records are written, exit 0); SIGUSR2 replaces the
// workers one by one without refusing a connection.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { waitUntil } from '../helpers/wait.js';
import { TIEFIGHTER } from '../helpers/http-proxy-fixture.js';
import { failed, getPolicy, startLifecycleProxy, startLoad } from '../helpers/workers-lifecycle.js';
import { metric } from '../helpers/workers-proxy.js';

/** The primary's drain grace (DRAIN_KILL_MS is longer: this is what the feature promises). */
const GRACE_MS = 10_000;

/** A GET over an h2c session; resolves with the status and body. */
function h2Get(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': path });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
}

/** Resolves with the error code of a TCP connect to host:port ('connected' when it was accepted). */
function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localAddress: TIEFIGHTER });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('workers: SIGTERM lets in-flight HTTP/1.1 and h2c responses complete, refuses new connections, writes their flows, exits 0', { timeout: 30_000 }, async () => {
  const proxy = await startLifecycleProxy(getPolicy('/delay/.*'));
  const { host, port } = proxy.proc;
  const h1 = new Client(proxy.origin, { localAddress: TIEFIGHTER });
  const h2 = http2.connect(proxy.origin, { createConnection: () => connect({ host, port, localAddress: TIEFIGHTER }) });
  h2.on('error', () => {}); // a failure shows as the request's
  try {
    const h1Answer = h1.request({ path: '/delay/1000', method: 'GET' }).then(async (res) => ({ status: res.statusCode, body: await res.body.text() }));
    // Longer, so that the process is still draining when the HTTP/1.1 answer is in.
    const h2Answer = h2Get(h2, '/delay/1600');
    await waitUntil('both requests to reach the upstream', () => proxy.upstream.seen.length === 2);
    const termAt = Date.now();
    proxy.proc.signal('SIGTERM');

    assert.deepEqual(await h1Answer, { status: 200, body: 'late' });
    assert.ok(proxy.proc.alive(), 'still draining the h2c request');
    assert.equal(await connectOutcome(host, port), 'ECONNREFUSED', 'a new connection while draining');
    assert.deepEqual(await h2Answer, { status: 200, body: 'late' });

    const exit = await Promise.race([proxy.proc.exited, sleep(GRACE_MS).then(() => undefined)]);
    assert.deepEqual(exit, { code: 0, signal: null }, proxy.proc.log());
    assert.ok(Date.now() - termAt < GRACE_MS);
    assert.deepEqual(proxy.proc.processes(), [], 'no worker is left');
    assert.equal(await connectOutcome(host, port), 'ECONNREFUSED');

    const responses = proxy.flows().filter((f) => f.flow.l7?.type === 'RESPONSE');
    for (const path of ['/delay/1000', '/delay/1600']) {
      const record = responses.find((f) => String(f.flow.l7.http.url).endsWith(path));
      assert.equal(record?.flow.l7.http.code, 200, `the response record of ${path}: ${JSON.stringify(responses)}`);
    }
  } finally {
    h2.destroy();
    await h1.destroy();
    await proxy.close();
  }
});

test('workers: SIGUSR2 under load on new connections replaces both workers with no refused connection or failed request', { timeout: 60_000 }, async () => {
  const proxy = await startLifecycleProxy(getPolicy('/public'));
  try {
    const before = await proxy.workers();
    // pipelining 0: a new connection for every request, so connections are opened throughout the restart.
    const load = startLoad(proxy.origin, { lanes: 4, paths: ['/public'], pipelining: 0 });
    await sleep(300);
    proxy.proc.signal('SIGUSR2');
    const replacedAt = await proxy.waitForLog('every worker was replaced', 1, 40_000);
    await sleep(300);
    const outcomes = await load.stop();

    assert.deepEqual(failed(outcomes), [], 'no refused connection, no failed request');
    assert.deepEqual(outcomes.filter((o) => o.status !== 200), []);
    assert.ok(load.connects() >= outcomes.length, `${load.connects()} connections for ${outcomes.length} requests`);
    assert.ok(outcomes.some((o) => o.sentAt > replacedAt), 'served after the restart');

    const after = await proxy.workers();
    assert.equal(after.length, 2);
    for (const w of after) {
      assert.ok(w.serving && w.revision === 1, JSON.stringify(after));
      assert.ok(!before.some((b) => b.pid === w.pid), `worker ${w.worker} has a new pid: ${JSON.stringify({ before, after })}`);
    }
    assert.equal(proxy.logLines('worker exited; replacing it').length, 0, 'the replaced workers did not count as failures');
    for (const w of after) assert.equal(await metric(proxy, `portcullis_worker_restarts_total{worker="${w.worker}"}`) ?? 0, 0);
  } finally {
    await proxy.close();
  }
});
