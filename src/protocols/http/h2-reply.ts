// Answers the proxy writes on an HTTP/2 stream itself (policy denials, refused requests, upstream
// failures), and the header conversions shared by both upstream kinds.
import http2 from 'node:http2';
import type { Http2Stream, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Headers } from './forward-headers.js';
import type { LocalReply } from './local-reply.js';
import { ACCESS_DENIED_MESSAGE, grpcStatusForHttp, grpcTrailersOnly, type GrpcStatusCode } from './grpc.js';

const { NGHTTP2_NO_ERROR } = http2.constants;

/** Streams the proxy reset itself, so the rapid-reset guard counts only the client's resets. */
const resetByProxy = new WeakSet<Http2Stream>();

/** Resets a downstream stream with RST_STREAM(`code`). */
export function resetStream(stream: Http2Stream, code: number): void {
  resetByProxy.add(stream);
  stream.close(code);
}

/** True for a closed stream that the client reset (any code but NO_ERROR). */
export function resetByClient(stream: Http2Stream): boolean {
  return stream.rstCode !== undefined && stream.rstCode !== NGHTTP2_NO_ERROR && !resetByProxy.has(stream);
}

/** True while a response can still be started on the stream (the client may have gone away meanwhile). */
export function canRespond(stream: ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.closed && !stream.headersSent;
}

/**
 * Writes `reply` as a plain response, or for gRPC calls as a trailers-only response with the status Envoy
 * would map the HTTP code to (403 → 7 PERMISSION_DENIED with `Access denied`). Returns the `:status` and
 * headers sent, for the response flow record; undefined when the stream was already gone.
 */
export function sendH2LocalReply(
  stream: ServerHttp2Stream,
  reply: LocalReply,
  grpc: boolean,
): { readonly code: number; readonly headers: Headers } | undefined {
  if (grpc) {
    const message = reply.status === 403 ? ACCESS_DENIED_MESSAGE : reply.body.trimEnd();
    return sendGrpcStatus(stream, grpcStatusForHttp(reply.status), message);
  }
  if (!canRespond(stream)) return undefined;
  const length = Buffer.byteLength(reply.body);
  const headers: OutgoingHttpHeaders = { ':status': reply.status, 'content-type': 'text/plain', 'content-length': length };
  stream.respond(headers);
  stream.end(reply.body);
  stopReading(stream);
  return { code: reply.status, headers: [['content-type', 'text/plain'], ['content-length', String(length)]] };
}

/** A trailers-only gRPC response with `status` and `message`. */
export function sendGrpcStatus(
  stream: ServerHttp2Stream,
  status: GrpcStatusCode,
  message: string,
): { readonly code: number; readonly headers: Headers } | undefined {
  if (!canRespond(stream)) return undefined;
  const headers = grpcTrailersOnly(status, message);
  stream.respond(headers, { endStream: true });
  stopReading(stream);
  return {
    code: 200,
    headers: [
      ['content-type', 'application/grpc'],
      ['grpc-status', String(headers['grpc-status'])],
      ['grpc-message', String(headers['grpc-message'])],
    ],
  };
}

/**
 * After a complete local answer the request body is not wanted: RFC 9113 §8.1 lets the server end the
 * stream with RST_STREAM(NO_ERROR) once its response is queued, so a client still uploading stops.
 */
function stopReading(stream: ServerHttp2Stream): void {
  stream.resume();
  if (!stream.readableEnded) stream.close(NGHTTP2_NO_ERROR);
}

/** Connection-specific fields are forbidden in HTTP/2 (RFC 9113 §8.2.2); an HTTP/1.1 upstream may send them. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * A flat `[name, value, ...]` list as a Node HTTP/2 header object (repeated names become arrays), leaving
 * out pseudo-headers and connection-specific fields. `pairs`, when given, collects what was kept.
 */
export function headerObject(flat: readonly string[], into: OutgoingHttpHeaders = {}, pairs?: Array<readonly [string, string]>): OutgoingHttpHeaders {
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const value = flat[i + 1]!;
    if (name.charCodeAt(0) === 0x3a || CONNECTION_SPECIFIC.has(name)) continue;
    pairs?.push([name, value]);
    const existing = into[name];
    if (existing === undefined) into[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else into[name] = [String(existing), value];
  }
  return into;
}
