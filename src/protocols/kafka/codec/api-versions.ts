// API version tables, and the answer a broker gives an ApiVersions version it does not know (KIP-511):
// what the proxy and the demo broker both send when a client asks for a version they cannot speak.
import { encodeResponse } from './codec.js';
import { KAFKA_APIS } from './schema.js';
import { ApiKey } from './generated/api-keys.js';
import { ErrorCode } from './error-codes.js';

export interface KafkaVersionRange {
  readonly minVersion: number;
  readonly maxVersion: number;
}
export type KafkaVersionTable = ReadonlyMap<number, KafkaVersionRange>;

/**
 * What the codec parses, by API key, without versions upstream still marks unstable (they may change
 * before release, so a broker running another build could mean something else by them).
 */
export const CODEC_API_VERSIONS: KafkaVersionTable = new Map(
  [...KAFKA_APIS.values()].flatMap((api): [number, KafkaVersionRange][] => {
    const maxVersion = api.latestVersionUnstable ? api.maxVersion - 1 : api.maxVersion;
    return maxVersion < api.minVersion ? [] : [[api.apiKey, { minVersion: api.minVersion, maxVersion }]];
  }),
);

/**
 * The answer to an ApiVersions request whose version the codec does not speak: v0, error 35
 * UNSUPPORTED_VERSION, and the versions we do speak, so the client retries with one of them.
 */
export function buildApiVersionsFallbackResponse(correlationId: number, supported: KafkaVersionTable = CODEC_API_VERSIONS): Buffer {
  const apiKeys = [...supported].map(([apiKey, r]) => ({ apiKey, minVersion: r.minVersion, maxVersion: r.maxVersion }));
  return encodeResponse(ApiKey.ApiVersions, 0, correlationId, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys });
}
