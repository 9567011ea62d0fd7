// HTTP on TLS connections: the front of `tls` listeners (HTTP listeners whose front is TLS) and of `http` listeners
// with `tls:`, and the tunnels a forward proxy intercepts. ../tls/listener-front.ts decides, splices or terminates
// each connection; a terminated one is served here as HTTP/1.1 or HTTP/2 (by ALPN) so L7 rules apply, and routed
// upstream as its decision says (terminated-upstreams.ts).
import type { Socket } from 'node:net';
import type { ListenerContext } from '../context.js';
import { TlsConnections, type TerminatedConnection, type TlsDestination } from '../tls/listener-front.js';
import type { HttpFront, HttpServe } from './front.js';
import { UpstreamRoutes, type OriginTarget } from './terminated-upstreams.js';
import { routeConnection } from './upstream.js';

/** Decides, splices or terminates TLS connections for one listener, and serves the terminated ones as HTTP. */
export class TlsHttpConnections {
  private readonly connections: TlsConnections;
  private readonly routes: UpstreamRoutes;

  constructor(private readonly ctx: ListenerContext) {
    this.connections = new TlsConnections(ctx);
    this.routes = new UpstreamRoutes(ctx.certs, ctx.config.http);
  }

  /** Takes over `raw` (tracked by `serve`'s tracker, its first bytes unread); never throws (see TlsConnections.handle). */
  handle(raw: Socket, destination: TlsDestination, serve: HttpServe): Promise<void> {
    return this.connections.handle(raw, destination, (terminated) => this.serve(terminated, destination, serve));
  }

  close(): Promise<void> {
    return this.routes.close();
  }

  private serve({ raw, tlsSocket, conn, decision }: TerminatedConnection, destination: TlsDestination, serve: HttpServe): void {
    serve.tracker.markManaged(raw);
    const { config } = this.ctx;
    const origination = decision.originatingTLS;
    const h2 = tlsSocket.alpnProtocol === 'h2';
    // An http listener without originatingTLS keeps its own upstream (and upstreamProtocol).
    if (config.protocol !== 'http' || origination !== undefined) {
      const { upstream } = destination;
      const target: OriginTarget = {
        host: upstream.host,
        port: upstream.port,
        // A forward proxy does not know its destinations: HTTP/2 clients get HTTP/2 upstream, as they asked.
        http2: config.protocol === 'forward' ? h2 : config.upstreamProtocol !== 'http1',
        ...(origination !== undefined ? { tls: { secret: origination, servername: conn.sni ?? destination.servername ?? upstream.host } } : {}),
      };
      let acquired;
      try {
        acquired = this.routes.acquire(target);
      } catch (err) {
        return this.connections.fail(conn, 'ERROR', `originating TLS with secret ${origination?.namespace}/${origination?.name} is not possible: ${(err as Error).message}`, raw, decision);
      }
      routeConnection(tlsSocket, acquired.upstream);
      tlsSocket.once('close', acquired.release);
    }
    serve(tlsSocket, h2 ? 'h2' : 'h1');
  }
}

/** The front of `tls` listeners and `http` listeners with `tls:`: every connection is TLS to the listener's upstream. */
export function createTlsFront(ctx: ListenerContext): HttpFront {
  const upstream = ctx.config.upstream;
  if (upstream === undefined) throw new Error(`listener ${ctx.config.name}: needs an upstream`);
  const connections = new TlsHttpConnections(ctx);
  return {
    accept(raw, serve) {
      serve.tracker.add(raw);
      serve.tracker.markPending(raw);
      void connections.handle(raw, { upstream }, serve);
    },
    close: () => connections.close(),
  };
}
