// One HTTP/2 request stream: facts (`:method`, normalised `:path`, `:authority`, every header), the policy
// decision under the current snapshot, and then a local answer (403, or gRPC PERMISSION_DENIED) or a relay
// to the upstream in the listener's `upstreamProtocol`.
import type { ListenerContext } from '../../context.js';
import type { HttpRequestFacts } from '../../../policy/types.js';
import type { ConnectionPolicy } from '../../connection-policy.js';
import { endToEndRequestHeaders, upstreamRequestHeaders, type Headers } from '../forward-headers.js';
import { GrpcStatus, isGrpcContentType } from './grpc.js';
import { relayToHttp1Upstream } from './to-http1.js';
import { H2Downstream, relayToH2Upstream } from './relay.js';
import { sendGrpcStatus, sendH2LocalReply } from './reply.js';
import type { H2ServerStream } from './wire/server.js';
import { ACCESS_DENIED_REPLY, CONNECT_NOT_ALLOWED, refusedRequest, type LocalReply } from '../local-reply.js';
import { normalizePath, PathError } from '../path.js';
import { fieldWithBadValue, isKnownMethod, isValidAuthority } from '../request-fields.js';
import { HttpExchange, recordRejectedRequest } from '../request-policy.js';
import type { UpstreamClient } from '../upstream.js';
import { MISDIRECTED_REPLY, misdirectedRequest } from '../misdirected-request.js';

export interface H2StreamScope {
  readonly ctx: ListenerContext;
  readonly conn: ConnectionPolicy;
  /** Scheme of the downstream connection (`https` for h2 over TLS), for flow URLs. */
  readonly scheme: 'http' | 'https';
  readonly upstream: UpstreamClient;
}

export function handleH2Stream(scope: H2StreamScope, stream: H2ServerStream): void {
  const { ctx, conn } = scope;
  const connection = conn.current();
  if (connection === undefined) return; // a reload denied the connection: it has been reset

  const { method } = stream;
  const grpc = isGrpcContentType(stream.field('content-type'));
  const target = stream.path;
  const refuse = (reply: LocalReply, reason: string) => {
    recordRejectedRequest(ctx, conn, method, target ?? '', 'HTTP/2', reason, sendH2LocalReply(stream, reply, grpc));
  };
  const malformed = (reason: string) => refuse(refusedRequest(400, reason), reason);
  if (method === 'CONNECT') return refuse(CONNECT_NOT_ALLOWED, 'CONNECT is not supported');
  // What an HTTP/1.1 client could not send past the parser is refused here the same way (request-fields.ts).
  if (!isKnownMethod(method)) return malformed('unknown or malformed method');
  if (stream.scheme !== 'http' && stream.scheme !== 'https') return malformed(':scheme must be http or https');
  if (target === undefined || target.charCodeAt(0) !== 0x2f) return refuse(refusedRequest(400, 'bad :path'), ':path must be origin-form');
  const authority = requestAuthority(stream);
  if (authority === undefined || authority === '') return refuse(refusedRequest(400, 'missing :authority'), 'no :authority or host');
  if (authority instanceof Error) return malformed(authority.message);
  const badValue = fieldWithBadValue(stream.fields);
  if (badValue !== undefined) return malformed(`invalid character in header ${badValue}`);
  const path = normalizePath(target, ctx.config.http.escapedSlashes);
  if (path instanceof PathError) return malformed(path.reason);
  const misdirected = scope.scheme === 'https' ? misdirectedRequest(conn.socket, authority) : undefined;
  if (misdirected !== undefined) return refuse(MISDIRECTED_REPLY, misdirected);

  // HTTP/2 has no Connection header (a stream carrying one is malformed), but `te`, `expect` and friends are
  // this hop's business too: policy sees what is forwarded.
  const facts: HttpRequestFacts = { method, path, host: authority, headers: endToEndRequestHeaders(stream.fields, undefined) };
  const exchange = new HttpExchange(ctx, conn, connection, facts, 'HTTP/2', scope.scheme, stream.fields);
  if (!exchange.allowed) {
    exchange.denied(sendH2LocalReply(stream, ACCESS_DENIED_REPLY, grpc));
    return;
  }

  // The proxy answers `expect: 100-continue` itself once policy allowed the request, as for HTTP/1.1 (the
  // field is not forwarded): a client waiting for it would otherwise send its body only after its own timeout.
  if (stream.field('expect')?.toLowerCase() === '100-continue') stream.sendContinue();
  const limits = ctx.config.http;
  // `:authority` carries the host on HTTP/2; a `host` field next to it is dropped rather than forwarded in disagreement.
  const forwarded = upstreamRequestHeaders(withoutHost(exchange.headers), undefined, limits.xForwardedFor, conn.sourceAddress);
  const { upstream } = scope;
  if (upstream.protocol === 'http1') {
    if (grpc) {
      const sent = sendGrpcStatus(stream, GrpcStatus.INTERNAL, `gRPC needs HTTP/2 to the upstream, but listener ${ctx.config.name} uses upstreamProtocol http1`);
      if (sent) exchange.failed(sent.code, 'gRPC call on an http1 upstream', sent.headers);
      return;
    }
    forwarded.push('host', authority);
    relayToHttp1Upstream(stream, upstream, method, path, forwarded, exchange);
    return;
  }
  const out: Array<readonly [string, string]> = [
    [':method', method],
    [':scheme', upstream.protocol === 'h2' ? 'https' : 'http'],
    [':authority', authority],
    [':path', path],
  ];
  // Hop-by-hop and connection-specific fields are already gone (forward-headers.ts); names are lower-case.
  for (let i = 0; i < forwarded.length; i += 2) out.push([forwarded[i]!, forwarded[i + 1]!]);
  // `te: trailers` is the one TE value HTTP/2 allows; gRPC requires it to detect proxies that drop trailers.
  if (stream.field('te') === 'trailers') out.push(['te', 'trailers']);
  relayToH2Upstream(new H2Downstream(stream, grpc), upstream.pool, out, exchange, {
    grpc,
    responseTimeoutMs: grpc ? 0 : limits.upstreamTimeoutMs,
    policyHeaderNames: connection.httpHeaderNames,
  });
}

/**
 * `:authority`, or the `host` field without one; an Error when it is not an authority, or a `host` field
 * disagrees with `:authority` (RFC 9113 §8.3.1) or comes twice: policy would match one and the upstream read another.
 */
function requestAuthority(stream: H2ServerStream): string | undefined | Error {
  let host: string | undefined;
  for (const [name, value] of stream.fields) {
    if (name !== 'host') continue;
    if (host !== undefined) return new Error('duplicate host field');
    host = value;
  }
  const authority = stream.authority ?? host;
  if (authority === undefined || authority === '') return authority;
  if (host !== undefined && host.toLowerCase() !== authority.toLowerCase()) return new Error('host field differs from :authority');
  return isValidAuthority(authority) ? authority : new Error('invalid :authority');
}

function withoutHost(headers: Headers): Headers {
  return headers.some(([name]) => name === 'host') ? headers.filter(([name]) => name !== 'host') : headers;
}
