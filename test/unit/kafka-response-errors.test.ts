// scanResponseErrors: the broker's error codes in a response, per topic and overall, read along the schema
// without decoding the message — cross-checked against the full decoder for every API and version, and
// safe on responses cut short (the proxy reads only the start of a large one).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requirePlan } from '../../src/protocols/kafka/codec/codec.js';
import { ApiKey, decodeResponse, encodeResponse, KAFKA_APIS, type KafkaStruct, type KafkaValue } from '../../src/protocols/kafka/codec/index.js';
import { NO_ERRORS, scanResponseStart, topicErrorCode, type ResponseErrors } from '../../src/protocols/kafka/proxy/response-errors.js';
import type { StructPlan } from '../../src/protocols/kafka/codec/schema.js';
import { RandomKafkaValues, seededRandom } from '../helpers/kafka-random-message.js';

const scanResponseErrors = (bytes: Buffer, apiKey: number, version: number): ResponseErrors => scanResponseStart(bytes, apiKey, version).errors;

/** A response's bytes after its correlation id: what the proxy inspects. */
function afterCorrelationId(apiKey: number, apiVersion: number, body: KafkaStruct): Buffer {
  return encodeResponse(apiKey, apiVersion, 7, body).subarray(8);
}

/** Reference from the decoded message: a struct's code goes to the topic it names, else to its parent. */
function reference(plan: StructPlan, value: KafkaStruct, acc: { first: number; byTopic: Map<string, number> }): { topic?: string; error: number } {
  let topic: string | undefined;
  let error = 0;
  for (const f of [...plan.fields, ...plan.tagged]) {
    const v = value[f.key];
    if (v === undefined || v === null) continue;
    for (const item of (f.array ? v : [v]) as readonly KafkaValue[]) {
      if (f.struct) {
        if (item === null) continue;
        const inner = reference(f.struct, item as KafkaStruct, acc);
        if (inner.topic === undefined && error === 0) error = inner.error;
      } else if (f.type === 'int16' && f.name.endsWith('ErrorCode') && item !== 0) {
        if (acc.first === 0) acc.first = item as number;
        if (error === 0) error = item as number;
      } else if (f.type === 'string' && f.definition.entityType === 'topicName') {
        topic = item as string;
      }
    }
  }
  if (topic !== undefined && error !== 0 && !acc.byTopic.has(topic)) acc.byTopic.set(topic, error);
  return { ...(topic === undefined ? {} : { topic }), error };
}

const plain = (e: ResponseErrors) => ({ first: e.first, top: e.top, byTopic: Object.fromEntries(e.byTopic) });

test('error codes equal what the full decoder finds, for random responses of every API and version', () => {
  const values = new RandomKafkaValues(seededRandom(91));
  let withErrors = 0;
  let checked = 0;
  for (const api of KAFKA_APIS.values()) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const plan = requirePlan(api.apiKey, v, 'response');
      for (let i = 0; i < 4; i++) {
        const frame = encodeResponse(api.apiKey, v, 7, values.struct(plan));
        const acc = { first: 0, byTopic: new Map<string, number>() };
        const top = reference(plan, decodeResponse(frame, api.apiKey, v).body, acc).error;
        const found = scanResponseErrors(frame.subarray(8), api.apiKey, v);
        assert.deepEqual(plain(found), { first: acc.first, top, byTopic: Object.fromEntries(acc.byTopic) }, `${api.name} v${v}`);
        if (found.first !== 0) withErrors++;
        checked++;
      }
    }
  }
  assert.ok(checked > 1000 && withErrors > checked / 2, `${withErrors} of ${checked} had error codes`);
});

test('Produce: per partition, attributed to its topic; a topic without errors reads 0', () => {
  const body = {
    responses: [
      { name: 'empire-announce', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 5n, logAppendTimeMs: -1n, logStartOffset: 0n }] },
      { name: 'deathstar-plans', partitionResponses: [{ index: 7, errorCode: 3, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n }] },
    ],
    throttleTimeMs: 0,
  };
  for (const version of [7, 9]) {
    const errors = scanResponseErrors(afterCorrelationId(0, version, body), 0, version);
    assert.deepEqual([errors.first, topicErrorCode(errors, 'empire-announce'), topicErrorCode(errors, 'deathstar-plans')], [3, 0, 3], `v${version}`);
  }
});

test('a top-level code (FindCoordinator, a Fetch session error) applies to every topic', () => {
  const coordinator = scanResponseErrors(afterCorrelationId(10, 2, { throttleTimeMs: 0, errorCode: 15, errorMessage: null, nodeId: -1, host: '', port: -1 }), 10, 2);
  assert.deepEqual([coordinator.first, topicErrorCode(coordinator, '')], [15, 15]);
  const fetch = scanResponseErrors(afterCorrelationId(1, 11, { throttleTimeMs: 0, errorCode: 70, sessionId: 0, responses: [] }), 1, 11);
  assert.equal(topicErrorCode(fetch, 'empire-announce'), 70);
});

