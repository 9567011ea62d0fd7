// With two workers, what the proxy reports is the sum of both: /metrics adds up every worker's counters (exactly the
// requests answered, by status), and the one flow file gets every worker's records whole — no record lost,
// duplicated, split or interleaved with another — under concurrent requests on both workers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Client } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { deathstarHttpPolicy, TIEFIGHTER } from '../helpers/http-proxy-fixture.js';
import { waitUntil } from '../helpers/wait.js';
import { assertBothWorkersHold, openInTurn, startWorkersProxy, workersConfig, type WorkersProxy } from '../helpers/workers-proxy.js';

const NODE_NAME = 'gateway-7';
const POLICY = deathstarHttpPolicy('flows', '\n        - {method: GET, path: "/flow/.*"}');

/** The proxy with one http listener (`web`) in front of `upstream`, GET /flow/* allowed to the tiefighter. */
async function startObserved(upstream: EchoUpstream, flows = 'off'): Promise<{ proxy: WorkersProxy; clients(count: number): Promise<Client[]> }> {
  // A node name of its own: every worker's records must carry it, not the host name.
  const config = `nodeName: ${NODE_NAME}\n` + workersConfig({
    policies: ['flows.yaml'],
    flows,
    endpoints: `
- {name: deathstar, labels: {class: deathstar}, addresses: [127.0.0.10]}
- {name: tiefighter, labels: {class: tiefighter}, addresses: [${TIEFIGHTER}]}`,
    listeners: `- {name: web, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.1:${upstream.port}", port: 80}`,
  });
  const proxy = await startWorkersProxy(config, { 'flows.yaml': POLICY }, { captureStdout: flows === 'stdout' });
  const port = await proxy.listenerPort('web');
  return {
    proxy,
    // One keep-alive connection each, opened in turn (round-robin alternates the workers) with a first request.
    clients: (count) =>
      openInTurn(count, async (i) => {
        const client = new Client(`http://127.0.0.1:${port}`, { localAddress: TIEFIGHTER, pipelining: 1, bodyTimeout: 5000, headersTimeout: 5000 });
        assert.equal(await get(client, `/flow/open-${i}`), 200);
        return client;
      }),
  };
}

async function get(client: Client, path: string): Promise<number> {
  const r = await client.request({ method: 'GET', path });
  await r.body.dump();
  return r.statusCode;
}

describe('workers: /metrics sums both workers', { timeout: 30_000 }, () => {
  let upstream: EchoUpstream;
  let proxy: WorkersProxy;
  let clients: Client[];
  before(async () => {
    upstream = await startEchoUpstream();
    const observed = await startObserved(upstream);
    proxy = observed.proxy;
    clients = await observed.clients(6);
  });
  after(async () => {
    await Promise.all(clients?.map((c) => c.close()) ?? []);
    await proxy?.close();
    await upstream?.close();
  });

  test('hubble_http_requests_total counts exactly the allowed (200) and denied (403) requests of both workers', async () => {
    await assertBothWorkersHold(proxy, 'the HTTP/1.1 connections');
    const ALLOWED = 60; // including the clients' first requests
    const DENIED = 25;
    const statuses = await Promise.all(
      clients.map(async (client, c) => {
        const seen: number[] = [];
        for (let i = c + clients.length; i < ALLOWED; i += clients.length) seen.push(await get(client, `/flow/${i}`));
        for (let i = c; i < DENIED; i += clients.length) seen.push(await get(client, '/denied'));
        return seen;
      }),
    );
    assert.equal(statuses.flat().filter((s) => s === 200).length, ALLOWED - clients.length);
    assert.equal(statuses.flat().filter((s) => s === 403).length, DENIED);

    const metrics = (await proxy.admin('/metrics')).body;
    const requests = (status: number): number =>
      [...metrics.matchAll(new RegExp(`^hubble_http_requests_total\\{[^}]*status="${status}"[^}]*\\} (\\d+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.equal(requests(200), ALLOWED, metrics);
    assert.equal(requests(403), DENIED, metrics);
    assert.match(metrics, /^portcullis_workers 2$/m);
  });
});

// A flow file is appended to by every worker; stdout is the primary's, which merges the workers' pipes.
for (const target of ['file', 'stdout'] as const) {
describe(`workers: one flow stream from both workers (${target})`, { timeout: 60_000 }, () => {
  const CLIENTS = 20;
  const REQUESTS = 2000;
  let upstream: EchoUpstream;
  let proxy: WorkersProxy;
  let read: () => string;
  let clients: Client[];
  before(async () => {
    upstream = await startEchoUpstream();
    const observed = await startObserved(upstream, target === 'file' ? 'flows.jsonl' : 'stdout');
    proxy = observed.proxy;
    read = target === 'file' ? () => readFileSync(join(proxy.proc.dir, 'flows.jsonl'), 'utf8') : () => proxy.proc.stdout();
    clients = await observed.clients(CLIENTS);
  });
  after(async () => {
    await Promise.all(clients?.map((c) => c.close()) ?? []);
    await proxy?.close();
    await upstream?.close();
  });

  test(`${REQUESTS} requests on ${CLIENTS} connections over both workers: every record whole, each exactly once`, async () => {
    await assertBothWorkersHold(proxy, 'the HTTP/1.1 connections');
    // Every client at once, each with its share of the requests after its first one.
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = c + CLIENTS; i < REQUESTS + CLIENTS; i += CLIENTS) assert.equal(await get(client, `/flow/${i - CLIENTS}`), 200);
      }),
    );
    // A request and a response record per request (the clients' first requests too).
    const expected = 2 * (REQUESTS + CLIENTS);
    // Records missing after the wait show in the count asserted below.
    await waitUntil(`${expected} flow records`, () => lineCount(read()) >= expected, 20_000, 50).catch(() => undefined);
    await sleep(200); // anything more that was coming would be a duplicate
    const text = read();
    assert.ok(text.endsWith('\n'), 'the stream ends with a whole record');
    const lines = text.slice(0, -1).split('\n');
    assert.equal(lines.length, expected);
    const seen = new Map<string, number>();
    for (const line of lines) {
      const { flow, node_name: node } = JSON.parse(line) as { flow: { l7: { type: string; http: { url: string } }; node_name: string }; node_name: string };
      assert.equal(flow.node_name, NODE_NAME);
      assert.equal(node, NODE_NAME);
      const key = `${flow.l7.type} ${new URL(flow.l7.http.url).pathname}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    const paths = [...Array.from({ length: REQUESTS }, (_, i) => `/flow/${i}`), ...Array.from({ length: CLIENTS }, (_, i) => `/flow/open-${i}`)];
    const want = new Map(paths.flatMap((p) => [[`REQUEST ${p}`, 1] as const, [`RESPONSE ${p}`, 1] as const]));
    assert.deepEqual(seen, want);
  });
});
}

const lineCount = (text: string): number => text.split('\n').length - 1;
