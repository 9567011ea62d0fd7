// One allowed HTTP/1.x request relayed to an HTTP/2 upstream (`upstreamProtocol` h2c or h2) on the proxy's own
// HTTP/2 client, through the same relay as HTTP/2 clients' streams (h2/relay.ts): the request body goes up with
// backpressure (the client connection is not read while the upstream stream is full), the response comes down
// with backpressure (the upstream gets window credit back as the client socket drains), trailers both ways.
import type { ConnectionTracker } from '../../connections.js';
import type { Headers } from '../forward-headers.js';
import { withoutUnsendableTrailer } from './forward.js';
import type { BodySink } from './body.js';
import type { H1Request } from './request.js';
import { sendableOverHttp1, type H1Response } from './response.js';
import type { Fields } from '../h2/wire/connection.js';
import { ErrorCode } from '../h2/wire/frames.js';
import { relayToH2Upstream, type RelayDownstream, type RequestEvents } from '../h2/relay.js';
import type { H2UpstreamPool } from '../h2/upstream.js';
import { refusedRequest, sendLocalReply, type LocalReply } from '../local-reply.js';
import type { HttpExchange } from '../request-policy.js';

export interface Http1ToH2 {
  readonly pool: H2UpstreamPool;
  readonly scheme: 'http' | 'https';
  /** `:authority` when the request has no Host (HTTP/1.0). */
  readonly defaultAuthority: string;
  readonly responseTimeoutMs: number;
  /** Header names the policy's rules look at: request trailers never carry them upstream. */
  readonly policyHeaderNames: ReadonlySet<string>;
}

/** `headers`: the flat list for the upstream (forward-headers.ts); its `host` becomes `:authority`. */
export function relayHttp1ToH2(req: H1Request, res: H1Response, tracker: ConnectionTracker, exchange: HttpExchange, headers: readonly string[], to: Http1ToH2): void {
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
  const downstream = new Http1Downstream(req, res, tracker);
  relayToH2Upstream(downstream, to.pool, fields, exchange, { grpc: false, responseTimeoutMs: to.responseTimeoutMs, policyHeaderNames: to.policyHeaderNames });
}

/** An HTTP/1.x request and its response as the client side of an HTTP/2 relay. */
class Http1Downstream implements RelayDownstream {
  private relay: RequestEvents | undefined;
  /** Request bytes handed to the relay that it has not passed on yet: the connection is not read meanwhile. */
  private held = 0;
  /** The request body failed (stalled, malformed): the connection closes after the response. */
  private broken = false;
  /** The response is done with the request: body events no longer go to the relay. */
  private detached = false;
  /**
   * The relay recorded the upstream's status: the response is that one even before its head leaves (it waits for
   * the first body bytes), so a later failure cuts it short rather than answering another status.
   */
  private committed = false;

  constructor(
    private readonly req: H1Request,
    private readonly res: H1Response,
    private readonly tracker: ConnectionTracker,
  ) {}

  get requestEnded(): boolean {
    return this.req.complete;
  }

  attach(relay: RequestEvents): void {
    this.relay = relay;
    const { req, res } = this;
    res.ondrain = () => relay.creditUpstream();
    res.onclose = () => relay.downstreamClosed(ErrorCode.CANCEL, 'client closed the connection');
    if (req.complete) return;
    req.onbodyerror = (status, reason, detail) => {
      this.broken = true;
      relay.requestStalled(refusedRequest(status, reason), detail);
    };
    req.start(this.requestBody);
  }

  /** The request body, as it arrives. */
  private readonly requestBody: BodySink = {
    data: (chunk) => {
      if (this.detached) return true;
      this.held += chunk.length;
      this.relay!.requestData(chunk);
      return this.held <= 0;
    },
    end: (trailers) => {
      if (this.detached) return;
      if (trailers.length > 0) this.relay!.requestTrailers(trailers);
      this.relay!.requestEnd();
    },
  };

  consumed(bytes: number): void {
    this.held -= bytes;
    if (this.held <= 0) this.req.resume();
  }

  canRespond(): boolean {
    return !this.committed && !this.res.destroyed;
  }

  respond(status: number, fields: Fields, endStream: boolean): boolean {
    const flat: string[] = [];
    for (const [name, value] of fields) flat.push(name, value);
    const headers = withoutUnsendableTrailer(flat, this.req, status);
    if (this.tracker.closing) headers.push('connection', 'close');
    // A value HTTP/1.1 cannot carry (control characters HTTP/2 allows): nothing is sent.
    if (!sendableOverHttp1(headers)) return false;
    this.res.writeHead(status, undefined, headers);
    this.committed = true;
    if (endStream) this.end(undefined);
    return true;
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  end(trailers: Fields | undefined): void {
    const flat: string[] = [];
    for (const [name, value] of trailers ?? []) flat.push(name, value);
    this.res.end(undefined, flat);
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
    return this.res.ended;
  }

  reply(reply: LocalReply): { readonly code: number; readonly headers: Headers } | undefined {
    if (!this.canRespond()) return undefined;
    const headers = sendLocalReply(this.res, reply, this.tracker.closing || this.broken);
    this.stopReading();
    return { code: reply.status, headers };
  }

  /**
   * The response is complete (or abandoned): the rest of the request body, if any, is read and dropped so the
   * connection can carry the next request, and the upstream stream, which would wait for it, is reset.
   */
  private stopReading(): void {
    if (this.detached) return;
    this.detached = true;
    if (this.req.complete || this.broken) return;
    this.relay?.downstreamClosed(ErrorCode.NO_ERROR);
    this.req.abandon();
  }
}
