// One allowed request relayed to an HTTP/2 upstream stream, both ways. The client side is an HTTP/2 stream or an
// HTTP/1.1 exchange (h1/to-h2.ts), behind the RelayDownstream interface. Bodies flow with backpressure (each hop's
// flow control: the upstream gets window credit back only for what the client accepted), response trailers
// (`grpc-status`, `grpc-message`, `-bin` metadata) and trailers-only responses are reproduced, request trailers go
// up without the fields policy or RFC 9110 §6.5.1 keep out of them (forward-headers.ts), and a reset on either
// side resets the other with the same error code (gRPC
// cancellation and deadlines travel as RST_STREAM). A stream the upstream did not process (REFUSED_STREAM,
// or above the last stream id of its GOAWAY, as when it restarts gracefully) is sent again once on another
// stream (RFC 9113 §8.7), if its body so far is small enough to have been kept.
import { forwardableRequestTrailers } from '../forward-headers.js';
import type { HttpExchange } from '../request-policy.js';
import type { Fields, H2StreamHandler } from './wire/connection.js';
import type { H2ClientStream, H2ResponseHandler } from './wire/client.js';
import { ErrorCode } from './wire/frames.js';
import type { H2ServerStream } from './wire/server.js';
import type { Headers } from '../forward-headers.js';
import { isUpstreamQueueFull, type H2UpstreamPool, type UpstreamStream } from './upstream.js';
import { canRespond, responseFields, sendH2LocalReply } from './reply.js';
import { UPSTREAM_CONNECT_ERROR, UPSTREAM_OVERLOADED, UPSTREAM_TIMEOUT, refusedRequest, type LocalReply } from '../local-reply.js';

/** Request body bytes kept for a retry until the response starts; a stream with a larger body is not retried. */
const MAX_REPLAY_BYTES = 64 * 1024;

export interface RelayOptions {
  /** gRPC: the response is recorded once its trailers (the outcome) arrive. */
  readonly grpc: boolean;
  /** ms to wait for upstream response headers; 0 = no limit (gRPC streams may hold their headers back). */
  readonly responseTimeoutMs: number;
  /** Header names the policy's rules name: request trailers with these names are dropped. */
  readonly policyHeaderNames: ReadonlySet<string>;
}

/** What the relay tells the client side about the request: its body, and the client leaving. */
export interface RequestEvents {
  requestData(chunk: Buffer): void;
  requestTrailers(raw: readonly string[]): void;
  requestEnd(): void;
  /** The client went away (or, once the response is complete, stopped sending): `code` for the upstream reset. */
  downstreamClosed(code: number, why?: string): void;
  /** The client accepted response data it had not: the upstream may send more. */
  creditUpstream(): void;
  /** The request body made no progress for too long: the exchange ends with `reply` (or a reset). */
  requestStalled(reply: LocalReply, why: string): void;
}

/** The client side of a relayed request: an HTTP/2 server stream, or an HTTP/1.1 request and its response. */
export interface RelayDownstream {
  /** The request has no body, or all of it arrived. */
  readonly requestEnded: boolean;
  /** From now on request events go to `relay`. */
  attach(relay: RequestEvents): void;
  /** The relay is done with `bytes` of request body: the client may send more. */
  consumed(bytes: number): void;
  /** No response started yet, and the client is still there. */
  canRespond(): boolean;
  /** Response headers; false if they cannot be sent (nothing was). */
  respond(status: number, fields: Fields, endStream: boolean): boolean;
  /** Response data; false once the client is not keeping up (creditUpstream follows). */
  write(chunk: Buffer): boolean;
  end(trailers: Fields | undefined): void;
  /** Abandons the response: RST_STREAM with `code`, or an HTTP/1.1 message cut short. */
  reset(code: number): void;
  readonly closed: boolean;
  /** The whole response has been handed over. */
  readonly ended: boolean;
  /** A local answer; what was sent, or undefined when a response already started or the client is gone. */
  reply(reply: LocalReply): { readonly code: number; readonly headers: Headers } | undefined;
}

export function relayToH2Upstream(ds: RelayDownstream, pool: H2UpstreamPool, headers: Fields, exchange: HttpExchange, opts: RelayOptions): void {
  const relay = new H2Relay(ds, pool, headers, exchange, opts);
  try {
    relay.start();
  } catch (err) {
    // Header values that cannot be sent, a full upstream queue, or a pool being closed.
    const sent = ds.reply(startFailure(err));
    if (sent) exchange.failed(sent.code, (err as Error).message, sent.headers);
  }
}

