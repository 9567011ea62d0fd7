// Pooled, multiplexed HTTP/2 sessions to one upstream (h2c, or h2 over TLS), on the lean client in wire/.
//
// A request goes on the least-busy open session that still has room under the upstream's advertised
// SETTINGS_MAX_CONCURRENT_STREAMS; when every session is full another is opened (up to `maxConnections`, after
// which the session queues the stream until a slot frees, up to `maxPending` queued streams in all). A session that receives GOAWAY, fails or closes
// leaves the pool at once, so the next request opens a fresh one: reconnection is lazy and per request.
import type tls from 'node:tls';
import { overloadedInfo } from '../upstream-gate.js';
import { H2ClientSession, type H2ClientStream, type H2ResponseHandler } from './wire/client.js';

/** An upstream session with no streams is closed after about this long. */
const SESSION_IDLE_MS = 60_000;

export interface H2UpstreamOptions {
  readonly host: string;
  readonly port: number;
  /** `h2`: TLS with ALPN h2; these options (CA, servername, client certificate) are passed to `tls.connect`. */
  readonly tls?: tls.ConnectionOptions;
  readonly connectTimeoutMs: number;
  /** Per-stream flow-control window advertised to the upstream. */
  readonly initialWindowSize: number;
  /** Connection-level window advertised to the upstream. */
  readonly connectionWindowSize: number;
  /** Sessions open at once. */
  readonly upstreamMaxConnections: number;
  /** Streams queued for a slot once every session is full; beyond, request() throws UPSTREAM_QUEUE_FULL. */
  readonly upstreamMaxPending: number;
}

const QUEUE_FULL = 'UPSTREAM_QUEUE_FULL';

/** request() refused a stream because every session is full and so is the queue. */
export function isUpstreamQueueFull(err: unknown): boolean {
  return (err as { code?: unknown }).code === QUEUE_FULL;
}

/** A stream opened upstream, and whether its session ever connected (else its errors are connect failures). */
export interface UpstreamStream {
  readonly stream: H2ClientStream;
  sessionConnected(): boolean;
}

interface PooledSession {
  readonly session: H2ClientSession;
  /** Date.now() of its last request, for the idle sweep. */
  lastUsed: number;
}

export class H2UpstreamPool {
  private readonly sessions = new Set<PooledSession>();
  private closed = false;
  private readonly idleSweep: NodeJS.Timeout;

  constructor(private readonly options: H2UpstreamOptions) {
    // One sweep for the pool rather than a timer armed and cleared per stream.
    this.idleSweep = setInterval(() => this.closeIdle(), SESSION_IDLE_MS / 2);
    this.idleSweep.unref();
  }

  /**
   * Opens a stream upstream with `headers` (pseudo-headers first, lower-case names). Synchronous: the stream
   * is queued on a (possibly still connecting) session; a connect failure arrives at the handler's onClose
   * with an error while `sessionConnected()` is false. Throws for headers that cannot be sent.
   */
  request(headers: ReadonlyArray<readonly [string, string]>, endStream: boolean, handler: H2ResponseHandler): UpstreamStream {
    if (this.closed) throw new Error('upstream pool is closed');
    const pooled = this.pick();
    pooled.lastUsed = Date.now();
    const { session } = pooled;
    return { stream: session.request(headers, endStream, handler), sessionConnected: () => session.connected };
  }

  /** Closes every session: in-flight streams finish, new requests throw. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleSweep);
    const open = [...this.sessions].map(({ session }) => session);
    this.sessions.clear();
    await Promise.all(
      open.map(
        (session) =>
          new Promise<void>((resolve) => {
            session.once('close', () => resolve());
            session.close();
          }),
      ),
    );
  }

  private pick(): PooledSession {
    let best: PooledSession | undefined;
    for (const p of this.sessions) {
      // A session that got GOAWAY is still here while its refused streams are told (and may be retried).
      if (p.session.closed) continue;
      if (best === undefined || p.session.activeStreams < best.session.activeStreams) best = p;
    }
    if (best === undefined || best.session.activeStreams < best.session.maxConcurrentStreams) return best ?? this.open();
    if (this.sessions.size < this.options.upstreamMaxConnections) return this.open();
    // Only counted once every session is full: the queue is the pool's whole backlog.
    let queued = 0;
    for (const p of this.sessions) queued += p.session.queuedStreams;
    if (queued >= this.options.upstreamMaxPending) throw Object.assign(new Error(overloadedInfo(this.options)), { code: QUEUE_FULL });
    return best;
  }

  private open(): PooledSession {
    const { options } = this;
    const session = H2ClientSession.connect({
      host: options.host,
      port: options.port,
      ...(options.tls ? { tls: options.tls } : {}),
      connectTimeoutMs: options.connectTimeoutMs,
      initialWindowSize: options.initialWindowSize,
      connectionWindowSize: options.connectionWindowSize,
    });
    const pooled: PooledSession = { session, lastUsed: Date.now() };
    this.sessions.add(pooled);
    const leave = () => this.sessions.delete(pooled);
    // The session's streams learn of a failure through their handlers; this keeps the process alive.
    session.on('error', leave);
    session.once('goaway', leave);
    session.once('close', leave);
    return pooled;
  }

  private closeIdle(): void {
    const before = Date.now() - SESSION_IDLE_MS;
    for (const p of this.sessions) {
      if (p.session.activeStreams === 0 && p.lastUsed < before) {
        this.sessions.delete(p);
        p.session.close();
      }
    }
  }
}
