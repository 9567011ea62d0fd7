// Bookkeeping of a listener's open downstream connections, shared by every protocol listener: the connection
// gauge, and a graceful shutdown that lets in-flight exchanges finish before anything is destroyed.
import type { Socket } from 'node:net';
import type { ListenerContext } from './context.js';

export class ConnectionTracker {
  private readonly open = new Set<Socket>();
  /** Sockets no protocol server manages (still being sniffed, or WebSocket tunnels): shutdown ends them itself. */
  private readonly unmanaged = new WeakSet<Socket>();
  private drained: (() => void) | undefined;
  private closingFlag = false;

  constructor(private readonly ctx: ListenerContext) {}

  /** True once shutdown began: responses should carry `Connection: close`. */
  get closing(): boolean {
    return this.closingFlag;
  }

  add(socket: Socket): void {
    const listener = this.ctx.config.name;
    this.open.add(socket);
    this.ctx.metrics.connectionOpened(listener);
    socket.once('close', () => {
      this.open.delete(socket);
      this.ctx.metrics.connectionClosed(listener);
      if (this.open.size === 0) this.drained?.();
    });
  }

  markUnmanaged(socket: Socket): void {
    this.unmanaged.add(socket);
  }

  markManaged(socket: Socket): void {
    this.unmanaged.delete(socket);
  }

  /**
   * Ends unmanaged sockets now, waits up to `graceMs` for the other connections to close (their protocol handlers
   * close idle ones and finish in-flight exchanges), then destroys whatever is left.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.closingFlag = true;
    for (const socket of this.open) if (this.unmanaged.has(socket)) socket.end();
    if (this.open.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
    }
    for (const socket of this.open) socket.destroy();
  }
}
