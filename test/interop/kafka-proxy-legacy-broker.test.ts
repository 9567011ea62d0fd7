// The Kafka proxy interop matrix (Java client, kcat, kafkajs) in front of a real Apache Kafka 2.3 broker
// (ZooKeeper mode, assembled from Maven Central by scripts/kafka/install.sh), which serves ApiVersions v0-2 only:
// every librdkafka connection starts with ApiVersions v3 and gets the broker's v0 error-35 answer through the proxy.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiKey, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';
import { startLegacyKafka } from '../helpers/kafka-broker-legacy.js';
import type { RealKafka } from '../helpers/kafka-broker-real.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { ANNOUNCE, PLANS, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { describeProxyInterop } from '../helpers/kafka-proxy-interop.js';

describeProxyInterop('a real Apache Kafka 2.3 broker (ApiVersions v0-2)', async () => {
  const kafka = await startLegacyKafka({ topics: [ANNOUNCE, PLANS] });
  return { host: kafka.host, port: kafka.port, stop: () => kafka.stop() };
});

describe('kafka proxy in front of a real Kafka 2.3 broker: ApiVersions newer than the broker', { timeout: 300_000 }, () => {
  let kafka: RealKafka;
  let proxy: KafkaProxy;
  before(async () => {
    kafka = await startLegacyKafka();
    proxy = await startKafkaProxy({ upstream: kafka });
  });
  after(async () => {
    await proxy?.close();
    await kafka?.stop();
  });

  test('v3 gets the broker\'s v0 error 35; v2 on the same connection is served, clamped', async () => {
    const client = await KafkaWireClient.connect(proxy.port);
    try {
      const refused = await client.request(ApiKey.ApiVersions, 3, {}, { responseVersion: 0 });
      assert.equal(refused.errorCode, 35);
      const served = await client.request(ApiKey.ApiVersions, 2, {});
      assert.equal(served.errorCode, 0);
      const own = (served.apiKeys as KafkaStruct[]).find((k) => k.apiKey === ApiKey.ApiVersions);
      assert.deepEqual([own?.minVersion, own?.maxVersion], [0, 2]);
    } finally {
      client.close();
    }
  });
});
