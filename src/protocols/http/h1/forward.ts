// Relays one allowed HTTP/1.x request's upstream response (from the HTTP/1.1 upstream client) onto the client's
// response, with back-pressure both ways, and records what the client got.
import type { ConnectionTracker } from '../../connections.js';
import { downstreamResponseHeaders, lowerCasePairs, type Headers } from '../forward-headers.js';
import type { UpstreamResponseHandler } from './exchange.js';
import type { H1Request } from './request.js';
import type { H1Response } from './response.js';
import { UPSTREAM_OVERLOADED, refusedRequest, sendLocalReply } from '../local-reply.js';
import type { HttpExchange } from '../request-policy.js';
import { upstreamFailure } from '../upstream.js';

/** The answer to a request refused because the upstream's connections and queue are full (RequestGate). */
export function sendOverloaded(res: H1Response, exchange: HttpExchange, why: string, tracker: ConnectionTracker): void {
  exchange.failed(UPSTREAM_OVERLOADED.status, why, sendLocalReply(res, UPSTREAM_OVERLOADED, tracker.closing));
}

export class ForwardedResponse implements UpstreamResponseHandler {
  private abortUpstream: ((reason: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private finished = false;
  /**
   * The upstream's response, recorded once it starts going to the client: a body that fails before its first byte
   * (a malformed first chunk) becomes a local 503 instead, and only that is recorded.
   */
  private head: { readonly status: number; readonly headers: Headers } | undefined;

  /** `release`: frees the request's place at the upstream (RequestGate). */
  constructor(
    private readonly req: H1Request,
    private readonly res: H1Response,
    private readonly exchange: HttpExchange,
    private readonly tracker: ConnectionTracker,
    private readonly release: () => void,
  ) {
    res.onclose = this.onClientClose;
    res.ondrain = this.onClientDrain;
    req.onbodyerror = this.onRequestBodyError;
  }

  onStart(abort: (reason: Error) => void): void {
    this.abortUpstream = abort;
  }

  onInformational(status: number, reason: string, rawHeaders: string[]): void {
    // RFC 9110 §15.2: a proxy forwards 1xx responses, except to HTTP/1.0 clients.
    if (this.req.versionMinor >= 1) this.res.writeInformational(status, reason, downstreamResponseHeaders(rawHeaders, false));
  }

  onResponse(status: number, reason: string, rawHeaders: string[], resume: () => void): void {
    const headers = withoutUnsendableTrailer(downstreamResponseHeaders(rawHeaders, false), this.req, status);
    if (this.tracker.closing) headers.push('connection', 'close');
    this.res.writeHead(status, reason === '' ? undefined : reason, headers);
    this.resumeUpstream = resume;
    this.head = { status, headers: lowerCasePairs(headers) };
  }

  onData(chunk: Buffer): boolean {
    if (this.head !== undefined) this.recordResponse();
    return this.res.write(chunk);
  }

  onEnd(trailers: string[]): void {
    this.recordResponse();
    this.settle();
    this.req.abandon();
    this.res.end(undefined, trailers.length > 0 ? trailers : undefined);
  }

  onError(err: Error): void {
    if (this.finished) return this.release(); // answered already: the body failed
    this.settle();
    const res = this.res;
    // The client left first (its close aborted the upstream exchange): nobody to answer.
    if (res.destroyed) return this.recordResponse();
    // Mid-body failure: the status is already sent, so the client must see a truncated message.
    if (res.headersSent) return res.destroy();
    this.head = undefined;
    this.req.abandon();
    const { reply, why } = upstreamFailure(err);
    this.exchange.failed(reply.status, why, sendLocalReply(res, reply, this.tracker.closing));
  }

  private recordResponse(): void {
    if (this.head === undefined) return;
    this.exchange.responded(this.head.status, this.head.headers);
    this.head = undefined;
  }

  private settle(): void {
    this.finished = true;
    this.release();
  }

  /** The request body cannot be completed (stalled, malformed): the client gets `status` and the upstream exchange ends. */
  private readonly onRequestBodyError = (status: number, reason: string, detail: string): void => {
    if (this.finished) return;
    this.finished = true;
    if (this.res.headersSent) this.res.destroy();
    else this.exchange.failed(status, detail, sendLocalReply(this.res, refusedRequest(status, reason), true));
    this.abortUpstream?.(new Error(detail));
  };

  private readonly onClientDrain = (): void => {
    this.resumeUpstream?.();
  };

  private readonly onClientClose = (): void => {
    if (!this.finished) this.abortUpstream?.(new Error('client closed the connection'));
  };
}

/**
 * A `Trailer` header in a response that will not be sent chunked (HTTP/1.0 client, HEAD, 204/304, or a
 * Content-Length) announces trailers that cannot come, so the announcement goes.
 */
export function withoutUnsendableTrailer(headers: string[], req: H1Request, statusCode: number): string[] {
  let trailer = -1;
  let contentLength = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 7 && name.toLowerCase() === 'trailer') trailer = i;
    else if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = true;
  }
  if (trailer === -1) return headers;
  const chunked = req.versionMinor >= 1 && req.method !== 'HEAD' && statusCode !== 204 && statusCode !== 304 && !contentLength;
  if (!chunked) headers.splice(trailer, 2);
  return headers;
}
