// Pooled, multiplexed HTTP/2 sessions to one upstream (h2c, or h2 over TLS).
//
// A request goes on the least-busy open session that still has room under the upstream's advertised
// SETTINGS_MAX_CONCURRENT_STREAMS; when every session is full another is opened (up to MAX_SESSIONS, after
// which nghttp2 queues the stream until a slot frees). A session that receives GOAWAY, fails or closes
// leaves the pool at once, so the next request opens a fresh one: reconnection is lazy and per request.
import http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, OutgoingHttpHeaders, SecureClientSessionOptions } from 'node:http2';

/** More sessions than this to one upstream only happens with thousands of concurrent streams. */
const MAX_SESSIONS = 16;
/** An upstream session with no streams is closed after this long. */
const SESSION_IDLE_MS = 60_000;
/** Until the upstream's SETTINGS arrive, assume the RFC's recommended minimum. */
const ASSUMED_MAX_STREAMS = 100;

export interface H2UpstreamOptions {
  readonly host: string;
  readonly port: number;
  /** `h2`: TLS with ALPN h2; these options (CA, servername, client certificate) are passed to `tls.connect`. */
  readonly tls?: SecureClientSessionOptions;
  readonly connectTimeoutMs: number;
  /** Per-stream flow-control window advertised to the upstream. */
  readonly initialWindowSize: number;
  /** Connection-level window advertised to the upstream. */
  readonly connectionWindowSize: number;
}

/** A stream opened upstream, and whether its session ever connected (else its errors are connect failures). */
export interface UpstreamStream {
  readonly stream: ClientHttp2Stream;
  sessionConnected(): boolean;
}

interface PooledSession {
  readonly session: ClientHttp2Session;
  active: number;
  connected: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

export class H2UpstreamPool {
  private readonly sessions = new Set<PooledSession>();
  private readonly origin: string;
  private closed = false;

  constructor(private readonly options: H2UpstreamOptions) {
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    this.origin = `${options.tls ? 'https' : 'http'}://${host}:${options.port}`;
  }

  /**
   * Opens a stream upstream. Synchronous: the stream is queued on a (possibly still connecting) session;
   * a connect failure arrives on the stream's 'error' event while `sessionConnected()` is false.
   */
  request(headers: OutgoingHttpHeaders, endStream: boolean): UpstreamStream {
    if (this.closed) throw new Error('upstream pool is closed');
    const pooled = this.pick();
    pooled.active++;
    if (pooled.idleTimer) {
      clearTimeout(pooled.idleTimer);
      pooled.idleTimer = undefined;
    }
    const stream = pooled.session.request(headers, { endStream });
    stream.once('close', () => this.release(pooled));
    return { stream, sessionConnected: () => pooled.connected };
  }

  /** Closes every session: in-flight streams finish, new requests throw. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.sessions].map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.session.destroyed) return resolve();
            p.session.close(resolve);
          }),
      ),
    );
    this.sessions.clear();
  }

  private pick(): PooledSession {
    let best: PooledSession | undefined;
    for (const p of this.sessions) {
      if (best === undefined || p.active < best.active) best = p;
    }
    if (best !== undefined && (best.active < this.limitOf(best) || this.sessions.size >= MAX_SESSIONS)) return best;
    return this.open();
  }

  private limitOf(p: PooledSession): number {
    return p.connected ? (p.session.remoteSettings.maxConcurrentStreams ?? ASSUMED_MAX_STREAMS) : ASSUMED_MAX_STREAMS;
  }

  private open(): PooledSession {
    const { options } = this;
    const session = http2.connect(this.origin, {
      ...options.tls,
      ...(options.tls ? { ALPNProtocols: ['h2'] } : {}),
      settings: { initialWindowSize: options.initialWindowSize, enablePush: false },
      // The downstream sessions already bound what clients may send; do not refuse the proxy's own streams.
      maxSessionMemory: 64,
    });
    const pooled: PooledSession = { session, active: 0, connected: false, idleTimer: undefined };
    this.sessions.add(pooled);
    const leave = () => {
      this.sessions.delete(pooled);
      if (pooled.idleTimer) clearTimeout(pooled.idleTimer);
    };
    const connectTimer = setTimeout(() => {
      session.destroy(Object.assign(new Error(`upstream connect timeout after ${options.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, options.connectTimeoutMs);
    session.once('connect', () => {
      clearTimeout(connectTimer);
      pooled.connected = true;
      session.setLocalWindowSize(options.connectionWindowSize);
    });
    // Node destroys the session's streams with the same error; this handler keeps the process alive.
    session.on('error', leave);
    session.once('goaway', leave);
    session.once('close', () => {
      clearTimeout(connectTimer);
      leave();
    });
    return pooled;
  }

  private release(p: PooledSession): void {
    p.active--;
    if (p.active > 0 || !this.sessions.has(p)) return;
    p.idleTimer = setTimeout(() => {
      this.sessions.delete(p);
      p.session.close();
    }, SESSION_IDLE_MS);
    p.idleTimer.unref();
  }
}
