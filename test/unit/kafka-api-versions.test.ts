// ApiVersions: the proxy clamps what the broker advertises to what the codec parses, and answers
// versions it does not know the way a broker does (v0 body, error 35, the list it does know).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApiKey,
  buildApiVersionsFallbackResponse,
  CODEC_API_VERSIONS,
  decodeResponse,
  encodeResponse,
  ErrorCode,
  KAFKA_APIS,
  KafkaDecodeError,
  type KafkaStruct,
} from '../../src/protocols/kafka/codec/index.js';
import { clampApiVersionsResponse } from '../../src/protocols/kafka/proxy/api-versions-clamp.js';

const keys = (body: KafkaStruct) => (body.apiKeys as KafkaStruct[]).map((k) => [k.apiKey, k.minVersion, k.maxVersion]);

function brokerResponse(version: number, apiKeys: [number, number, number][], extra: KafkaStruct = {}): Buffer {
  return encodeResponse(ApiKey.ApiVersions, version, 77, { errorCode: 0, apiKeys: apiKeys.map(([apiKey, minVersion, maxVersion]) => ({ apiKey, minVersion, maxVersion })), throttleTimeMs: 5, ...extra });
}

test('the codec table has every stable version and leaves out unstable latest ones', () => {
  assert.deepEqual(CODEC_API_VERSIONS.get(0), { minVersion: 0, maxVersion: 11 });
  assert.deepEqual(CODEC_API_VERSIONS.get(1), { minVersion: 0, maxVersion: 17 });
  assert.deepEqual(CODEC_API_VERSIONS.get(26), { minVersion: 0, maxVersion: 4 }, 'EndTxn v5 is unstable');
  assert.equal(CODEC_API_VERSIONS.has(78), false, 'ShareFetch has only an unstable v0');
  for (const [key, r] of CODEC_API_VERSIONS) {
    const api = KAFKA_APIS.get(key)!;
    assert.equal(r.maxVersion, api.latestVersionUnstable ? api.maxVersion - 1 : api.maxVersion);
  }
});

test('broker ranges are clamped, unknown keys dropped, everything else kept (v3, flexible with tags)', () => {
  const features = { supportedFeatures: [{ name: 'metadata.version', minVersion: 1, maxVersion: 20 }], finalizedFeaturesEpoch: 3n, _unknownTaggedFields: [{ tag: 99, data: Buffer.from([1]) }] };
  const frame = brokerResponse(3, [[0, 0, 12], [1, 4, 16], [3, 0, 12], [18, 0, 4], [1000, 0, 1], [78, 0, 0]], features);
  const out = clampApiVersionsResponse(frame, 3);
  const res = decodeResponse(out, 18, 3);
  assert.equal(res.correlationId, 77);
  assert.deepEqual(keys(res.body), [[0, 0, 11], [1, 4, 16], [3, 0, 12], [18, 0, 4]]);
  assert.deepEqual([res.body.throttleTimeMs, res.body.supportedFeatures, res.body.finalizedFeaturesEpoch, res.body._unknownTaggedFields], [5, features.supportedFeatures, 3n, features._unknownTaggedFields]);
});

test('a caller table narrows further, e.g. to keep clients off topic-id Fetch and flexible Metadata', () => {
  const narrow = new Map(CODEC_API_VERSIONS);
  narrow.set(1, { minVersion: 0, maxVersion: 12 });
  narrow.set(3, { minVersion: 0, maxVersion: 8 });
  narrow.delete(2);
  const out = clampApiVersionsResponse(brokerResponse(2, [[1, 0, 16], [2, 0, 8], [3, 9, 12]]), 2, narrow);
  // Metadata's broker range 9-12 and our 0-8 do not meet: the key is dropped rather than advertised wrong.
  assert.deepEqual(keys(decodeResponse(out, 18, 2).body), [[1, 0, 12]]);
});

test('a broker\'s v0 "unsupported version" answer to a newer request is clamped as v0', () => {
  const v0 = encodeResponse(ApiKey.ApiVersions, 0, 9, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 2 }, { apiKey: 500, minVersion: 0, maxVersion: 0 }] });
  const out = clampApiVersionsResponse(v0, 3);
  const res = decodeResponse(out, 18, 0);
  assert.deepEqual([res.correlationId, res.body.errorCode, keys(res.body)], [9, 35, [[18, 0, 2]]]);
  assert.throws(() => clampApiVersionsResponse(Buffer.from('0000000300000a', 'hex'), 3), KafkaDecodeError);
});

test('fallback answer for an ApiVersions version the codec does not speak', () => {
  const frame = buildApiVersionsFallbackResponse(123);
  const res = decodeResponse(frame, 18, 0);
  assert.equal(res.correlationId, 123);
  assert.equal(res.body.errorCode, 35);
  assert.deepEqual(keys(res.body), [...CODEC_API_VERSIONS].map(([k, r]) => [k, r.minVersion, r.maxVersion]));
});

test('an error-35 answer is read as v0 whatever ApiVersions version asked: with its list (clamped), an empty one, or none at all', () => {
  const withList = encodeResponse(ApiKey.ApiVersions, 0, 9, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 2 }, { apiKey: 500, minVersion: 0, maxVersion: 0 }] });
  const emptyList = encodeResponse(ApiKey.ApiVersions, 0, 9, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [] });
  // An older broker's answer may stop after the error code: clients retry lower on the code alone.
  const codeOnly = Buffer.from('00000006' + '00000009' + '0023', 'hex');
  const { minVersion, maxVersion } = CODEC_API_VERSIONS.get(18)!;
  for (let version = minVersion; version <= maxVersion; version++) {
    for (const [what, frame, expected] of [['with a list', withList, [[18, 0, 2]]], ['an empty list', emptyList, []], ['the error code only', codeOnly, []]] as const) {
      const res = decodeResponse(clampApiVersionsResponse(frame, version), 18, 0);
      assert.deepEqual([res.correlationId, res.body.errorCode, keys(res.body)], [9, 35, expected], `v${version}, ${what}`);
    }
  }
});

test('an unreadable answer with any other error code is still refused', () => {
  for (const version of [0, 3]) {
    assert.throws(() => clampApiVersionsResponse(Buffer.from('00000006000000090000', 'hex'), version), KafkaDecodeError);
    assert.throws(() => clampApiVersionsResponse(Buffer.from('000000060000000900' + '2a', 'hex'), version), KafkaDecodeError);
  }
});
