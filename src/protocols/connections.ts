// Bookkeeping of a listener's open downstream connections, shared by every protocol listener: the connection
// caps checked at accept, the connection gauge, and a graceful shutdown that lets in-flight exchanges finish
// before anything is destroyed.
import type { Socket } from 'node:net';
import type { RefusalReason } from '../observe/types.js';
import { ConnectionCaps } from './connection-caps.js';
import { unmapAddress } from './connection-policy.js';
import type { ListenerContext } from './context.js';

/** A burst of refused connections logs one line per listener this often; the drop metric counts every one. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export class ConnectionTracker {
  /** Admitted sockets (`add`): the connection gauge, and what shutdown waits for. */
  private readonly open = new Set<Socket>();
  /** Every accepted socket until it closes, with the source address its close gives back to the caps. */
  private readonly sources = new Map<Socket, string>();
  /**
   * The close listener of every socket of the listener: one function, `this` being the socket, rather than a
   * closure (and a `once` wrapper) per connection, which idle keep-alive connections would hold for hours.
   */
  private readonly onClose: (this: Socket) => void;
  private readonly caps: ConnectionCaps;
  private lastRefusalLog = -Infinity;
  private refusedSinceLog = 0;
  /** Sockets no protocol server manages (WebSocket and CONNECT tunnels): shutdown ends them itself. */
  private readonly unmanaged = new WeakSet<Socket>();
  /** Sockets not handed to a protocol server yet (being sniffed, in a TLS handshake, or spliced TLS passthrough). */
  private readonly pending = new WeakSet<Socket>();
  private drained: (() => void) | undefined;
  private closingFlag = false;

  constructor(private readonly ctx: ListenerContext) {
    this.caps = new ConnectionCaps(ctx.config.maxConnections, ctx.config.maxConnectionsPerSource);
    const closed = (socket: Socket): void => this.closed(socket);
    this.onClose = function (this: Socket) {
      closed(this);
    };
  }

  /** True once shutdown began: responses should carry `Connection: close`. */
  get closing(): boolean {
    return this.closingFlag;
  }

  /**
   * Counts a just-accepted socket against the listener's caps, before anything else is done with it. Over a cap it
   * is reset at once (nothing written, its fd freed now) and false is returned: the caller must drop it.
   */
  accept(socket: Socket): boolean {
    const source = unmapAddress(socket.remoteAddress ?? '');
    const exceeded = this.caps.take(source);
    if (exceeded === undefined) {
      this.sources.set(socket, source);
      socket.on('close', this.onClose);
      return true;
    }
    socket.on('error', () => {}); // a peer gone before the reset: nothing left to do
    socket.resetAndDestroy();
    this.ctx.metrics.drop(exceeded, 'TCP');
    this.logRefusal(exceeded, source);
    return false;
  }

  private logRefusal(reason: RefusalReason, source: string): void {
    this.refusedSinceLog++;
    const now = performance.now();
    if (now - this.lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    const { config } = this.ctx;
    this.ctx.log.warn(
      { reason, source, refused: this.refusedSinceLog, maxConnections: config.maxConnections, maxConnectionsPerSource: config.maxConnectionsPerSource },
      'connections refused: connection limit reached',
    );
    this.lastRefusalLog = now;
    this.refusedSinceLog = 0;
  }

  /** An accepted socket was admitted: it counts in the connection gauge and shutdown waits for it. */
  add(socket: Socket): void {
    this.open.add(socket);
    this.ctx.metrics.connectionOpened(this.ctx.config.name);
  }

  private closed(socket: Socket): void {
    const source = this.sources.get(socket);
    if (source === undefined) return;
    this.sources.delete(socket);
    this.caps.release(source);
    if (!this.open.delete(socket)) return;
    this.ctx.metrics.connectionClosed(this.ctx.config.name);
    if (this.open.size === 0) this.drained?.();
  }

  markUnmanaged(socket: Socket): void {
    this.unmanaged.add(socket);
  }

  markPending(socket: Socket): void {
    this.pending.add(socket);
  }

  markManaged(socket: Socket): void {
    this.unmanaged.delete(socket);
    this.pending.delete(socket);
  }

  /**
   * Ends unmanaged sockets now and pending ones still pending after the first-request grace, waits up to the
   * shutdown grace for the other connections to close (their protocol handlers close idle ones and finish in-flight
   * exchanges), then destroys whatever is left.
   */
  async shutdown(): Promise<void> {
    const { firstRequestGraceMs, shutdownGraceMs } = this.ctx.timings;
    this.closingFlag = true;
    for (const socket of this.open) if (this.unmanaged.has(socket)) socket.end();
    const pendingTimer = setTimeout(() => {
      for (const socket of this.open) if (this.pending.has(socket)) socket.end();
    }, Math.min(firstRequestGraceMs, shutdownGraceMs));
    if (this.open.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, shutdownGraceMs);
      });
      clearTimeout(timer);
    }
    clearTimeout(pendingTimer);
    for (const socket of this.open) socket.destroy();
  }
}
