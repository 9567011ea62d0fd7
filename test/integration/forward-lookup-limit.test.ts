// The forward proxy's name lookups are gated (`forward.maxConcurrentLookups`, `forward.maxQueuedLookups`): system
// lookups run on libuv's small thread pool, which fs work shares, and one that hangs holds its thread past the
// proxy's own timeout. A flood of CONNECTs to slow names keeps at most the configured number of lookups running,
// the queue bounded (more get 503 at once), and the gate frees up once the lookups really end.
// The system resolver is replaced by a fake (slow for `slow-*` names) through node:dns/promises itself.
import assert from 'node:assert/strict';
import dnsPromises from 'node:dns/promises';
import { once } from 'node:events';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { closeServer, listenLocal } from '../helpers/tls-net.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';

const CLIENT = '127.0.0.141';
const SLOW_MS = 1500;
const RESOLVE_TIMEOUT_MS = 300;
const MAX_CONCURRENT = 2;
const MAX_QUEUED = 4;

const realLookup = dnsPromises.lookup;
let inFlight = 0;
let maxInFlight = 0;
let echo: net.Server;
let echoPort: number;
let runtime: Runtime;

before(async () => {
  const fake = async (name: string) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      if (name.startsWith('slow-')) await new Promise((r) => setTimeout(r, SLOW_MS));
      return [{ address: '127.0.0.1', family: 4 }];
    } finally {
      inFlight--;
    }
  };
  (dnsPromises as { lookup: unknown }).lookup = fake;
  syncBuiltinESMExports();
  echo = net.createServer((s) => s.pipe(s).on('error', () => {}));
  echoPort = await listenLocal(echo);
  runtime = await startRuntime({
    policies: {
      'client.yaml': `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toFQDNs: [{matchPattern: "*.test"}]
    toPorts: [{ports: [{port: "${echoPort}", protocol: TCP}]}]
`,
    },
    endpoints: `- {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}]}`,
    listeners: `- {name: egress, listen: "127.0.0.1:0", protocol: forward, forward: {resolveTimeoutMs: ${RESOLVE_TIMEOUT_MS}, maxConcurrentLookups: ${MAX_CONCURRENT}, maxQueuedLookups: ${MAX_QUEUED}}}`,
  });
});

after(async () => {
  await runtime?.close();
  if (echo) await closeServer(echo);
  (dnsPromises as { lookup: unknown }).lookup = realLookup;
  syncBuiltinESMExports();
});

/** CONNECT to `host`; the status code of the answer and how long it took. */
async function connectTo(host: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const socket = net.connect({ host: '127.0.0.1', port: runtime.port('egress'), localAddress: CLIENT });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(`CONNECT ${host}:${echoPort} HTTP/1.1\r\nHost: ${host}:${echoPort}\r\n\r\n`);
  const [head] = (await once(socket, 'data')) as [Buffer];
  socket.destroy();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.toString('latin1'))?.[1]);
  return { status, ms: performance.now() - started };
}

test('20 CONNECTs to slow names: 2 lookups run, 4 wait and time out (502), the rest get 503 at once; then the gate is free again', { timeout: 20_000 }, async () => {
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => connectTo(`slow-${i}.test`)));
  assert.equal(maxInFlight, MAX_CONCURRENT, 'system lookups running at once');
  const byStatus = (status: number) => answers.filter((a) => a.status === status);
  assert.equal(byStatus(502).length, MAX_CONCURRENT + MAX_QUEUED, JSON.stringify(answers));
  assert.equal(byStatus(503).length, 20 - MAX_CONCURRENT - MAX_QUEUED, JSON.stringify(answers));
  for (const a of byStatus(503)) assert.ok(a.ms < RESOLVE_TIMEOUT_MS, `503 after ${a.ms} ms`);
  // The timed-out lookups still hold their slots until they end: a new name waits for a turn and times out.
  assert.equal((await connectTo('fast.test')).status, 502);
  await new Promise((r) => setTimeout(r, SLOW_MS));
  assert.equal(inFlight, 0);
  assert.equal((await connectTo('fast.test')).status, 200);
});
