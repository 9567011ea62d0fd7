// Broker address rewriting: every place a response tells clients where a broker is, found from the
// schema, gets the proxy's address for that node; untouched frames come back as the same object.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKey, decodeResponse, encodeResponse, KAFKA_APIS, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';
import {
  rewriteBrokerAddresses,
  responseCarriesBrokerAddresses,
  type KafkaBrokerAddressMap,
} from '../../src/protocols/kafka/proxy/broker-addresses.js';

const proxyFor: KafkaBrokerAddressMap = ({ nodeId }) => (nodeId <= 2 ? { host: '127.0.0.1', port: 19090 + nodeId } : undefined);

function rewritten(apiKey: number, version: number, body: KafkaStruct): KafkaStruct {
  const frame = encodeResponse(apiKey, version, 31, body);
  const out = rewriteBrokerAddresses(frame, apiKey, version, proxyFor);
  const res = decodeResponse(out, apiKey, version);
  assert.equal(res.correlationId, 31);
  return res.body;
}

test('Metadata brokers, every version', () => {
  for (let v = KAFKA_APIS.get(3)!.minVersion; v <= KAFKA_APIS.get(3)!.maxVersion; v++) {
    const body = rewritten(3, v, { brokers: [{ nodeId: 1, host: 'kafka-1.internal', port: 9092, rack: null }, { nodeId: 7, host: 'other', port: 9092 }], topics: [] });
    assert.deepEqual((body.brokers as KafkaStruct[]).map((b) => [b.nodeId, b.host, b.port]), [[1, '127.0.0.1', 19091], [7, 'other', 9092]], `v${v}`);
  }
});

test('FindCoordinator: the single coordinator (v0-3) and the coordinators array (v4+); errors left alone', () => {
  for (const v of [0, 1, 2, 3]) {
    const body = rewritten(10, v, { errorCode: 0, nodeId: 2, host: 'kafka-2.internal', port: 9092 });
    assert.deepEqual([body.host, body.port], ['127.0.0.1', 19092], `v${v}`);
  }
  for (const v of [4, 5, 6]) {
    const body = rewritten(10, v, { coordinators: [{ key: 'g', nodeId: 0, host: 'kafka-0', port: 9092, errorCode: 0 }, { key: 'h', nodeId: -1, host: '', port: -1, errorCode: 15 }] });
    assert.deepEqual((body.coordinators as KafkaStruct[]).map((c) => [c.key, c.host, c.port]), [['g', '127.0.0.1', 19090], ['h', '', -1]], `v${v}`);
  }
});

test('DescribeCluster brokers and the tagged NodeEndpoints leader hints of Produce v10+ / Fetch v16+', () => {
  const dc = rewritten(60, 1, { errorCode: 0, clusterId: 'c', controllerId: 1, brokers: [{ brokerId: 1, host: 'kafka-1', port: 9092, rack: 'r1' }] });
  assert.deepEqual(dc.brokers, [{ brokerId: 1, host: '127.0.0.1', port: 19091, rack: 'r1' }]);
  const produce = rewritten(0, 10, { responses: [], throttleTimeMs: 0, nodeEndpoints: [{ nodeId: 0, host: 'kafka-0', port: 9092, rack: null }] });
  assert.deepEqual(produce.nodeEndpoints, [{ nodeId: 0, host: '127.0.0.1', port: 19090, rack: null }]);
  const fetch = rewritten(1, 16, { errorCode: 0, sessionId: 0, responses: [], nodeEndpoints: [{ nodeId: 2, host: 'kafka-2', port: 9093, rack: null }] });
  assert.deepEqual(fetch.nodeEndpoints, [{ nodeId: 2, host: '127.0.0.1', port: 19092, rack: null }]);
});

test('which responses can carry addresses is known up front, and nothing else is re-encoded', () => {
  assert.equal(responseCarriesBrokerAddresses(3, 4), true);
  assert.equal(responseCarriesBrokerAddresses(10, 2), true);
  assert.equal(responseCarriesBrokerAddresses(0, 9), false);
  assert.equal(responseCarriesBrokerAddresses(0, 10), true);
  assert.equal(responseCarriesBrokerAddresses(1, 15), false);
  assert.equal(responseCarriesBrokerAddresses(18, 3), false);
  const produce = encodeResponse(ApiKey.Produce, 7, 1, { responses: [], throttleTimeMs: 0 });
  assert.equal(rewriteBrokerAddresses(produce, 0, 7, proxyFor), produce);
  // Addresses already pointing at the proxy (or unmapped) leave the frame as it was.
  const metadata = encodeResponse(ApiKey.Metadata, 4, 1, { brokers: [{ nodeId: 1, host: '127.0.0.1', port: 19091, rack: null }], topics: [] });
  assert.equal(rewriteBrokerAddresses(metadata, 3, 4, proxyFor), metadata);
});
