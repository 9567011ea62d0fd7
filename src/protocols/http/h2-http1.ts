// One allowed (non-gRPC) HTTP/2 stream relayed to an HTTP/1.1 upstream (`upstreamProtocol: http1`) through
// the listener's undici pool: the request body streams up, the response streams down, both with
// backpressure; connection-specific response fields are dropped because HTTP/2 forbids them.
import http2 from 'node:http2';
import { Readable } from 'node:stream';
import type { ServerHttp2Stream } from 'node:http2';
import type { Dispatcher, Pool } from 'undici';
import type { HttpExchange } from './request-policy.js';
import { downstreamResponseHeaders } from './forward-headers.js';
import { canRespond, headerObject, resetStream, sendH2LocalReply } from './h2-reply.js';
import { upstreamFailure } from './upstream.js';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

export function relayToHttp1Upstream(
  ds: ServerHttp2Stream,
  pool: Pool,
  method: string,
  path: string,
  headers: readonly string[],
  exchange: HttpExchange,
): void {
  let started = false;
  let finished = false;
  let controller: Dispatcher.DispatchController | undefined;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (ds.destroyed || ds.closed) c.abort(new Error('client went away'));
    },
    onResponseStart(c, statusCode) {
      if (statusCode < 200) return; // interim 1xx: HTTP/2 clients get the final response only
      if (!canRespond(ds)) return c.abort(new Error('client went away'));
      started = true;
      const pairs: Array<readonly [string, string]> = [];
      const out = headerObject(downstreamResponseHeaders(rawBuffers(c.rawHeaders), false), { ':status': statusCode }, pairs);
      ds.respond(out);
      exchange.responded(statusCode, pairs);
    },
    onResponseData(c, chunk) {
      if (!ds.write(chunk)) {
        c.pause();
        ds.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      finished = true;
      if (!ds.destroyed) ds.end();
    },
    onResponseError(_c, err) {
      finished = true;
      if (!started) {
        const { reply, info } = upstreamFailure(err);
        const sent = sendH2LocalReply(ds, reply, false);
        if (sent) exchange.failed(sent.code, info, sent.headers);
      } else if (!ds.destroyed && !ds.closed) {
        exchange.failed(502, `upstream failed mid-response: ${err.message}`);
        resetStream(ds, NGHTTP2_INTERNAL_ERROR);
      }
    },
  };
  ds.once('close', () => {
    if (!finished) {
      if (!started) exchange.failed(499, `client reset the stream (${ds.rstCode ?? NGHTTP2_CANCEL})`);
      controller?.abort(new Error('client reset the stream'));
    }
  });
  pool.dispatch(
    {
      path,
      method,
      headers: headers as string[],
      // Not the stream itself: undici would destroy it when the request body ends, before the response is written.
      body: ds.endAfterHeaders ? null : Readable.from(ds.iterator({ destroyOnReturn: false }), { objectMode: false }),
    },
    handler,
  );
}

function rawBuffers(raw: Dispatcher.DispatchController['rawHeaders']): Buffer[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((v) => (typeof v === 'string' ? Buffer.from(v, 'latin1') : v));
}
