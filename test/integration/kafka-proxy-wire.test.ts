// The `kafka` listener at the wire level, in front of the demo broker: exact denial responses (same API,
// version and correlation id), order behind in-flight responses, acks=0, multi-topic requests, Metadata
// answers for denied topics, response rewriting (broker addresses, ApiVersions), hot reload and audit mode.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, encodeRequest } from '../../src/protocols/kafka/codec/index.js';
import { PROXY_API_VERSIONS } from '../../src/protocols/kafka/proxy/versions.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, PLANS, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import {
  fetchBody,
  logEndOffset,
  metadataBody,
  produceBody,
  rows,
} from '../helpers/kafka-proxy-requests.js';

/** Only outposts may reach the broker (L3/L4): anyone else's connection is reset. */
const OUTPOSTS_ONLY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: outposts-only}
spec:
  endpointSelector: {matchLabels: {app: kafka}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: empire-outpost}}]
`;

describe('kafka proxy: wire-level behaviour (demo broker)', { timeout: 60_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  const clients: KafkaWireClient[] = [];
  const connectAs = async (localAddress: string) => {
    const c = await KafkaWireClient.connect(proxy.port, localAddress);
    clients.push(c);
    return c;
  };

  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({ upstream: { host: broker.host, port: broker.port }, policies: [EMPIRE_POLICY] });
  });
  after(async () => {
    for (const c of clients) c.close();
    await proxy?.close();
    await broker?.close();
  });

  test('ApiVersions is clamped to what the proxy parses: no topic-id versions, newer versions answered in v0 with error 35', async () => {
    const c = await connectAs(EMPIRE.hq);
    for (const v of [0, 2, 3, 4]) {
      const r = await c.request(ApiKey.ApiVersions, v, v >= 3 ? { clientSoftwareName: 'wire-test', clientSoftwareVersion: '1' } : {});
      const keys = new Map(rows(r.apiKeys).map((k) => [k.apiKey as number, [k.minVersion, k.maxVersion]]));
      // The demo broker offers Fetch 4-17; 13+ name topics by id only, which policy cannot check.
      assert.deepEqual(keys.get(ApiKey.Fetch), [4, 12], `ApiVersions v${v}`);
      assert.deepEqual(keys.get(ApiKey.Produce), [3, 11]);
      for (const [key, [min, max]] of keys) {
        const ours = PROXY_API_VERSIONS.get(key);
        assert.ok(ours && (min as number) >= ours.minVersion && (max as number) <= ours.maxVersion, `API ${key} ${min}-${max} within what the proxy parses`);
      }
    }
    // A version the codec has never heard of: header v2 (flexible), body unknown.
    const future = encodeRequest({ apiKey: ApiKey.ApiVersions, apiVersion: 4, correlationId: 77, clientId: 'future' }, { clientSoftwareName: 'x', clientSoftwareVersion: '9' });
    future.writeInt16BE(9, 6);
    const r = await c.requestFrame(future, { responseVersion: 0 });
    assert.equal(r.errorCode, 35);
    assert.deepEqual(rows(r.apiKeys).find((k) => k.apiKey === ApiKey.Fetch), { apiKey: ApiKey.Fetch, minVersion: 0, maxVersion: 12 });
  });

  test('Metadata and FindCoordinator responses point clients at the proxy, not the broker', async () => {
    const c = await connectAs(EMPIRE.outpost);
    const md = await c.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
    assert.deepEqual(rows(md.brokers).map((b) => [b.nodeId, b.host, b.port]), [[broker.nodeId, proxy.host, proxy.port]]);
    assert.equal(rows(md.topics)[0]!.errorCode, 0);
    const fc = await c.request(ApiKey.FindCoordinator, 2, { key: 'outposts', keyType: 0 });
    assert.deepEqual([fc.errorCode, fc.nodeId, fc.host, fc.port], [0, broker.nodeId, proxy.host, proxy.port]);
  });

  test('a denied Produce is answered with error 29 in every partition, same version and correlation id, and never reaches the broker', async () => {
    const c = await connectAs(EMPIRE.outpost);
    const before = await logEndOffset(broker.port, ANNOUNCE);
    const r = await c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE]));
    const partition = rows(rows(r.responses)[0]!.partitionResponses)[0]!;
    assert.deepEqual([rows(r.responses)[0]!.name, partition.index, partition.errorCode, partition.baseOffset], [ANNOUNCE, 0, 29, -1n]);
    assert.equal(await logEndOffset(broker.port, ANNOUNCE), before);
    // The connection stays usable for what is allowed.
    const md = await c.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
    assert.equal(rows(md.topics)[0]!.errorCode, 0);
  });

  test('a request naming an allowed and a denied topic is denied as a whole', async () => {
    const c = await connectAs(EMPIRE.backup); // may consume deathstar-plans only
    const flowsBefore = proxy.flows.events.length;
    const r = await c.request(ApiKey.Fetch, 11, { ...fetchBody(PLANS, 0n), topics: [...rows(fetchBody(PLANS, 0n).topics), ...rows(fetchBody(ANNOUNCE, 0n).topics)] });
    assert.deepEqual(rows(r.responses).map((t) => [t.topic, rows(t.partitions)[0]!.errorCode, rows(t.partitions)[0]!.highWatermark]), [[PLANS, 29, -1n], [ANNOUNCE, 29, -1n]]);
    const records = proxy.flows.events.slice(flowsBefore);
    assert.deepEqual(records.map((e) => [e.verdict, e.l7?.kafka?.topic, e.l7?.kafka?.errorCode]), [['DROPPED', PLANS, 29], ['DROPPED', ANNOUNCE, 29]]);
    // Each topic alone: the allowed one is forwarded.
    const ok = await c.request(ApiKey.Fetch, 11, fetchBody(PLANS, 0n));
    assert.equal(rows(rows(ok.responses)[0]!.partitions)[0]!.errorCode, 0);
  });

  test('a denied Metadata request still lists the brokers (at the proxy), with each denied topic at error 29 and no partitions', async () => {
    const c = await connectAs(EMPIRE.outpost);
    const r = await c.request(ApiKey.Metadata, 6, metadataBody([PLANS]));
    assert.deepEqual(rows(r.brokers).map((b) => [b.nodeId, b.host, b.port]), [[broker.nodeId, proxy.host, proxy.port]]);
    assert.equal(r.controllerId, broker.nodeId);
    assert.deepEqual(rows(r.topics).map((t) => [t.name, t.errorCode, rows(t.partitions).length]), [[PLANS, 29, 0]]);
    // Asking for no topic at all (librdkafka's first request) is denied by a topic rule as in Cilium, and answered with brokers only.
    const none = await c.request(ApiKey.Metadata, 4, metadataBody([]));
    assert.deepEqual([rows(none.brokers).length, rows(none.topics).length], [1, 0]);
  });

  test('denials wait behind responses still in flight: a denied request after a long-polling Fetch is answered after it', async () => {
    const c = await connectAs(EMPIRE.outpost);
    const end = await logEndOffset(broker.port, ANNOUNCE);
    const started = Date.now();
    const fetch = c.request(ApiKey.Fetch, 11, fetchBody(ANNOUNCE, end, 600)); // nothing new: the broker waits 600 ms
    const denied = c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE]));
    const deniedAt = denied.then(() => Date.now() - started);
    const [f, d] = await Promise.all([fetch, denied]);
    assert.equal(rows(rows(f.responses)[0]!.partitions)[0]!.errorCode, 0);
    assert.equal(rows(rows(d.responses)[0]!.partitionResponses)[0]!.errorCode, 29);
    assert.ok((await deniedAt) >= 500, `the denial came after the long poll (${await deniedAt} ms)`);
    assert.equal(c.answered.at(-2)! + 1, c.answered.at(-1)!, 'responses in request order');
  });

  test('acks=0: a denied Produce gets no response at all (nor does an allowed one), and the next request is answered normally', async () => {
    const c = await connectAs(EMPIRE.outpost);
    const before = await logEndOffset(broker.port, ANNOUNCE);
    const flowsBefore = proxy.flows.events.length;
    const deniedId = c.send(ApiKey.Produce, 7, produceBody([ANNOUNCE], { acks: 0 }));
    const md = await c.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
    assert.equal(rows(md.topics)[0]!.errorCode, 0);
    assert.ok(!c.answered.includes(deniedId), 'no response for the denied acks=0 produce');
    const dropped = proxy.flows.events.slice(flowsBefore).find((e) => e.l7?.kafka?.correlationId === deniedId);
    assert.deepEqual([dropped?.verdict, dropped?.l7?.kafka?.errorCode], ['DROPPED', 29]);

    const hq = await connectAs(EMPIRE.hq);
    const allowedId = hq.send(ApiKey.Produce, 7, produceBody([ANNOUNCE], { acks: 0 }));
    await hq.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
    assert.ok(!hq.answered.includes(allowedId));
    assert.equal(await logEndOffset(broker.port, ANNOUNCE), before + 1n, 'only the allowed acks=0 record was written');
  });

  test('a reload applies to the next request on an open connection, and resets it when L3/L4 no longer allows it', async () => {
    const c = await connectAs(EMPIRE.hq);
    const ok = await c.request(ApiKey.Produce, 7, produceBody([PLANS]));
    assert.equal(rows(rows(ok.responses)[0]!.partitionResponses)[0]!.errorCode, 0);
    const noPlans = EMPIRE_POLICY.replace(/\n\s+- role: "produce"\n\s+topic: "deathstar-plans"/, '');
    assert.notEqual(noPlans, EMPIRE_POLICY);
    proxy.usePolicies([noPlans]);
    try {
      const denied = await c.request(ApiKey.Produce, 7, produceBody([PLANS]));
      assert.equal(rows(rows(denied.responses)[0]!.partitionResponses)[0]!.errorCode, 29);
      const still = await c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE]));
      assert.equal(rows(rows(still.responses)[0]!.partitionResponses)[0]!.errorCode, 0);
      // A policy that names only the outposts: hq's open connection is reset at its next request.
      proxy.usePolicies([OUTPOSTS_ONLY]);
      await assert.rejects(c.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE])), /connection closed/);
      await c.closed;
    } finally {
      proxy.usePolicies([EMPIRE_POLICY]);
    }
  });

  test('flow records and counters: one record per topic, error codes on denials, Cilium counters by outcome', async () => {
    proxy.flows.clear();
    proxy.metrics.clear();
    const c = await connectAs(EMPIRE.hq);
    await c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE, PLANS]));
    await c.request(ApiKey.Fetch, 11, fetchBody(PLANS, 0n)); // hq may not consume
    const events = proxy.flows.l7('REQUEST').map((e) => [e.verdict, e.l7!.kafka!.apiKey, e.l7!.kafka!.apiVersion, e.l7!.kafka!.topic, e.l7!.kafka!.errorCode, e.sourcePort > 0, e.isReply]);
    assert.deepEqual(events, [
      ['FORWARDED', ApiKey.Produce, 7, ANNOUNCE, undefined, true, false],
      ['FORWARDED', ApiKey.Produce, 7, PLANS, undefined, true, false],
      ['DROPPED', ApiKey.Fetch, 11, PLANS, 29, true, false],
    ]);
    // The broker's answer to the forwarded Produce pairs each REQUEST record, from the broker's side and with
    // the latency; the proxy's own answer to the denied Fetch is not a response record (as in Cilium).
    const [request] = proxy.flows.l7('REQUEST');
    const responses = proxy.flows.l7('RESPONSE');
    assert.deepEqual(
      responses.map((e) => [e.verdict, e.l7!.kafka!.apiKey, e.l7!.kafka!.topic, e.l7!.kafka!.correlationId, e.l7!.kafka!.errorCode, e.isReply]),
      [
        ['FORWARDED', ApiKey.Produce, ANNOUNCE, request!.l7!.kafka!.correlationId, 0, true],
        ['FORWARDED', ApiKey.Produce, PLANS, request!.l7!.kafka!.correlationId, 0, true],
      ],
    );
    for (const r of responses) {
      assert.deepEqual([r.source, r.destination, r.sourcePort, r.destinationPort], [request!.destination, request!.source, request!.destinationPort, request!.sourcePort]);
      assert.ok(r.l7!.latencyNs! > 0n);
    }
    assert.deepEqual(proxy.metrics.of('policyL7'), [['received', 'kafka'], ['forwarded', 'kafka'], ['received', 'kafka'], ['denied', 'kafka']]);
    assert.deepEqual(proxy.metrics.of('kafkaRequest'), [['produce', 0, 'FORWARDED'], ['fetch', 29, 'DROPPED']]);
  });

  test("the broker's own error codes reach the RESPONSE records (per topic) and the counters", async () => {
    proxy.flows.clear();
    proxy.metrics.clear();
    const c = await connectAs(EMPIRE.hq);
    // Allowed by policy, but the demo broker has no partition 7: it answers UNKNOWN_TOPIC_OR_PARTITION (3) for that topic only.
    const body = produceBody([ANNOUNCE, PLANS]);
    rows(rows(body.topicData)[1]!.partitionData)[0]!.index = 7;
    const r = await c.request(ApiKey.Produce, 7, body);
    assert.deepEqual(rows(r.responses).map((t) => rows(t.partitionResponses)[0]!.errorCode), [0, 3]);
    const responses = proxy.flows.l7('RESPONSE').map((e) => [e.l7!.kafka!.topic, e.l7!.kafka!.errorCode]);
    assert.deepEqual(responses, [[ANNOUNCE, 0], [PLANS, 3]]);
    assert.deepEqual(proxy.metrics.of('kafkaRequest'), [['produce', 3, 'FORWARDED']]);
    // A Fetch the broker refuses: the partition error is counted and recorded too.
    const outpost = await connectAs(EMPIRE.outpost);
    const fetched = await outpost.request(ApiKey.Fetch, 11, fetchBody(ANNOUNCE, 1_000_000n));
    assert.equal(rows(rows(fetched.responses)[0]!.partitions)[0]!.errorCode, 1, 'OFFSET_OUT_OF_RANGE from the broker');
    assert.deepEqual(proxy.flows.l7('RESPONSE').at(-1)!.l7!.kafka!.errorCode, 1);
    assert.deepEqual(proxy.metrics.of('kafkaRequest').at(-1), ['fetch', 1, 'FORWARDED']);
  });
});

describe('kafka proxy: audit mode', { timeout: 30_000 }, () => {
  test('a request the policy denies is forwarded and recorded as AUDIT', async () => {
    const broker = await startDemoBroker();
    const proxy = await startKafkaProxy({ upstream: { host: broker.host, port: broker.port }, policies: [EMPIRE_POLICY], audit: true });
    const c = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
    try {
      const before = await logEndOffset(broker.port, ANNOUNCE);
      const r = await c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE]));
      assert.equal(rows(rows(r.responses)[0]!.partitionResponses)[0]!.errorCode, 0);
      assert.equal(await logEndOffset(broker.port, ANNOUNCE), before + 1n);
      const produce = proxy.flows.l7('REQUEST').find((e) => e.l7?.kafka?.apiKey === ApiKey.Produce);
      assert.deepEqual([produce?.verdict, produce?.l7?.kafka?.errorCode], ['AUDIT', undefined]);
      assert.deepEqual(proxy.metrics.of('kafkaRequest').find(([k]) => k === 'produce'), ['produce', 0, 'AUDIT']);
    } finally {
      c.close();
      await proxy.close();
      await broker.close();
    }
  });
});
