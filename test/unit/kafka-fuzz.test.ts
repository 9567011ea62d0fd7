// Seeded, bounded fuzzing of everything that reads untrusted bytes: random frames, every truncation of
// valid frames, bit flips, hostile lengths and random streams. The only acceptable failure is a
// KafkaDecodeError; frames live in exactly-sized ArrayBuffers so any read past the end would surface
// as a RangeError (a failure) instead of silently reading neighbouring memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApiKey,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  KAFKA_APIS,
  KafkaDecodeError,
  KafkaFrameError,
  KafkaFrameReader,
} from '../../src/protocols/kafka/codec/index.js';
import { clampApiVersionsResponse } from '../../src/protocols/kafka/proxy/api-versions-clamp.js';
import { rewriteBrokerAddresses } from '../../src/protocols/kafka/proxy/broker-addresses.js';
import { buildDenyResponse } from '../../src/protocols/kafka/proxy/deny.js';
import { extractPolicyFacts } from '../../src/protocols/kafka/proxy/facts.js';
import { requirePlan } from '../../src/protocols/kafka/codec/codec.js';
import { RandomKafkaValues, seededRandom } from '../helpers/kafka-random-message.js';

const APIS = [...KAFKA_APIS.values()];

/** A copy in its own ArrayBuffer of exactly the frame's size. */
function isolated(bytes: Buffer): Buffer {
  const b = Buffer.from(new ArrayBuffer(bytes.length));
  bytes.copy(b);
  return b;
}

function withSize(payload: Buffer): Buffer {
  const f = Buffer.alloc(4 + payload.length);
  f.writeInt32BE(payload.length, 0);
  payload.copy(f, 4);
  return isolated(f);
}

/** Run fn; it may succeed or throw KafkaDecodeError, nothing else. Returns whether it threw. */
function onlyDecodeErrors(fn: () => unknown, what: () => string): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (!(e instanceof KafkaDecodeError)) assert.fail(`${what()}: ${e instanceof Error ? e.stack : String(e)}`);
    return true;
  }
}

const mapAll = () => ({ host: 'proxy.local', port: 1 });

/** Everything the proxy does with a request frame, and with a response frame for that request. */
function exerciseRequest(frame: Buffer): void {
  extractPolicyFacts(frame);
  decodeRequest(frame);
  buildDenyResponse(frame, 29);
}
function exerciseResponse(frame: Buffer, apiKey: number, version: number): void {
  decodeResponse(frame, apiKey, version);
  rewriteBrokerAddresses(frame, apiKey, version, mapAll);
  if (apiKey === ApiKey.ApiVersions) clampApiVersionsResponse(frame, version);
}

function validFrames(seed: number, perVersion: number): { request: Buffer; response: Buffer; apiKey: number; version: number }[] {
  const values = new RandomKafkaValues(seededRandom(seed));
  const out = [];
  for (const api of APIS) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      for (let i = 0; i < perVersion; i++) {
        const request = encodeRequest({ apiKey: api.apiKey, apiVersion: version, correlationId: i, clientId: 'fuzz' }, values.struct(requirePlan(api.apiKey, version, 'request')));
        const response = encodeResponse(api.apiKey, version, i, values.struct(requirePlan(api.apiKey, version, 'response')));
        out.push({ request: isolated(request), response: isolated(response), apiKey: api.apiKey, version });
      }
    }
  }
  return out;
}

test('random payloads behind real API headers: only KafkaDecodeError', { timeout: 30_000 }, () => {
  const values = new RandomKafkaValues(seededRandom(99));
  let rejected = 0;
  for (let i = 0; i < 10_000; i++) {
    const api = APIS[values.int(0, APIS.length - 1)]!;
    const version = values.int(api.minVersion, api.maxVersion + 1); // one past the end: unsupported version
    const header = Buffer.alloc(8);
    header.writeInt16BE(api.apiKey, 0);
    header.writeInt16BE(version, 2);
    header.writeInt32BE(i, 4);
    const frame = withSize(Buffer.concat([header, values.bytes(values.int(0, 64))]));
    if (onlyDecodeErrors(() => exerciseRequest(frame), () => `request ${frame.toString('hex')}`)) rejected++;
    const response = withSize(values.bytes(values.int(0, 64)));
    onlyDecodeErrors(() => exerciseResponse(response, api.apiKey, Math.min(version, api.maxVersion)), () => `response ${api.name} v${version} ${response.toString('hex')}`);
  }
  assert.ok(rejected > 7_500, `random bytes should mostly be rejected, ${rejected} were`);
});

