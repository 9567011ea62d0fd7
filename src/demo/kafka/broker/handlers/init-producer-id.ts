import { ErrorCode, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import type { RequestContext } from '../context.js';
import type { InitProducerIdRequest } from '../requests.js';

/**
 * InitProducerId (22) for idempotent producers: like Kafka, a producer without a transactional id
 * always gets a new producer id at epoch 0 (also when it asks to bump the epoch of its old one).
 * Transactions are not supported.
 */
export function handleInitProducerId({ body, broker }: RequestContext): KafkaStruct {
  const req = body as unknown as InitProducerIdRequest;
  if (req.transactionalId !== null) {
    broker.log.warn({ transactionalId: req.transactionalId }, 'InitProducerId refused: transactions are not supported by the demo broker');
    return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 };
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: broker.allocateProducerId(), producerEpoch: 0 };
}
