import { ErrorCode, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import type { RequestContext } from '../context.js';

/** ApiVersions (18). Versions the broker does not speak never reach here: the connection answers them with v0 and error 35. */
export function handleApiVersions({ broker }: RequestContext): KafkaStruct {
  return {
    errorCode: ErrorCode.NONE,
    apiKeys: [...broker.apiVersions].map(([apiKey, r]) => ({ apiKey, minVersion: r.minVersion, maxVersion: r.maxVersion })),
    throttleTimeMs: 0,
  };
}