function startFailure(err: unknown): LocalReply {
  if ((err as { code?: string }).code === 'ERR_HTTP2_INVALID_HEADER') return refusedRequest(400, 'malformed request header');
  return isUpstreamQueueFull(err) ? UPSTREAM_OVERLOADED : UPSTREAM_CONNECT_ERROR;
}

/** An HTTP/2 client stream as a relay's client side. */
export class H2Downstream implements RelayDownstream {
  constructor(
    private readonly ds: H2ServerStream,
    private readonly grpc: boolean,
  ) {}
  get requestEnded(): boolean {
    return this.ds.endAfterHeaders;
  }
  attach(relay: RequestEvents): void {
    this.ds.handler = new RequestSide(relay);
  }
  consumed(bytes: number): void {
    this.ds.consumed(bytes);
  }
  canRespond(): boolean {
    return canRespond(this.ds);
  }
  respond(status: number, fields: Fields, endStream: boolean): boolean {
    return this.ds.respond(status, fields, endStream);
  }
  write(chunk: Buffer): boolean {
    return this.ds.write(chunk);
  }
  end(trailers: Fields | undefined): void {
    this.ds.end(undefined, trailers);
  }
  reset(code: number): void {
    this.ds.reset(code);
  }
  get closed(): boolean {
    return this.ds.closed;
  }
  get ended(): boolean {
    return this.ds.endQueued;
  }
  reply(reply: LocalReply): { readonly code: number; readonly headers: Headers } | undefined {
    return sendH2LocalReply(this.ds, reply, this.grpc);
  }
}

/** The client stream's handler: the request body and the client's side of the stream. */
class RequestSide implements H2StreamHandler {
  constructor(private readonly relay: RequestEvents) {}
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

/** One relayed request: the upstream stream's handler, and the client side's RequestEvents. */
class H2Relay implements H2ResponseHandler, RequestEvents {
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
    private readonly ds: RelayDownstream,
    private readonly pool: H2UpstreamPool,
    private readonly headers: Fields,
    private readonly exchange: HttpExchange,
    private readonly opts: RelayOptions,
  ) {
    this.requestEnded = ds.requestEnded;
  }

  start(): void {
    this.open(this.requestEnded);
    this.ds.attach(this);
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

  requestTrailers(raw: readonly string[]): void {
    const fields = forwardableRequestTrailers(raw, this.opts.policyHeaderNames);
    if (fields.length > 0) this.requestTrailerFields = fields;
  }

  requestEnd(): void {
    this.requestEnded = true;
    this.us.end(undefined, this.requestTrailerFields);
    this.startResponseTimer();
  }

  downstreamClosed(code: number, why = 'client reset the stream'): void {
    this.clearTimer();
    if (this.us.closed) return;
    const reset = code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : code;
    if (this.status === 0) this.fail(499, `${why} (${reset})`);
    this.us.reset(reset);
  }

  requestStalled(reply: LocalReply, why: string): void {
    this.clearTimer();
    this.answered = true;
    const sent = this.ds.reply(reply);
    this.fail(sent?.code ?? 502, why, sent?.headers);
    if (sent === undefined) this.ds.reset(ErrorCode.CANCEL);
    this.us.reset(ErrorCode.CANCEL);
  }

  // ---- upstream → client

  onResponse(status: number, raw: string[], endStream: boolean): void {
    this.clearTimer();
    const { ds } = this;
    if (!ds.canRespond()) return;
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
    if (!ds.closed && !ds.canRespond()) ds.end(this.trailers);
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
      const sent = ds.reply(UPSTREAM_CONNECT_ERROR);
      if (sent) this.fail(sent.code, `upstream: ${err?.message ?? 'stream closed without a response'}`, sent.headers);
      return;
    }
    if ((code !== ErrorCode.NO_ERROR || err !== undefined) && !ds.ended) {
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
      const sent = this.ds.reply(UPSTREAM_TIMEOUT);
      if (sent) this.fail(sent.code, `upstream sent no response headers within ${ms} ms`, sent.headers);
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

  /** `headers`: those of the proxy's own answer, if it made one (a gRPC answer's grpc-status is recorded). */
  private fail(code: number, why: string, headers?: Headers): void {
    if (this.recorded) return;
    this.recorded = true;
    this.exchange.failed(code, why, headers);
  }
}
