import { ErrorCode, ZERO_UUID, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import { CloseConnection, type BrokerState, type RequestContext } from '../context.js';
import type { MetadataRequest } from '../requests.js';
import { TOPIC_NAME, type Topic } from '../topics.js';

function describeTopic(topic: Topic, nodeId: number): KafkaStruct {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: false,
    partitions: topic.partitions.map((p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p.partition,
      leaderId: nodeId,
      // No leader epochs: clients then skip epoch validation (OffsetForLeaderEpoch), which a single node never needs.
      leaderEpoch: -1,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
  };
}

function topicError(errorCode: number, name: string | null, topicId: string): KafkaStruct {
  return { errorCode, name, topicId, isInternal: false, partitions: [] };
}

function requestedTopic(broker: BrokerState, t: { topicId?: string; name: string | null }): KafkaStruct {
  if (t.name === null) {
    // v10+ may ask by id alone.
    const topic = t.topicId === undefined ? undefined : broker.topics.withId(t.topicId);
    return topic ? describeTopic(topic, broker.nodeId) : topicError(ErrorCode.UNKNOWN_TOPIC_ID, null, t.topicId ?? ZERO_UUID);
  }
  if (!TOPIC_NAME.test(t.name)) return topicError(ErrorCode.INVALID_TOPIC_EXCEPTION, t.name, ZERO_UUID);
  const topic = broker.topics.named(t.name);
  // No auto-creation: the demo's topics exist from the start, as in Cilium's example.
  return topic ? describeTopic(topic, broker.nodeId) : topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, t.name, ZERO_UUID);
}

/** Lookups by topic id came with v12; v10-11 carry the id field but must name every topic (as Kafka checks). */
const TOPIC_ID_LOOKUP = 12;

/** Metadata (3): this one broker leads every partition. */
export function handleMetadata({ body, header, broker }: RequestContext): KafkaStruct {
  const req = body as unknown as MetadataRequest;
  // null asks for every topic; so does an empty list in v0, where the field was not yet nullable.
  const all = req.topics === null || (header.apiVersion === 0 && req.topics.length === 0);
  if (header.apiVersion < TOPIC_ID_LOOKUP && req.topics?.some((t) => t.name === null || (t.topicId !== undefined && t.topicId !== ZERO_UUID))) {
    throw new CloseConnection(`Metadata v${header.apiVersion} cannot look topics up by id`);
  }
  const topics = all ? broker.topics.all().map((t) => describeTopic(t, broker.nodeId)) : req.topics!.map((t) => requestedTopic(broker, t));
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort, rack: null }],
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    topics,
  };
}
