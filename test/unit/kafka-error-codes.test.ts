// The hand-written ErrorCode table against an independent one: kafkajs's own list of Kafka error codes
// (CommonJS under node_modules/kafkajs/src), which names them after the same Java enum.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocols/kafka/codec/index.js';

const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { errorCodes: { type: string; code: number }[] };

/** Where kafkajs cannot vouch for an entry: it lists no success code, predates a rename, or predates the code. */
const NOT_IN_KAFKAJS: Readonly<Record<string, string>> = {
  NONE: 'kafkajs lists failures only',
  COORDINATOR_NOT_AVAILABLE: 'kafkajs keeps the older name, GROUP_COORDINATOR_NOT_AVAILABLE',
  UNKNOWN_TOPIC_ID: 'added with topic ids (KIP-516), after kafkajs\'s list',
};

test('every ErrorCode entry has the code kafkajs gives that name', () => {
  const byName = new Map(errorCodes.map((e) => [e.type, e.code]));
  const unvouched = Object.entries(ErrorCode).filter(([name, code]) => byName.get(name) !== code).map(([name]) => name);
  assert.deepEqual(unvouched, Object.keys(NOT_IN_KAFKAJS));
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(byName.get('GROUP_COORDINATOR_NOT_AVAILABLE'), ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal(errorCodes.some((e) => e.code === ErrorCode.UNKNOWN_TOPIC_ID), false);
});

test('no two ErrorCode names share a code', () => {
  const codes = Object.values(ErrorCode);
  assert.equal(new Set(codes).size, codes.length);
});
