// Committed offsets: OffsetCommit (8) and OffsetFetch (9), including v8+'s batch of groups.
import { ErrorCode, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import type { BrokerState, RequestContext } from '../context.js';
import type { OffsetCommitRequest, OffsetFetchRequest, OffsetFetchTopics } from '../requests.js';

/** Kafka's offset.metadata.max.bytes default. */
const MAX_OFFSET_METADATA = 4096;

export function handleOffsetCommit({ body, broker }: RequestContext): KafkaStruct {
  const req = body as unknown as OffsetCommitRequest;
  // v0 has neither generation nor member: a commit from outside group management.
  const groupError = broker.groups.checkCommit(req.groupId, req.memberId ?? '', req.generationIdOrMemberEpoch ?? -1);
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        let errorCode = groupError;
        if (errorCode === ErrorCode.NONE && !broker.topics.partition(t.name, p.partitionIndex)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        if (errorCode === ErrorCode.NONE && p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata) > MAX_OFFSET_METADATA) errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        if (errorCode === ErrorCode.NONE) {
          broker.groups.offsets.commit(req.groupId, t.name, p.partitionIndex, {
            offset: p.committedOffset,
            leaderEpoch: p.committedLeaderEpoch ?? -1,
            metadata: p.committedMetadata,
          });
        }
        return { partitionIndex: p.partitionIndex, errorCode };
      }),
    })),
  };
}

/** One group's committed offsets for the asked partitions (null: every committed partition); -1 where none. */
function groupOffsets(broker: BrokerState, groupId: string, topics: OffsetFetchTopics): { errorCode: number; topics: KafkaStruct[] } {
  if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] };
  const asked = topics?.map((t) => ({ topic: t.name, partitions: t.partitionIndexes })) ?? broker.groups.offsets.all(groupId);
  return {
    errorCode: ErrorCode.NONE,
    topics: asked.map(({ topic, partitions }) => ({
      name: topic,
      partitions: partitions.map((partitionIndex) => {
        const c = broker.groups.offsets.get(groupId, topic, partitionIndex);
        return {
          partitionIndex,
          committedOffset: c?.offset ?? -1n,
          committedLeaderEpoch: c?.leaderEpoch ?? -1,
          metadata: c ? c.metadata : '',
          errorCode: ErrorCode.NONE,
        };
      }),
    })),
  };
}

export function handleOffsetFetch({ body, broker }: RequestContext): KafkaStruct {
  const req = body as unknown as OffsetFetchRequest;
  if (req.groups !== undefined) {
    return { throttleTimeMs: 0, groups: req.groups.map((g) => ({ groupId: g.groupId, ...groupOffsets(broker, g.groupId, g.topics) })) };
  }
  return { throttleTimeMs: 0, ...groupOffsets(broker, req.groupId ?? '', req.topics ?? null) };
}