test('cut short anywhere: never throws, and never gives a topic a code that is not its own', () => {
  // Metadata puts a topic's error code before its name; Fetch puts the partition's code before its records.
  const metadata = afterCorrelationId(3, 9, {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: 'broker', port: 9092, rack: null }],
    clusterId: 'c',
    controllerId: 1,
    topics: [
      { errorCode: 3, name: 'a', isInternal: false, partitions: [], topicAuthorizedOperations: 0 },
      { errorCode: 29, name: 'b', isInternal: false, partitions: [], topicAuthorizedOperations: 0 },
    ],
    clusterAuthorizedOperations: 0,
  });
  const partition = (index: number, errorCode: number, records: Buffer) => ({ partitionIndex: index, errorCode, highWatermark: 0n, lastStableOffset: 0n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1, records });
  const fetch = afterCorrelationId(1, 11, {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      { topic: 'a', partitions: [partition(0, 1, Buffer.alloc(5000, 1))] },
      { topic: 'b', partitions: [partition(0, 3, Buffer.alloc(10))] },
    ],
  });
  for (const [apiKey, version, bytes] of [[3, 9, metadata], [1, 11, fetch]] as const) {
    const whole = scanResponseErrors(bytes, apiKey, version);
    assert.deepEqual(Object.fromEntries(whole.byTopic), { a: apiKey === ApiKey.Metadata ? 3 : 1, b: apiKey === ApiKey.Metadata ? 29 : 3 });
    for (let cut = 0; cut < bytes.length; cut++) {
      const part = scanResponseErrors(bytes.subarray(0, cut), apiKey, version);
      assert.equal(part.top, 0, `cut at ${cut}`);
      for (const [topic, code] of part.byTopic) assert.equal(code, whole.byTopic.get(topic), `${topic}, cut at ${cut}`);
    }
  }
  // What the proxy sees of a large Fetch: the first topic's code, read before its record batches.
  assert.deepEqual(Object.fromEntries(scanResponseErrors(fetch.subarray(0, 200), 1, 11).byTopic), { a: 1 });
});

test('a scan says how far its answer holds: any longer prefix up to there scans the same', () => {
  const partition = (index: number, errorCode: number, records: Buffer) => ({ partitionIndex: index, errorCode, highWatermark: 0n, lastStableOffset: 0n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1, records });
  const records = Buffer.alloc(5000, 1);
  const fetch = afterCorrelationId(1, 11, {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      { topic: 'a', partitions: [partition(0, 1, records)] },
      { topic: 'b', partitions: [partition(0, 3, Buffer.alloc(10))] },
    ],
  });
  const recordsEnd = fetch.indexOf(records) + records.length;
  const produce = afterCorrelationId(0, 7, { responses: [{ name: 'a', partitionResponses: [{ index: 0, errorCode: 29, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n }] }], throttleTimeMs: 0 });
  for (const [apiKey, version, bytes] of [[1, 11, fetch], [0, 7, produce]] as const) {
    assert.equal(scanResponseStart(bytes, apiKey, version).settledBelow, Infinity, 'a whole response');
    for (let cut = 0; cut < bytes.length; cut++) {
      const { errors, settledBelow } = scanResponseStart(bytes.subarray(0, cut), apiKey, version);
      assert.ok(settledBelow > cut, `cut at ${cut}`);
      for (const further of [cut + 1, Math.min(settledBelow - 1, bytes.length)]) {
        if (further < settledBelow && further > cut) assert.deepEqual(scanResponseErrors(bytes.subarray(0, further), apiKey, version), errors, `cut at ${cut}, ${further} bytes, settled below ${settledBelow}`);
      }
    }
  }
  // Once a Fetch's first record batches begin, its answer holds until they end: the proxy need read no further.
  const head = scanResponseStart(fetch.subarray(0, 200), 1, 11);
  assert.equal(head.settledBelow, recordsEnd);
  assert.deepEqual(Object.fromEntries(head.errors.byTopic), { a: 1 });
  // Cut before the records' length: more bytes may find more.
  assert.equal(scanResponseStart(fetch.subarray(0, 20), 1, 11).settledBelow, 21);
});

test('a response the proxy cannot read yields no codes rather than an exception', () => {
  assert.equal(scanResponseErrors(Buffer.from([1, 2, 3]), 999, 0), NO_ERRORS);
  assert.equal(scanResponseErrors(Buffer.alloc(0), 0, 7), NO_ERRORS);
  assert.equal(scanResponseErrors(Buffer.alloc(40, 0xff), 0, 7), NO_ERRORS);
});
