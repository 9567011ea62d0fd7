// A `forward` listener: the egress proxy of HTTP_PROXY / HTTPS_PROXY clients. The client is the source (its
// address, as for every listener); the destination is decided per request (absolute-form) or per tunnel (CONNECT)
// from the target name and the addresses it resolves to, under the source's egress rules. Intercepted tunnels are
// served by the same HTTP machinery as reverse-proxy listeners, routed to the address that was decided.
import { DEFAULT_FORWARD_OPTIONS } from '../../config/load.js';
import type { ListenerContext, RunningListener } from '../context.js';
import type { HttpServe } from '../http/front.js';
import { startHttpListener } from '../http/listener.js';
import { TlsHttpConnections } from '../http/tls-front.js';
import { createAbsoluteRequests, type AbsoluteRequests } from './absolute-request.js';
import { handleConnect } from './connect.js';
import { TargetResolver } from './resolve.js';

export async function startForwardListener(ctx: ListenerContext): Promise<RunningListener> {
  if (ctx.config.protocol !== 'forward') throw new Error(`listener ${ctx.config.name}: not a forward listener`);
  const options = ctx.config.forward ?? DEFAULT_FORWARD_OPTIONS;
  if (options.allowUnselectedClients)
    ctx.log.warn('forward listener relays for clients that no policy selects for egress (forward.allowUnselectedClients: true): anyone who can reach it can use it');
  const resolver = new TargetResolver(options);
  const connections = new TlsHttpConnections(ctx);
  // The HTTP machinery hands its `serve` (and tracker) to the front with every accepted socket; the proxy's own
  // handlers only ever run for sockets that were accepted, so it is set by then.
  let serve: HttpServe | undefined;
  let absolute: AbsoluteRequests | undefined;
  return startHttpListener(ctx, {
    front: {
      accept(socket, s) {
        serve = s;
        absolute ??= createAbsoluteRequests(ctx, resolver, s.tracker);
        // No admission here: a proxy connection has no destination until a request names one.
        s.tracker.add(socket);
        s(socket, 'h1');
      },
      close: async () => {
        await Promise.all([connections.close(), absolute?.close()]);
      },
    },
    proxy: {
      request: (req, res) => absolute!.handle(req, res),
      connect: (req, socket, head) => void handleConnect(ctx, resolver, connections, serve!, req, socket, head),
    },
  });
}
