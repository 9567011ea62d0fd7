// What happens to a TLS connection before HTTP or Kafka is served on it: on `tls` listeners, `http` and `kafka`
// listeners with `tls:`, and inside forward-proxy CONNECT tunnels. The ClientHello is peeked (nothing is written to
// the client before the decision); the connection is then decided with its SNI, and
//   - denied (no rule, or serverNames that do not cover the SNI): reset, no bytes written;
//   - allowed without `terminatingTLS` (tls listeners, tunnels): the raw stream is spliced to the upstream;
//   - allowed with `terminatingTLS` (or on an `http` or `kafka` listener, with the listener's certificate): the
//     handshake is completed here and the decrypted socket is handed to the listener, which serves it — as
//     HTTP/1.1 or HTTP/2 by ALPN (../http/tls-front.ts), or as Kafka — so L7 rules apply.
// With client certificates (`tls.clientCA`) the identity is part of the decision, so the handshake comes first,
// with the listener's certificate, and the verified certificate's names select the source endpoint.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { DEFAULT_TLS_OPTIONS } from '../../config/load.js';
import type { ListenerTlsOptions } from '../../config/types.js';
import type { ConnectionDecision, TlsSecretRef, Verdict } from '../../policy/types.js';
import type { ListenerContext } from '../context.js';
import { ConnectionPolicy, decideConnection, listenerDirection, recordConnection, unmapAddress, type FlowParties, type ForwardTarget } from '../connection-policy.js';
import { ClientHelloError, peekClientHello, type PeekedClientHello } from './client-hello.js';
import { spliceToUpstream } from './listener-passthrough.js';
import { tunnelIdle } from '../splice.js';
import { verifiedPeerNames } from './peer-identity.js';
import { TlsTerminator } from './terminate.js';

/** Offered to HTTP clients in this order: h2 first, so gRPC and browsers multiplex. Kafka has no ALPN name. */
const HTTP_ALPN = ['h2', 'http/1.1'] as const;

/** A connection policy admitted and whose TLS is terminated: `tlsSocket` wraps `raw`, and the listener serves it from here. */
export interface TerminatedConnection {
  readonly raw: Socket;
  readonly tlsSocket: TLSSocket;
  readonly conn: ConnectionPolicy;
  readonly decision: ConnectionDecision;
}

/** Where one TLS connection goes. */
export interface TlsDestination {
  /** Forward proxy: the target of the tunnel (the destination peer, instead of the listener's `to`). */
  readonly target?: ForwardTarget;
  /** Where spliced or terminated traffic is sent. */
  readonly upstream: { readonly host: string; readonly port: number };
  /** Name the upstream certificate must carry when the client sent no SNI (default: the upstream host). */
  readonly servername?: string;
}

/** Decides, splices or terminates TLS connections for one listener. */
export class TlsConnections {
  private readonly options: ListenerTlsOptions;
  private readonly terminator: TlsTerminator;
  /** `http` and `kafka` listeners terminate every connection: with the policy's secret, else their own. */
  private readonly terminatesAll: boolean;

  constructor(private readonly ctx: ListenerContext) {
    const { config } = ctx;
    this.options = config.tls ?? DEFAULT_TLS_OPTIONS;
    this.terminatesAll = config.protocol === 'http' || config.protocol === 'kafka';
    if (ctx.certs === undefined) throw new Error(`listener ${config.name}: TLS needs the certificate store (config "certs")`);
    const { secret } = this.options;
    if (secret === undefined && (this.terminatesAll || this.options.clientCertificates !== 'none')) {
      throw new Error(`listener ${config.name}: tls.secret (the listener's certificate) is required ${this.terminatesAll ? `to terminate TLS on a ${config.protocol} listener` : 'to verify client certificates'}`);
    }
    this.terminator = new TlsTerminator(ctx.certs, this.options.handshakeTimeoutMs, ctx.tlsTicketKeys);
  }

