// An `http` listener: one TCP socket serving HTTP/1.1 and HTTP/2 (h2c prior knowledge) in front of one
// destination endpoint. Connections are decided at L3/L4 before a byte is read; allowed ones are routed
// by their first bytes to the HTTP/1.1 server or the HTTP/2 handler.
import type { AddressInfo, Socket } from 'node:net';
import type { ListenerContext, RunningListener } from '../context.js';
import { ConnectionPolicy } from '../connection-policy.js';
import { ConnectionTracker } from '../connections.js';
import { createH2Handler } from './h2.js';
import { createHttp1Server } from './http1-server.js';
import { sniffProtocol } from './sniff.js';
import { createUpstreamPool } from './upstream.js';

/** How long shutdown waits for in-flight exchanges before destroying what is left. */
const SHUTDOWN_GRACE_MS = 10_000;

export async function startHttpListener(ctx: ListenerContext): Promise<RunningListener> {
  const { config } = ctx;
  const pool = createUpstreamPool(config);
  const tracker = new ConnectionTracker(ctx);
  const server = createHttp1Server(ctx, pool, tracker);
  const h2 = createH2Handler(ctx);

  // The HTTP server itself listens, so Node's connection tracking (header and keep-alive timeouts, idle
  // connections closed on shutdown) works; its own 'connection' handler runs only after admission and
  // sniffing, for HTTP/1.x sockets.
  const [http1Connection] = server.listeners('connection') as Array<(socket: Socket) => void>;
  if (http1Connection === undefined) throw new Error('node:http server has no connection handler');
  server.removeListener('connection', http1Connection);
  server.on('connection', (socket: Socket) => {
    // Errors before a protocol handler owns the socket (resets during sniffing) must not crash the process.
    socket.on('error', () => socket.destroy());
    if (ConnectionPolicy.admit(ctx, socket) === undefined) return;
    tracker.add(socket);
    tracker.markUnmanaged(socket);
    sniffProtocol(socket, config.http.headersTimeoutMs, (protocol) => {
      tracker.markManaged(socket);
      if (protocol === 'h2') return h2.accept(socket);
      http1Connection.call(server, socket);
      socket.resume();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => ctx.log.error({ listener: config.name, err }, 'listener error'));
  const bound = server.address() as AddressInfo;
  ctx.log.info({ listener: config.name, address: bound.address, port: bound.port }, 'http listener started');

  let closed: Promise<void> | undefined;
  return {
    name: config.name,
    address: { host: bound.address, port: bound.port },
    close: () =>
      (closed ??= (async () => {
        // Stops accepting and closes idle keep-alive connections; busy ones get `Connection: close`,
        // HTTP/2 sessions a GOAWAY.
        server.close();
        await Promise.all([tracker.shutdown(SHUTDOWN_GRACE_MS), h2.close()]);
        await pool.destroy();
      })()),
  };
}
