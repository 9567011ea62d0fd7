// Portcullis' HTTP/1.1 client towards upstreams: a pool of keep-alive connections per upstream, each carrying one
// exchange at a time and reused only once its response (and its request) is complete. Requests wait in a queue
// when every connection is busy (RequestGate bounds that queue); connections are retired on `Connection: close`,
// close-delimited responses, errors and idle timeouts.
import { UpstreamConnection } from './client-connection.js';
import { DeadlineSweep } from './deadlines.js';
import { Exchange, UpstreamError, type ConnectionOwner, type H1PoolOptions, type UpstreamRequest, type UpstreamResponseHandler } from './exchange.js';

export class H1UpstreamPool implements ConnectionOwner {
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
