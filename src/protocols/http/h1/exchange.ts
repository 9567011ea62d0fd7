// What the HTTP/1.1 upstream pool (client.ts) and its connections (client-connection.ts) share: the request, the
// handler of its response, the exchange that carries both, and the pool as a connection sees it.
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { PortcullisError } from '../../../errors.js';
import type { Headers } from '../forward-headers.js';
import type { BodySource } from './body.js';
import type { DeadlineSweep } from './deadlines.js';

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  /** Flat `[name, value, ...]` with lower-case names, `host` included; the client adds its own framing fields. */
  readonly headers: readonly string[];
  readonly body: BodySource | null;
  /** Which of the body's trailer fields (flat, names as sent) go upstream, as fields (none when absent). */
  readonly forwardTrailers?: (trailers: readonly string[]) => Headers;
  /** A protocol switch to ask for (`Connection: upgrade`, `Upgrade: <value>`); a 101 hands the socket over. */
  readonly upgrade?: string;
}

/** What becomes of one request. Exactly one of onEnd, onError and onUpgrade ends it. */
export interface UpstreamResponseHandler {
  /** Called at dispatch: the exchange can be aborted from now on, queued or not. */
  onStart(abort: (reason: Error) => void): void;
  /** A 1xx response other than 101. */
  onInformational(status: number, reason: string, rawHeaders: string[]): void;
  /** The final response head (names as sent); `resume` restarts a body paused by onData returning false. */
  onResponse(status: number, reason: string, rawHeaders: string[], resume: () => void): void;
  onData(chunk: Buffer): boolean;
  /** The response is complete; trailer fields flat, names as sent. */
  onEnd(trailers: string[]): void;
  onError(err: Error): void;
  /** 101 to an upgrade request: the socket (and the bytes after the head) belong to the handler now. */
  onUpgrade?(status: number, reason: string, rawHeaders: string[], socket: Socket, head: Buffer): void;
}

export interface H1PoolOptions {
  readonly host: string;
  readonly port: number;
  /** HTTP/1.1 over TLS with these options (ALPN `http/1.1` is added). */
  readonly tls?: ConnectionOptions;
  readonly connectTimeoutMs: number;
  /** From the end of the request to the response head. */
  readonly responseTimeoutMs: number;
  readonly maxConnections: number;
}

/** A response body that moves no byte for this long fails the exchange (undici's default bodyTimeout). */
export const RESPONSE_BODY_IDLE_MS = 300_000;

/** Why an exchange failed, in the words the flow's reason starts with. */
export type UpstreamFailure =
  | 'PCL_UPSTREAM_CLOSED' // the pool closed, or the upstream closed the connection before the response was complete
  | 'PCL_UPSTREAM_CONNECT_TIMEOUT' // upstreamConnectTimeoutMs
  | 'PCL_UPSTREAM_RESPONSE_TIMEOUT' // upstreamTimeoutMs: no response head (the client gets 504)
  | 'PCL_UPSTREAM_BODY_TIMEOUT' // the response body stalled
  | 'PCL_UPSTREAM_BAD_RESPONSE' // a response this client does not relay
  | 'PCL_UPSTREAM_ERROR'; // the socket failed: the socket's error is the cause

export class UpstreamError extends PortcullisError {
  readonly code = 'PCL_ERR_UPSTREAM';
  constructor(
    readonly reason: UpstreamFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** What the flow's reason names: the socket error's own code (ECONNREFUSED, ...) when one is the cause, else `reason`. */
  get detail(): string {
    const code = (this.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? code : this.reason;
  }
}

/** One request on its way: queued, then carried by one connection (or, once, by a second after the first closed). */
export class Exchange {
  /** The connection carrying it; undefined while queued. */
  conn: { abort(reason: Error): void } | undefined;
  done = false;
  /** Sent again once already: a second failure is final. */
  retried = false;

  constructor(
    readonly request: UpstreamRequest,
    readonly handler: UpstreamResponseHandler,
    private readonly pool: ConnectionOwner,
  ) {}

  readonly abort = (reason: Error): void => {
    if (this.done) return;
    if (this.conn !== undefined) this.conn.abort(reason);
    else {
      this.pool.unqueue(this);
      this.fail(reason);
    }
  };

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.handler.onError(err);
  }
}

/** The pool as its connections see it (the connection type is the owner's business). */
export interface ConnectionOwner<Connection = unknown> {
  readonly options: H1PoolOptions;
  readonly sweep: DeadlineSweep;
  /** The Host field of requests that have none. */
  readonly hostField: string;
  /** Sends `ex` on an idle connection, else a new one, else queues it; `fresh` (a retry) never takes an idle one. */
  assign(ex: Exchange, fresh: boolean): void;
  unqueue(ex: Exchange): void;
  /** `conn` finished an exchange and can carry another. */
  release(conn: Connection): void;
  /** `conn` is closed (or handed over). */
  removed(conn: Connection): void;
}
