// Connection caps at accept, `maxConnectionsPerSource` and `maxConnections`, on http, kafka and forward listeners
// (tls listeners share the http listener's accept path). A source over its cap gets its extra connections reset
// without a byte; other sources are served as before; closing connections makes room again; every refusal is
// counted as a drop.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, encodeRequest } from '../../src/protocols/kafka/codec/index.js';
import { connectionBurst } from '../helpers/connection-burst.js';
import { assertBystanderUnhurt, baselineOf, latencyOf } from '../helpers/latency.js';
import { rawExchange } from '../helpers/http-raw-client.js';
import { startProxy, TIEFIGHTER, XWING, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { EMPIRE, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { waitUntil } from '../helpers/wait.js';

/** Every endpoint may reach the deathstar on port 80: the caps, not policy, decide here. */
const EVERYONE = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: everyone}
spec:
  endpointSelector: {matchLabels: {class: deathstar}}
  ingress:
  - fromEndpoints: [{}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`;

const GET = Buffer.from('GET / HTTP/1.1\r\nHost: deathstar\r\n\r\n', 'latin1');
const httpAnswered = (b: Buffer): boolean => b.includes('\r\n\r\n');

const drops = (calls: Array<ReadonlyArray<string | number>>, reason: string): number => calls.filter((c) => c[0] === reason).length;

/** A GET from `source` on a connection of its own, answered 200. */
const getFrom = (port: number, source: string) => async (): Promise<void> => {
  const r = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: deathstar\r\nConnection: close\r\n\r\n', { localAddress: source });
  assert.match(r.text, /^HTTP\/1\.1 200 /, `a request from ${source}`);
};

/** Latencies (ms) of sequential requests from `source`, each on a new connection, until `count` or `until`. */
async function requestLatencies(port: number, source: string, count: number, until = Infinity): Promise<number[]> {
  const get = getFrom(port, source);
  const latencies: number[] = [];
  while (latencies.length < count && performance.now() < until) latencies.push(await latencyOf(get));
  return latencies;
}

const slowestRequest = async (port: number, source: string, count: number): Promise<number> => Math.max(...(await requestLatencies(port, source, count)));

describe('http listener: connection caps', { timeout: 30_000 }, () => {
  let proxy: ProxyFixture | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  test('maxConnectionsPerSource 20: 50 at once from one source → 20 served, 30 reset; others unaffected; room again after closing', async (t) => {
    proxy = await startProxy({ policy: EVERYONE, listenerFields: { maxConnectionsPerSource: 20 } });
    const baseline = await baselineOf(getFrom(proxy.port, XWING));
    const closedBefore = proxy.metrics.of('connectionClosed').length;
    const burst = await connectionBurst(proxy.port, TIEFIGHTER, 50, GET, httpAnswered);
    assert.equal(burst.served.length, 20);
    assert.equal(burst.refused, 30);
    assert.equal(drops(proxy.metrics.of('drop'), 'SOURCE_CONNECTION_LIMIT'), 30);
    // Another source is served promptly while the first holds its 20.
    t.diagnostic(assertBystanderUnhurt(await requestLatencies(proxy.port, XWING, 10), baseline, '20 connections held by another source'));
    await burst.close();
    const fixture = proxy;
    await waitUntil('the proxy to see the 30 connections close', () => fixture.metrics.of('connectionClosed').length >= closedBefore + 30, 3000);
    const again = await connectionBurst(proxy.port, TIEFIGHTER, 20, GET, httpAnswered);
    assert.equal(again.served.length, 20, 'closed connections make room for new ones');
    await again.close();
  });

  test('during a reconnect flood from a source at its cap, another source is not held up and the proxy holds no more than the cap', async (t) => {
    proxy = await startProxy({ policy: EVERYONE, listenerFields: { maxConnectionsPerSource: 20 } });
    const port = proxy.port;
    const baseline = await baselineOf(getFrom(port, XWING));
    const held = await connectionBurst(port, TIEFIGHTER, 20, GET, httpAnswered);
    assert.equal(held.served.length, 20);
    const metrics = proxy.metrics;
    const open = () => metrics.of('connectionOpened').length - metrics.of('connectionClosed').length;
    // 8 attackers reconnect as fast as they are reset, for at most 2 s or 4000 attempts in all.
    let attempts = 0;
    let mostOpen = 0;
    const stopAt = performance.now() + 2000;
    const attacker = async (): Promise<void> => {
      while (performance.now() < stopAt && attempts < 4000) {
        attempts++;
        const s = net.connect({ port, host: '127.0.0.1', localAddress: TIEFIGHTER });
        s.on('error', () => {});
        s.once('connect', () => s.write(GET));
        await new Promise((resolve) => s.once('close', resolve));
        mostOpen = Math.max(mostOpen, open());
      }
    };
    const flood = Promise.all(Array.from({ length: 8 }, attacker));
    await new Promise((r) => setTimeout(r, 100));
    const latencies = await requestLatencies(port, XWING, 40, stopAt);
    await flood;
    await held.close();
    assert.ok(latencies.length >= 20, `only ${latencies.length} requests during the flood`);
    t.diagnostic(assertBystanderUnhurt(latencies, baseline, `${attempts} refused reconnects`));
    assert.ok(mostOpen <= 21, `${mostOpen} connections open at once (20 held + the other client's)`);
    assert.ok(drops(metrics.of('drop'), 'SOURCE_CONNECTION_LIMIT') >= attempts - 1);
  });

  test('maxConnections 10: the listener holds 10 in all; an 11th from any source is reset without a byte', async () => {
    proxy = await startProxy({ policy: EVERYONE, listenerFields: { maxConnections: 10 } });
    const burst = await connectionBurst(proxy.port, TIEFIGHTER, 15, GET, httpAnswered);
    assert.equal(burst.served.length, 10);
    assert.equal(burst.refused, 5);
    const other = await rawExchange(proxy.port, GET, { localAddress: XWING });
    assert.deepEqual([other.text, other.ending === 'open'], ['', false]);
    assert.equal(drops(proxy.metrics.of('drop'), 'LISTENER_CONNECTION_LIMIT'), 6);
    await burst.close();
    const fixture = proxy;
    await waitUntil('the proxy to see the 10 connections close', () => fixture.metrics.of('connectionClosed').length >= 10, 3000);
    assert.ok((await slowestRequest(proxy.port, XWING, 3)) < 500);
  });
});

