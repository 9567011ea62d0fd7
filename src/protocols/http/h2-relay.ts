// One allowed HTTP/2 stream relayed to an HTTP/2 upstream stream, both ways, untouched: bodies flow with
// backpressure (each hop's flow control: the upstream gets window credit back only for what the client
// stream accepted), response trailers (`grpc-status`, `grpc-message`, `-bin` metadata) and trailers-only
// responses are reproduced, and a reset on either side resets the other with the same error code (gRPC
// cancellation and deadlines travel as RST_STREAM). A stream the upstream did not process (REFUSED_STREAM,
// or above the last stream id of its GOAWAY, as when it restarts gracefully) is sent again once on another
// stream (RFC 9113 §8.7), if its body so far is small enough to have been kept.
import http2 from 'node:http2';
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { HttpExchange } from './request-policy.js';
import type { H2ClientStream, H2ResponseHandler } from './h2-client/session.js';
import type { H2UpstreamPool, UpstreamStream } from './h2-upstream.js';
import { canRespond, headerObject, resetStream, sendH2LocalReply } from './h2-reply.js';
import { UPSTREAM_CONNECT_ERROR, UPSTREAM_TIMEOUT, refusedRequest } from './local-reply.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;
/** Request body bytes kept for a retry until the response starts; a stream with a larger body is not retried. */
const MAX_REPLAY_BYTES = 64 * 1024;

export interface RelayOptions {
  readonly grpc: boolean;
  /** ms to wait for upstream response headers; 0 = no limit (gRPC streams may hold their headers back). */
  readonly responseTimeoutMs: number;
}

export function relayToH2Upstream(
  ds: ServerHttp2Stream,
  pool: H2UpstreamPool,
  headers: ReadonlyArray<readonly [string, string]>,
  exchange: HttpExchange,
  opts: RelayOptions,
): void {
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

/** The upstream stream's handler, and the downstream stream's listeners: one object per relayed request. */
class H2Relay implements H2ResponseHandler {
  private us!: H2ClientStream;
  private upstream!: UpstreamStream;
  private status = 0;
  private pairs: Array<readonly [string, string]> = [];
  private trailers: OutgoingHttpHeaders | undefined;
  private recorded = false;
  private timer: NodeJS.Timeout | undefined;
  /** Response bytes the client stream has not accepted yet: their upstream credit waits for 'drain'. */
  private owed = 0;
  /** The proxy answered itself (response timeout): the upstream stream's end is no longer news. */
  private answered = false;
  /** The request body sent so far, while a retry is still possible. */
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private requestEnded: boolean;

  constructor(
    private readonly ds: ServerHttp2Stream,
    private readonly pool: H2UpstreamPool,
    private readonly headers: ReadonlyArray<readonly [string, string]>,
    private readonly exchange: HttpExchange,
    private readonly opts: RelayOptions,
  ) {
    this.requestEnded = ds.endAfterHeaders;
  }

  start(): void {
    this.open();
    const { ds } = this;
    if (!ds.endAfterHeaders) {
      ds.on('data', (chunk: Buffer) => {
        this.keepForReplay(chunk);
        if (!this.us.write(chunk)) ds.pause();
      });
      ds.once('end', () => {
        this.requestEnded = true;
        this.us.end();
        this.startResponseTimer();
      });
    } else {
      this.startResponseTimer();
    }
    ds.once('close', () => {
      this.clearTimer();
      if (!this.us.closed) {
        const code = ds.rstCode ?? NGHTTP2_CANCEL;
        if (this.status === 0) this.fail(499, `client reset the stream (${code})`);
        this.us.reset(code);
      }
    });
  }

  private open(): void {
    this.upstream = this.pool.request(this.headers, this.ds.endAfterHeaders, this);
    this.us = this.upstream.stream;
  }

  // ---- upstream → client

  onResponse(status: number, raw: string[], endStream: boolean): void {
    this.clearTimer();
    const { ds } = this;
    if (!canRespond(ds)) return;
    this.status = status;
    this.replay = undefined;
    const out = headerObject(raw, { ':status': status }, this.pairs);
    if (!endStream) {
      ds.once('wantTrailers', () => {
        if (!ds.destroyed && !ds.closed) ds.sendTrailers(this.trailers ?? {});
      });
    }
    ds.respond(out, { endStream, waitForTrailers: !endStream });
    // gRPC's outcome is in the trailers: its response record waits for them (a trailers-only answer has it here).
    if (endStream || !this.opts.grpc) this.record();
  }

  onData(chunk: Buffer): void {
    const { ds } = this;
    if (ds.destroyed || ds.closed) return;
    if (ds.write(chunk) && this.owed === 0) return this.us.consumed(chunk.length);
    // The first byte owed waits for the one 'drain' that pays everything owed back (most streams never need it).
    if (this.owed === 0) ds.once('drain', () => this.creditUpstream());
    this.owed += chunk.length;
  }

  onTrailers(raw: string[]): void {
    const trailerPairs: Array<readonly [string, string]> = [];
    this.trailers = headerObject(raw, {}, trailerPairs);
    this.pairs.push(...trailerPairs);
  }

  onEnd(): void {
    this.record();
    const { ds } = this;
    if (!ds.destroyed && !ds.closed && ds.headersSent && !ds.writableEnded) ds.end();
  }

  onClose(code: number, err: Error | undefined): void {
    this.clearTimer();
    const { ds } = this;
    if (this.answered || ds.destroyed || ds.closed) return;
    if (this.status === 0) {
      if (code === NGHTTP2_REFUSED_STREAM && this.retry()) {
        this.exchange.retried(err === undefined ? 'refused_stream' : 'goaway');
        return;
      }
      if (code !== NGHTTP2_NO_ERROR && err === undefined && this.upstream.sessionConnected()) {
        // The upstream refused or cancelled the stream: the client learns it the same way.
        this.fail(502, `upstream reset the stream (${code})`);
        resetStream(ds, code);
        return;
      }
      const sent = sendH2LocalReply(ds, UPSTREAM_CONNECT_ERROR, this.opts.grpc);
      if (sent) this.fail(sent.code, `upstream: ${err?.message ?? 'stream closed without a response'}`);
      return;
    }
    if ((code !== NGHTTP2_NO_ERROR || err !== undefined) && !ds.writableEnded) {
      this.fail(502, `upstream reset the stream (${code})${err ? `: ${err.message}` : ''} mid-response`);
      resetStream(ds, code === NGHTTP2_NO_ERROR ? NGHTTP2_CANCEL : code);
    }
  }

  onDrain(): void {
    this.ds.resume();
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
      this.open();
    } catch {
      return false;
    }
    let fits = true;
    for (const chunk of body) fits = this.us.write(chunk) && fits;
    if (this.requestEnded) {
      this.us.end();
      this.startResponseTimer();
    } else if (fits) {
      this.ds.resume(); // it may have been paused by the refused stream's backpressure
    } else {
      this.ds.pause();
    }
    return true;
  }

  private creditUpstream(): void {
    if (this.owed === 0) return;
    this.us.consumed(this.owed);
    this.owed = 0;
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
      this.us.reset(NGHTTP2_CANCEL);
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