test('every truncation of valid frames is rejected (a parse never succeeds on missing bytes)', { timeout: 60_000 }, () => {
  let cuts = 0;
  for (const { request, response, apiKey, version } of validFrames(5, 1)) {
    for (const [frame, isRequest] of [[request, true], [response, false]] as const) {
      const step = Math.max(1, Math.floor(frame.length / 20));
      for (let len = 4; len < frame.length; len += step) {
        const cut = withSize(frame.subarray(4, len));
        const run = isRequest ? () => exerciseRequest(cut) : () => exerciseResponse(cut, apiKey, version);
        assert.ok(onlyDecodeErrors(run, () => `truncated ${apiKey} v${version} at ${len}`), `truncated ${apiKey} v${version} (${isRequest ? 'request' : 'response'}) at ${len}/${frame.length} was accepted`);
        cuts++;
      }
    }
  }
  assert.ok(cuts > 2_500, `${cuts} truncations`);
});

test('bit flips of valid frames: decoded or KafkaDecodeError, never anything else', { timeout: 60_000 }, () => {
  const random = seededRandom(7);
  let flips = 0;
  for (const { request, response, apiKey, version } of validFrames(11, 2)) {
    for (let i = 0; i < 8; i++) {
      for (const [frame, isRequest] of [[request, true], [response, false]] as const) {
        const mutated = isolated(frame);
        const bit = 32 + Math.floor(random() * (mutated.length * 8 - 32)); // keep the size prefix honest
        mutated[bit >> 3]! ^= 1 << (bit & 7);
        const run = isRequest ? () => exerciseRequest(mutated) : () => exerciseResponse(mutated, apiKey, version);
        onlyDecodeErrors(run, () => `flip of ${apiKey} v${version}: ${mutated.toString('hex')}`);
        flips++;
      }
    }
  }
  assert.ok(flips > 10_000, `${flips} flips`);
});

test('hostile lengths are refused at once, without allocating what they announce', { timeout: 10_000 }, () => {
  const started = process.hrtime.bigint();
  const header = (apiKey: number, version: number) => {
    const h = Buffer.alloc(10);
    h.writeInt16BE(apiKey, 0);
    h.writeInt16BE(version, 2);
    h.writeInt32BE(1, 4);
    h.writeInt16BE(-1, 8); // null client id
    return h;
  };
  const cases: [string, Buffer][] = [
    // Metadata v4: topics array of 2^31-1 entries.
    ['array count', Buffer.concat([header(3, 4), Buffer.from('7fffffff', 'hex')])],
    // Produce v7: transactional id null, acks, timeout, one topic named with a 32767-byte string.
    ['string length', Buffer.concat([header(0, 7), Buffer.from('ffff' + 'ffff' + '00000001' + '00000001' + '7fff', 'hex')])],
    // Produce v7: records of 2^31-1 bytes.
    ['bytes length', Buffer.concat([header(0, 7), Buffer.from('ffff' + 'ffff' + '00000001' + '00000001' + '0001' + '61' + '00000001' + '00000000' + '7fffffff', 'hex')])],
    // Metadata v9 (flexible): compact array length 2^32-2 then tags.
    ['compact array count', Buffer.concat([header(3, 9), Buffer.from('00' + 'ffffffff0f', 'hex')])],
    // Metadata v9: a tagged field declaring 2^32-1 bytes.
    ['tag size', Buffer.concat([header(3, 9), Buffer.from('00' + '01' + '00' + '01' + '01' + '05' + 'ffffffff0f', 'hex')])],
    // Metadata v9: 2^32-1 tagged fields announced.
    ['tag count', Buffer.concat([header(3, 9), Buffer.from('00' + '01' + '00' + 'ffffffff0f', 'hex')])],
  ];
  for (const [what, payload] of cases) {
    const frame = withSize(payload);
    assert.throws(() => extractPolicyFacts(frame), KafkaDecodeError, what);
    assert.throws(() => decodeRequest(frame), KafkaDecodeError, what);
  }
  assert.ok(process.hrtime.bigint() - started < 2_000_000_000n, 'hostile lengths took more than 2 s');
});

test('random byte streams through the frame reader: frames are well-formed or KafkaFrameError', { timeout: 30_000 }, () => {
  const values = new RandomKafkaValues(seededRandom(3));
  let failed = 0;
  for (let i = 0; i < 5_000; i++) {
    const reader = new KafkaFrameReader({ maxFrameSize: 1024 });
    try {
      for (let chunks = values.int(1, 6); chunks > 0; chunks--) {
        // Bias sizes towards small positive values so frames actually complete.
        const chunk = values.bytes(values.int(0, 40));
        if (values.chance(0.5) && chunk.length >= 4) chunk.writeInt32BE(values.int(-3, 30), 0);
        for (const f of reader.push(chunk)) assert.equal(f.readInt32BE(0), f.length - 4);
      }
    } catch (e) {
      if (!(e instanceof KafkaFrameError)) throw e;
      failed++;
    }
  }
  assert.ok(failed > 100 && failed < 5_000, `${failed} streams refused`);
});
