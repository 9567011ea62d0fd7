// The interop matrix of the Kafka proxy: the Java reference client, kcat (librdkafka) and kafkajs, each
// producing and consuming with consumer groups through Portcullis, and each receiving the authorization
// error its API reports for a denied produce, metadata lookup, fetch and group operation — with the
// Empire policy (plus a spy and a scout for fetch and group denials) in front of whichever broker the
// test file starts once. Every denial is also checked in the proxy's flow records.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { consume, produce, type KafkaClientOptions } from '../../src/demo/kafka/clients.js';
import { runJavaClient, type JavaClientOutcome } from './kafka-broker-real.js';
import { runKcat, type KcatResult } from './kafka-clients.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, PLANS, SPY_AND_SCOUT_POLICY, startKafkaProxy, type KafkaProxy } from './kafka-proxy-fixture.js';
import { ApiKey, ErrorCode } from '../../src/protocols/kafka/codec/index.js';

const TIMEOUT_MS = 20_000;

export interface InteropBroker {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

const ofType = (outcomes: JavaClientOutcome[], type: JavaClientOutcome['type']) => outcomes.filter((o) => o.type === type);
const summaryOf = (outcomes: JavaClientOutcome[]) => outcomes.at(-1)!;
const values = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

export function describeProxyInterop(brokerName: string, startBroker: () => Promise<InteropBroker>): void {
  describe(`kafka proxy interop: Java, kcat and kafkajs through Portcullis in front of ${brokerName}`, { timeout: 600_000 }, () => {
    let broker: InteropBroker;
    let proxy: KafkaProxy;
    /** Every value delivered to each topic, in order (one partition each). */
    const written: Record<string, string[]> = { [ANNOUNCE]: [], [PLANS]: [] };
    let groups = 0;
    const group = (who: string) => `${who}-${++groups}`;

    before(async () => {
      broker = await startBroker();
      proxy = await startKafkaProxy({ upstream: { host: broker.host, port: broker.port }, policies: [EMPIRE_POLICY, SPY_AND_SCOUT_POLICY] });
    });
    after(async () => {
      await proxy?.close();
      await broker?.stop();
    });

    /** DROPPED request records of one identity since `from`, as [apiKey, topic, errorCode]. */
    const droppedSince = (from: number, app: string) =>
      proxy.flows.events
        .slice(from)
        .filter((e) => e.type === 'L7' && e.verdict === 'DROPPED' && e.source.identity.labelStrings.includes(`k8s:app=${app}`))
        .map((e) => [e.l7!.kafka!.apiKey, e.l7!.kafka!.topic, e.l7!.kafka!.errorCode]);
    /**
     * Denials an allowed client may see: requests naming no topic, which Cilium's `topic` rules never match —
     * librdkafka's brokers-only Metadata (answered with the brokers anyway) and the empty Fetch the Java
     * consumer sends on close to end a fetch session it never got (it ignores the answer).
     */
    const onlyTopiclessRequests = (dropped: unknown[][]) => dropped.every(([key, topic, code]) => (key === ApiKey.Metadata || key === ApiKey.Fetch) && topic === '' && code === ErrorCode.CLUSTER_AUTHORIZATION_FAILED);

    describe('Java client (kafka-clients)', () => {
      const java = (command: string, address: string, args: string[]) =>
        runJavaClient([command, '--bootstrap', proxy.bootstrap, '--local-address', address, '--timeout-ms', String(TIMEOUT_MS), ...args]);

      test('empire-hq produces with the default, idempotent producer (InitProducerId is in the demo policy)', async () => {
        const from = proxy.flows.events.length;
        for (const [topic, prefix] of [[ANNOUNCE, 'java-announce'], [PLANS, 'java-plans']] as const) {
          const out = await java('produce', EMPIRE.hq, ['--client-id', 'empire-hq', '--topic', topic, '--count', '5', '--prefix', prefix, '--idempotence', 'true']);
          assert.equal(summaryOf(out)['ok'], true, JSON.stringify(out));
          written[topic]!.push(...values(prefix, 5));
        }
        assert.deepEqual(droppedSince(from, 'empire-hq'), []);
        assert.ok(proxy.flows.events.slice(from).some((e) => e.verdict === 'FORWARDED' && e.l7?.kafka?.apiKey === ApiKey.InitProducerId));
      });

      test('outposts and the backup consume in consumer groups', async () => {
        const from = proxy.flows.events.length;
        for (const [address, topic, who] of [[EMPIRE.outpost, ANNOUNCE, 'empire-outpost'], [EMPIRE.backup, PLANS, 'empire-backup']] as const) {
          const out = await java('consume', address, ['--client-id', who, '--topic', topic, '--group', group(who), '--count', String(written[topic]!.length)]);
          assert.equal(summaryOf(out)['ok'], true, JSON.stringify(out));
          assert.deepEqual(ofType(out, 'consumed').map((c) => c['value']), written[topic]);
          assert.ok(onlyTopiclessRequests(droppedSince(from, who)), JSON.stringify(droppedSince(from, who)));
        }
      });

      test('denied produce: TopicAuthorizationException naming the topic (ClusterAuthorizationException when idempotent)', async () => {
        const from = proxy.flows.events.length;
        const out = await java('produce', EMPIRE.outpost, ['--topic', ANNOUNCE, '--count', '2']);
        const [error, ...more] = ofType(out, 'error');
        assert.deepEqual(more, []);
        assert.deepEqual([error?.['exception'], error?.['unauthorizedTopics'], error?.['records']], ['TopicAuthorizationException', [ANNOUNCE], 2], JSON.stringify(out));
        assert.deepEqual(droppedSince(from, 'empire-outpost'), [[ApiKey.Produce, ANNOUNCE, ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);

        const idempotent = await java('produce', EMPIRE.outpost, ['--topic', ANNOUNCE, '--count', '1', '--idempotence', 'true']);
        // Depending on whether InitProducerId failed before send(), the client throws the exception itself or
        // a KafkaException ("... in an error state") caused by it.
        const [denied] = ofType(idempotent, 'error');
        const cluster = 'org.apache.kafka.common.errors.ClusterAuthorizationException';
        assert.ok(denied?.['class'] === cluster || denied?.['cause'] === cluster, JSON.stringify(idempotent));
        assert.ok(droppedSince(from, 'empire-outpost').some(([key, , code]) => key === ApiKey.InitProducerId && code === ErrorCode.CLUSTER_AUTHORIZATION_FAILED));
      });

      test('denied metadata: a consumer of deathstar-plans gets TopicAuthorizationException', async () => {
        const from = proxy.flows.events.length;
        const out = await java('consume', EMPIRE.outpost, ['--topic', PLANS, '--group', group('outpost')]);
        const [error] = ofType(out, 'error');
        assert.deepEqual([error?.['exception'], error?.['unauthorizedTopics']], ['TopicAuthorizationException', [PLANS]], JSON.stringify(out));
        assert.ok(droppedSince(from, 'empire-outpost').some(([key, topic, code]) => key === ApiKey.Metadata && topic === PLANS && code === ErrorCode.TOPIC_AUTHORIZATION_FAILED));
      });

      test('denied fetch: TopicAuthorizationException after the lookups were allowed', async () => {
        const from = proxy.flows.events.length;
        const out = await java('consume', EMPIRE.spy, ['--topic', PLANS]);
        const [error] = ofType(out, 'error');
        assert.deepEqual([error?.['exception'], error?.['unauthorizedTopics']], ['TopicAuthorizationException', [PLANS]], JSON.stringify(out));
        assert.ok(droppedSince(from, 'empire-spy').some(([key, topic, code]) => key === ApiKey.Fetch && topic === PLANS && code === ErrorCode.TOPIC_AUTHORIZATION_FAILED));
      });

      test('denied group: GroupAuthorizationException naming the group', async () => {
        const from = proxy.flows.events.length;
        const name = group('scout');
        const out = await java('consume', EMPIRE.scout, ['--topic', ANNOUNCE, '--group', name]);
        const [error] = ofType(out, 'error');
        assert.deepEqual([error?.['exception'], error?.['groupId']], ['GroupAuthorizationException', name], JSON.stringify(out));
        assert.deepEqual(droppedSince(from, 'empire-scout').filter(([key]) => key !== ApiKey.Metadata), [[ApiKey.JoinGroup, '', ErrorCode.GROUP_AUTHORIZATION_FAILED]]);
      });
    });

    describe('kcat (librdkafka), identified by the endpoint at 127.0.0.1', () => {
      const kcat = (app: string, args: string[], input = '', timeoutMs = TIMEOUT_MS): Promise<KcatResult> => {
        proxy.useLocalLabels({ app });
        return runKcat(proxy.bootstrap, args, { input, timeoutMs, clientId: app });
      };
      const groupArgs = (name: string, topic: string) => ['-G', name, topic, '-e', '-q', '-f', '%s\\n', '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=6000'];

      test('empire-hq produces; an outpost group and a backup group consume', async () => {
        const from = proxy.flows.events.length;
        for (const [topic, prefix] of [[ANNOUNCE, 'kcat-announce'], [PLANS, 'kcat-plans']] as const) {
          const r = await kcat('empire-hq', ['-P', '-t', topic], values(prefix, 3).join('\n') + '\n');
          assert.equal(r.code, 0, r.stderr);
          written[topic]!.push(...values(prefix, 3));
        }
        for (const [app, topic] of [['empire-outpost', ANNOUNCE], ['empire-backup', PLANS]] as const) {
          const r = await kcat(app, groupArgs(group(app), topic));
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(r.stdout.trim().split('\n'), written[topic]);
          assert.ok(onlyTopiclessRequests(droppedSince(from, app)), JSON.stringify(droppedSince(from, app)));
        }
      });

      test('denied produce: "Delivery failed ... Topic authorization failed"', async () => {
        const from = proxy.flows.events.length;
        const r = await kcat('empire-outpost', ['-P', '-t', ANNOUNCE], 'Vader Booed at Empire Karaoke Party\n');
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Delivery failed for message: Broker: Topic authorization failed/);
        assert.ok(droppedSince(from, 'empire-outpost').some(([key, topic, code]) => key === ApiKey.Produce && topic === ANNOUNCE && code === ErrorCode.TOPIC_AUTHORIZATION_FAILED));
      });

      test('denied metadata: "Topic deathstar-plans error: Broker: Topic authorization failed"', async () => {
        const r = await kcat('empire-outpost', ['-C', '-t', PLANS, '-o', 'beginning', '-e']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Topic deathstar-plans error: Broker: Topic authorization failed/);
      });

      test('denied fetch: "Fetch from broker ... failed: Broker: Topic authorization failed"', async () => {
        const from = proxy.flows.events.length;
        const r = await kcat('empire-spy', ['-C', '-t', PLANS, '-o', 'beginning', '-e']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Topic deathstar-plans \[0\] error: Fetch from broker \d+ failed: Broker: Topic authorization failed/);
        assert.ok(droppedSince(from, 'empire-spy').some(([key, topic, code]) => key === ApiKey.Fetch && topic === PLANS && code === ErrorCode.TOPIC_AUTHORIZATION_FAILED));
      });

      test('denied group: "JoinGroup failed: Broker: Group authorization failed"', async () => {
        const r = await kcat('empire-scout', groupArgs(group('scout'), ANNOUNCE));
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /JoinGroup failed: Broker: Group authorization failed/);
      });
    });

    describe('kafkajs', () => {
      const client = (localAddress: string, clientId: string): KafkaClientOptions => ({
        localAddress,
        clientId,
        broker: { host: proxy.host, port: proxy.port },
        timeoutMs: TIMEOUT_MS,
        retries: 5,
      });

      test('empire-hq produces; an outpost group and a backup group consume', async () => {
        for (const [topic, prefix] of [[ANNOUNCE, 'kafkajs-announce'], [PLANS, 'kafkajs-plans']] as const) {
          const o = await produce(client(EMPIRE.hq, 'empire-hq'), topic, values(prefix, 3));
          assert.equal(o.ok, true, o.error);
          written[topic]!.push(...values(prefix, 3));
        }
        for (const [address, topic, who] of [[EMPIRE.outpost, ANNOUNCE, 'empire-outpost'], [EMPIRE.backup, PLANS, 'empire-backup']] as const) {
          const o = await consume(client(address, who), topic, group(who), written[topic]!.length);
          assert.deepEqual(o, { ok: true, values: written[topic] });
        }
      });

      test('denied produce, metadata, fetch and group: the authorization error types', async () => {
        const from = proxy.flows.events.length;
        const cases = [
          ['produce', await produce(client(EMPIRE.outpost, 'empire-outpost'), ANNOUNCE, ['Vader Booed at Empire Karaoke Party']), 'TOPIC_AUTHORIZATION_FAILED'],
          ['metadata', await consume(client(EMPIRE.outpost, 'empire-outpost'), PLANS, group('outpost'), 1), 'TOPIC_AUTHORIZATION_FAILED'],
          ['fetch', await consume(client(EMPIRE.spy, 'empire-spy'), PLANS, group('spy'), 1), 'TOPIC_AUTHORIZATION_FAILED'],
          ['group', await consume(client(EMPIRE.scout, 'empire-scout'), ANNOUNCE, group('scout'), 1), 'GROUP_AUTHORIZATION_FAILED'],
        ] as const;
        for (const [what, outcome, type] of cases) assert.deepEqual([what, outcome.ok, outcome.errorType], [what, false, type], outcome.error);
        assert.deepEqual(droppedSince(from, 'empire-outpost'), [[ApiKey.Produce, ANNOUNCE, ErrorCode.TOPIC_AUTHORIZATION_FAILED], [ApiKey.Metadata, PLANS, ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
        assert.deepEqual(droppedSince(from, 'empire-spy'), [[ApiKey.Fetch, PLANS, ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
        assert.deepEqual(droppedSince(from, 'empire-scout'), [[ApiKey.JoinGroup, '', ErrorCode.GROUP_AUTHORIZATION_FAILED]]);
      });
    });

    test('each client read what the others wrote: one consumer group sees every delivered record in order', async () => {
      const o = await consume(
        { localAddress: EMPIRE.backup, clientId: 'empire-backup', broker: { host: proxy.host, port: proxy.port }, timeoutMs: TIMEOUT_MS, retries: 5 },
        PLANS,
        group('backup-final'),
        written[PLANS]!.length,
      );
      assert.deepEqual(o.values, written[PLANS]);
      for (const writer of ['java', 'kcat', 'kafkajs']) assert.ok(o.values.includes(`${writer}-plans-0`), `${writer}'s records arrived`);
    });
  });
}
