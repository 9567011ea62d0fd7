// Hostile input never takes the demo broker down: for every API version it serves, schema-valid requests
// with random values (negative partitions, huge waits, null arrays, nonsense batches ...) and frames with
// a valid header but random body bytes. Each gets a response or a closed connection; the broker logs no
// internal error and still serves real requests afterwards.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { startDemoBroker } from '../../src/demo/kafka/broker/index.js';
import { BROKER_API_VERSIONS } from '../../src/demo/kafka/broker/supported-versions.js';
import { encodeRequest, isFlexibleVersion, type KafkaStruct, type KafkaValue } from '../../src/protocols/kafka/codec/index.js';
import { requirePlan } from '../../src/protocols/kafka/codec/codec.js';
import { RandomKafkaValues, seededRandom } from '../helpers/kafka-random-message.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { buildRecordBatch } from '../helpers/kafka-demo-record-batch.js';

const SAMPLES = 6;
const WAIT_MS = 300;
const PARALLEL = 40;

type Outcome = 'answered' | 'closed' | 'pending';

const PARTITION_KEYS = new Set(['partition', 'partitionIndex', 'index']);

/** Point about half of the random names, partitions and batches at things that exist, so handlers go past their lookups. */
function aimAtRealTopic(value: KafkaValue, values: RandomKafkaValues): KafkaValue {
  if (Array.isArray(value)) return value.map((v) => aimAtRealTopic(v, values));
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const out: KafkaStruct = {};
  for (const [k, v] of Object.entries(value as KafkaStruct)) {
    const hit = values.chance(0.5);
    if (hit && (k === 'name' || k === 'topic') && typeof v === 'string') out[k] = 'empire-announce';
    else if (hit && PARTITION_KEYS.has(k) && typeof v === 'number') out[k] = 0;
    else if (hit && k === 'records') out[k] = buildRecordBatch([{ value: values.string() }]);
    else out[k] = v === undefined ? v : aimAtRealTopic(v, values);
  }
  return out;
}

/** Sends one frame on a fresh connection; reports whether bytes came back, the broker closed, or neither within WAIT_MS. */
async function probe(port: number, frame: Buffer): Promise<Outcome> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(frame);
  const outcome = await new Promise<Outcome>((resolve) => {
    const timer = setTimeout(() => resolve('pending'), WAIT_MS);
    socket.once('data', () => (clearTimeout(timer), resolve('answered')));
    socket.once('close', () => (clearTimeout(timer), resolve('closed')));
  });
  socket.destroy();
  return outcome;
}

test('random requests for every served API version get an answer or a closed connection, never a broker failure', async () => {
  const logLines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(chunk.toString()), done()) });
  const broker = await startDemoBroker({ topics: { 'empire-announce': 1 }, log: pino({ level: 'warn' }, sink) });
  try {
    const values = new RandomKafkaValues(seededRandom(0xdea7));
    const frames: Buffer[] = [];
    for (const [apiKey, range] of BROKER_API_VERSIONS) {
      for (let v = range.minVersion; v <= range.maxVersion; v++) {
        const plan = requirePlan(apiKey, v, 'request');
        for (let i = 0; i < SAMPLES; i++) {
          const correlationId = frames.length;
          frames.push(encodeRequest({ apiKey, apiVersion: v, correlationId, clientId: values.string() }, aimAtRealTopic(values.struct(plan), values) as KafkaStruct));
          // A valid header followed by random body bytes.
          const body = values.bytes(values.int(0, 64));
          const junk = Buffer.alloc(4 + 12 + (isFlexibleVersion(apiKey, v) ? 1 : 0) + body.length);
          junk.writeInt32BE(junk.length - 4, 0);
          junk.writeInt16BE(apiKey, 4);
          junk.writeInt16BE(v, 6);
          junk.writeInt32BE(correlationId, 8);
          junk.writeInt16BE(2, 12);
          junk.write('fz', 14);
          body.copy(junk, junk.length - body.length);
          frames.push(junk);
        }
      }
    }
    const outcomes: Record<Outcome, number> = { answered: 0, closed: 0, pending: 0 };
    for (let i = 0; i < frames.length; i += PARALLEL) {
      for (const o of await Promise.all(frames.slice(i, i + PARALLEL).map((f) => probe(broker.port, f)))) outcomes[o]++;
    }
    // Every kind of outcome shows up: real answers, refusals, and long polls / joins still waiting.
    assert.ok(outcomes.answered > frames.length / 4, JSON.stringify(outcomes));
    assert.ok(outcomes.closed > frames.length / 4, JSON.stringify(outcomes));

    const errors = logLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
    assert.deepEqual(errors, [], 'the broker logged internal failures');

    const c = await KafkaWireClient.connect(broker.port);
    const produced = await c.request(0, 7, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'empire-announce', partitionData: [{ index: 0, records: buildRecordBatch([{ value: 'still here' }]) }] }] });
    const p = (produced.responses as Array<{ partitionResponses: Array<{ errorCode: number }> }>)[0]!.partitionResponses[0]!;
    assert.equal(p.errorCode, 0);
    c.close();
  } finally {
    await broker.close();
  }
});
