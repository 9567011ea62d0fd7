// One allowed (non-gRPC) HTTP/2 stream relayed to an HTTP/1.1 upstream (`upstreamProtocol: http1`) through
// the listener's HTTP/1.1 pool: the request body streams up, the response streams down, both with
// backpressure; connection-specific response fields are dropped because HTTP/2 forbids them.
import type { HttpExchange } from '../request-policy.js';
import { downstreamResponseHeaders } from '../forward-headers.js';
import type { BodySink, BodySource } from '../h1/body.js';
import type { UpstreamResponseHandler } from '../h1/exchange.js';
import { ErrorCode } from './wire/frames.js';
import type { H2StreamHandler } from './wire/connection.js';
import type { H2ServerStream } from './wire/server.js';
import { canRespond, responseFields, sendH2LocalReply } from './reply.js';
import { UPSTREAM_OVERLOADED } from '../local-reply.js';
import { upstreamFailure, type UpstreamClient } from '../upstream.js';

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
  let abort: ((reason: Error) => void) | undefined;
  const body = ds.endAfterHeaders ? null : new StreamBody(ds);
  let resumeResponse: (() => void) | undefined;
  ds.handler = {
    onData: (chunk) => body?.data(chunk),
    onTrailers() {},
    onEnd: () => body?.end(),
    onClose(code) {
      if (finished) return;
      if (!started) exchange.failed(499, `client reset the stream (${code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : code})`);
      abort?.(new Error('client reset the stream'));
    },
    onDrain() {
      resumeResponse?.();
    },
  } satisfies H2StreamHandler;
  const handler: UpstreamResponseHandler = {
    onStart(a) {
      abort = a;
      if (ds.closed) a(new Error('client went away'));
    },
    onInformational() {}, // interim 1xx: HTTP/2 clients get the final response only
    onResponse(status, _reason, rawHeaders, resume) {
      if (!canRespond(ds)) return abort?.(new Error('client went away'));
      started = true;
      resumeResponse = resume;
      const fields = responseFields(downstreamResponseHeaders(rawHeaders, false));
      if (!ds.respond(status, fields)) {
        exchange.failed(502, 'upstream response header that HTTP/2 cannot carry');
        ds.reset(ErrorCode.INTERNAL_ERROR);
        return abort?.(new Error('response header HTTP/2 cannot carry'));
      }
      exchange.responded(status, fields);
    },
    onData(chunk) {
      return ds.write(chunk);
    },
    onEnd() {
      finished = true;
      release();
      ds.end();
    },
    onError(err) {
      finished = true;
      release();
      if (!started) {
        const { reply, why } = upstreamFailure(err);
        const sent = sendH2LocalReply(ds, reply, false);
        if (sent) exchange.failed(sent.code, why, sent.headers);
      } else if (!ds.closed) {
        exchange.failed(502, `upstream failed mid-response: ${err.message}`);
        ds.reset(ErrorCode.INTERNAL_ERROR);
      }
    },
  };
  upstream.pool.dispatch({ path, method, headers, body }, handler);
}

/**
 * The request body of an HTTP/2 stream as a body source: DATA is handed on as it arrives, and the client gets
 * window credit back only for what the upstream connection took (flow control is the back-pressure).
 */
class StreamBody implements BodySource {
  private sink: BodySink | undefined;
  /** Arrived before the sink was there, or while it was full. */
  private pending: Buffer[] = [];
  private ended = false;
  private flowing = false;

  constructor(private readonly ds: H2ServerStream) {}

  start(sink: BodySink): void {
    this.sink = sink;
    this.resume();
  }

  resume(): void {
    if (this.sink === undefined) return;
    this.flowing = true;
    while (this.flowing && this.pending.length > 0) this.deliver(this.pending.shift()!);
    if (this.flowing && this.ended) this.finish();
  }

  abandon(): void {
    this.sink = undefined;
    this.pending = [];
  }

  data(chunk: Buffer): void {
    if (this.flowing && this.pending.length === 0) this.deliver(chunk);
    else if (this.sink !== undefined || !this.ended) this.pending.push(chunk);
  }

  end(): void {
    this.ended = true;
    if (this.flowing && this.pending.length === 0) this.finish();
  }

  private finish(): void {
    const sink = this.sink;
    this.sink = undefined;
    sink?.end([]);
  }

  private deliver(chunk: Buffer): void {
    this.ds.consumed(chunk.length);
    if (!this.sink!.data(chunk)) this.flowing = false;
  }
}
