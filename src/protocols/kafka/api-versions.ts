// ApiVersions handling for a proxy that must only let clients use versions it can parse: clamp what
// the broker offers, and answer versions the codec does not know the way a broker does (KIP-511).
import { decodeResponse, encodeResponse, type DecodedResponse, type KafkaStruct } from './codec.js';
import { KafkaDecodeError } from './errors.js';
import { KAFKA_APIS } from './schema.js';

const API_VERSIONS = 18;
export const UNSUPPORTED_VERSION = 35;

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
 * A broker answers an ApiVersions version it does not know with a v0 body (error 35), and clients
 * retry after failing to parse the expected version — so do the same.
 */
function decodeApiVersions(frame: Buffer, requestVersion: number): DecodedResponse & { readonly version: number } {
  try {
    return { ...decodeResponse(frame, API_VERSIONS, requestVersion), version: requestVersion };
  } catch (e) {
    if (requestVersion === 0 || !(e instanceof KafkaDecodeError)) throw e;
    return { ...decodeResponse(frame, API_VERSIONS, 0), version: 0 };
  }
}

function clampKeys(keys: readonly KafkaStruct[], supported: KafkaVersionTable): KafkaStruct[] {
  return keys.flatMap((k) => {
    const ours = supported.get(k.apiKey as number);
    if (!ours) return []; // unknown keys fail closed: clients never learn the broker has them
    const minVersion = Math.max(k.minVersion as number, ours.minVersion);
    const maxVersion = Math.min(k.maxVersion as number, ours.maxVersion);
    return minVersion > maxVersion ? [] : [{ ...k, minVersion, maxVersion }];
  });
}

/**
 * Rewrite a broker's ApiVersions response frame (answering a request of `requestVersion`) so every
 * advertised range lies within `supported`; keys outside it are dropped. Other fields (features,
 * throttle, unknown tags) pass unchanged. Throws KafkaDecodeError when the frame is not an ApiVersions
 * response of that version or of v0.
 */
export function clampApiVersionsResponse(frame: Buffer, requestVersion: number, supported: KafkaVersionTable = CODEC_API_VERSIONS): Buffer {
  const { correlationId, body, version } = decodeApiVersions(frame, requestVersion);
  const clamped = { ...body, apiKeys: clampKeys((body.apiKeys ?? []) as readonly KafkaStruct[], supported) };
  return encodeResponse(API_VERSIONS, version, correlationId, clamped);
}

/**
 * The answer to an ApiVersions request whose version the codec does not speak: v0, error 35
 * UNSUPPORTED_VERSION, and the versions we do speak, so the client retries with one of them.
 */
export function buildApiVersionsFallbackResponse(correlationId: number, supported: KafkaVersionTable = CODEC_API_VERSIONS): Buffer {
  const apiKeys = [...supported].map(([apiKey, r]) => ({ apiKey, minVersion: r.minVersion, maxVersion: r.maxVersion }));
  return encodeResponse(API_VERSIONS, 0, correlationId, { errorCode: UNSUPPORTED_VERSION, apiKeys });
}
