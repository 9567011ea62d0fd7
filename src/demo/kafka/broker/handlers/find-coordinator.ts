import { ErrorCode, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import type { BrokerState, RequestContext } from '../context.js';
import type { FindCoordinatorRequest } from '../requests.js';

const GROUP = 0;
const TRANSACTION = 1;

function coordinator(broker: BrokerState, key: string, keyType: number): KafkaStruct {
  let errorMessage: string | null = null;
  if (keyType === TRANSACTION) errorMessage = 'transactions are not supported by the demo broker';
  else if (keyType !== GROUP) errorMessage = `coordinator type ${keyType} is not supported by the demo broker`;
  else if (key === '') errorMessage = 'empty group id';
  if (errorMessage !== null) return { key, errorCode: ErrorCode.INVALID_REQUEST, errorMessage, nodeId: -1, host: '', port: -1 };
  return { key, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort };
}

/** FindCoordinator (10): this broker coordinates every group; v0-3 ask for one key, v4+ for a batch. */
export function handleFindCoordinator({ body, broker }: RequestContext): KafkaStruct {
  const req = body as unknown as FindCoordinatorRequest;
  const keyType = req.keyType ?? GROUP;
  if (req.coordinatorKeys !== undefined) {
    return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map((key) => coordinator(broker, key, keyType)) };
  }
  return { throttleTimeMs: 0, ...coordinator(broker, req.key ?? '', keyType) };
}
