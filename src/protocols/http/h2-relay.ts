// One allowed HTTP/2 stream relayed to an HTTP/2 upstream stream, both ways, untouched: bodies are piped
// with backpressure (HTTP/2 flow control on each hop does the rest), response trailers (`grpc-status`,
// `grpc-message`, `-bin` metadata) and trailers-only responses are reproduced, and a reset on either side
// resets the other with the same error code (gRPC cancellation and deadlines travel as RST_STREAM).
import http2 from 'node:http2';
import type { ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { HttpExchange } from './request-policy.js';
import type { H2UpstreamPool } from './h2-upstream.js';
import { canRespond, headerObject, resetStream, sendH2LocalReply } from './h2-reply.js';
import { UPSTREAM_CONNECT_ERROR, UPSTREAM_TIMEOUT, refusedRequest } from './local-reply.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;

export interface RelayOptions {
  readonly grpc: boolean;
  /** ms to wait for upstream response headers; 0 = no limit (gRPC streams may hold their headers back). */
  readonly responseTimeoutMs: number;
}

export function relayToH2Upstream(
  ds: ServerHttp2Stream,
  pool: H2UpstreamPool,
  headers: OutgoingHttpHeaders,
  exchange: HttpExchange,
  opts: RelayOptions,
): void {
  const endStream = ds.endAfterHeaders;
  let upstream;
  try {
    upstream = pool.request(headers, endStream);
  } catch (err) {
    // Header values Node refuses to send (e.g. a repeated single-value field) or a pool being closed.
    const status = (err as { code?: string }).code === 'ERR_HTTP2_HEADER_SINGLE_VALUE' ? 400 : 503;
    const reply = status === 400 ? refusedRequest(400, 'malformed request header') : UPSTREAM_CONNECT_ERROR;
    const sent = sendH2LocalReply(ds, reply, opts.grpc);
    if (sent) exchange.failed(sent.code, (err as Error).message, sent.headers);
    return;
  }
  const us: ClientHttp2Stream = upstream.stream;
  let responseStarted = false;
  let trailers: OutgoingHttpHeaders | undefined;
  let upstreamError: Error | undefined;
  let recorded = false;
  const record = (code: number, pairs: ReadonlyArray<readonly [string, string]>) => {
    if (recorded) return;
    recorded = true;
    exchange.responded(code, pairs);
  };
  const fail = (code: number, info: string) => {
    if (recorded) return;
    recorded = true;
    exchange.failed(code, info);
  };

  // The wait for response headers starts once the request is fully sent: a slow upload is not a slow upstream.
  let timer: NodeJS.Timeout | undefined;
  const startResponseTimer = () => {
    if (responseStarted || us.closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      us.close(NGHTTP2_CANCEL);
      const sent = sendH2LocalReply(ds, UPSTREAM_TIMEOUT, opts.grpc);
      if (sent) fail(sent.code, `upstream sent no response headers within ${opts.responseTimeoutMs} ms`);
    }, opts.responseTimeoutMs);
  };
  if (opts.responseTimeoutMs > 0) {
    if (endStream) startResponseTimer();
    else us.once('finish', startResponseTimer);
  }

  if (!endStream) ds.pipe(us);

  us.on('response', (resHeaders: IncomingHttpHeaders, flags: number, raw: string[]) => {
    if (timer) clearTimeout(timer);
    if (!canRespond(ds)) return;
    responseStarted = true;
    const status = Number(resHeaders[':status']);
    const pairs: Array<readonly [string, string]> = [];
    const out = headerObject(raw, { ':status': status }, pairs);
    const ended = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    ds.respond(out, { endStream: ended, waitForTrailers: !ended });
    // gRPC's outcome is in the trailers: its response record waits for them (a trailers-only answer has it here).
    if (ended || !opts.grpc) record(status, pairs);
    if (ended) return;
    us.on('trailers', (t: IncomingHttpHeaders, _flags: number, rawTrailers: string[]) => {
      const trailerPairs: Array<readonly [string, string]> = [];
      trailers = headerObject(rawTrailers, {}, trailerPairs);
      record(status, [...pairs, ...trailerPairs]);
    });
    us.on('end', () => record(status, pairs));
    us.pipe(ds);
  });

  ds.on('wantTrailers', () => {
    if (!ds.destroyed && !ds.closed) ds.sendTrailers(trailers ?? {});
  });

  us.on('error', (err: Error) => {
    upstreamError = err;
  });
  us.once('close', () => {
    if (timer) clearTimeout(timer);
    if (ds.destroyed || ds.closed) return;
    const code = us.rstCode ?? NGHTTP2_NO_ERROR;
    if (!responseStarted) {
      if (code !== NGHTTP2_NO_ERROR && upstream.sessionConnected()) {
        // The upstream refused or cancelled the stream: the client learns it the same way.
        fail(502, `upstream reset the stream (${code})`);
        resetStream(ds, code);
        return;
      }
      const sent = sendH2LocalReply(ds, UPSTREAM_CONNECT_ERROR, opts.grpc);
      if (sent) fail(sent.code, `upstream: ${upstreamError?.message ?? 'stream closed without a response'}`);
      return;
    }
    if (code !== NGHTTP2_NO_ERROR && !ds.writableEnded) {
      fail(502, `upstream reset the stream (${code}) mid-response`);
      resetStream(ds, code);
    }
  });

  ds.once('close', () => {
    if (timer) clearTimeout(timer);
    if (!us.destroyed && !us.closed) {
      const code = ds.rstCode ?? NGHTTP2_CANCEL;
      if (!responseStarted) fail(499, `client reset the stream (${code})`);
      us.close(code);
    }
  });
}
