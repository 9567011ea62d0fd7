// Relays one allowed HTTP/1.x request's upstream response onto the Node ServerResponse.
//
// It is an undici dispatch handler in undici's raw (v7 "legacy") form on purpose: response headers
// arrive as raw byte pairs (original case, duplicates, no parsing into an object) and backpressure is
// a boolean, which keeps the per-request cost to this one object.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ConnectionTracker } from '../connections.js';
import { downstreamResponseHeaders, lowerCasePairs, trailerPairs, type UpstreamTrailers } from './forward-headers.js';
import { watchRequestBody } from './http1-body-idle.js';
import { UPSTREAM_OVERLOADED, formatResponseHead, refusedRequest, sendLocalReply } from './local-reply.js';
import type { HttpExchange } from './request-policy.js';
import { upstreamFailure } from './upstream.js';

type Abort = (err?: Error) => void;

/** The answer to a request refused because the upstream's connections and queue are full (RequestGate). */
export function sendOverloaded(res: ServerResponse, exchange: HttpExchange, why: string, tracker: ConnectionTracker): void {
  exchange.failed(UPSTREAM_OVERLOADED.status, why, sendLocalReply(res, UPSTREAM_OVERLOADED, tracker.closing));
}

const REQUEST_BODY_TIMEOUT = refusedRequest(408, 'request body timeout');

export class ForwardedResponse implements Dispatcher.DispatchHandler {
  private abortUpstream: Abort | undefined;
  private resumeUpstream: (() => void) | undefined;
  private finished = false;
  private readonly unwatchBody: () => void;

  /** `release`: frees the request's place at the upstream (RequestGate); `bodyIdleMs`: see watchRequestBody (0: no body). */
  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly exchange: HttpExchange,
    private readonly tracker: ConnectionTracker,
    private readonly release: () => void,
    private readonly bodyIdleMs: number,
  ) {
    res.once('close', this.onClientClose);
    this.unwatchBody = watchRequestBody(req, res, bodyIdleMs, this.onRequestStall);
  }

  onConnect(abort: Abort): void {
    if (this.res.destroyed || this.finished) abort(new Error('client went away'));
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    const res = this.res;
    if (statusCode < 200) {
      // RFC 9110 §15.2: a proxy forwards 1xx responses, except to HTTP/1.0 clients.
      if (this.req.httpVersionMinor >= 1) writeInformational(res, statusCode, statusText, downstreamResponseHeaders(rawHeaders, false));
      return true;
    }
    const headers = withoutUnsendableTrailer(downstreamResponseHeaders(rawHeaders, false), this.req, statusCode);
    if (this.tracker.closing) headers.push('connection', 'close');
    if (statusText === '') res.writeHead(statusCode, headers);
    else res.writeHead(statusCode, statusText, headers);
    this.resumeUpstream = resume;
    this.exchange.responded(statusCode, lowerCasePairs(headers));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.onClientDrain);
    return false;
  }

  onComplete(trailers: UpstreamTrailers | null): void {
    this.settle();
    discardUnsentBody(this.req);
    const pairs = trailers === null ? [] : trailerPairs(trailers);
    if (pairs.length > 0) this.res.addTrailers(pairs);
    this.res.end();
  }

  onError(err: Error): void {
    if (this.finished) return this.release(); // answered already: the body stalled
    this.settle();
    const res = this.res;
    // The client left first (its close aborted the upstream exchange): nobody to answer.
    if (res.destroyed) return;
    // Mid-body failure: the status is already sent, so the client must see a truncated message.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    discardUnsentBody(this.req);
    const { reply, info } = upstreamFailure(err);
    this.exchange.failed(reply.status, info, sendLocalReply(res, reply, this.tracker.closing));
  }

  private settle(): void {
    this.finished = true;
    this.release();
    this.unwatchBody();
  }

  /** The request body stalled: 408 and close (the rest of the body will not come), and the upstream exchange ends. */
  private readonly onRequestStall = (): void => {
    if (this.finished) return;
    this.finished = true;
    this.unwatchBody();
    const info = `request body made no progress for ${this.bodyIdleMs} ms`;
    if (this.res.headersSent) this.res.destroy();
    else this.exchange.failed(REQUEST_BODY_TIMEOUT.status, info, sendLocalReply(this.res, REQUEST_BODY_TIMEOUT, true));
    // Still queued for a connection, the request is aborted when it gets one (onConnect).
    this.abortUpstream?.(new Error(info));
  };

  private readonly onClientDrain = (): void => {
    this.resumeUpstream?.();
  };

  private readonly onClientClose = (): void => {
    if (!this.finished) this.abortUpstream?.(new Error('client closed the connection'));
  };
}

/**
 * Node throws on a `Trailer` header in a response it will not send chunked (HTTP/1.0 client, HEAD,
 * 204/304, or a Content-Length); such a response cannot carry trailers, so the announcement goes.
 */
export function withoutUnsendableTrailer(headers: string[], req: IncomingMessage, statusCode: number): string[] {
  let trailer = -1;
  let contentLength = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 7 && name.toLowerCase() === 'trailer') trailer = i;
    else if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = true;
  }
  if (trailer === -1) return headers;
  const chunked = req.httpVersionMinor >= 1 && req.method !== 'HEAD' && statusCode !== 204 && statusCode !== 304 && !contentLength;
  if (!chunked) headers.splice(trailer, 2);
  return headers;
}

/**
 * When the exchange ends before the whole request body went upstream (an early answer, an upstream
 * failure), undici stops reading the body and destroys it; the rest must still be read off the socket
 * and dropped, or the connection stalls before the next request. `_dump` is what Node's own server does
 * for bodies its handlers never read.
 */
export function discardUnsentBody(req: IncomingMessage): void {
  if (!req.complete) (req as unknown as { _dump(): void })._dump();
}

/** Writes a 1xx response ahead of the final one, byte for byte (Node's writeEarlyHints drops 103s without Link). */
function writeInformational(res: ServerResponse, statusCode: number, statusText: string, headers: readonly string[]): void {
  // _writeRaw is what writeContinue/writeEarlyHints use: it queues behind earlier pipelined responses.
  (res as unknown as RawWritable)._writeRaw(formatResponseHead(statusCode, statusText, headers), 'latin1');
}

interface RawWritable {
  _writeRaw(data: string, encoding: BufferEncoding): boolean;
}