describe('kafka listener: connection caps', { timeout: 30_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({ upstream: { host: broker.host, port: broker.port }, listenerFields: { maxConnectionsPerSource: 20 } });
  });
  after(async () => {
    await proxy.close();
    await broker.close();
  });

  const apiVersions = encodeRequest({ apiKey: ApiKey.ApiVersions, apiVersion: 0, correlationId: 1, clientId: 'cap-test' }, {});
  const kafkaAnswered = (b: Buffer): boolean => b.length >= 4 && b.length >= 4 + b.readInt32BE(0);

  test('maxConnectionsPerSource 20: 50 at once from one source → 20 answered, 30 reset; another source answered; room again after closing', async () => {
    const burst = await connectionBurst(proxy.port, EMPIRE.hq, 50, apiVersions, kafkaAnswered);
    assert.equal(burst.served.length, 20);
    assert.equal(burst.refused, 30);
    assert.equal(drops(proxy.metrics.of('drop'), 'SOURCE_CONNECTION_LIMIT'), 30);
    const started = performance.now();
    const other = await connectionBurst(proxy.port, EMPIRE.outpost, 5, apiVersions, kafkaAnswered);
    assert.equal(other.served.length, 5);
    assert.ok(performance.now() - started < 500);
    await Promise.all([burst.close(), other.close()]);
    await waitUntil('the proxy to see the 25 connections close', () => proxy.metrics.of('connectionClosed').length >= 25, 3000);
    const again = await connectionBurst(proxy.port, EMPIRE.hq, 20, apiVersions, kafkaAnswered);
    assert.equal(again.served.length, 20);
    await again.close();
  });
});

describe('forward listener: connection caps', { timeout: 30_000 }, () => {
  const CLIENT = '127.0.0.151';
  const OTHER = '127.0.0.152';
  let runtime: Runtime;
  before(async () => {
    runtime = await startRuntime({
      policies: {},
      endpoints: `- {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}, ${OTHER}]}`,
      listeners: `- {name: egress, listen: "127.0.0.1:0", protocol: forward, maxConnectionsPerSource: 3, forward: {systemResolver: false, allowUnselectedClients: true}}`,
    });
  });
  after(() => runtime.close());

  test('maxConnectionsPerSource 3: 5 at once → 3 answered, 2 reset; another source answered', async () => {
    // Answered with a 502 (the name is not in `hosts`): what matters is that the proxy served the connection.
    const get = Buffer.from('GET http://nowhere.test/ HTTP/1.1\r\nHost: nowhere.test\r\n\r\n', 'latin1');
    const burst = await connectionBurst(runtime.port('egress'), CLIENT, 5, get, httpAnswered);
    assert.deepEqual([burst.served.length, burst.refused], [3, 2]);
    const other = await connectionBurst(runtime.port('egress'), OTHER, 1, get, httpAnswered);
    assert.equal(other.served.length, 1);
    await Promise.all([burst.close(), other.close()]);
  });
});
