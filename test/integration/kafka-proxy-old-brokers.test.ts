// Brokers older than the client: a broker that does not speak the client's ApiVersions version answers in v0 with
// error 35 UNSUPPORTED_VERSION (KIP-511) and the client retries lower. Through the proxy that answer must reach the
// client as v0 error 35 (its list clamped), whichever version was asked, so kcat (v3 first) and kafkajs (v2 first)
// still get through to a Kafka 2.0-2.3 broker (ApiVersions v0-2) or an older one (v0 only).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, encodeRequest, KafkaFrameReader, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';
import { kafkajsConsume, kafkajsProduce, runKcat } from '../helpers/kafka-clients.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { ANNOUNCE, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';

const keysOf = (body: KafkaStruct) => (body.apiKeys as KafkaStruct[]).map((k) => [k.apiKey, k.minVersion, k.maxVersion]);

for (const maxApiVersionsVersion of [2, 0]) {
  describe(`kafka proxy in front of a broker serving ApiVersions up to v${maxApiVersionsVersion}`, { timeout: 90_000 }, () => {
    let broker: DemoBroker;
    let proxy: KafkaProxy;
    before(async () => {
      broker = await startDemoBroker({ maxApiVersionsVersion });
      proxy = await startKafkaProxy({ upstream: { host: broker.host, port: broker.port } });
    });
    after(async () => {
      await proxy?.close();
      await broker?.close();
    });

    test('every newer ApiVersions version gets v0 error 35 with the broker\'s ApiVersions range; the connection stays up', async () => {
      const client = await KafkaWireClient.connect(proxy.port);
      try {
        for (let version = maxApiVersionsVersion + 1; version <= 3; version++) {
          const body = await client.request(ApiKey.ApiVersions, version, {}, { responseVersion: 0 });
          assert.equal(body.errorCode, 35, `v${version}`);
          assert.deepEqual(keysOf(body).find(([key]) => key === ApiKey.ApiVersions), [ApiKey.ApiVersions, 0, maxApiVersionsVersion], `v${version}`);
        }
        const accepted = await client.request(ApiKey.ApiVersions, maxApiVersionsVersion, {});
        assert.equal(accepted.errorCode, 0);
      } finally {
        client.close();
      }
    });

    test('kcat (librdkafka) lists, produces and consumes through the proxy', async () => {
      const produced = await runKcat(proxy.bootstrap, ['-P', '-t', ANNOUNCE], { input: `kcat v${maxApiVersionsVersion} one\nkcat v${maxApiVersionsVersion} two\n` });
      assert.equal(produced.code, 0, produced.stderr);
      const consumed = await runKcat(proxy.bootstrap, ['-C', '-t', ANNOUNCE, '-o', 'beginning', '-e', '-q']);
      assert.equal(consumed.code, 0, consumed.stderr);
      assert.match(consumed.stdout, new RegExp(`kcat v${maxApiVersionsVersion} one\\nkcat v${maxApiVersionsVersion} two`));
    });

    test('kafkajs produces and consumes through the proxy', async () => {
      await kafkajsProduce(proxy.bootstrap, ANNOUNCE, [`kafkajs v${maxApiVersionsVersion}`]);
      const values = await kafkajsConsume(proxy.bootstrap, ANNOUNCE, `old-broker-v${maxApiVersionsVersion}`, 3);
      assert.ok(values.includes(`kafkajs v${maxApiVersionsVersion}`), values.join(', '));
    });
  });
}

describe('kafka proxy: an error-35 ApiVersions answer carrying the error code only', { timeout: 30_000 }, () => {
  // Some brokers stop the body after the error code; clients retry lower on the code alone.
  let server: ReturnType<typeof createServer>;
  let proxy: KafkaProxy;
  before(async () => {
    server = createServer((socket: Socket) => {
      const reader = new KafkaFrameReader();
      socket.on('data', (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) {
          const answer = Buffer.alloc(10);
          answer.writeInt32BE(6, 0);
          answer.writeInt32BE(frame.readInt32BE(8), 4); // correlation id
          answer.writeInt16BE(35, 8);
          socket.write(answer);
        }
      });
      socket.on('error', () => undefined);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    proxy = await startKafkaProxy({ upstream: { host: '127.0.0.1', port: (server.address() as AddressInfo).port } });
  });
  after(async () => {
    await proxy?.close();
    server?.close();
  });

  test('reaches the client as v0 error 35 with an empty list, for v1 to v3', async () => {
    const client = await KafkaWireClient.connect(proxy.port);
    try {
      for (const version of [1, 2, 3]) {
        const body = await client.requestFrame(encodeRequest({ apiKey: ApiKey.ApiVersions, apiVersion: version, correlationId: 40 + version, clientId: 'old-broker' }, {}), { responseVersion: 0 });
        assert.deepEqual([body.errorCode, keysOf(body)], [35, []], `v${version}`);
      }
    } finally {
      client.close();
    }
  });
});
