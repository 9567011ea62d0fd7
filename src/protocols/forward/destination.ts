// The destination of a forward-proxy request or tunnel, decided per address. Every address a name resolved to is
// checked on its own (toCIDR/toCIDRSet and deny rules look at the address, toFQDNs at the names, toEndpoints at the
// endpoint an address belongs to), and the proxy connects only to an address policy allowed: a name that resolves
// into a forbidden range or onto a registered endpoint (DNS rebinding) is refused rather than followed.
import type { ConnectionDecision } from '../../policy/types.js';
import type { ListenerContext } from '../context.js';
import { decideConnection, type FlowParties, type ForwardTarget } from '../connection-policy.js';
import type { ResolvedTarget } from './resolve.js';

export interface ChosenTarget {
  readonly target: ForwardTarget;
  readonly parties: FlowParties;
  readonly decision: ConnectionDecision;
}

/**
 * The refusal of a client this listener does not serve (no policy selects it for egress and
 * `allowUnselectedClients` is off), decided before its target is resolved; undefined when it is served.
 */
export function refusedClient(ctx: ListenerContext, parties: FlowParties): ConnectionDecision | undefined {
  if (ctx.config.forward?.allowUnselectedClients === true) return undefined;
  const refusal = ctx.snapshot().refuseForwardClient?.(parties.source);
  // Audit mode forwards would-be denials: the request goes on and is decided (and recorded) per address.
  return refusal?.allowed === false ? refusal : undefined;
}

/** The first address whose connection policy allows; when none does, the denial of the first. */
export function chooseTarget(ctx: ListenerContext, client: { address: string; port: number }, resolved: ResolvedTarget, port: number, sni?: string): ChosenTarget {
  const snapshot = ctx.snapshot();
  let first: ChosenTarget | undefined;
  for (const address of resolved.addresses) {
    const target: ForwardTarget = { address, port, names: resolved.names };
    const { decision, source, destination } = decideConnection(snapshot, ctx, client.address, { target, ...(sni === undefined ? {} : { sni }) });
    const chosen: ChosenTarget = {
      target,
      decision,
      parties: { source, destination, sourceAddress: client.address, sourcePort: client.port, destinationPort: port, direction: 'egress' },
    };
    if (decision.allowed) return chosen;
    first ??= chosen;
  }
  if (first === undefined) throw new Error('a resolved target has at least one address');
  return first;
}

/** `host:port` of a CONNECT request or an absolute-form authority; undefined when it is not one. */
export function splitAuthority(authority: string, defaultPort?: number): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/.exec(authority);
  if (m === null) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined || port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}
