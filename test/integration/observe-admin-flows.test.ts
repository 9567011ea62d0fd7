// GET /flows on the admin listener, and `portcullis observe` reading it: with one process and with two workers,
// with `flows:` a file (the admin follows it) and stdout (the rendered bytes tapped), `flows: off` (409), the
// watcher limit, a watcher that never reads (bounded: lines dropped and counted, the proxy's memory flat), and
// the admin closing (streams end cleanly, the CLI exits 0).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Pool, request } from 'undici';
import { packageFile } from '../../src/package-root.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { deathstarHttpPolicy } from '../helpers/http-proxy-fixture.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { cli, curl, startStarWars, TIEFIGHTER, type StarWarsFixture } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';
import { assertBothWorkersHold, openInTurn, startWorkersProxy, workersConfig, type WorkersProxy } from '../helpers/workers-proxy.js';

const MAIN = packageFile('dist', 'src', 'cli', 'main.js');
const POLICY = deathstarHttpPolicy('flows', '\n        - {method: GET, path: "/flow/.*"}');
const ENDPOINTS = `
- {name: deathstar, labels: {class: deathstar}, addresses: [127.0.0.10]}
- {name: tiefighter, labels: {class: tiefighter}, addresses: [${TIEFIGHTER}]}`;

const lines = (text: string): string[] => text.split('\n').slice(0, -1);

