import type { KafkaStruct } from '../../../../protocols/kafka/index.js';
import { NONE } from '../error-codes.js';
import { BROKER_API_VERSIONS } from '../supported-versions.js';

/** ApiVersions (18). Versions the broker does not speak never reach here: the connection answers them with v0 and error 35. */
export function handleApiVersions(): KafkaStruct {
  return {
    errorCode: NONE,
    apiKeys: [...BROKER_API_VERSIONS].map(([apiKey, r]) => ({ apiKey, minVersion: r.minVersion, maxVersion: r.maxVersion })),
    throttleTimeMs: 0,
  };
}
