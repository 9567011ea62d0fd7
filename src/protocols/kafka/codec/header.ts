// Request and response headers. Their layouts are fixed by RequestHeader.json / ResponseHeader.json
// (the generator checks they have not changed); which version an API uses follows its flexibleVersions,
// with the two exceptions Kafka's own generator hard-codes.
import { KafkaDecodeError } from './errors.js';
import type { KafkaReader } from './reader.js';
import { isFlexibleVersion } from './schema.js';
import type { KafkaWriter } from './writer.js';
import { ApiKey } from './generated/api-keys.js';

export interface KafkaRequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** null when the header carries a null client id, or has none (header v0). */
  readonly clientId: string | null;
  /** 0: no client id; 1: classic; 2: flexible (a tagged-field section follows the client id). */
  readonly headerVersion: 0 | 1 | 2;
}

/** Header version of a request. Unknown API keys read as v1: their flexibility cannot be known. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 | 2 {
  // ControlledShutdown v0 predates client ids (Kafka's generator special-cases it the same way).
  if (apiKey === ApiKey.ControlledShutdown && apiVersion === 0) return 0;
  return isFlexibleVersion(apiKey, apiVersion) ? 2 : 1;
}

/** Header version of a response. */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  // KIP-511: ApiVersions responses always use header v0, so a client that sent a version the broker
  // does not know can still read the (v0) error response.
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexibleVersion(apiKey, apiVersion) ? 1 : 0;
}

/** Skip a tagged-field section, checking every declared size against the bytes left, and the count against `max`. */
export function skipTaggedFields(r: KafkaReader, max = Infinity): void {
  let n = r.uvarint();
  if (n > max) throw new KafkaDecodeError(`${n} tagged fields declared (at most ${max})`, r.offset);
  for (; n > 0; n--) {
    r.uvarint();
    r.skip(r.uvarint());
  }
}

/**
 * Tagged fields a request header may carry. RequestHeader.json defines none; without a bound, a header declaring
 * millions of empty ones would be walked one by one before the body's limits (facts.ts) are ever reached.
 */
const MAX_REQUEST_HEADER_TAGS = 64;

export function readRequestHeader(r: KafkaReader): KafkaRequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  let clientId: string | null = null;
  if (headerVersion >= 1) {
    // Classic int16-length string even in header v2, so old brokers can read any ApiVersions request.
    const len = r.stringLength(false);
    if (len >= 0) clientId = r.utf8(len);
  }
  if (headerVersion === 2) skipTaggedFields(r, MAX_REQUEST_HEADER_TAGS);
  return { apiKey, apiVersion, correlationId, clientId, headerVersion };
}

export function writeRequestHeader(w: KafkaWriter, h: Omit<KafkaRequestHeader, 'headerVersion'>): void {
  w.int16(h.apiKey);
  w.int16(h.apiVersion);
  w.int32(h.correlationId);
  const version = requestHeaderVersion(h.apiKey, h.apiVersion);
  if (version >= 1) w.string(h.clientId, false);
  if (version === 2) w.uvarint(0);
}

/** Reads a response header; returns the correlation id. */
export function readResponseHeader(r: KafkaReader, apiKey: number, apiVersion: number): number {
  const correlationId = r.int32();
  if (responseHeaderVersion(apiKey, apiVersion) === 1) skipTaggedFields(r);
  return correlationId;
}

export function writeResponseHeader(w: KafkaWriter, apiKey: number, apiVersion: number, correlationId: number): void {
  w.int32(correlationId);
  if (responseHeaderVersion(apiKey, apiVersion) === 1) w.uvarint(0);
}

/** The 4-byte size prefix must match the frame exactly; returns the offset of the payload. */
export function checkFrame(frame: Buffer): number {
  if (frame.length < 4) throw new KafkaDecodeError(`frame of ${frame.length} bytes has no size prefix`);
  const size = frame.readInt32BE(0);
  if (size !== frame.length - 4) throw new KafkaDecodeError(`frame size prefix ${size} does not match its ${frame.length - 4} payload bytes`);
  return 4;
}