/** A running `portcullis observe`, its output so far. */
function observeProcess(args: readonly string[]): { child: ChildProcess; exited: Promise<unknown[]>; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [MAIN, 'observe', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** A /flows?follow=1 stream read as it comes. */
async function follow(base: string): Promise<{ text: () => string; close: () => void; headers: Record<string, string | string[] | undefined> }> {
  const abort = new AbortController();
  const res = await request(`${base}/flows?follow=1&last=0`, { signal: abort.signal });
  assert.equal(res.statusCode, 200);
  let text = '';
  res.body.setEncoding('utf8').on('data', (d: string) => (text += d));
  res.body.on('error', () => {});
  return { text: () => text, close: () => abort.abort(), headers: res.headers };
}

async function get(client: Client | Pool, path: string): Promise<number> {
  const r = await client.request({ method: 'GET', path });
  await r.body.dump();
  return r.statusCode;
}

/** The admin address a child proxy logged. */
function adminBase(proc: ProxyProcess): string {
  const line = proc.log().split('\n').find((l) => l.includes('"msg":"admin listener started"'));
  assert.ok(line, proc.log());
  const { host, port } = (JSON.parse(line) as { address: { host: string; port: number } }).address;
  return `http://${host}:${port}`;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('/flows with one process and a flow file', { timeout: 60_000 }, () => {
  let sw: StarWarsFixture;
  let base: string;
  before(async () => {
    sw = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml', admin: true });
    const { host, port } = sw.proxy.admin!.address;
    base = `http://${host}:${port}`;
    for (let i = 0; i < 12; i++) await curl(['--interface', TIEFIGHTER, '-XPOST', `${sw.url}/v1/request-landing`]);
    await curl(['--interface', TIEFIGHTER, '-XPUT', `${sw.url}/v1/exhaust-port`]);
    await sw.flows();
  });
  after(() => sw?.close());

  test('without follow: the last records of the file as NDJSON, chunked, then the end', async () => {
    const file = lines(readFileSync(sw.flowsFile, 'utf8'));
    assert.ok(file.length > 20);
    const res = await request(`${base}/flows`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/x-ndjson');
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(await res.body.text(), `${file.slice(-20).join('\n')}\n`);
    const two = await request(`${base}/flows?last=2`);
    assert.equal(await two.body.text(), `${file.slice(-2).join('\n')}\n`);
    const bad = await request(`${base}/flows?last=-1`);
    assert.equal(bad.statusCode, 400);
    assert.match(await bad.body.text(), /^last: expected a whole number/);
  });

  test('portcullis observe --server: the same records as the file gives, filters applied', async () => {
    const fromAdmin = await cli(['observe', '--server', base, '--last', '5']);
    assert.equal(fromAdmin.code, 0, fromAdmin.stderr);
    assert.equal(fromAdmin.stdout, (await cli(['observe', sw.flowsFile, '--last', '5'])).stdout);
    const denied = await cli(['observe', '--server', base, '--verdict', 'DROPPED']);
    assert.equal(lines(denied.stdout).length, 1, denied.stdout);
    assert.match(denied.stdout, / http-request DROPPED \(HTTP\/1\.1 PUT /);
    const unreachable = await cli(['observe', '--server', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^portcullis observe: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/);
  });

  test('-f: records as they are written; at most 8 watchers at once', async () => {
    const watcher = observeProcess(['--server', base, '-f']);
    const streams = await Promise.all(Array.from({ length: 7 }, () => follow(base)));
    try {
      await waitUntil('7 streams and the CLI connected', async () => {
        const r = await request(`${base}/flows?last=0`);
        await r.body.dump();
        return r.statusCode === 503;
      });
      const full = await request(`${base}/flows`);
      assert.equal(full.statusCode, 503);
      assert.match(await full.body.text(), /^too many flow watchers \(at most 8\)/);
      await curl(['--interface', TIEFIGHTER, '-XPUT', `${sw.url}/v1/exhaust-port`]);
      await waitUntil('the denial on the CLI', () => / http-request DROPPED \(HTTP\/1\.1 PUT /.test(watcher.stdout()), 5000);
      await waitUntil('the denial on every stream', () => streams.every((s) => s.text().includes('"PUT"')), 5000);
    } finally {
      for (const s of streams) s.close();
      watcher.child.kill('SIGINT');
    }
    assert.equal((await watcher.exited)[0], 0);
    await waitUntil('a watcher slot free again', async () => (await request(`${base}/flows?last=0`)).statusCode === 200);
  });
});

describe('observe -c: the admin address from the config; the admin closing ends streams', { timeout: 60_000 }, () => {
  test('reads the live stream of the config\'s proxy, and exits 0 when that proxy shuts down', async () => {
    const sw = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml' });
    const { startPortcullis } = await import('../../src/runtime/server.js');
    const { createLogger } = await import('../../src/observe/logger.js');
    // A second proxy with a fixed admin port, so the config names it.
    const config = readFileSync(sw.configFile, 'utf8').replace('admin: off', `admin: "127.0.0.1:${await freePort()}"`).replace('flows.jsonl', 'flows2.jsonl');
    const configFile = join(sw.dir, 'fixed-admin.yaml');
    writeFileSync(configFile, config);
    const proxy = await startPortcullis(configFile, { watch: false, log: createLogger({ level: 'silent' }) });
    try {
      const watcher = observeProcess(['-c', configFile, '-f']);
      const at = proxy.listeners[0]!.address;
      await waitUntil('the CLI connected', async () => {
        await curl(['--interface', TIEFIGHTER, '-XPUT', `http://${at.host}:${at.port}/v1/exhaust-port`]);
        return / http-request DROPPED /.test(watcher.stdout());
      }, 10_000, 200);
      await proxy.close();
      const [code] = await watcher.exited;
      assert.equal(code, 0, watcher.stderr());
      assert.equal(watcher.stderr(), '');
      const noAdmin = await cli(['observe', '-c', sw.configFile]);
      assert.equal(noAdmin.code, 1);
      assert.match(noAdmin.stderr, /the admin endpoint is off \(admin: off\)/);
    } finally {
      await proxy.close();
      await sw.close();
    }
  });
});

describe('/flows with one process and flows: stdout', { timeout: 60_000 }, () => {
  let upstream: EchoUpstream;
  let proc: ProxyProcess;
  let base: string;
  let pool: Pool;
  before(async () => {
    upstream = await startEchoUpstream();
    const config = workersConfig({
      policies: ['flows.yaml'],
      flows: 'stdout',
      endpoints: ENDPOINTS,
      listeners: `- {name: web, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.1:${upstream.port}", port: 80}`,
    });
    proc = await startProxyProcess(config, { workers: 1, files: { 'flows.yaml': POLICY }, captureStdout: true });
    base = adminBase(proc);
    pool = new Pool(`http://${proc.host}:${proc.port}`, { connections: 8, localAddress: TIEFIGHTER, pipelining: 1 });
  });
  after(async () => {
    await pool?.close();
    await proc?.close();
    await upstream?.close();
  });

  test('the stream has the lines the proxy writes to stdout; without follow there is no history, and the CLI says so', async () => {
    const stream = await follow(base);
    try {
      for (let i = 0; i < 5; i++) assert.equal(await get(pool, `/flow/${i}`), 200);
      assert.equal(await get(pool, '/denied'), 403);
      await waitUntil('the denial on the stream', () => stream.text().includes('/denied"') && stream.text().endsWith('\n'), 5000);
      await waitUntil('the denial on stdout', () => proc.stdout().includes('/denied"'), 5000);
      const streamed = lines(stream.text());
      assert.ok(streamed.length >= 6);
      for (const line of streamed) assert.ok(proc.stdout().includes(`${line}\n`), `streamed line not on stdout: ${line}`);
    } finally {
      stream.close();
    }
    const history = await request(`${base}/flows`);
    assert.equal(history.statusCode, 200);
    assert.equal(history.headers['portcullis-flow-history'], 'none');
    assert.equal(await history.body.text(), '');
    const r = await cli(['observe', '--server', base]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /writes flows to stdout and keeps no history: use --follow/);
  });

  test('a watcher that never reads: its queue is bounded, the rest dropped and counted, the proxy unaffected', async () => {
    const { hostname, port } = new URL(base);
    const stalled: Socket = connect(Number(port), hostname);
    await once(stalled, 'connect');
    stalled.write(`GET /flows?follow=1&last=0 HTTP/1.1\r\nhost: admin\r\n\r\n`);
    stalled.pause(); // never read: the proxy's writes back up into its queue
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rssBefore = proc.rss();
    const REQUESTS = 8000;
    const started = Date.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < REQUESTS; i += 8) {
          assert.equal(await get(pool, `/flow/stall-${i}-${'x'.repeat(200)}`), 200);
          done++;
        }
      }),
    );
    const loadMs = Date.now() - started;
    assert.equal(done, REQUESTS);
    // Every record (a request and a response each) before counting: the last request's are not necessarily last.
    const stallRecords = (): number => lines(proc.stdout()).filter((l) => l.includes('/flow/stall-')).length;
    await waitUntil('every flow on stdout', () => stallRecords() >= 2 * REQUESTS, 10_000);
    const rssGrowth = proc.rss() - rssBefore;
    const written = stallRecords();
    // Now read: what was queued, then the count of what was dropped.
    let received = '';
    stalled.setEncoding('utf8').on('data', (d: string) => (received += d));
    stalled.resume();
    await waitUntil('the lost-events line', () => received.includes('"lost_events"'), 10_000);
    stalled.destroy();
    const lost = Number(/\{"lost_events":\{"num_events_lost":(\d+)\}\}/.exec(received)?.[1]);
    const delivered = (received.match(/\/flow\/stall-/g) ?? []).length / 2; // the URL is in `url` and `Summary`
    console.log(`stalled watcher: ${written} records written, ${delivered} delivered, ${lost} reported lost; rss +${(rssGrowth / 1048576).toFixed(1)} MiB; ${REQUESTS} requests in ${loadMs} ms`);
    assert.ok(lost > 0, `some records were dropped for the stalled watcher: ${received.slice(0, 300)}`);
    assert.ok(delivered + lost <= written, `${delivered} delivered + ${lost} lost <= ${written} written`);
    assert.ok(delivered < written, 'the stalled watcher did not get everything queued for it');
    assert.ok(rssGrowth < 48 * 1024 * 1024, `the proxy's memory grew ${rssGrowth} bytes`);
  });
});

describe('/flows with two workers', { timeout: 90_000 }, () => {
  let upstream: EchoUpstream;
  before(async () => {
    upstream = await startEchoUpstream();
  });
  after(() => upstream?.close());

  for (const target of ['stdout', 'file'] as const) {
    test(`flows: ${target}: the stream has both workers' records`, async () => {
      const config = workersConfig({
        policies: ['flows.yaml'],
        flows: target === 'stdout' ? 'stdout' : 'flows.jsonl',
        endpoints: ENDPOINTS,
        listeners: `- {name: web, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.1:${upstream.port}", port: 80}`,
      });
      // A relative flow file is resolved from the config's folder, as the proxy resolves it.
      const proxy: WorkersProxy = await startWorkersProxy(config, { 'flows.yaml': POLICY }, { captureStdout: target === 'stdout' });
      const clients: Client[] = [];
      try {
        const base = adminBase(proxy.proc);
        const stream = await follow(base);
        const port = await proxy.listenerPort('web');
        clients.push(
          ...(await openInTurn(4, async (i) => {
            const client = new Client(`http://127.0.0.1:${port}`, { localAddress: TIEFIGHTER, pipelining: 1 });
            assert.equal(await get(client, `/flow/open-${i}`), 200);
            return client;
          })),
        );
        await assertBothWorkersHold(proxy, 'the clients');
        for (const [c, client] of clients.entries()) for (let i = 0; i < 5; i++) assert.equal(await get(client, `/flow/w${c}-${i}`), 200);
        await waitUntil('every request on the stream', () => clients.every((_, c) => stream.text().includes(`/flow/w${c}-4"`)), 10_000);
        stream.close();
        const pids = new Set(lines(stream.text()).map((l) => JSON.parse(l) as { flow: { l4: { TCP: { source_port: number } } } }).map((r) => r.flow.l4.TCP.source_port));
        assert.ok(pids.size >= 4, 'records of every connection');
        const cliOut = await cli(['observe', '--server', base, '--last', '3', '-o', 'json']);
        assert.equal(cliOut.code, 0);
        if (target === 'file') assert.equal(lines(cliOut.stdout).length, 3);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
        await proxy.close();
      }
    });
  }

  test('flows: off: 409 with one line saying why', async () => {
    const config = workersConfig({
      policies: ['flows.yaml'],
      endpoints: ENDPOINTS,
      listeners: `- {name: web, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.1:${upstream.port}", port: 80}`,
    });
    for (const workers of [2, 1]) {
      const proc = await startProxyProcess(config, { workers, files: { 'flows.yaml': POLICY } });
      try {
        const res = await request(`${adminBase(proc)}/flows?follow=1`);
        assert.equal(res.statusCode, 409, `workers: ${workers}`);
        assert.equal(await res.body.text(), 'flow records are off (flows: off): there are none to stream\n');
        const r = await cli(['observe', '--server', adminBase(proc)]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /409 flow records are off/);
      } finally {
        await proc.close();
      }
    }
  });
});
