import { ErrorCode, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import type { RequestContext } from '../context.js';
import type { OffsetAndTimestamp, PartitionLog } from '../partition-log.js';
import type { ListOffsetsRequest } from '../requests.js';

// ListOffsets' special timestamps (ListOffsetsRequest.*_TIMESTAMP).
const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const EARLIEST_PENDING_UPLOAD = -5;

const NOT_FOUND: OffsetAndTimestamp = { offset: -1, timestamp: -1 };

function lookup(log: PartitionLog, timestamp: number): OffsetAndTimestamp {
  switch (timestamp) {
    case LATEST:
      return { offset: log.highWatermark, timestamp: -1 };
    case EARLIEST:
    case EARLIEST_LOCAL: // no tiered storage: every offset is local
      return { offset: log.logStartOffset, timestamp: -1 };
    case EARLIEST_PENDING_UPLOAD: // nothing is ever uploaded to remote storage
      return NOT_FOUND;
    case MAX_TIMESTAMP:
      return log.offsetOfMaxTimestamp() ?? NOT_FOUND;
    default:
      return timestamp < 0 ? NOT_FOUND : (log.offsetForTimestamp(timestamp) ?? NOT_FOUND);
  }
}

/** ListOffsets (2): earliest, latest, max-timestamp and by-time lookups. */
export function handleListOffsets({ body, broker }: RequestContext): KafkaStruct {
  const req = body as unknown as ListOffsetsRequest;
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const log = broker.topics.partition(t.name, p.partitionIndex);
        if (!log) return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1n, offset: -1n, leaderEpoch: -1 };
        const found = lookup(log, Number(p.timestamp));
        return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, timestamp: BigInt(found.timestamp), offset: BigInt(found.offset), leaderEpoch: -1 };
      }),
    })),
  };
}
