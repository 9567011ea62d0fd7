// The L3/L4 verdict of one downstream connection, shared by every protocol listener.
//
// A connection is decided when it is accepted and again whenever a request arrives under a newer snapshot,
// so a reload applies to the next request of a keep-alive connection (cilium/proxy#59); when the new
// snapshot no longer allows the connection it is reset, exactly as a new one would be.
//
// TLS adds facts to the decision: the ClientHello's SNI (serverNames), and a verified client certificate whose
// names map to an endpoint (`identities`), which then is the source instead of the peer address. A forward-proxy
// connection names its own destination (the target the client asked for) instead of the listener's `to`.
import type { Socket } from 'node:net';
import type { ListenerContext } from './context.js';
import type { FlowEvent } from '../observe/types.js';
import { policyDropReason } from '../observe/drop-reason.js';
import type { ConnectionDecision, Direction, Peer, PolicySnapshot, Verdict } from '../policy/types.js';

const policies = new WeakMap<Socket, ConnectionPolicy>();

/** The policy state of an admitted connection (the HTTP/2 handler looks it up by socket). */
export function connectionPolicyOf(socket: Socket): ConnectionPolicy | undefined {
  return policies.get(socket);
}

/** Who a flow record is between, and which way: an admitted connection, or one forward-proxy request. */
export interface FlowParties {
  readonly source: Peer;
  readonly destination: Peer;
  /** Peer address of the client with any IPv4-mapped prefix removed. */
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** Ingress for listeners that front `to`; egress for forward-proxy listeners. */
  readonly direction: Direction;
}

/** A forward-proxy destination: the address connected to, its port, and the names the client reached it by. */
export interface ForwardTarget {
  readonly address: string;
  readonly port: number;
  /** Lower-case, no trailing dot; empty when the client named an IP address. */
  readonly names: readonly string[];
}

export interface AdmitOptions {
  /** Server name from the connection's TLS ClientHello. */
  readonly sni?: string;
  /** Names of a verified client certificate (URI SANs, then CN). */
  readonly certificateNames?: readonly string[];
  /** Forward proxy: where this connection goes, instead of the listener's `to` and `upstream`. */
  readonly target?: ForwardTarget;
  /** The client already sent bytes (a ClientHello was read): a denial resets at once. */
  readonly clientHasSent?: boolean;
}

/** Shared by the connections admitted without options (kept with each for re-decisions). */
const NO_OPTIONS: AdmitOptions = {};

export class ConnectionPolicy implements FlowParties {
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly direction: Direction;
  /** The TCP socket: resets go here even once requests arrive on a TLS socket wrapping it. */
  private readonly tcp: Socket;
  #socket: Socket;
  private snapshot: PolicySnapshot;
  private decision: ConnectionDecision;
  private peers: { readonly source: Peer; readonly destination: Peer };

  private constructor(
    private readonly ctx: ListenerContext,
    socket: Socket,
    sourceAddress: string,
    private readonly options: AdmitOptions,
    snapshot: PolicySnapshot,
    decided: Decided,
  ) {
    this.tcp = socket;
    this.#socket = socket;
    this.sourceAddress = sourceAddress;
    this.sourcePort = socket.remotePort ?? 0;
    this.destinationPort = options.target?.port ?? ctx.config.port;
    this.direction = listenerDirection(ctx);
    this.snapshot = snapshot;
    this.decision = decided.decision;
    this.peers = decided;
  }

  /**
   * Decides a new connection. Allowed (or AUDIT) → the admitted policy state; otherwise the denial is
   * recorded, the socket is reset before a byte is written, and undefined is returned.
   */
  static admit(ctx: ListenerContext, socket: Socket, options: AdmitOptions = NO_OPTIONS): ConnectionPolicy | undefined {
    const sourceAddress = unmapAddress(socket.remoteAddress ?? '');
    const snapshot = ctx.snapshot();
    const decided = decideConnection(snapshot, ctx, sourceAddress, options);
    const state = new ConnectionPolicy(ctx, socket, sourceAddress, options, snapshot, decided);
    if (!state.verdictAllows(options.clientHasSent ? resetNow : (s) => resetOnFirstBytes(s, ctx.timings.deniedWaitMs))) return undefined;
    policies.set(socket, state);
    return state;
  }

  /** The socket requests arrive on: the TCP socket, or the TLS socket attached to it. */
  get socket(): Socket {
    return this.#socket;
  }

  /** Requests of this connection now arrive on `socket` (the TLS socket terminating it). */
  attach(socket: Socket): void {
    this.#socket = socket;
    policies.set(socket, this);
  }

