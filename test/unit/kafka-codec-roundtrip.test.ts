// Every API × version × request/response in the definitions: random populated message → encode →
// decode (deep-equal) → re-encode (byte-equal), with and without frame headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeBody,
  decodeRequest,
  decodeResponse,
  encodeBody,
  encodeRequest,
  encodeResponse,
  defaultStruct,
  requirePlan,
} from '../../src/protocols/kafka/codec/codec.js';
import { KAFKA_MESSAGE_DEFINITIONS } from '../../src/protocols/kafka/codec/generated/messages.js';
import { KAFKA_APIS, messagePlan } from '../../src/protocols/kafka/codec/schema.js';
import { RandomKafkaValues, seededRandom } from '../helpers/kafka-random-message.js';
import { ApiKey } from '../../src/protocols/kafka/codec/index.js';

const SAMPLES_PER_VERSION = 6;

test('the codec covers every API and version the definitions declare', () => {
  const declared = KAFKA_MESSAGE_DEFINITIONS.reduce((n, d) => n + d.validVersions[1] - d.validVersions[0] + 1, 0);
  let covered = 0;
  for (const api of KAFKA_APIS.values()) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      for (const type of ['request', 'response'] as const) if (messagePlan(api.apiKey, v, type)) covered++;
    }
  }
  assert.equal(KAFKA_APIS.size, 88);
  assert.equal(covered, declared);
  // Kafka 3.9-era definitions: 88 APIs, 327 versions each way. A change here means the definitions changed.
  assert.equal(declared, 654);
});

test('random messages round-trip for every API × version × direction', () => {
  const values = new RandomKafkaValues(seededRandom(0x5eed));
  let pairs = 0;
  for (const api of KAFKA_APIS.values()) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      for (const type of ['request', 'response'] as const) {
        const plan = requirePlan(api.apiKey, v, type);
        pairs++;
        for (let i = 0; i < SAMPLES_PER_VERSION; i++) {
          const body = values.struct(plan);
          const bytes = encodeBody(plan, body);
          const where = `${plan.definition.name} v${v} sample ${i}`;
          const decoded = decodeBody(plan, bytes);
          assert.deepStrictEqual(decoded, body, where);
          assert.ok(encodeBody(plan, decoded).equals(bytes), `${where}: re-encoding differs`);
        }
        // Defaults alone must also encode and decode (this is what deny responses start from).
        const defaults = defaultStruct(plan);
        assert.deepStrictEqual(decodeBody(plan, encodeBody(plan, defaults)), defaults, `${plan.definition.name} v${v} defaults`);
      }
    }
  }
  assert.equal(pairs, 654);
});

test('request and response frames round-trip with their headers', () => {
  const values = new RandomKafkaValues(seededRandom(42));
  for (const api of KAFKA_APIS.values()) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const reqBody = values.struct(requirePlan(api.apiKey, v, 'request'));
      const clientId = values.chance(0.2) ? null : values.string();
      const frame = encodeRequest({ apiKey: api.apiKey, apiVersion: v, correlationId: v * 1000 + 7, clientId }, reqBody);
      const req = decodeRequest(frame);
      assert.equal(req.header.apiKey, api.apiKey);
      assert.equal(req.header.apiVersion, v);
      assert.equal(req.header.correlationId, v * 1000 + 7);
      // Header v0 (ControlledShutdown v0 only) has no client id.
      assert.equal(req.header.clientId, req.header.headerVersion === 0 ? null : clientId);
      assert.deepStrictEqual(req.body, reqBody);
      assert.ok(encodeRequest(req.header, req.body).equals(frame));

      const resBody = values.struct(requirePlan(api.apiKey, v, 'response'));
      const resFrame = encodeResponse(api.apiKey, v, -5, resBody);
      const res = decodeResponse(resFrame, api.apiKey, v);
      assert.equal(res.correlationId, -5);
      assert.deepStrictEqual(res.body, resBody);
    }
  }
});

test('hand-checked wire bytes: kcat ApiVersions v3 header and a Metadata v4 body', () => {
  // kcat's first request: key 18, v3, corr 1, client "empire-hq", no tags; v3 body: two compact strings + tags.
  const hex = (s: string): string => Buffer.from(s).toString('hex');
  const payload = Buffer.from('00120003000000010009' + hex('empire-hq') + '00' + '08' + hex('rdkafka') + '06' + hex('2.0.2') + '00', 'hex');
  const frame = Buffer.concat([Buffer.alloc(4), payload]);
  frame.writeInt32BE(payload.length, 0);
  const req = decodeRequest(frame);
  assert.deepEqual(
    { ...req.header },
    { apiKey: ApiKey.ApiVersions, apiVersion: 3, correlationId: 1, clientId: 'empire-hq', headerVersion: 2 },
  );
  assert.deepEqual(req.body, { clientSoftwareName: 'rdkafka', clientSoftwareVersion: '2.0.2' });

  // Metadata v4: topics ARRAY[name STRING] then allow_auto_topic_creation — classic int32/int16 lengths.
  const body = decodeBody(requirePlan(3, 4, 'request'), Buffer.from('00000002' + '0001' + '61' + '0002' + '6263' + '01', 'hex'));
  assert.deepEqual(body, { topics: [{ name: 'a' }, { name: 'bc' }], allowAutoTopicCreation: true });
});
