// One allowed HTTP/1.x request relayed to an HTTP/2 upstream (`upstreamProtocol` h2c or h2) on the proxy's own
// HTTP/2 client, through the same relay as HTTP/2 clients' streams (h2-relay.ts): the request body goes up with
// backpressure (the client socket is paused while the upstream stream is full), the response comes down with
// backpressure (the upstream gets window credit back as the client socket drains), trailers included.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectionTracker } from '../connections.js';
import type { Headers } from './forward-headers.js';
import { withoutUnsendableTrailer, discardUnsentBody } from './http1-forward.js';
import { watchRequestBody } from './http1-body-idle.js';
import type { Fields } from './h2-wire/connection.js';
import { ErrorCode } from './h2-wire/frames.js';
import { relayToH2Upstream, type RelayDownstream, type RequestEvents } from './h2-relay.js';
import type { H2UpstreamPool } from './h2-upstream.js';
import { refusedRequest, sendLocalReply, type LocalReply } from './local-reply.js';
import type { HttpExchange } from './request-policy.js';

export interface Http1ToH2 {
  readonly pool: H2UpstreamPool;
  readonly scheme: 'http' | 'https';
  /** `:authority` when the request has no Host (HTTP/1.0). */
  readonly defaultAuthority: string;
  readonly responseTimeoutMs: number;
  /** A request body idle this long ends the exchange with 408. */
  readonly bodyIdleMs: number;
}

/** `headers`: the flat list for the upstream (forward-headers.ts); its `host` becomes `:authority`. */
export function relayHttp1ToH2(
  req: IncomingMessage,
  res: ServerResponse,
  tracker: ConnectionTracker,
  exchange: HttpExchange,
  headers: readonly string[],
  hasBody: boolean,
  to: Http1ToH2,
): void {
  let authority = to.defaultAuthority;
  const regular: Array<readonly [string, string]> = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'host') authority = headers[i + 1]!;
    else regular.push([headers[i]!, headers[i + 1]!]);
  }
  const fields: Array<readonly [string, string]> = [
    [':method', exchange.facts.method],
    [':scheme', to.scheme],
    [':authority', authority],
    [':path', exchange.facts.path],
    ...regular,
  ];
  const downstream = new Http1Downstream(req, res, tracker, hasBody, to.bodyIdleMs);
  // node:http never hands over HTTP/1.1 request trailers, so none reach the relay to be filtered.
  relayToH2Upstream(downstream, to.pool, fields, exchange, { grpc: false, responseTimeoutMs: to.responseTimeoutMs, policyHeaderNames: NO_NAMES });
}

const NO_NAMES: ReadonlySet<string> = new Set();
const REQUEST_BODY_TIMEOUT = refusedRequest(408, 'request body timeout');

/** An HTTP/1.x request and its response as the client side of an HTTP/2 relay. */
class Http1Downstream implements RelayDownstream {
  private relay: RequestEvents | undefined;
  /** Request bytes handed to the relay that it has not passed on yet: the socket stays paused meanwhile. */
  private held = 0;
  /** The request body stalled: the connection cannot be reused. */
  private stalled = false;
  private unwatchBody: () => void = () => undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly tracker: ConnectionTracker,
    private readonly hasBody: boolean,
    private readonly bodyIdleMs: number,
  ) {}

  get requestEnded(): boolean {
    // At the 'request' event a bodiless request is not `complete` yet.
    return !this.hasBody || this.req.complete;
  }

  attach(relay: RequestEvents): void {
    this.relay = relay;
    const { req, res } = this;
    if (!this.requestEnded) {
      req.on('data', this.onRequestData);
      req.once('end', this.onRequestEnd);
      this.unwatchBody = watchRequestBody(req, res, this.bodyIdleMs, this.onRequestStall);
    }
    res.on('drain', this.onResponseDrain);
    res.once('close', this.onResponseClose);
  }

  consumed(bytes: number): void {
    this.held -= bytes;
    if (this.held <= 0 && this.req.isPaused()) this.req.resume();
  }

  canRespond(): boolean {
    return !this.res.headersSent && !this.res.destroyed;
  }

  respond(status: number, fields: Fields, endStream: boolean): boolean {
    const flat: string[] = [];
    for (const [name, value] of fields) flat.push(name, value);
    const headers = withoutUnsendableTrailer(flat, this.req, status);
    if (this.tracker.closing) headers.push('connection', 'close');
    try {
      this.res.writeHead(status, headers);
    } catch {
      return false; // a value Node will not write (control characters HTTP/2 allows)
    }
    if (endStream) this.end(undefined);
    return true;
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  end(trailers: Fields | undefined): void {
    if (trailers !== undefined && trailers.length > 0) {
      try {
        this.res.addTrailers(trailers as Array<[string, string]>);
      } catch {
        // Trailer values Node will not write are dropped; the body is complete without them.
      }
    }
    this.res.end();
    this.stopReading();
  }

  reset(): void {
    // Before the status line the client gets a 502; after it, a message cut short.
    if (this.canRespond()) sendLocalReply(this.res, refusedRequest(502, 'upstream reset the request'), true);
    else this.res.destroy();
    this.stopReading();
  }

  get closed(): boolean {
    return this.res.destroyed;
  }

  get ended(): boolean {
    return this.res.writableEnded;
  }

  reply(reply: LocalReply): { readonly code: number; readonly headers: Headers } | undefined {
    if (!this.canRespond()) return undefined;
    const headers = sendLocalReply(this.res, reply, this.tracker.closing || this.stalled);
    this.stopReading();
    return { code: reply.status, headers };
  }

  /**
   * The response is complete (or abandoned): the rest of the request body, if any, is read and dropped so the
   * connection can carry the next request, and the upstream stream, which would wait for it, is reset.
   */
  private stopReading(): void {
    const { req } = this;
    req.off('data', this.onRequestData);
    req.off('end', this.onRequestEnd);
    this.unwatchBody();
    if (this.requestEnded || this.stalled) return;
    this.relay?.downstreamClosed(ErrorCode.NO_ERROR);
    discardUnsentBody(req);
  }

  private readonly onRequestData = (chunk: Buffer): void => {
    this.held += chunk.length;
    this.relay!.requestData(chunk);
    if (this.held > 0) this.req.pause();
  };

  private readonly onRequestEnd = (): void => {
    this.relay!.requestEnd();
  };

  private readonly onRequestStall = (): void => {
    this.stalled = true;
    this.relay!.requestStalled(REQUEST_BODY_TIMEOUT, `request body made no progress for ${this.bodyIdleMs} ms`);
  };

  private readonly onResponseDrain = (): void => {
    this.relay!.creditUpstream();
  };

  private readonly onResponseClose = (): void => {
    if (!this.res.writableFinished) this.relay!.downstreamClosed(ErrorCode.CANCEL, 'client closed the connection');
  };
}
