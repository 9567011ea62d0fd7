// Request bodies for the Kafka proxy's wire tests (the versions kafkajs sends), and a look at a broker's log
// end offset straight from the broker, to prove what a denial kept away from it.
import { ApiKey, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';
import { buildRecordBatch } from './kafka-demo-record-batch.js';
import { KafkaWireClient } from './kafka-demo-wire-client.js';

export type Rows = readonly KafkaStruct[];
export const rows = (v: unknown): Rows => v as Rows;

/** Produce v3-8: one record per topic, partition 0. */
export function produceBody(topics: readonly string[], o: { acks?: number; value?: string } = {}): KafkaStruct {
  return {
    transactionalId: null,
    acks: o.acks ?? -1,
    timeoutMs: 5000,
    topicData: topics.map((name) => ({ name, partitionData: [{ index: 0, records: buildRecordBatch([{ value: o.value ?? `to ${name}` }]) }] })),
  };
}

/** Fetch v4-11 of partition 0 from `offset`. */
export function fetchBody(topic: string, offset: bigint, maxWaitMs = 0): KafkaStruct {
  return {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  };
}

export function metadataBody(topics: readonly string[] | null): KafkaStruct {
  return { topics: topics === null ? null : topics.map((name) => ({ name })), allowAutoTopicCreation: false };
}

/** The next offset partition 0 of `topic` will get, asked of the broker directly (ListOffsets v2, latest). */
export async function logEndOffset(brokerPort: number, topic: string, localAddress = '127.0.0.1'): Promise<bigint> {
  const c = await KafkaWireClient.connect(brokerPort, localAddress);
  try {
    const r = await c.request(ApiKey.ListOffsets, 2, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }] });
    return rows(rows(r.topics)[0]!.partitions)[0]!.offset as bigint;
  } finally {
    c.close();
  }
}
