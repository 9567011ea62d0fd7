// One allowed (non-gRPC) HTTP/2 stream relayed to an HTTP/1.1 upstream (`upstreamProtocol: http1`) through
// the listener's undici pool: the request body streams up, the response streams down, both with
// backpressure; connection-specific response fields are dropped because HTTP/2 forbids them.
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { HttpExchange } from './request-policy.js';
import { downstreamResponseHeaders } from './forward-headers.js';
import { ErrorCode } from './h2-wire/frames.js';
import type { H2StreamHandler } from './h2-wire/connection.js';
import type { H2ServerStream } from './h2-wire/server.js';
import { canRespond, responseFields, sendH2LocalReply } from './h2-reply.js';
import { UPSTREAM_OVERLOADED } from './local-reply.js';
import { upstreamFailure, type UpstreamClient } from './upstream.js';

export function relayToHttp1Upstream(
  ds: H2ServerStream,
  upstream: Extract<UpstreamClient, { protocol: 'http1' }>,
  method: string,
  path: string,
  headers: readonly string[],
  exchange: HttpExchange,
): void {
  const release = upstream.gate.enter();
  if (release === undefined) {
    const sent = sendH2LocalReply(ds, UPSTREAM_OVERLOADED, false);
    if (sent) exchange.failed(sent.code, upstream.gate.refusal, sent.headers);
    return;
  }
  let started = false;
  let finished = false;
  let controller: Dispatcher.DispatchController | undefined;
  const body = ds.endAfterHeaders ? null : new RequestBody(ds);
  let resumeResponse: (() => void) | undefined;
  ds.handler = {
    onData: (chunk) => body?.data(chunk),
    onTrailers() {},
    onEnd: () => body?.push(null),
    onClose(code) {
      body?.destroy();
      if (finished) return;
      if (!started) exchange.failed(499, `client reset the stream (${code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : code})`);
      controller?.abort(new Error('client reset the stream'));
    },
    onDrain() {
      resumeResponse?.();
    },
  } satisfies H2StreamHandler;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (ds.closed) c.abort(new Error('client went away'));
    },
    onResponseStart(c, statusCode) {
      if (statusCode < 200) return; // interim 1xx: HTTP/2 clients get the final response only
      if (!canRespond(ds)) return c.abort(new Error('client went away'));
      started = true;
      const fields = responseFields(downstreamResponseHeaders(rawBuffers(c.rawHeaders), false));
      if (!ds.respond(statusCode, fields)) {
        exchange.failed(502, 'upstream response header that HTTP/2 cannot carry');
        ds.reset(ErrorCode.INTERNAL_ERROR);
        return c.abort(new Error('response header HTTP/2 cannot carry'));
      }
      exchange.responded(statusCode, fields);
    },
    onResponseData(c, chunk) {
      if (!ds.write(chunk)) {
        c.pause();
        resumeResponse = () => {
          resumeResponse = undefined;
          c.resume();
        };
      }
    },
    onResponseEnd() {
      finished = true;
      release();
      ds.end();
    },
    onResponseError(_c, err) {
      finished = true;
      release();
      if (!started) {
        const { reply, info } = upstreamFailure(err);
        const sent = sendH2LocalReply(ds, reply, false);
        if (sent) exchange.failed(sent.code, info, sent.headers);
      } else if (!ds.closed) {
        exchange.failed(502, `upstream failed mid-response: ${err.message}`);
        ds.reset(ErrorCode.INTERNAL_ERROR);
      }
    },
  };
  upstream.pool.dispatch({ path, method, headers: headers as string[], body }, handler);
}

/** The request body as a stream for undici; the client gets window credit back as undici reads. */
class RequestBody extends Readable {
  private held = 0;

  constructor(private readonly ds: H2ServerStream) {
    super();
  }

  data(chunk: Buffer): void {
    if (this.push(chunk)) this.ds.consumed(chunk.length);
    else this.held += chunk.length;
  }

  override _read(): void {
    if (this.held === 0) return;
    this.ds.consumed(this.held);
    this.held = 0;
  }
}

function rawBuffers(raw: Dispatcher.DispatchController['rawHeaders']): Buffer[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((v) => (typeof v === 'string' ? Buffer.from(v, 'latin1') : v));
}
