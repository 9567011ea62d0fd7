// gRPC over HTTP/2 as the proxy sees it: how to recognise a call, and how to answer one itself.
// The proxy never parses gRPC messages; policy sees `POST /<package>.<Service>/<Method>` like any request.
// Wire format of status answers: grpc/grpc doc/PROTOCOL-HTTP2.md ("Responses", "Trailers-Only").
import type { Headers } from '../forward-headers.js';

/** The gRPC status codes the proxy itself produces. */
export const GrpcStatus = {
  UNKNOWN: 2,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/**
 * The `grpc-message` of a policy denial. Cilium's Envoy sends the 403 body `Access denied\r\n` encoded as
 * `Access denied%0D%0A`, which clients then print with a trailing CRLF; Portcullis sends the bare text so
 * every client shows exactly `Access denied` (the status, 7 PERMISSION_DENIED, is the same).
 */
export const ACCESS_DENIED_MESSAGE = 'Access denied';

/** `application/grpc`, `application/grpc+proto`, `application/grpc;charset=...` (but not `application/grpc-web`). */
export function isGrpcContentType(value: string | undefined): boolean {
  return value !== undefined && /^application\/grpc(?:[+;]|$)/i.test(value);
}

/**
 * Percent-encodes a status message as the gRPC spec requires: UTF-8 bytes outside 0x20..0x7E, and `%`
 * itself, become `%XX`; everything else is sent verbatim.
 */
export function percentEncodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? '%' + byte.toString(16).toUpperCase().padStart(2, '0') : String.fromCharCode(byte);
  }
  return out;
}

/**
 * The fields of the single HEADERS frame (`:status` 200, sent with END_STREAM) of a trailers-only response:
 * the gRPC content type, and the status in what are, for the client, its trailers.
 */
export function grpcTrailersOnly(status: GrpcStatusCode, message: string): Headers {
  return [
    ['content-type', 'application/grpc'],
    ['grpc-status', String(status)],
    ['grpc-message', percentEncodeGrpcMessage(message)],
  ];
}

/**
 * The gRPC status for a local HTTP reply, as Envoy's `httpToGrpcStatus` maps them (so a client of an
 * Envoy-based Cilium and of Portcullis sees the same codes).
 */
export function grpcStatusForHttp(httpStatus: number): GrpcStatusCode {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}
