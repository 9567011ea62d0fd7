// Kafka load generation on the wire, for bench/kafka: pipelined Produce and sequential Fetch loops over
// raw sockets with the Portcullis codec. A client library would be the bottleneck (kafkajs tops out well
// below a broker on this machine), hiding what the proxy costs; this generator only copies a pre-encoded
// request and patches its correlation id, so the broker and the proxy are what is measured.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { ApiKey, decodeResponse, encodeRequest, KafkaFrameReader, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';
import { buildRecordBatch } from '../../test/helpers/kafka-demo-record-batch.js';

const PRODUCE_VERSION = 7;
const FETCH_VERSION = 11;
const CORRELATION_ID_OFFSET = 8;

export interface Target {
  readonly host: string;
  readonly port: number;
}

type Rows = readonly KafkaStruct[];
const rows = (v: unknown): Rows => v as Rows;

/** One connection with requests in flight answered in order; resolves each with its body and latency. */
class WireConnection {
  private readonly reader = new KafkaFrameReader();
  private readonly waiting: Array<{ apiKey: number; version: number; sent: bigint; resolve: (r: { body: KafkaStruct; latencyNs: bigint }) => void; reject: (e: Error) => void }> = [];
  private correlationId = 0;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.reader.push(chunk)) {
        const w = this.waiting.shift()!;
        w.resolve({ body: decodeResponse(frame, w.apiKey, w.version).body, latencyNs: process.hrtime.bigint() - w.sent });
      }
    });
    const fail = (err: Error) => {
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static async open(target: Target, localAddress: string): Promise<WireConnection> {
    const socket = connect({ host: target.host, port: target.port, localAddress });
    await once(socket, 'connect');
    return new WireConnection(socket);
  }

  /** Sends a pre-encoded request frame after giving it the next correlation id. */
  send(frame: Buffer, apiKey: number, version: number): Promise<{ body: KafkaStruct; latencyNs: bigint }> {
    frame.writeInt32BE(++this.correlationId, CORRELATION_ID_OFFSET);
    return new Promise((resolve, reject) => {
      this.waiting.push({ apiKey, version, sent: process.hrtime.bigint(), resolve, reject });
      this.socket.write(Buffer.from(frame)); // a copy: the template is patched again before this one is sent
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function produceRequest(topic: string, recordsPerRequest: number, recordBytes: number): Buffer {
  const value = 'k'.repeat(recordBytes);
  const batch = buildRecordBatch(Array.from({ length: recordsPerRequest }, () => ({ value })), { baseTimestamp: Date.now() });
  const body = { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] };
  return encodeRequest({ apiKey: ApiKey.Produce, apiVersion: PRODUCE_VERSION, correlationId: 0, clientId: 'bench-producer' }, body);
}

function produceError(body: KafkaStruct): number {
  return rows(rows(body.responses)[0]!.partitionResponses)[0]!.errorCode as number;
}

export interface ProduceResult {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  /** 99th percentile of send-to-acknowledgement latency under this load. */
  readonly p99Ms: number;
  readonly errors: number;
}

/**
 * `connections` producers, each keeping `inFlight` Produce requests of `recordsPerRequest` records of
 * `recordBytes` outstanding (acks=all), for `seconds`. Latency is per request, send to acknowledgement.
 */
export async function produceLoad(o: {
  target: Target;
  localAddress: string;
  topic: string;
  seconds: number;
  connections: number;
  inFlight: number;
  recordsPerRequest: number;
  recordBytes: number;
}): Promise<ProduceResult> {
  const template = produceRequest(o.topic, o.recordsPerRequest, o.recordBytes);
  const conns = await Promise.all(Array.from({ length: o.connections }, () => WireConnection.open(o.target, o.localAddress)));
  const latenciesMs: number[] = [];
  let requests = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + o.seconds * 1000;
  const loop = async (c: WireConnection) => {
    while (Date.now() < deadline) {
      const r = await c.send(template, ApiKey.Produce, PRODUCE_VERSION);
      if (produceError(r.body) !== 0) errors++;
      else requests++;
      latenciesMs.push(Number(r.latencyNs) / 1e6);
    }
  };
  try {
    await Promise.all(conns.flatMap((c) => Array.from({ length: o.inFlight }, () => loop(c))));
  } finally {
    for (const c of conns) c.close();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { records: requests * o.recordsPerRequest, bytes: requests * o.recordsPerRequest * o.recordBytes, seconds, p99Ms: percentile(latenciesMs, 99), errors };
}

/** One Produce of one record at a time, `count` times: latency without queueing. */
export async function produceLatency(o: { target: Target; localAddress: string; topic: string; count: number; recordBytes: number }): Promise<number[]> {
  const template = produceRequest(o.topic, 1, o.recordBytes);
  const c = await WireConnection.open(o.target, o.localAddress);
  const out: number[] = [];
  try {
    for (let i = 0; i < o.count; i++) out.push(Number((await c.send(template, ApiKey.Produce, PRODUCE_VERSION)).latencyNs) / 1e6);
  } finally {
    c.close();
  }
  return out;
}

export interface ConsumeResult {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
}

/** The offset after the last whole record batch in `records`, and how many records those batches hold. */
function wholeBatches(records: Buffer): { next: bigint | undefined; count: number } {
  let pos = 0;
  let next: bigint | undefined;
  let count = 0;
  while (pos + 61 <= records.length) {
    const length = records.readInt32BE(pos + 8);
    if (pos + 12 + length > records.length) break; // a partial batch at the end of the response
    next = records.readBigInt64BE(pos) + BigInt(records.readInt32BE(pos + 23)) + 1n;
    count += records.readInt32BE(pos + 57);
    pos += 12 + length;
  }
  return { next, count };
}

/** Reads `topic` partition 0 from offset 0 with one Fetch in flight (as a consumer does) until `records` arrived. */
export async function consumeLoad(o: { target: Target; localAddress: string; topic: string; records: number; maxBytes: number }): Promise<ConsumeResult> {
  const c = await WireConnection.open(o.target, o.localAddress);
  let offset = 0n;
  let records = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  try {
    while (records < o.records) {
      const body = {
        replicaId: -1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: o.maxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: o.topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: o.maxBytes }] }],
        forgottenTopicsData: [],
        rackId: '',
      };
      const frame = encodeRequest({ apiKey: ApiKey.Fetch, apiVersion: FETCH_VERSION, correlationId: 0, clientId: 'bench-consumer' }, body);
      const r = await c.send(frame, ApiKey.Fetch, FETCH_VERSION);
      const partition = rows(rows(r.body.responses)[0]!.partitions)[0]!;
      if (partition.errorCode !== 0) throw new Error(`Fetch error ${String(partition.errorCode)}`);
      const data = (partition.records as Buffer | null) ?? Buffer.alloc(0);
      const { next, count } = wholeBatches(data);
      if (next === undefined) throw new Error(`no whole record batch at offset ${offset} (${data.length} bytes)`);
      offset = next;
      records += count;
      bytes += data.length;
    }
  } finally {
    c.close();
  }
  return { records, bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
