// ApiVersions clamping for a proxy that must only let clients use versions it can parse: every range a
// broker offers is narrowed to what the proxy accepts, and keys it does not know are dropped.
import { decodeResponse, encodeResponse, type DecodedResponse, type KafkaStruct } from '../codec/codec.js';
import { CODEC_API_VERSIONS, type KafkaVersionTable } from '../codec/api-versions.js';
import { KafkaDecodeError } from '../codec/errors.js';
import { ApiKey } from '../codec/generated/api-keys.js';
import { ErrorCode } from '../codec/error-codes.js';

/**
 * A broker answers an ApiVersions version it does not know with error 35 in a v0 body (KIP-511), whatever
 * version was asked for; clients read the error code (first in every version) and retry lower. So: error 35
 * is read as v0 first, anything else as the requested version first, each falling back to the other. An
 * error-35 answer whose list cannot be read at all (an older broker may send the error code alone) becomes
 * error 35 with no list: the client still retries lower, and learns no version the proxy has not checked.
 */
function decodeApiVersions(frame: Buffer, requestVersion: number): DecodedResponse & { readonly version: number } {
  const unsupported = errorCodeOf(frame) === ErrorCode.UNSUPPORTED_VERSION;
  const versions = unsupported ? [0, requestVersion] : [requestVersion, 0];
  let failure: unknown;
  for (const version of new Set(versions)) {
    try {
      return { ...decodeResponse(frame, ApiKey.ApiVersions, version), version };
    } catch (e) {
      if (!(e instanceof KafkaDecodeError)) throw e;
      failure ??= e;
    }
  }
  if (unsupported) return { correlationId: frame.readInt32BE(4), body: { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [] }, version: 0 };
  throw failure;
}

/** The error code at the start of an ApiVersions response body (after size and correlation id), if there is one. */
function errorCodeOf(frame: Buffer): number | undefined {
  return frame.length >= 10 ? frame.readInt16BE(8) : undefined;
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
  return encodeResponse(ApiKey.ApiVersions, version, correlationId, clamped);
}
