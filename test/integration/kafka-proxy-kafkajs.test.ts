// kafkajs producers and consumer groups through the `kafka` listener in front of the embedded demo broker,
// with Cilium's Empire policy (plus a spy and a scout for fetch and group denials): what is allowed
// arrives, what is denied is reported by kafkajs as the authorization error, and every decision shows up
// in the flow records and counters.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { consume, produce, type KafkaClientOptions } from '../../src/demo/kafka/clients.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, PLANS, SPY_AND_SCOUT_POLICY, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { ApiKey } from '../../src/protocols/kafka/codec/index.js';

describe('kafka proxy: kafkajs through Portcullis (demo broker, Empire policy)', { timeout: 120_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  let groups = 0;
  const client = (localAddress: string, clientId: string): KafkaClientOptions => ({ localAddress, clientId, broker: { host: proxy.host, port: proxy.port }, timeoutMs: 15_000 });
  const group = () => `test-group-${++groups}`;
  const droppedBy = (name: string) => proxy.flows.l7('REQUEST').filter((e) => e.verdict === 'DROPPED' && e.source.identity.name === name);

  before(async () => {
    broker = await startDemoBroker({ host: EMPIRE.broker });
    proxy = await startKafkaProxy({ upstream: { host: broker.host, port: broker.port }, policies: [EMPIRE_POLICY, SPY_AND_SCOUT_POLICY] });
  });
  after(async () => {
    await proxy?.close();
    await broker?.close();
  });

  test('empire-hq produces to both topics; the requests are forwarded and recorded', async () => {
    assert.deepEqual(await produce(client(EMPIRE.hq, 'empire-hq'), ANNOUNCE, ['Happy 40th Birthday to General Tagge']), { ok: true, values: ['Happy 40th Birthday to General Tagge'] });
    assert.deepEqual(await produce(client(EMPIRE.hq, 'empire-hq'), PLANS, ['deathstar plans v3']), { ok: true, values: ['deathstar plans v3'] });
    const produced = proxy.flows.l7('REQUEST').filter((e) => e.l7?.kafka?.apiKey === ApiKey.Produce);
    assert.deepEqual(produced.map((e) => [e.verdict, e.source.identity.name, e.l7!.kafka!.topic, e.l7!.kafka!.errorCode]), [
      ['FORWARDED', 'empire-hq', ANNOUNCE, undefined],
      ['FORWARDED', 'empire-hq', PLANS, undefined],
    ]);
    assert.ok(produced.every((e) => e.destination.identity.name === 'kafka-broker' && e.destinationPort === 9092 && e.decision?.allowedBy.length === 1));
    assert.ok(proxy.metrics.of('kafkaRequest').some(([key, code, verdict]) => key === 'produce' && code === 0 && verdict === 'FORWARDED'));
  });

  test('outposts and the backup consume what the policy lets them read, in consumer groups', async () => {
    const outpost = await consume(client(EMPIRE.outpost, 'empire-outpost-8888'), ANNOUNCE, group(), 1);
    assert.deepEqual(outpost, { ok: true, values: ['Happy 40th Birthday to General Tagge'] });
    const backup = await consume(client(EMPIRE.backup, 'empire-backup'), PLANS, group(), 1);
    assert.deepEqual(backup, { ok: true, values: ['deathstar plans v3'] });
    const keys = new Set(proxy.flows.l7('REQUEST').filter((e) => e.source.identity.name === 'empire-backup').map((e) => e.l7!.kafka!.apiKey));
    // ApiVersions, Metadata, FindCoordinator, JoinGroup, SyncGroup, OffsetFetch, Fetch (+ ListOffsets, Heartbeat, LeaveGroup as they happen).
    for (const k of [18, 3, 10, 11, 14, 9, 1]) assert.ok(keys.has(k), `backup sent API ${k} through the proxy: ${[...keys]}`);
    assert.deepEqual(droppedBy('empire-backup'), []);
  });

  test('an outpost producing to empire-announce gets TOPIC_AUTHORIZATION_FAILED, and nothing reaches the topic', async () => {
    const o = await produce(client(EMPIRE.outpost, 'empire-outpost-8888'), ANNOUNCE, ['Vader Booed at Empire Karaoke Party']);
    assert.equal(o.ok, false);
    assert.equal(o.errorType, 'TOPIC_AUTHORIZATION_FAILED', o.error);
    const [denied, ...more] = droppedBy('empire-outpost-8888');
    assert.equal(more.length, 0);
    assert.deepEqual(denied!.l7!.kafka, { apiKey: ApiKey.Produce, apiVersion: 7, correlationId: denied!.l7!.kafka!.correlationId, topic: ANNOUNCE, errorCode: 29 });
    assert.match(denied!.decision!.reason, /no kafka rule matched produce v7/);
    assert.ok(proxy.metrics.of('kafkaRequest').some(([key, code, verdict]) => key === 'produce' && code === 29 && verdict === 'DROPPED'));
    const all = await consume(client(EMPIRE.outpost, 'empire-outpost-8888'), ANNOUNCE, group(), 1);
    assert.deepEqual(all.values, ['Happy 40th Birthday to General Tagge']);
  });

  test('an outpost consuming deathstar-plans is denied at Metadata (TOPIC_AUTHORIZATION_FAILED)', async () => {
    const o = await consume(client(EMPIRE.outpost, 'empire-outpost-8888'), PLANS, group(), 1);
    assert.equal(o.errorType, 'TOPIC_AUTHORIZATION_FAILED', o.error);
    assert.deepEqual(o.values, []);
    const metadata = droppedBy('empire-outpost-8888').filter((e) => e.l7!.kafka!.apiKey === ApiKey.Metadata);
    assert.ok(metadata.length >= 1 && metadata.every((e) => e.l7!.kafka!.topic === PLANS && e.l7!.kafka!.errorCode === 29));
  });

  test('a denied Fetch crashes the kafkajs consumer with TOPIC_AUTHORIZATION_FAILED (spy)', async () => {
    const o = await consume(client(EMPIRE.spy, 'empire-spy'), PLANS, group(), 1);
    assert.equal(o.errorType, 'TOPIC_AUTHORIZATION_FAILED', o.error);
    assert.deepEqual(droppedBy('empire-spy').map((e) => [e.l7!.kafka!.apiKey, e.l7!.kafka!.topic, e.l7!.kafka!.errorCode]), [[ApiKey.Fetch, PLANS, 29]]);
  });

  test('a denied JoinGroup is reported as GROUP_AUTHORIZATION_FAILED (scout)', async () => {
    const o = await consume(client(EMPIRE.scout, 'empire-scout'), ANNOUNCE, group(), 1);
    assert.equal(o.errorType, 'GROUP_AUTHORIZATION_FAILED', o.error);
    assert.deepEqual(droppedBy('empire-scout').map((e) => [e.l7!.kafka!.apiKey, e.l7!.kafka!.topic, e.l7!.kafka!.errorCode]), [[ApiKey.JoinGroup, '', 30]]);
  });

  test('a client no policy names is reset at L3/L4 before a byte is answered', async () => {
    const before = proxy.flows.l3l4().length;
    const o = await produce(client(EMPIRE.stranger, 'stranger'), ANNOUNCE, ['hello']);
    assert.equal(o.ok, false);
    assert.match(o.error ?? '', /ECONNRESET/);
    const drops = proxy.flows.l3l4().slice(before);
    assert.ok(drops.length >= 1 && drops.every((e) => e.verdict === 'DROPPED' && e.source.address === EMPIRE.stranger));
    assert.equal(proxy.flows.l7('REQUEST').filter((e) => e.source.address === EMPIRE.stranger).length, 0);
    assert.ok(proxy.metrics.of('drop').some(([reason]) => reason === 'POLICY_DENIED'));
  });
});
