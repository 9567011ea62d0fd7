// Broker address rewriting with a broker that advertises an address other than the bootstrap one: the proxy
// opens a listener for that node id (on a configured port, or one the OS picks), tells clients to use it,
// enforces the same policy there, and closes it with the listener. The bootstrap goes through a plain TCP
// relay, so which connections reached the broker by which path can be counted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { consume, produce, type KafkaClientOptions } from '../../src/demo/kafka/clients.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { metadataBody, produceBody, rows } from '../helpers/kafka-proxy-requests.js';
import { ApiKey } from '../../src/protocols/kafka/codec/index.js';

/** A TCP relay to `target` on 127.0.0.1 that counts the connections it carried. */
async function startRelay(target: number): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay = { port: 0, connections: 0, close: () => new Promise<void>((r) => server.close(() => r())) };
  const server: Server = createServer((client) => {
    relay.connections++;
    const upstream = connect({ host: '127.0.0.1', port: target });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  relay.port = (server.address() as AddressInfo).port;
  const close = relay.close;
  relay.close = async () => {
    for (const s of sockets) s.destroy();
    await close();
  };
  return relay;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('kafka proxy: one listener per broker node', { timeout: 60_000 }, () => {
  let broker: DemoBroker;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let proxy: KafkaProxy;
  let nodePort: number;
  const client = (localAddress: string, clientId: string): KafkaClientOptions => ({ localAddress, clientId, broker: { host: proxy.host, port: proxy.port }, timeoutMs: 15_000 });

  before(async () => {
    broker = await startDemoBroker(); // advertises 127.0.0.1:<its port>
    relay = await startRelay(broker.port);
    nodePort = await freePort();
    proxy = await startKafkaProxy({ upstream: { host: '127.0.0.1', port: relay.port }, policies: [EMPIRE_POLICY], kafka: `brokerPorts: {${broker.nodeId}: ${nodePort}}` });
  });
  after(async () => {
    await proxy?.close();
    await relay?.close();
    await broker?.close();
  });

  test('Metadata and FindCoordinator name the node listener (on its configured port), not the broker or the bootstrap listener', async () => {
    const c = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
    try {
      const md = await c.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
      assert.deepEqual(rows(md.brokers).map((b) => [b.nodeId, b.host, b.port]), [[broker.nodeId, proxy.host, nodePort]]);
      const fc = await c.request(ApiKey.FindCoordinator, 2, { key: 'outposts', keyType: 0 });
      assert.deepEqual([fc.nodeId, fc.host, fc.port], [broker.nodeId, proxy.host, nodePort]);
    } finally {
      c.close();
    }
  });

  test('kafkajs bootstraps through the main listener and then produces and consumes through the node listener', async () => {
    const viaRelayBefore = relay.connections;
    assert.deepEqual(await produce(client(EMPIRE.hq, 'empire-hq'), ANNOUNCE, ['through the node listener']), { ok: true, values: ['through the node listener'] });
    const consumed = await consume(client(EMPIRE.outpost, 'empire-outpost-8888'), ANNOUNCE, 'node-listener-group', 1);
    assert.deepEqual(consumed, { ok: true, values: ['through the node listener'] });
    // Each client opened one bootstrap connection (through the relay); everything else went to the node listener.
    assert.equal(relay.connections - viaRelayBefore, 2);
  });

  test('the node listener enforces the same policy: L7 denials and L3/L4 resets', async () => {
    const c = await KafkaWireClient.connect(nodePort, EMPIRE.outpost);
    try {
      const r = await c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE]));
      assert.equal(rows(rows(r.responses)[0]!.partitionResponses)[0]!.errorCode, 29);
    } finally {
      c.close();
    }
    const stranger = connect({ host: '127.0.0.1', port: nodePort, localAddress: EMPIRE.stranger });
    const failed = once(stranger, 'error');
    await once(stranger, 'connect');
    stranger.write(Buffer.alloc(8));
    const [err] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
  });

  test('closing the proxy closes the node listener too, with a client still connected to it', async () => {
    const other = await startKafkaProxy({ upstream: { host: '127.0.0.1', port: relay.port }, policies: [EMPIRE_POLICY] });
    const bootstrap = await KafkaWireClient.connect(other.port, EMPIRE.outpost);
    const md = await bootstrap.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
    bootstrap.close();
    const port = rows(md.brokers)[0]!.port as number;
    assert.notEqual(port, other.port);
    const connected = await KafkaWireClient.connect(port, EMPIRE.outpost);
    assert.equal(rows((await connected.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]))).topics)[0]!.errorCode, 0);
    const started = Date.now();
    await other.close();
    await connected.closed;
    assert.ok(Date.now() - started < 5000, 'an idle connection is ended at once, not after the grace period');
    const probe = connect({ host: '127.0.0.1', port });
    const [err] = (await once(probe, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
  });
});
