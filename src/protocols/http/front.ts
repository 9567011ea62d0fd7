// What a listener does with an accepted socket before HTTP is served on it: the interface between the HTTP listener
// and its fronts (cleartext here; TLS in tls-front.ts; the forward proxy's), and the cleartext one.
import type { Socket } from 'node:net';
import { ConnectionPolicy } from '../connection-policy.js';
import type { ConnectionTracker } from '../connections.js';
import type { ListenerContext } from '../context.js';

/** Serves HTTP on an admitted socket: HTTP/1.x, HTTP/2, or a cleartext socket whose first bytes tell. */
export interface HttpServe {
  (socket: Socket, protocol: 'h1' | 'h2' | 'sniff'): void;
  /** The listener's connections: fronts add sockets when they accept them. */
  readonly tracker: ConnectionTracker;
}

/** What a listener does with an accepted socket before HTTP is served on it (admission, TLS). */
export interface HttpFront {
  /** Takes ownership of a new socket; admitted ones are passed to `serve`. */
  accept(socket: Socket, serve: HttpServe): void;
  close(): Promise<void>;
}

/** Cleartext: admitted at L3/L4 before a byte is read, then sniffed. */
export function cleartextFront(ctx: ListenerContext): HttpFront {
  return {
    accept(socket, serve) {
      if (ConnectionPolicy.admit(ctx, socket) === undefined) return;
      serve.tracker.add(socket);
      serve(socket, 'sniff');
    },
    close: async () => {},
  };
}
