// A `tls` listener: TLS connections to one destination endpoint, decided with their SNI (`serverNames`), spliced
// to the upstream untouched, or terminated when policy says `terminatingTLS` and then served by the HTTP machinery
// so L7 rules apply (see listener-front.ts). It is an HTTP listener whose front is TLS.
import type { ListenerContext, RunningListener } from '../context.js';
import { startHttpListener } from '../http/listener.js';

export function startTlsListener(ctx: ListenerContext): Promise<RunningListener> {
  if (ctx.config.protocol !== 'tls') throw new Error(`listener ${ctx.config.name}: not a tls listener`);
  return startHttpListener(ctx);
}
