import { ErrorCode, ZERO_UUID, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import type { RequestContext } from '../context.js';
import { waitForAppend, type PartitionLog } from '../partition-log.js';
import type { FetchRequest } from '../requests.js';

const INT32_MAX = 2 ** 31 - 1;
const EMPTY = Buffer.alloc(0);

interface FetchTarget {
  readonly topic: string;
  readonly topicId: string;
  /** Error for the whole topic when it is unknown. */
  readonly topicError: number;
  readonly partitions: ReadonlyArray<{ readonly index: number; readonly offset: number; readonly maxBytes: number; readonly log: PartitionLog | undefined }>;
}

function targets({ body, broker }: RequestContext): FetchTarget[] {
  const req = body as unknown as FetchRequest;
  return req.topics.map((t) => {
    // v13+ name topics by id, earlier versions by name.
    const topic = t.topicId !== undefined ? broker.topics.withId(t.topicId) : broker.topics.named(t.topic ?? '');
    return {
      topic: topic?.name ?? t.topic ?? '',
      topicId: topic?.id ?? t.topicId ?? ZERO_UUID,
      topicError: topic ? ErrorCode.NONE : t.topicId !== undefined ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      partitions: t.partitions.map((p) => ({
        index: p.partition,
        // Offsets past 2^53 are out of range of any in-memory log anyway.
        offset: Number(p.fetchOffset),
        maxBytes: p.partitionMaxBytes,
        log: topic?.partitions[p.partition],
      })),
    };
  });
}

function failed(index: number, errorCode: number): KafkaStruct {
  return { partitionIndex: index, errorCode, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, abortedTransactions: [], preferredReadReplica: -1, records: EMPTY };
}

/** One pass over the requested partitions: what is available now, within the byte limits. */
function read(targets: readonly FetchTarget[], maxBytes: number): { topics: KafkaStruct[]; bytes: number; errors: boolean } {
  let bytes = 0;
  let errors = false;
  const topics = targets.map((t) => ({
    topic: t.topic,
    topicId: t.topicId,
    partitions: t.partitions.map((p) => {
      const log = p.log;
      const errorCode = t.topicError !== ErrorCode.NONE ? t.topicError : !log ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : p.offset < log.logStartOffset || p.offset > log.highWatermark ? ErrorCode.OFFSET_OUT_OF_RANGE : ErrorCode.NONE;
      if (errorCode !== ErrorCode.NONE) {
        errors = true;
        // Out of range still reports the log's bounds, so the consumer can reset its position.
        return log && errorCode === ErrorCode.OFFSET_OUT_OF_RANGE
          ? { ...failed(p.index, errorCode), highWatermark: BigInt(log.highWatermark), lastStableOffset: BigInt(log.highWatermark), logStartOffset: BigInt(log.logStartOffset) }
          : failed(p.index, errorCode);
      }
      // The first batch of the response is sent whole even past the limits (KIP-74).
      const batches = log!.read(p.offset, Math.min(p.maxBytes, maxBytes - bytes), bytes === 0);
      const records = batches.length === 1 ? batches[0]! : Buffer.concat(batches);
      bytes += records.length;
      const hw = BigInt(log!.highWatermark);
      return {
        partitionIndex: p.index,
        errorCode: ErrorCode.NONE,
        highWatermark: hw,
        lastStableOffset: hw, // no transactions: everything is stable
        logStartOffset: BigInt(log!.logStartOffset),
        abortedTransactions: [],
        preferredReadReplica: -1,
        records,
      };
    }),
  }));
  return { topics, bytes, errors };
}

/**
 * Fetch (1): stored batches from each fetch offset on. When fewer than min_bytes are available the
 * request long-polls until data arrives or max_wait_ms passes. No fetch sessions (KIP-227): every
 * response has session id 0, which tells clients to keep sending full fetch requests.
 */
export async function handleFetch(ctx: RequestContext): Promise<KafkaStruct> {
  const req = ctx.body as unknown as FetchRequest;
  const response = (topics: KafkaStruct[], errorCode: number = ErrorCode.NONE): KafkaStruct => ({ throttleTimeMs: 0, errorCode, sessionId: 0, responses: topics });
  // Session id 0 with epoch 0 (create) or -1 (sessionless) is a full fetch; anything else names a session we never made.
  if ((req.sessionId ?? 0) !== 0 || (req.sessionEpoch ?? -1) > 0) return response([], ErrorCode.FETCH_SESSION_ID_NOT_FOUND);

  const wanted = targets(ctx);
  const logs = wanted.flatMap((t) => t.partitions.flatMap((p) => (p.log ? [p.log] : [])));
  const maxBytes = req.maxBytes ?? INT32_MAX;
  const deadline = Date.now() + Math.max(0, req.maxWaitMs);
  for (;;) {
    const result = read(wanted, maxBytes);
    const remaining = deadline - Date.now();
    if (result.bytes >= req.minBytes || result.errors || remaining <= 0 || ctx.signal.aborted) return response(result.topics);
    await waitForAppend(logs, remaining, ctx.signal);
  }
}
