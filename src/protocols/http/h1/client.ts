// Portcullis' HTTP/1.1 client towards upstreams: a pool of keep-alive connections per upstream, each carrying one
// exchange at a time and reused only once its response (and its request) is complete. Requests wait in a queue
// when every connection is busy (RequestGate bounds that queue); connections are retired on `Connection: close`,
// close-delimited responses, errors and idle timeouts.
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Headers } from '../forward-headers.js';
import type { BodySource } from './body.js';
import { UpstreamConnection } from './client-connection.js';
import { DeadlineSweep } from './deadlines.js';

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

export class UpstreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One request on its way: queued, then carried by one connection (or, once, by a second after the first closed). */
export class Exchange {
  /** The connection carrying it; undefined while queued. */
  conn: UpstreamConnection | undefined;
  done = false;
  /** Sent again once already: a second failure is final. */
  retried = false;

  constructor(
    readonly request: UpstreamRequest,
    readonly handler: UpstreamResponseHandler,
    private readonly pool: H1UpstreamPool,
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

export class H1UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly queue: Exchange[] = [];
  private readonly connections = new Set<UpstreamConnection>();
  private closed = false;
  readonly sweep: DeadlineSweep;
  /** The Host field of requests that have none (HTTP/1.0 clients), as undici wrote it: no default port. */
  readonly hostField: string;

  constructor(
    readonly options: H1PoolOptions,
    /** Called when the pool holds no connection and no request (the agent forgets it). */
    private readonly onEmpty?: () => void,
  ) {
    this.sweep = new DeadlineSweep(Math.min(options.connectTimeoutMs, options.responseTimeoutMs, 4000));
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const defaultPort = options.tls === undefined ? 80 : 443;
    this.hostField = `host: ${host}${options.port === defaultPort ? '' : `:${options.port}`}\r\n`;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamResponseHandler): void {
    const ex = new Exchange(request, handler, this);
    handler.onStart(ex.abort);
    if (ex.done) return;
    if (this.closed) return ex.fail(new UpstreamError('PCL_UPSTREAM_CLOSED', 'the upstream client is closed'));
    this.assign(ex, false);
  }

  /** Sends `ex` on an idle connection, else a new one, else queues it; `fresh` (a retry) never takes an idle one. */
  assign(ex: Exchange, fresh: boolean): void {
    const conn = fresh ? undefined : this.idle.pop();
    if (conn !== undefined) return conn.run(ex);
    if (this.connections.size < this.options.maxConnections) {
      const created = new UpstreamConnection(this);
      this.connections.add(created);
      return created.run(ex);
    }
    if (fresh) this.queue.unshift(ex);
    else this.queue.push(ex);
  }

  unqueue(ex: Exchange): void {
    const i = this.queue.indexOf(ex);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** `conn` finished an exchange and can carry another. */
  release(conn: UpstreamConnection): void {
    const next = this.queue.shift();
    if (next !== undefined) conn.run(next);
    else this.idle.push(conn);
  }

  /** `conn` is closed (or handed over): its place goes to a queued request. */
  removed(conn: UpstreamConnection): void {
    if (!this.connections.delete(conn)) return;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    const next = this.queue.shift();
    if (next !== undefined) this.assign(next, false);
    else if (this.connections.size === 0) this.onEmpty?.();
  }

  /** Fails what is queued and closes every connection (in-flight exchanges fail). */
  async close(): Promise<void> {
    this.closed = true;
    for (const ex of this.queue.splice(0)) ex.fail(new UpstreamError('PCL_UPSTREAM_CLOSED', 'the upstream client is closed'));
    this.idle.length = 0;
    for (const conn of this.connections) conn.abort(new UpstreamError('PCL_UPSTREAM_CLOSED', 'the upstream client is closed'));
  }
}

/** Pools per origin, for the forward proxy whose requests each name their own destination. */
export class H1Agent {
  private readonly pools = new Map<string, H1UpstreamPool>();

  constructor(private readonly options: Omit<H1PoolOptions, 'host' | 'port'>) {}

  dispatch(host: string, port: number, request: UpstreamRequest, handler: UpstreamResponseHandler): void {
    const key = `${host}|${port}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      const created = new H1UpstreamPool({ ...this.options, host, port }, () => {
        if (this.pools.get(key) === created) this.pools.delete(key);
      });
      this.pools.set(key, (pool = created));
    }
    pool.dispatch(request, handler);
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}
