// The L3/L4 verdict of one downstream connection, shared by every protocol listener.
//
// A connection is decided when it is accepted and again whenever a request arrives under a newer snapshot,
// so a reload applies to the next request of a keep-alive connection (cilium/proxy#59); when the new
// snapshot no longer allows the connection it is reset, exactly as a new one would be.
import type { Socket } from 'node:net';
import type { ListenerContext } from './context.js';
import type { ConnectionDecision, Peer, PolicySnapshot } from '../policy/types.js';

const policies = new WeakMap<Socket, ConnectionPolicy>();

/** The policy state of an admitted connection (the HTTP/2 handler looks it up by socket). */
export function connectionPolicyOf(socket: Socket): ConnectionPolicy | undefined {
  return policies.get(socket);
}

export class ConnectionPolicy {
  /** Peer address with any IPv4-mapped prefix removed. */
  readonly sourceAddress: string;
  readonly sourcePort: number;
  private snapshot: PolicySnapshot;
  private decision: ConnectionDecision;
  private peers: { readonly source: Peer; readonly destination: Peer };

  private constructor(
    private readonly ctx: ListenerContext,
    readonly socket: Socket,
    sourceAddress: string,
    snapshot: PolicySnapshot,
    decided: Decided,
  ) {
    this.sourceAddress = sourceAddress;
    this.sourcePort = socket.remotePort ?? 0;
    this.snapshot = snapshot;
    this.decision = decided.decision;
    this.peers = decided;
  }

  /**
   * Decides a new connection. Allowed (or AUDIT) → the admitted policy state; otherwise the denial is
   * recorded, the socket is reset before a byte is written, and undefined is returned.
   */
  static admit(ctx: ListenerContext, socket: Socket): ConnectionPolicy | undefined {
    const sourceAddress = unmapAddress(socket.remoteAddress ?? '');
    const snapshot = ctx.snapshot();
    const decided = decide(ctx, snapshot, sourceAddress);
    const state = new ConnectionPolicy(ctx, socket, sourceAddress, snapshot, decided);
    if (!state.verdictAllows(resetOnFirstBytes)) return undefined;
    policies.set(socket, state);
    return state;
  }

  /** Source and destination of this connection under the snapshot of the last decision. */
  get source(): Peer {
    return this.peers.source;
  }
  get destination(): Peer {
    return this.peers.destination;
  }

  /**
   * The connection decision to use for the next request: cached while the snapshot is unchanged,
   * re-decided after a reload. Undefined when the current snapshot denies the connection (it has been
   * reset and the drop recorded).
   */
  current(): ConnectionDecision | undefined {
    const snapshot = this.ctx.snapshot();
    if (snapshot !== this.snapshot) {
      const decided = decide(this.ctx, snapshot, this.sourceAddress);
      this.snapshot = snapshot;
      this.decision = decided.decision;
      this.peers = decided;
      if (!this.verdictAllows(resetNow)) return undefined;
    }
    return this.decision;
  }

  private verdictAllows(reset: (socket: Socket) => void): boolean {
    const decision = this.decision;
    if (decision.verdict === 'AUDIT') this.recordConnection('AUDIT');
    if (decision.allowed) return true;
    this.recordConnection('DROPPED');
    this.ctx.metrics.drop('POLICY_DENIED', 'TCP');
    this.ctx.log.debug({ listener: this.ctx.config.name, source: this.sourceAddress, reason: decision.reason }, 'connection denied');
    reset(this.socket);
    return false;
  }

  private recordConnection(verdict: 'AUDIT' | 'DROPPED'): void {
    this.ctx.flows.record({
      time: new Date(),
      verdict,
      direction: 'ingress',
      source: this.peers.source,
      destination: this.peers.destination,
      sourcePort: this.sourcePort,
      destinationPort: this.ctx.config.port,
      type: 'L3_L4',
      isReply: false,
      decision: this.decision,
      listener: this.ctx.config.name,
    });
  }
}

interface Decided {
  readonly decision: ConnectionDecision;
  readonly source: Peer;
  readonly destination: Peer;
}

function decide(ctx: ListenerContext, snapshot: PolicySnapshot, sourceAddress: string): Decided {
  const { config } = ctx;
  const source: Peer = { identity: snapshot.endpoints.resolveAddress(sourceAddress), address: sourceAddress };
  const endpoint = config.to === undefined ? undefined : snapshot.endpoints.byName(config.to);
  const upstreamHost = config.upstream?.host;
  if (endpoint === undefined) {
    // A listener whose destination is not in the registry cannot be decided: fail closed.
    const destination: Peer = { identity: snapshot.endpoints.reserved('world'), address: upstreamHost };
    return { decision: unknownDestination(config.to), source, destination };
  }
  const destination: Peer = { identity: endpoint.identity, address: upstreamHost };
  return { decision: snapshot.decideConnection({ source, destination, port: config.port }), source, destination };
}

function unknownDestination(name: string | undefined): ConnectionDecision {
  const denied = () => {
    throw new Error('no requests are decided on a denied connection');
  };
  return {
    allowed: false,
    verdict: 'DROPPED',
    reason: `destination endpoint ${JSON.stringify(name ?? '')} is not registered`,
    allowedBy: [],
    deniedBy: [],
    l7: 'none',
    decideHttp: denied,
    decideKafka: denied,
  };
}

function resetNow(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

/** A denied client that has not sent anything yet gets this long to do so before the reset. */
const DENIED_WAIT_MS = 1000;

/**
 * Resets a denied new connection once its first bytes arrive (nothing is ever written to it). Resetting
 * inside the accept races the client's own handshake, which then reports "could not connect" instead of
 * the "connection reset by peer" a policy drop should look like.
 */
function resetOnFirstBytes(socket: Socket): void {
  const timer = setTimeout(resetNow, DENIED_WAIT_MS, socket);
  socket.once('data', () => {
    clearTimeout(timer);
    resetNow(socket);
  });
}

/** `::ffff:127.0.0.2` (dual-stack listeners) → `127.0.0.2`, so endpoint CIDRs match. */
function unmapAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
