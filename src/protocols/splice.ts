// Two byte streams joined both ways: WebSocket tunnels, CONNECT tunnels and TLS passthrough. The proxy sees no
// requests in them, so the only bound on how long they hold two sockets is this idle timeout: no byte either
// way for `tunnelIdleTimeoutMs` (Envoy's tcp_proxy idle_timeout, 1 h by default) closes both sides.
import type { Duplex } from 'node:stream';
import { recordConnection, type FlowParties } from './connection-policy.js';
import type { ListenerContext } from './context.js';
import type { ConnectionDecision } from '../policy/types.js';

export interface TunnelIdle {
  readonly timeoutMs: number;
  /** Runs once when the timeout closed the tunnel. */
  onIdle(): void;
}

/** Joins `a` and `b`; when either side is gone, or neither moved a byte for `idle.timeoutMs`, both are torn down. */
export function splice(a: Duplex, b: Duplex, idle: TunnelIdle): void {
  const timer = setTimeout(() => {
    idle.onIdle();
    teardown();
  }, idle.timeoutMs);
  const teardown = (): void => {
    clearTimeout(timer);
    a.destroy();
    b.destroy();
  };
  const active = (): void => void timer.refresh();
  for (const s of [a, b]) {
    s.on('error', teardown);
    s.once('close', teardown);
  }
  a.pipe(b);
  b.pipe(a);
  a.on('data', active);
  b.on('data', active);
  a.resume();
}

/** The listener's tunnel idle timeout, recorded as a flow (`what` names the tunnel) when it closes one. */
export function tunnelIdle(ctx: ListenerContext, parties: FlowParties, what: string, decision?: ConnectionDecision): TunnelIdle {
  const timeoutMs = ctx.config.http.tunnelIdleTimeoutMs;
  return {
    timeoutMs,
    onIdle: () => recordConnection(ctx, parties, 'FORWARDED', `${what} closed: no traffic either way for ${timeoutMs} ms (tunnelIdleTimeoutMs)`, decision),
  };
}
