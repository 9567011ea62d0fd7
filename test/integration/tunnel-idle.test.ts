// Spliced tunnels close when idle: `http.tunnelIdleTimeoutMs` on WebSocket tunnels (http listener), TLS
// passthrough (tls listener) and CONNECT splices (forward listener). No byte either way for the timeout closes
// both sides and records a flow saying so; a tunnel with bytes every 100 ms stays open however long it lives.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type Socket } from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { startProxy, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { readTextFrames, textFrame, WEBSOCKET_POLICY, websocketKey } from '../helpers/http-websocket.js';
import { closeServer, listenLocal, tlsConnectFrom } from '../helpers/tls-net.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const IDLE_MS = 500;
/** Active tunnels send for three idle timeouts. */
const ACTIVE_FOR_MS = 3 * IDLE_MS;

/** Resolves with how long `socket` stayed open, from now; fails past `IDLE_MS + 2000`. */
async function closesWhenIdle(socket: net.Socket): Promise<number> {
  socket.resume();
  const started = performance.now();
  const closed = await Promise.race([once(socket, 'close').then(() => true), new Promise<false>((r) => setTimeout(r, IDLE_MS + 2000, false))]);
  socket.destroy();
  assert.ok(closed, `idle tunnel still open ${IDLE_MS + 2000} ms after its last byte`);
  return performance.now() - started;
}

/**
 * Writes `message()` every 100 ms for ACTIVE_FOR_MS and checks the tunnel stayed open and carried the traffic:
 * `echoes(received)` counts the answers so far.
 */
async function staysOpenWhileActive(socket: net.Socket, message: () => Buffer, echoes: (received: Buffer) => number): Promise<void> {
  let received = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  let sent = 0;
  const deadline = performance.now() + ACTIVE_FOR_MS;
  while (performance.now() < deadline) {
    assert.ok(!socket.destroyed, `active tunnel closed after ${sent} messages`);
    socket.write(message());
    sent++;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(!socket.destroyed, 'active tunnel closed');
  assert.ok(echoes(received) >= sent - 2, `${echoes(received)} of ${sent} messages came back`);
  socket.destroy();
}

describe('WebSocket tunnel (http listener)', { timeout: 20_000 }, () => {
  let proxy: ProxyFixture | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  async function openTunnel(port: number): Promise<Socket> {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: TIEFIGHTER });
    await once(socket, 'connect');
    socket.write(`GET /ws HTTP/1.1\r\nHost: deathstar\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${websocketKey()}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const [head] = (await once(socket, 'data')) as [Buffer];
    assert.match(head.toString('latin1'), /^HTTP\/1\.1 101 /);
    return socket;
  }

  test(`an idle tunnel is closed after tunnelIdleTimeoutMs (${IDLE_MS}), and a flow says why`, async () => {
    proxy = await startProxy({ policy: WEBSOCKET_POLICY, http: `tunnelIdleTimeoutMs: ${IDLE_MS}` });
    const lasted = await closesWhenIdle(await openTunnel(proxy.port));
    assert.ok(lasted >= IDLE_MS - 50, `closed after ${lasted} ms`);
    const closedFlows = proxy.flows.l3l4().filter((f) => /WebSocket tunnel closed: no traffic either way for 500 ms/.test(f.reason ?? ''));
    assert.equal(closedFlows.length, 1);
    assert.equal(closedFlows[0]!.source.address, TIEFIGHTER);
  });

  test('a tunnel with a frame every 100 ms stays open', async () => {
    proxy = await startProxy({ policy: WEBSOCKET_POLICY, http: `tunnelIdleTimeoutMs: ${IDLE_MS}` });
    const socket = await openTunnel(proxy.port);
    await staysOpenWhileActive(socket, () => textFrame('ping', true), (b) => readTextFrames(b).texts.length);
  });
});

describe('TLS passthrough (tls listener) and CONNECT splice (forward listener)', { timeout: 30_000 }, () => {
  const CLIENT = '127.0.0.61';
  let store: TempStore;
  let caFile: string;
  let tlsEcho: tls.Server;
  let tcpEcho: net.Server;
  let tcpEchoPort: number;
  let runtime: Runtime;

  before(async () => {
    store = await tempStoreWithCa();
    caFile = path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt');
    const secret = { namespace: 'default', name: 'echo' };
    await issueCertificate({ store: store.root, ca: store.ca, secret, names: ['echo.local'] });
    const dir = path.join(store.root, secret.namespace, secret.name);
    tlsEcho = tls.createServer({ cert: readFileSync(path.join(dir, 'tls.crt')), key: readFileSync(path.join(dir, 'tls.key')) }, (s) => s.pipe(s).on('error', () => {}));
    tcpEcho = net.createServer((s) => s.pipe(s).on('error', () => {}));
    const tlsEchoPort = await listenLocal(tlsEcho);
    tcpEchoPort = await listenLocal(tcpEcho);
    runtime = await startRuntime({
      certs: store.root,
      policies: {
        'echo.yaml': `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: echo, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: echo}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {app: echo}}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
  - toFQDNs: [{matchName: echo.local}]
    toPorts: [{ports: [{port: "${tcpEchoPort}", protocol: TCP}]}]
`,
      },
      endpoints: `
- {name: echo, namespace: default, labels: {app: echo}, addresses: [127.0.0.60]}
- {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}]}`,
      listeners: `
