// The `kafka:` options of a kafka listener in portcullis.yaml (defaults, every field, located errors), and
// the API versions the proxy offers clients (the codec's, minus versions that name topics only by id).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_KAFKA_OPTIONS, parseConfigText } from '../../src/config/load.js';
import { formatSourceError } from '../../src/policy/types.js';
import { CODEC_API_VERSIONS } from '../../src/protocols/kafka/codec/index.js';
import { PROXY_API_VERSIONS, proxyAcceptsVersion } from '../../src/protocols/kafka/proxy/versions.js';

function listener(extra: string, protocol = 'kafka'): string {
  return `endpoints:
  - {name: kafka-broker, labels: {app: kafka}, addresses: [127.0.0.70]}
listeners:
  - name: kafka-service
    listen: "127.0.0.1:0"
    protocol: ${protocol}
    to: kafka-broker
    upstream: "127.0.0.70:9092"
${extra}`;
}

const errors = (text: string) => parseConfigText(text, 'portcullis.yaml').errors.map(formatSourceError);

describe('kafka listener options', () => {
  test('defaults: 100 MiB frames, 5 s broker connect timeout, OS-chosen broker ports', () => {
    const { config } = parseConfigText(listener(''), 'portcullis.yaml');
    assert.deepEqual(config?.listeners[0]?.kafka, DEFAULT_KAFKA_OPTIONS);
    assert.equal(DEFAULT_KAFKA_OPTIONS.maxFrameSize, 100 * 1024 * 1024);
    assert.equal(config?.listeners[0]?.port, 9092);
  });

  test('every field', () => {
    const { config, errors: e } = parseConfigText(
      listener(
        '    kafka: {maxFrameSize: 1048576, upstreamConnectTimeoutMs: 2000, advertisedHost: kafka.local, brokerPorts: {1: 19092, "2": 19093}, zeroCopy: false,' +
          ' maxTopicsPerRequest: 500, maxPartitionsPerRequest: 5000, requestTimeoutMs: 1000, idleTimeoutMs: 60000, maxBufferedBytes: 2097152}',
      ),
      'portcullis.yaml',
    );
    assert.deepEqual(e, []);
    assert.deepEqual(config?.listeners[0]?.kafka, {
      maxFrameSize: 1048576,
      upstreamConnectTimeoutMs: 2000,
      advertisedHost: 'kafka.local',
      brokerPorts: new Map([[1, 19092], [2, 19093]]),
      zeroCopy: false,
      maxTopicsPerRequest: 500,
      maxPartitionsPerRequest: 5000,
      requestTimeoutMs: 1000,
      idleTimeoutMs: 60000,
      maxBufferedBytes: 2097152,
    });
  });

  test('bad values are located errors', () => {
    assert.deepEqual(errors(listener('    kafka: {maxFrameSize: 10, brokerPorts: {one: 19092, 2: 70000}, retries: 3}')), [
      'portcullis.yaml:9:68: listeners[0].kafka.retries: unknown field "retries" (expected one of: maxFrameSize, upstreamConnectTimeoutMs, advertisedHost, brokerPorts, zeroCopy, maxTopicsPerRequest, maxPartitionsPerRequest, requestTimeoutMs, idleTimeoutMs, maxBufferedBytes)',
      'portcullis.yaml:9:45: listeners[0].kafka.brokerPorts.one: "one" is not a broker node id (0 to 2147483647)',
      'portcullis.yaml:9:60: listeners[0].kafka.brokerPorts["2"]: must be an integer from 1 to 65535',
      'portcullis.yaml:9:27: listeners[0].kafka.maxFrameSize: must be an integer from 1024 to 2147483647',
    ]);
    assert.match(errors(listener('    kafka: 4096'))[0] ?? '', /kafka: must be a map with any of: maxFrameSize/);
  });

  test('request bounds: defaults, ranges, and a buffer budget that must hold the largest frame', () => {
    const { maxTopicsPerRequest, maxPartitionsPerRequest, requestTimeoutMs, idleTimeoutMs, maxBufferedBytes } = DEFAULT_KAFKA_OPTIONS;
    assert.deepEqual([maxTopicsPerRequest, maxPartitionsPerRequest, requestTimeoutMs, idleTimeoutMs, maxBufferedBytes], [10_000, 100_000, 30_000, 600_000, 256 * 1024 * 1024]);
    assert.deepEqual(errors(listener('    kafka: {maxTopicsPerRequest: 0, requestTimeoutMs: 5, idleTimeoutMs: -1}')), [
      'portcullis.yaml:9:34: listeners[0].kafka.maxTopicsPerRequest: must be an integer from 1 to 10000000',
      'portcullis.yaml:9:55: listeners[0].kafka.requestTimeoutMs: must be an integer from 100 to 3600000',
      'portcullis.yaml:9:73: listeners[0].kafka.idleTimeoutMs: must be an integer from 100 to 86400000',
    ]);
    assert.match(errors(listener('    kafka: {maxFrameSize: 4096, maxBufferedBytes: 2048}'))[0] ?? '', /kafka\.maxBufferedBytes: maxBufferedBytes \(2048\) must be at least maxFrameSize \(4096\)/);
    assert.match(errors(listener('    kafka: {maxFrameSize: 1073741824}'))[0] ?? '', /kafka\.maxFrameSize: maxBufferedBytes \(268435456\) must be at least maxFrameSize \(1073741824\)/);
  });

  test('kafka options on another protocol are an error, not ignored', () => {
    assert.match(errors(listener('    kafka: {maxFrameSize: 4096}', 'http'))[0] ?? '', /"kafka" options only apply to kafka listeners, not http/);
  });
});

describe('API versions the proxy offers', () => {
  test('topic-id-only versions are left out; versions naming topics stay', () => {
    assert.deepEqual(PROXY_API_VERSIONS.get(1), { minVersion: 0, maxVersion: 12 }); // Fetch v13+: topic ids only
    assert.deepEqual(PROXY_API_VERSIONS.get(3), CODEC_API_VERSIONS.get(3)); // Metadata v10+ carries names beside ids
    assert.equal(proxyAcceptsVersion(1, 12), true);
    assert.equal(proxyAcceptsVersion(1, 13), false);
    assert.equal(proxyAcceptsVersion(9999, 0), false);
  });

  test('SaslHandshake v0 is offered (librdkafka needs to see it) but refused: after it the SASL tokens are not Kafka requests', () => {
    assert.deepEqual(PROXY_API_VERSIONS.get(17), CODEC_API_VERSIONS.get(17));
    assert.equal(proxyAcceptsVersion(17, 0), false);
    assert.equal(proxyAcceptsVersion(17, 1), true);
    assert.equal(proxyAcceptsVersion(36, 0), true); // SaslAuthenticate carries the tokens from v1 on
  });

  test('never more than the codec parses', () => {
    for (const [key, range] of PROXY_API_VERSIONS) {
      const codec = CODEC_API_VERSIONS.get(key);
      assert.ok(codec && range.minVersion >= codec.minVersion && range.maxVersion <= codec.maxVersion, `API ${key}`);
    }
  });
});