  /**
   * Takes over `raw` (tracked by the caller, its first bytes unread): peeks the ClientHello, decides, then splices,
   * terminates and hands the connection to `serve`, or resets. Never throws; every outcome but success is recorded as a flow.
   */
  async handle(raw: Socket, destination: TlsDestination, serve: (terminated: TerminatedConnection) => void): Promise<void> {
    const { ctx, options } = this;
    const target = destination.target === undefined ? {} : { target: destination.target };
    let peeked: PeekedClientHello;
    try {
      peeked = await peekClientHello(raw, { timeoutMs: options.handshakeTimeoutMs, maxBytes: options.maxClientHelloBytes });
    } catch (err) {
      const e = err as ClientHelloError;
      return this.fail(partiesOf(ctx, raw, destination), 'DROPPED', `TLS ClientHello ${e.reason ?? 'error'}: ${e.message}`, raw);
    }
    const sni = peeked.hello.sni;
    const admit = { ...target, ...(sni === undefined ? {} : { sni }), clientHasSent: true };

    let conn: ConnectionPolicy | undefined;
    let tlsSocket: TLSSocket | undefined;
    if (options.clientCertificates !== 'none') {
      // The identity is needed before policy can decide, so the listener's own certificate is presented.
      tlsSocket = await this.terminate(raw, peeked, partiesOf(ctx, raw, destination, sni), options.secret!);
      if (tlsSocket === undefined) return;
      conn = ConnectionPolicy.admit(ctx, raw, { ...admit, certificateNames: verifiedPeerNames(tlsSocket) });
    } else {
      conn = ConnectionPolicy.admit(ctx, raw, admit);
    }
    const decision = conn?.current();
    if (conn === undefined || decision === undefined) return;
    const secret = decision.terminatingTLS ?? (this.terminatesAll ? options.secret : undefined);

    if (tlsSocket === undefined && secret === undefined) {
      if (decision.l7 !== 'none') {
        return this.fail(conn, 'ERROR', `the ${decision.l7} rules on port ${conn.destinationPort} cannot be enforced on TLS that is not terminated (the rule needs terminatingTLS)`, raw, decision);
      }
      const { upstream } = destination;
      // Spliced sockets stay unmanaged: shutdown ends them itself.
      spliceToUpstream(raw, peeked.buffered, { ...upstream, connectTimeoutMs: ctx.config.http.upstreamConnectTimeoutMs }, {
        onConnected: () => recordConnection(ctx, conn, 'FORWARDED', `TLS ${sni === undefined ? 'without SNI' : `SNI ${sni}`}: passthrough to ${upstream.host}:${upstream.port}`, decision),
        onFailed: (reason) => recordConnection(ctx, conn, 'ERROR', `TLS passthrough failed: ${reason}`, decision),
      }, tunnelIdle(ctx, conn, 'TLS passthrough', decision));
      return;
    }
    tlsSocket ??= await this.terminate(raw, peeked, conn, secret!);
    if (tlsSocket === undefined) return;
    conn.attach(tlsSocket);
    tlsSocket.on('error', () => tlsSocket.destroy());
    serve({ raw, tlsSocket, conn, decision });
  }

  /** Records why `socket`'s connection ends here, and resets it. */
  fail(parties: FlowParties, verdict: Verdict, reason: string, socket: Socket, decision?: ConnectionDecision): void {
    recordConnection(this.ctx, parties, verdict, reason, decision);
    if (verdict === 'DROPPED') this.ctx.metrics.drop('INVALID_TLS_CLIENT_HELLO', 'TCP');
    if (!socket.destroyed) socket.resetAndDestroy();
  }

  /** Completes the handshake with `secret`; undefined (connection gone, flow recorded) when it failed. */
  private async terminate(raw: Socket, peeked: PeekedClientHello, parties: FlowParties, secret: TlsSecretRef): Promise<TLSSocket | undefined> {
    const { options } = this;
    try {
      return await this.terminator.terminate(raw, peeked.buffered, {
        secret,
        ...(options.clientCA !== undefined ? { clientCA: options.clientCA } : {}),
        clientCertificates: options.clientCertificates,
        alpn: this.ctx.config.protocol === 'kafka' ? [] : HTTP_ALPN,
      });
    } catch (err) {
      this.fail(parties, 'ERROR', `TLS termination with secret ${secret.namespace}/${secret.name} failed: ${(err as Error).message}`, raw);
      return undefined;
    }
  }
}

/** Source and destination of a connection that has no decision yet (malformed hello, failed handshake). */
function partiesOf(ctx: ListenerContext, raw: Socket, destination: TlsDestination, sni?: string): FlowParties {
  const sourceAddress = unmapAddress(raw.remoteAddress ?? '');
  const options = { ...(destination.target === undefined ? {} : { target: destination.target }), ...(sni === undefined ? {} : { sni }) };
  const { source, destination: peer } = decideConnection(ctx.snapshot(), ctx, sourceAddress, options);
  return {
    source,
    destination: peer,
    sourceAddress,
    sourcePort: raw.remotePort ?? 0,
    destinationPort: destination.target?.port ?? ctx.config.port,
    direction: listenerDirection(ctx),
  };
}
