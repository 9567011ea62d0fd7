// One allowed HTTP/2 stream relayed to an HTTP/2 upstream stream, both ways: bodies flow with
// backpressure (each hop's flow control: the upstream gets window credit back only for what the client
// stream accepted), response trailers (`grpc-status`, `grpc-message`, `-bin` metadata) and trailers-only
// responses are reproduced, request trailers go up without the fields policy or RFC 9110 §6.5.1 keep out of
// them (forward-headers.ts), and a reset on either side resets the other with the same error code (gRPC
// cancellation and deadlines travel as RST_STREAM). A stream the upstream did not process (REFUSED_STREAM,
// or above the last stream id of its GOAWAY, as when it restarts gracefully) is sent again once on another
// stream (RFC 9113 §8.7), if its body so far is small enough to have been kept.
import { forwardableRequestTrailers } from './forward-headers.js';
import type { HttpExchange } from './request-policy.js';
import type { Fields, H2StreamHandler } from './h2-wire/connection.js';
import type { H2ClientStream, H2ResponseHandler } from './h2-wire/client.js';
import { ErrorCode } from './h2-wire/frames.js';
import type { H2ServerStream } from './h2-wire/server.js';
import type { H2UpstreamPool, UpstreamStream } from './h2-upstream.js';
import { canRespond, responseFields, sendH2LocalReply } from './h2-reply.js';
import { UPSTREAM_CONNECT_ERROR, UPSTREAM_TIMEOUT, refusedRequest } from './local-reply.js';

/** Request body bytes kept for a retry until the response starts; a stream with a larger body is not retried. */
const MAX_REPLAY_BYTES = 64 * 1024;

export interface RelayOptions {
  readonly grpc: boolean;
  /** ms to wait for upstream response headers; 0 = no limit (gRPC streams may hold their headers back). */
  readonly responseTimeoutMs: number;
  /** Header names the policy's rules name: request trailers with these names are dropped. */
  readonly policyHeaderNames: ReadonlySet<string>;
}

export function relayToH2Upstream(ds: H2ServerStream, pool: H2UpstreamPool, headers: Fields, exchange: HttpExchange, opts: RelayOptions): void {
  const relay = new H2Relay(ds, pool, headers, exchange, opts);
  try {
    relay.start();
  } catch (err) {
    // Header values that cannot be sent, or a pool being closed.
    const invalid = (err as { code?: string }).code === 'ERR_HTTP2_INVALID_HEADER';
    const sent = sendH2LocalReply(ds, invalid ? refusedRequest(400, 'malformed request header') : UPSTREAM_CONNECT_ERROR, opts.grpc);
    if (sent) exchange.failed(sent.code, (err as Error).message, sent.headers);
  }
}

/** The downstream stream's handler: the request body and the client's side of the stream. */
class RequestSide implements H2StreamHandler {
  constructor(private readonly relay: H2Relay) {}
  onData(chunk: Buffer): void {
    this.relay.requestData(chunk);
  }
  onTrailers(raw: string[]): void {
    this.relay.requestTrailers(raw);
  }
  onEnd(): void {
    this.relay.requestEnd();
  }
  onClose(code: number): void {
    this.relay.downstreamClosed(code);
  }
  onDrain(): void {
    this.relay.creditUpstream();
  }
}

/** One relayed request: the upstream stream's handler, driving the downstream stream through RequestSide. */
class H2Relay implements H2ResponseHandler {
  private us!: H2ClientStream;
  private upstream!: UpstreamStream;
  private status = 0;
  private pairs: Array<readonly [string, string]> = [];
  private trailers: Fields | undefined;
  private requestTrailerFields: Fields | undefined;
  private recorded = false;
  private timer: NodeJS.Timeout | undefined;
  /** Response bytes the client stream has not accepted yet: their upstream credit waits for its drain. */
  private owed = 0;
  /** Request bytes the upstream stream has not accepted yet: the client's credit waits for the upstream's drain. */
  private requestOwed = 0;
  /** The proxy answered itself (response timeout): the upstream stream's end is no longer news. */
  private answered = false;
  /** The request body sent so far, while a retry is still possible. */
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private requestEnded: boolean;

  constructor(
    private readonly ds: H2ServerStream,
    private readonly pool: H2UpstreamPool,
    private readonly headers: Fields,
    private readonly exchange: HttpExchange,
    private readonly opts: RelayOptions,
  ) {
    this.requestEnded = ds.endAfterHeaders;
  }

  start(): void {
    this.open(this.requestEnded);
    this.ds.handler = new RequestSide(this);
    if (this.requestEnded) this.startResponseTimer();
  }

  private open(endStream: boolean): void {
    this.upstream = this.pool.request(this.headers, endStream, this);
    this.us = this.upstream.stream;
  }

  // ---- client → upstream

  requestData(chunk: Buffer): void {
    this.keepForReplay(chunk);
    if (this.us.write(chunk) && this.requestOwed === 0) return this.ds.consumed(chunk.length);
    this.requestOwed += chunk.length;
  }

