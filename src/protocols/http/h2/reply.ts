// Answers the proxy writes on an HTTP/2 stream itself (policy denials, refused requests, upstream
// failures), and the response header conversion shared by both upstream kinds.
import type { Headers } from '../forward-headers.js';
import type { LocalReply } from '../local-reply.js';
import { CONNECTION_FIELDS } from './wire/connection.js';
import type { H2ServerStream } from './wire/server.js';
import { ACCESS_DENIED_MESSAGE, grpcStatusForHttp, grpcTrailersOnly, type GrpcStatusCode } from './grpc.js';

/** True while a response can still be started on the stream (the client may have gone away meanwhile). */
export function canRespond(stream: H2ServerStream): boolean {
  return !stream.closed && !stream.headersSent;
}

/**
 * Writes `reply` as a plain response, or for gRPC calls as a trailers-only response with the status Envoy
 * would map the HTTP code to (403 → 7 PERMISSION_DENIED with `Access denied`). Returns the `:status` and
 * headers sent, for the response flow record; undefined when the stream was already gone.
 */
export function sendH2LocalReply(
  stream: H2ServerStream,
  reply: LocalReply,
  grpc: boolean,
): { readonly code: number; readonly headers: Headers } | undefined {
  if (grpc) {
    const message = reply.status === 403 ? ACCESS_DENIED_MESSAGE : reply.body.trimEnd();
    return sendGrpcStatus(stream, grpcStatusForHttp(reply.status), message);
  }
  if (!canRespond(stream)) return undefined;
  const body = Buffer.from(reply.body);
  const headers: Headers = [['content-type', 'text/plain'], ['content-length', String(body.length)]];
  stream.respond(reply.status, headers);
  stream.end(body);
  stream.finishEarly();
  return { code: reply.status, headers };
}

/** A trailers-only gRPC response with `status` and `message`. */
export function sendGrpcStatus(
  stream: H2ServerStream,
  status: GrpcStatusCode,
  message: string,
): { readonly code: number; readonly headers: Headers } | undefined {
  if (!canRespond(stream)) return undefined;
  const headers = grpcTrailersOnly(status, message);
  stream.respond(200, headers, true);
  stream.finishEarly();
  return { code: 200, headers };
}

/**
 * A flat `[name, value, ...]` list as HTTP/2 response fields: names lower-cased, pseudo-headers left out, and
 * connection-specific fields, which HTTP/2 forbids (RFC 9113 §8.2.2) but an HTTP/1.1 upstream may send.
 */
export function responseFields(flat: readonly string[]): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    if (name.charCodeAt(0) === 0x3a || CONNECTION_FIELDS.has(name)) continue;
    out.push([name, flat[i + 1]!]);
  }
  return out;
}
