// With two workers, a `kafka` listener in front of a two-broker cluster: Metadata through the proxy, answered on
// connections held on both workers, names the same proxy port for each broker node (the primary picks one port per
// node, so every worker's per-broker listener shares it, even when the workers discover the nodes in different
// orders); and produce and fetch through a per-broker port work whichever worker takes the connection, under
// Cilium's Empire policy (an outpost may not produce: error 29).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeCluster, type KafkaFakeBroker } from '../helpers/kafka-fake-broker.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY } from '../helpers/kafka-proxy-fixture.js';
import {
  fetchBody,
  metadataBody,
  produceBody,
  rows,
} from '../helpers/kafka-proxy-requests.js';
import { assertBothWorkersHold, openInTurn, startWorkersProxy, waitUntilIdle, workersConfig, type WorkersProxy } from '../helpers/workers-proxy.js';
import { ApiKey, ErrorCode } from '../../src/protocols/kafka/codec/index.js';

const CONNECTIONS = 6;
/** Consumer groups whose coordinator is node 1 / node 2. */
const GROUP_ON = { 1: 'outposts-on-1', 2: 'outposts-on-2' } as const;

describe('workers: kafka listener in front of a two-broker cluster', { timeout: 60_000 }, () => {
  let brokers: KafkaFakeBroker[];
  let proxy: WorkersProxy;
  let bootstrap: number;

  before(async () => {
    // Announcements live on node 1; node 2 only coordinates a group.
    brokers = await startFakeCluster(2, { topics: [ANNOUNCE], leaders: { [ANNOUNCE]: 1 }, coordinators: { [GROUP_ON[1]]: 1, [GROUP_ON[2]]: 2 } });
    const config = workersConfig({
      policies: ['empire.yaml'],
      endpoints: `
- {name: kafka-broker, labels: {app: kafka}, addresses: [${EMPIRE.broker}]}
- {name: empire-hq, labels: {app: empire-hq}, addresses: [${EMPIRE.hq}]}
- {name: empire-outpost-8888, labels: {app: empire-outpost, outpostid: "8888"}, addresses: [${EMPIRE.outpost}]}`,
      // Bootstrapping by name while the brokers advertise 127.0.0.1: no broker is fronted by the main listener, so
      // both nodes get a per-broker port.
      listeners: `- {name: kafka, listen: "127.0.0.1:0", protocol: kafka, to: kafka-broker, upstream: "localhost:${brokers[0]!.port}", port: 9092}`,
    });
    proxy = await startWorkersProxy(config, { 'empire.yaml': EMPIRE_POLICY });
    bootstrap = await proxy.listenerPort('kafka');
  });
  after(async () => {
    await proxy?.close();
    await Promise.all(brokers?.map((b) => b.close()) ?? []);
  });

  /**
   * The brokers (node id, host, port) Metadata names, asked on `count` connections opened in turn, which stay open.
   * First, `first(c, i)` on each, before its Metadata.
   */
  async function brokersSeen(count: number, first: (c: KafkaWireClient, i: number) => Promise<void> = async () => {}) {
    const answers: Array<Array<[number, string, number]>> = [];
    const clients = await openInTurn(count, async (i) => {
      const c = await KafkaWireClient.connect(bootstrap, EMPIRE.outpost);
      await first(c, i);
      const md = await c.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
      answers.push(rows(md.brokers).map((b) => [b.nodeId as number, b.host as string, b.port as number]));
      assert.deepEqual(
        rows(md.topics).map((t) => [t.name, t.errorCode, rows(t.partitions)[0]!.leaderId]),
        [[ANNOUNCE, 0, 1]],
      );
      return c;
    });
    return { clients, answers };
  }

  test('Metadata on connections on both workers names one proxy port per broker node, the same on both', async () => {
    await waitUntilIdle(proxy);
    // The first two connections (one per worker) ask for a coordinator before anything else: one worker meets node 2
    // first, the other node 1, so a port taken per worker in discovery order would differ between them.
    const coordinators: number[] = [];
    const { clients, answers } = await brokersSeen(CONNECTIONS, async (c, i) => {
      if (i >= 2) return;
      const fc = await c.request(ApiKey.FindCoordinator, 2, { key: GROUP_ON[i === 0 ? 2 : 1], keyType: 0 });
      assert.deepEqual([fc.errorCode, fc.nodeId, fc.host], [0, i === 0 ? 2 : 1, '127.0.0.1']);
      coordinators.push(fc.port as number);
    });
    try {
      await assertBothWorkersHold(proxy, 'the bootstrap connections');
      const first = answers[0]!;
      assert.deepEqual(first.map(([nodeId, host]) => [nodeId, host]), [[1, '127.0.0.1'], [2, '127.0.0.1']]);
      const ports = first.map(([, , port]) => port);
      assert.equal(new Set(ports).size, 2, 'a port per node');
      for (const port of ports) assert.ok(![bootstrap, ...brokers.map((b) => b.port)].includes(port), `${port} is a per-broker port of the proxy`);
      for (const answer of answers) assert.deepEqual(answer, first);
      assert.deepEqual(coordinators, [ports[1], ports[0]], 'FindCoordinator names the same ports');
    } finally {
      for (const c of clients) c.close();
    }
  });

  test('produce and fetch through a per-broker port work on both workers; an outpost producing is refused (29)', async () => {
    await waitUntilIdle(proxy);
    // Both workers have seen Metadata by now (the previous test), so both serve the per-broker ports.
    const { clients: bootstraps, answers } = await brokersSeen(1);
    for (const c of bootstraps) c.close();
    const announcePort = answers[0]!.find(([nodeId]) => nodeId === 1)![2];
    await waitUntilIdle(proxy);

    const producers = await openInTurn(CONNECTIONS, async (i) => {
      const c = await KafkaWireClient.connect(announcePort, EMPIRE.hq);
      const r = await c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE], { value: `announcement ${i}` }));
      assert.equal(rows(rows(r.responses)[0]!.partitionResponses)[0]!.errorCode, 0);
      return c;
    });
    try {
      await assertBothWorkersHold(proxy, "the producers' per-broker connections");
    } finally {
      for (const c of producers) c.close();
    }
    assert.equal(brokers[0]!.batches(ANNOUNCE).length, CONNECTIONS, 'every announcement reached node 1');
    await waitUntilIdle(proxy);

    const consumers = await openInTurn(CONNECTIONS, async () => {
      const c = await KafkaWireClient.connect(announcePort, EMPIRE.outpost);
      const denied = await c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE], { value: 'from an outpost' }));
      assert.equal(rows(rows(denied.responses)[0]!.partitionResponses)[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      const fetched = await c.request(ApiKey.Fetch, 11, fetchBody(ANNOUNCE, 0n));
      const partition = rows(rows(fetched.responses)[0]!.partitions)[0]!;
      assert.equal(partition.errorCode, 0);
      const records = (partition.records as Buffer).toString('latin1');
      for (let i = 0; i < CONNECTIONS; i++) assert.ok(records.includes(`announcement ${i}`), `announcement ${i} fetched`);
      return c;
    });
    try {
      await assertBothWorkersHold(proxy, "the consumers' per-broker connections");
    } finally {
      for (const c of consumers) c.close();
    }
    assert.equal(brokers[0]!.batches(ANNOUNCE).length, CONNECTIONS, 'no outpost record reached the broker');
  });
});
