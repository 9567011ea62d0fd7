// The admin listener over real HTTP: readiness, Prometheus scrape, snapshot views, and refusals.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { startAdmin } from '../../src/observe/admin.js';
import type { RunningAdmin } from '../../src/observe/admin.js';
import { createLogger } from '../../src/observe/logger.js';
import { createMetrics } from '../../src/observe/metrics.js';
import type { PolicySnapshot } from '../../src/policy/types.js';
import { captureLog } from '../helpers/observe-log-capture.js';
import { STARWARS_POLICY, starwarsSnapshot } from '../helpers/observe-starwars-snapshot.js';

let current: PolicySnapshot | undefined;

let ready = false;
const logged = captureLog();
const log = createLogger({ destination: logged.stream });
const metrics = createMetrics();
let admin: RunningAdmin;
let base: string;

before(async () => {
  admin = await startAdmin({
    listen: { host: '127.0.0.1', port: 0 },
    metrics,
    ready: () => ready,
    snapshot: () => {
      if (!current) throw new Error('no snapshot yet');
      return current;
    },
    log,
  });
  base = `http://127.0.0.1:${admin.address.port}`;
});
// The admin client gets its own loopback source address, like every test client here.
const client = new Agent({ connect: { localAddress: '127.0.0.3' } });
after(async () => {
  await client.close();
  await admin.close();
});

async function get(path: string, method = 'GET') {
  const res = await request(`${base}${path}`, { method: method as 'GET', dispatcher: client });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

test('binds where told and reports the bound address', () => {
  assert.equal(admin.address.host, '127.0.0.1');
  assert.ok(admin.address.port > 0);
});

test('/ready is 503 until ready, then 200 LIVE', async () => {
  const before = await get('/ready');
  assert.equal(before.status, 503);
  assert.equal(before.body, 'NOT READY\n');
  ready = true;
  const afterReady = await get('/ready');
  assert.equal(afterReady.status, 200);
  assert.equal(afterReady.body, 'LIVE\n');
  assert.equal(afterReady.headers['cache-control'], 'no-store');
});

test('/policies and /endpoints: 503 before a snapshot, then the current revision', async () => {
  current = undefined;
  const none = await get('/policies');
  assert.equal(none.status, 503);
  assert.deepEqual(JSON.parse(none.body), { error: 'no policy snapshot loaded' });

  current = starwarsSnapshot(4);
  const policies = await get('/policies');
  assert.equal(policies.status, 200);
  assert.equal(policies.headers['content-type'], 'application/json; charset=utf-8');
  const body = JSON.parse(policies.body) as { revision: number; policies: Array<Record<string, unknown>> };
  assert.equal(body.revision, 4);
  assert.equal(body.policies.length, 1);
  assert.deepEqual(
    { ...body.policies[0], spec: undefined },
    {
      kind: 'CiliumNetworkPolicy',
      name: 'rule1',
      namespace: 'default',
      file: STARWARS_POLICY,
      line: 1,
      rules: 1,
      ruleCounts: { l3l4: 0, http: 1, kafka: 0, dns: 0, deny: 0 },
      spec: undefined,
    },
  );
  assert.match(JSON.stringify(body.policies[0]?.spec), /"path":"\/v1\/request-landing"/);

  current = starwarsSnapshot(5);
  const eps = await get('/endpoints');
  assert.equal(eps.status, 200);
  const listed = JSON.parse(eps.body) as { revision: number; endpoints: Array<Record<string, unknown>> };
  assert.equal(listed.revision, 5);
  const ids = current.endpoints.list().map((e) => e.identity.id);
  assert.deepEqual(listed.endpoints, [
    { name: 'deathstar', namespace: 'default', labels: { org: 'empire', class: 'deathstar' }, addresses: ['127.0.0.10'], identity: ids[0] },
    { name: 'tiefighter', namespace: 'default', labels: { org: 'empire', class: 'tiefighter' }, addresses: ['127.0.0.2'], identity: ids[1] },
    { name: 'xwing', namespace: 'default', labels: { org: 'alliance', class: 'xwing' }, addresses: ['127.0.0.3'], identity: ids[2] },
  ]);
  assert.ok(ids.every((id) => id !== undefined && id >= 256), 'endpoint identities are user identities');
});

test('/metrics serves the registry in Prometheus text format', async () => {
  metrics.httpRequest('GET', 'HTTP/1.1', 403);
  metrics.snapshotInfo(5, 1, 2);
  const res = await get('/metrics');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(res.body, /^hubble_http_requests_total\{method="GET",protocol="HTTP\/1\.1",status="403"\} 1$/m);
  assert.match(res.body, /^portcullis_policy_revision 5$/m);
  assert.match(res.body, /^process_resident_memory_bytes \d+/m);
  const withQuery = await get('/metrics?name[]=x');
  assert.equal(withQuery.status, 200);
});

test('HEAD works like GET without a body; other methods get 405 with Allow', async () => {
  const head = await get('/ready', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await get('/metrics', method);
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, HEAD');
  }
});

test('unknown paths are 404', async () => {
  for (const path of ['/', '/stats', '/ready/', '/policies/x', '/..%2fmetrics']) {
    const res = await get(path);
    assert.equal(res.status, 404, path);
  }
});

test('a snapshot that cannot be serialised is a 500, and the listener keeps serving', async () => {
  const real = starwarsSnapshot(6);
  current = {
    revision: 6, audit: false, enforcement: 'default', endpoints: real.endpoints,
    policies: [{ ...real.policies[0]!, spec: { big: 1n } }],
    decideConnection: (r) => real.decideConnection(r),
  };
  const res = await get('/policies');
  assert.equal(res.status, 500);
  assert.match(logged.text(), /admin request failed/);
  current = starwarsSnapshot(7);
  assert.equal((await get('/policies')).status, 200);
});

test('malformed HTTP gets 400 and a closed connection', async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: admin.address.port, localAddress: '127.0.0.3' });
    let data = '';
    socket.on('data', (c: Buffer) => (data += c));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.write('GET /ready HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n');
  });
  assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
});

test('a port in use is a clear startup error', async () => {
  await assert.rejects(
    startAdmin({ listen: { host: '127.0.0.1', port: admin.address.port }, metrics, ready: () => true, snapshot: () => starwarsSnapshot(1), log }),
    new RegExp(`admin: cannot listen on 127\\.0\\.0\\.1:${admin.address.port}: .*EADDRINUSE`),
  );
});