- {name: echo-tls, listen: "127.0.0.1:0", protocol: tls, to: echo, upstream: "127.0.0.1:${tlsEchoPort}", port: 443, http: {tunnelIdleTimeoutMs: ${IDLE_MS}}}
- {name: egress, listen: "127.0.0.1:0", protocol: forward, http: {tunnelIdleTimeoutMs: ${IDLE_MS}}, forward: {systemResolver: false, hosts: {echo.local: [127.0.0.1]}}}`,
    });
  });
  after(async () => {
    await runtime?.close();
    await closeServer(tlsEcho);
    await closeServer(tcpEcho);
    store?.cleanup();
  });

  async function passthrough(): Promise<tls.TLSSocket> {
    const socket = tlsConnectFrom(CLIENT, runtime.port('echo-tls'), { servername: 'echo.local', ca: readFileSync(caFile) });
    await once(socket, 'secureConnect');
    return socket;
  }

  async function connectTunnel(): Promise<Socket> {
    const socket = net.connect({ host: '127.0.0.1', port: runtime.port('egress'), localAddress: CLIENT });
    await once(socket, 'connect');
    socket.write(`CONNECT echo.local:${tcpEchoPort} HTTP/1.1\r\nHost: echo.local:${tcpEchoPort}\r\n\r\n`);
    const [head] = (await once(socket, 'data')) as [Buffer];
    assert.equal(head.toString('latin1'), 'HTTP/1.1 200 Connection Established\r\n\r\n');
    return socket;
  }

  const idleFlows = async (what: string) => runtime.waitForFlows((f) => f.Type === 'L3_L4' && new RegExp(`^${what} closed: no traffic either way for ${IDLE_MS} ms`).test(f.Summary ?? ''));
  const pings = (b: Buffer): number => b.toString('latin1').split('ping').length - 1;

  test('an idle TLS passthrough is closed after tunnelIdleTimeoutMs, with a flow', async () => {
    const lasted = await closesWhenIdle(await passthrough());
    assert.ok(lasted >= IDLE_MS - 50, `closed after ${lasted} ms`);
    assert.equal((await idleFlows('TLS passthrough')).length, 1);
  });

  test('a TLS passthrough with bytes every 100 ms stays open', async () => {
    await staysOpenWhileActive(await passthrough(), () => Buffer.from('ping'), pings);
  });

  test('an idle CONNECT splice is closed after tunnelIdleTimeoutMs, with a flow', async () => {
    const lasted = await closesWhenIdle(await connectTunnel());
    assert.ok(lasted >= IDLE_MS - 50, `closed after ${lasted} ms`);
    assert.equal((await idleFlows(`CONNECT tunnel to echo.local:${tcpEchoPort}`)).length, 1);
  });

  test('a CONNECT splice with bytes every 100 ms stays open', async () => {
    await staysOpenWhileActive(await connectTunnel(), () => Buffer.from('ping'), pings);
  });
});
