import { ErrorCode, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import { CloseConnection, NO_RESPONSE, type RequestContext } from '../context.js';
import type { AppendResult } from '../partition-log.js';
import type { ProduceRequest } from '../requests.js';

function partitionResponse(index: number, result: AppendResult): KafkaStruct {
  const ok = 'baseOffset' in result;
  return {
    index,
    errorCode: result.errorCode,
    baseOffset: ok ? BigInt(result.baseOffset) : -1n,
    logAppendTimeMs: -1n, // CreateTime topics: the producer's timestamps are kept
    logStartOffset: ok ? 0n : -1n,
    recordErrors: [],
    errorMessage: ok ? null : result.message,
  };
}

/**
 * Produce (0): each partition's batch is validated, stamped with offsets and kept. acks=0 gets no
 * response; if such a request fails, the connection is closed so the producer notices (as Kafka does).
 * With one replica, acks=1 and acks=-1 mean the same and are answered at once.
 */
export function handleProduce({ body, broker }: RequestContext): KafkaStruct | typeof NO_RESPONSE {
  const req = body as unknown as ProduceRequest;
  const acksValid = req.acks === 0 || req.acks === 1 || req.acks === -1;
  const failures: string[] = [];
  const responses = req.topicData.map((t) => ({
    name: t.name,
    partitionResponses: t.partitionData.map((p) => {
      const log = broker.topics.partition(t.name, p.index);
      const result: AppendResult = !acksValid
        ? { errorCode: ErrorCode.INVALID_REQUIRED_ACKS, message: `acks must be -1, 0 or 1, got ${req.acks}` }
        : log
          ? log.append(p.records)
          : { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `unknown topic partition ${t.name}-${p.index}` };
      if (result.errorCode !== ErrorCode.NONE) failures.push(`${t.name}-${p.index}: error ${result.errorCode}`);
      return partitionResponse(p.index, result);
    }),
  }));
  if (req.acks === 0) {
    if (failures.length > 0) throw new CloseConnection(`acks=0 produce failed (${failures.join(', ')})`);
    return NO_RESPONSE;
  }
  return { responses, throttleTimeMs: 0 };
}