  /** The SNI this connection was decided with. */
  get sni(): string | undefined {
    return this.options.sni;
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
      const decided = decideConnection(snapshot, this.ctx, this.sourceAddress, this.options);
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
    this.ctx.metrics.drop(policyDropReason(decision), 'TCP');
    this.ctx.log.debug({ source: this.sourceAddress, reason: decision.reason }, 'connection denied');
    reset(this.tcp);
    return false;
  }

  private recordConnection(verdict: 'AUDIT' | 'DROPPED'): void {
    this.ctx.flows.record({ time: new Date(), verdict, ...flowPeers(this), type: 'L3_L4', isReply: false, decision: this.decision, listener: this.ctx.config.name });
  }
}

/** The fields of a flow record that say who it is between, and which way. */
export function flowPeers(parties: FlowParties): Pick<FlowEvent, 'direction' | 'source' | 'destination' | 'sourcePort' | 'destinationPort'> {
  const { direction, source, destination, sourcePort, destinationPort } = parties;
  return { direction, source, destination, sourcePort, destinationPort };
}

/** An L3_L4 flow record with why: a TLS passthrough or tunnel, a connection that ended before its protocol began, a lost upstream. */
export function recordConnection(ctx: ListenerContext, parties: FlowParties, verdict: Verdict, reason: string, decision?: ConnectionDecision): void {
  ctx.flows.record({ time: new Date(), verdict, ...flowPeers(parties), type: 'L3_L4', isReply: false, ...(decision !== undefined ? { decision } : {}), reason, listener: ctx.config.name });
  ctx.log.debug({ source: parties.sourceAddress, verdict, reason }, 'connection');
}

export interface Decided {
  readonly decision: ConnectionDecision;
  readonly source: Peer;
  readonly destination: Peer;
}

export function listenerDirection(ctx: ListenerContext): Direction {
  return ctx.config.protocol === 'forward' ? 'egress' : 'ingress';
}

/**
 * The destination peer of a forward-proxy target: the registered endpoint an address belongs to, else `world`
 * with the names it was reached by (so `toFQDNs` can match). Names are attached to world peers only: a name
 * that resolves to an endpoint's address (DNS rebinding into the cluster) does not become an FQDN peer.
 */
export function forwardDestination(snapshot: PolicySnapshot, target: ForwardTarget): Peer {
  const identity = snapshot.endpoints.resolveAddress(target.address);
  // Registered endpoints have a namespace; reserved identities (world, host, ...) do not.
  if (identity.namespace !== undefined) return { identity, address: target.address };
  return { identity: snapshot.endpoints.reserved('world'), address: target.address, names: target.names };
}

/** Source and destination of a connection under `snapshot`, and its L3/L4 (+SNI) decision. */
export function decideConnection(snapshot: PolicySnapshot, ctx: ListenerContext, sourceAddress: string, options: AdmitOptions = NO_OPTIONS): Decided {
  const { config } = ctx;
  const byCertificate = options.certificateNames?.length ? snapshot.endpoints.resolveCertificate(options.certificateNames) : undefined;
  const source: Peer = { identity: byCertificate ?? snapshot.endpoints.resolveAddress(sourceAddress), address: sourceAddress };
  const sni = options.sni === undefined ? {} : { sni: options.sni };
  if (options.target !== undefined) {
    const destination = forwardDestination(snapshot, options.target);
    // A forward listener is no open relay: it serves clients whose egress some policy governs, unless told otherwise.
    const forwardClients = config.forward?.allowUnselectedClients === true ? 'any' : 'selected';
    return { decision: snapshot.decideConnection({ source, destination, port: options.target.port, ...sni, forwardClients }), source, destination };
  }
  const endpoint = config.to === undefined ? undefined : snapshot.endpoints.byName(config.to);
  const upstreamHost = config.upstream?.host;
  if (endpoint === undefined) {
    // A listener whose destination is not in the registry cannot be decided: fail closed.
    const destination: Peer = { identity: snapshot.endpoints.reserved('world'), address: upstreamHost };
    return { decision: unknownDestination(config.to), source, destination };
  }
  const destination: Peer = { identity: endpoint.identity, address: upstreamHost };
  return { decision: snapshot.decideConnection({ source, destination, port: config.port, ...sni }), source, destination };
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
    httpHeaderNames: new Set(),
    decideKafka: denied,
  };
}

function resetNow(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

/**
 * Resets a denied new connection once its first bytes arrive, or after `waitMs` without any (nothing is ever
 * written to it). Resetting inside the accept races the client's own handshake, which then reports "could not
 * connect" instead of the "connection reset by peer" a policy drop should look like.
 */
function resetOnFirstBytes(socket: Socket, waitMs: number): void {
  const timer = setTimeout(resetNow, waitMs, socket);
  socket.once('data', () => {
    clearTimeout(timer);
    resetNow(socket);
  });
}

/** `::ffff:127.0.0.2` (dual-stack listeners) → `127.0.0.2`, so endpoint CIDRs match. */
export function unmapAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
