// An `http` listener: one TCP socket serving HTTP/1.1 and HTTP/2 (h2c prior knowledge) in front of one
// destination endpoint. Connections are decided at L3/L4 before a byte is read; allowed ones are routed
// by their first bytes to the HTTP/1.1 server or the HTTP/2 handler. With `tls:` (and for `tls` listeners)
// a TLS front decides and terminates connections first and serves the decrypted ones (h1 or h2 by ALPN).
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { ListenerContext, RunningListener } from '../context.js';
import { ConnectionTracker } from '../connections.js';
import { createH2Handler } from './h2/handler.js';
import { createHttp1Server, type ProxyRequestHandlers } from './h1/handler.js';
import { sniffProtocol } from './sniff.js';
import { cleartextFront, type HttpFront } from './front.js';
import { closeUpstream, createListenerUpstream } from './upstream.js';

/** An error listener shared by every socket (`this`), not a closure per connection. */
function destroySocket(this: Socket): void {
  this.destroy();
}

/** How a listener other than a plain `http` one (forward proxy) plugs into the HTTP machinery. */
export interface HttpListenerParts {
  readonly front: HttpFront;
  /** Requests and CONNECTs on sockets the front served without admitting them. */
  readonly proxy?: ProxyRequestHandlers;
}

export async function startHttpListener(ctx: ListenerContext, parts?: HttpListenerParts): Promise<RunningListener> {
  const { config } = ctx;
  // The TLS machinery (ClientHello parsing, termination, splicing) is loaded only for listeners that use it.
  const tlsFront = config.tls !== undefined || config.protocol === 'tls';
  const front = parts?.front ?? (tlsFront ? (await import('./tls-front.js')).createTlsFront(ctx) : cleartextFront(ctx));
  // Forward listeners have no upstream of their own: each connection is routed to its target.
  // Both sides share it: one pool of connections (and one connection limit) per upstream.
  const upstream = config.upstream === undefined ? undefined : createListenerUpstream(config);
  const tracker = new ConnectionTracker(ctx);
  const http1 = createHttp1Server(ctx, upstream, tracker, parts?.proxy);
  const h2 = createH2Handler(ctx, upstream);
  // Half-open connections are the HTTP servers' to handle: a client that stops sending still gets its response.
  const server = createServer({ allowHalfOpen: true });
  const serveHttp1 = (socket: Socket): void => http1.serve(socket);
  const serve = Object.assign(
    (socket: Socket, protocol: 'h1' | 'h2' | 'sniff'): void => {
      if (protocol === 'h1') return serveHttp1(socket);
      if (protocol === 'h2') return h2.accept(socket);
      tracker.markPending(socket);
      sniffProtocol(socket, config.http.headersTimeoutMs, (sniffed) => {
        tracker.markManaged(socket);
        if (sniffed === 'h2') h2.accept(socket);
        else serveHttp1(socket);
      });
    },
    { tracker },
  );
  server.on('connection', (socket: Socket) => {
    if (!tracker.accept(socket)) return;
    // Errors before a protocol handler owns the socket (resets during sniffing) must not crash the process.
    socket.on('error', destroySocket);
    front.accept(socket, serve);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => ctx.log.error({ err }, 'listener error'));
  const bound = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    name: config.name,
    address: { host: bound.address, port: bound.port },
    close: () =>
      (closed ??= (async () => {
        // Stops accepting and closes idle keep-alive connections; busy ones get `Connection: close`,
        // HTTP/2 sessions a GOAWAY.
        server.close();
        http1.close();
        await Promise.all([tracker.shutdown(), h2.close()]);
        await Promise.all([upstream === undefined ? undefined : closeUpstream(upstream), front.close()]);
      })()),
  };
}