  requestTrailers(raw: string[]): void {
    const fields = forwardableRequestTrailers(raw, this.opts.policyHeaderNames);
    if (fields.length > 0) this.requestTrailerFields = fields;
  }

  requestEnd(): void {
    this.requestEnded = true;
    this.us.end(undefined, this.requestTrailerFields);
    this.startResponseTimer();
  }

  downstreamClosed(code: number): void {
    this.clearTimer();
    if (this.us.closed) return;
    const reset = code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : code;
    if (this.status === 0) this.fail(499, `client reset the stream (${reset})`);
    this.us.reset(reset);
  }

  // ---- upstream → client

  onResponse(status: number, raw: string[], endStream: boolean): void {
    this.clearTimer();
    const { ds } = this;
    if (!canRespond(ds)) return;
    this.status = status;
    this.replay = undefined;
    this.pairs = responseFields(raw);
    if (!ds.respond(status, this.pairs, endStream)) {
      this.fail(502, 'upstream response header that HTTP/2 cannot carry');
      ds.reset(ErrorCode.INTERNAL_ERROR);
      return;
    }
    // gRPC's outcome is in the trailers: its response record waits for them (a trailers-only answer has it here).
    if (endStream || !this.opts.grpc) this.record();
  }

  onData(chunk: Buffer): void {
    const { ds } = this;
    if (ds.closed) return;
    if (ds.write(chunk) && this.owed === 0) return this.us.consumed(chunk.length);
    // Credit for what the client has not accepted returns when its stream drains (most streams never need it).
    this.owed += chunk.length;
  }

  onTrailers(raw: string[]): void {
    this.trailers = responseFields(raw);
    this.pairs.push(...this.trailers);
  }

  onEnd(): void {
    this.record();
    const { ds } = this;
    if (!ds.closed && ds.headersSent) ds.end(undefined, this.trailers);
  }

  onClose(code: number, err: Error | undefined): void {
    this.clearTimer();
    const { ds } = this;
    if (this.answered || ds.closed) return;
    if (this.status === 0) {
      if (code === ErrorCode.REFUSED_STREAM && this.retry()) {
        this.exchange.retried(err === undefined ? 'refused_stream' : 'goaway');
        return;
      }
      if (code !== ErrorCode.NO_ERROR && err === undefined && this.upstream.sessionConnected()) {
        // The upstream refused or cancelled the stream: the client learns it the same way.
        this.fail(502, `upstream reset the stream (${code})`);
        ds.reset(code);
        return;
      }
      const sent = sendH2LocalReply(ds, UPSTREAM_CONNECT_ERROR, this.opts.grpc);
      if (sent) this.fail(sent.code, `upstream: ${err?.message ?? 'stream closed without a response'}`);
      return;
    }
    if ((code !== ErrorCode.NO_ERROR || err !== undefined) && !ds.endQueued) {
      this.fail(502, `upstream reset the stream (${code})${err ? `: ${err.message}` : ''} mid-response`);
      ds.reset(code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : code);
    }
  }

  onDrain(): void {
    if (this.requestOwed === 0) return;
    this.ds.consumed(this.requestOwed);
    this.requestOwed = 0;
  }

  creditUpstream(): void {
    if (this.owed === 0) return;
    this.us.consumed(this.owed);
    this.owed = 0;
  }

  // ----

  private keepForReplay(chunk: Buffer): void {
    if (this.replay === undefined) return;
    this.replayBytes += chunk.length;
    if (this.replayBytes <= MAX_REPLAY_BYTES) this.replay.push(chunk);
    else this.replay = undefined;
  }

  /** Sends the request again on a new upstream stream, once; false when it cannot be. */
  private retry(): boolean {
    const body = this.replay;
    this.replay = undefined;
    if (body === undefined) return false;
    try {
      this.open(this.requestEnded && body.length === 0 && this.requestTrailerFields === undefined);
    } catch {
      return false;
    }
    let fits = true;
    for (const chunk of body) fits = this.us.write(chunk) && fits;
    if (this.requestEnded) {
      this.us.end(undefined, this.requestTrailerFields);
      this.startResponseTimer();
    }
    // Credit held back by the refused stream's backpressure returns once this one has room.
    if (fits) this.onDrain();
    return true;
  }

  /** The wait for response headers starts once the request is fully sent: a slow upload is not a slow upstream. */
  private startResponseTimer(): void {
    const ms = this.opts.responseTimeoutMs;
    if (ms <= 0 || this.status !== 0 || this.us.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.answered = true;
      const sent = sendH2LocalReply(this.ds, UPSTREAM_TIMEOUT, this.opts.grpc);
      if (sent) this.fail(sent.code, `upstream sent no response headers within ${ms} ms`);
      this.us.reset(ErrorCode.CANCEL);
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private record(): void {
    if (this.recorded) return;
    this.recorded = true;
    this.exchange.responded(this.status, this.pairs);
  }

  private fail(code: number, info: string): void {
    if (this.recorded) return;
    this.recorded = true;
    this.exchange.failed(code, info);
  }
}
