// What happens to a TLS connection before HTTP is served on it, for `tls` listeners and `http` listeners with
// `tls:`. The ClientHello is peeked (nothing is written to the client before the decision); the connection is then
// decided with its SNI, and
//   - denied (no rule, or serverNames that do not cover the SNI): reset, no bytes written;
//   - allowed without `terminatingTLS` on a `tls` listener: the raw stream is spliced to the upstream;
//   - allowed with `terminatingTLS` (or on an `http` listener, with the listener's certificate): the handshake is
//     completed here and the decrypted socket is served as HTTP/1.1 or HTTP/2 by ALPN, so L7 rules apply.
// With client certificates (`tls.clientCA`) the identity is part of the decision, so the handshake comes first,
// with the listener's certificate, and the verified certificate's names select the source endpoint.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { DEFAULT_TLS_OPTIONS } from '../../config/load.js';
import type { ListenerTlsOptions } from '../../config/types.js';
import type { ConnectionDecision, TlsSecretRef, Verdict } from '../../policy/types.js';
import type { ListenerContext } from '../context.js';
import { ConnectionPolicy, decideConnection, type FlowParties } from '../connection-policy.js';
import type { HttpFront, HttpServe } from '../http/listener.js';
import { routeConnection } from '../http/upstream.js';
import { ClientHelloError, peekClientHello, type PeekedClientHello } from './client-hello.js';
import { spliceToUpstream } from './listener-passthrough.js';
import { UpstreamRoutes, type OriginTarget } from './originate.js';
import { verifiedPeerNames } from './peer-identity.js';
import { TlsTerminator } from './terminate.js';

/** Offered to clients in this order: h2 first, so gRPC and browsers multiplex. */
const ALPN = ['h2', 'http/1.1'] as const;

export function createTlsFront(ctx: ListenerContext): HttpFront {
  const { config } = ctx;
  const options: ListenerTlsOptions = config.tls ?? DEFAULT_TLS_OPTIONS;
  const certs = ctx.certs;
  if (certs === undefined) throw new Error(`listener ${config.name}: TLS needs the certificate store (config "certs")`);
  const upstream = config.upstream;
  if (upstream === undefined) throw new Error(`listener ${config.name}: needs an upstream`);
  const terminator = new TlsTerminator(certs, options.handshakeTimeoutMs);
  const routes = new UpstreamRoutes(certs, config.http);
  const clientCertificates = options.clientCertificates !== 'none';
  // `http` listeners terminate everything with their own certificate; `tls` listeners only what policy terminates.
  const listenerSecret = options.secret;
  const terminatesAlways = config.protocol === 'http';
  if (listenerSecret === undefined && (terminatesAlways || clientCertificates)) {
    throw new Error(`listener ${config.name}: tls.secret (the listener's certificate) is required ${terminatesAlways ? 'to terminate TLS on an http listener' : 'to verify client certificates'}`);
  }

  const fail = (parties: FlowParties, verdict: Verdict, info: string, socket: Socket, decision?: ConnectionDecision) => {
    recordConnection(ctx, parties, verdict, info, decision);
    if (verdict === 'DROPPED') ctx.metrics.drop(info.startsWith('TLS ClientHello') ? 'INVALID_TLS_CLIENT_HELLO' : 'POLICY_DENIED', 'TCP');
    if (!socket.destroyed) socket.resetAndDestroy();
  };

  /** Completes the handshake with `secret`; undefined (connection gone, flow recorded) when it failed. */
  const terminate = async (raw: Socket, peeked: PeekedClientHello, parties: FlowParties, secret: TlsSecretRef): Promise<TLSSocket | undefined> => {
    try {
      return await terminator.terminate(raw, peeked.buffered, {
        secret,
        ...(options.clientCA !== undefined ? { clientCA: options.clientCA } : {}),
        clientCertificates: options.clientCertificates,
        alpn: ALPN,
      });
    } catch (err) {
      fail(parties, 'ERROR', `TLS termination with secret ${secret.namespace}/${secret.name} failed: ${(err as Error).message}`, raw);
      return undefined;
    }
  };

  /** Routes a terminated connection upstream and serves HTTP on it. */
  const serveTerminated = (conn: ConnectionPolicy, decision: ConnectionDecision, raw: Socket, tlsSocket: TLSSocket, serve: HttpServe) => {
    conn.attach(tlsSocket);
    const origination = decision.originatingTLS;
    // An http listener without originatingTLS keeps its own upstream (and upstreamProtocol).
    if (config.protocol === 'tls' || origination !== undefined) {
      const target: OriginTarget = {
        host: upstream.host,
        port: upstream.port,
        http2: config.upstreamProtocol !== 'http1',
        ...(origination !== undefined ? { tls: { secret: origination, servername: conn.sni ?? upstream.host } } : {}),
      };
      let acquired;
      try {
        acquired = routes.acquire(target);
      } catch (err) {
        return fail(conn, 'ERROR', `originating TLS with secret ${origination?.namespace}/${origination?.name} is not possible: ${(err as Error).message}`, raw, decision);
      }
      routeConnection(tlsSocket, acquired.upstream);
      tlsSocket.once('close', acquired.release);
    }
    tlsSocket.on('error', () => tlsSocket.destroy());
    serve(tlsSocket, tlsSocket.alpnProtocol === 'h2' ? 'h2' : 'h1');
  };

  const accept = async (raw: Socket, serve: HttpServe): Promise<void> => {
    serve.tracker.add(raw);
    serve.tracker.markUnmanaged(raw);
    let peeked: PeekedClientHello;
    try {
      peeked = await peekClientHello(raw, { timeoutMs: options.handshakeTimeoutMs, maxBytes: options.maxClientHelloBytes });
    } catch (err) {
      const e = err as ClientHelloError;
      const parties = partiesOf(ctx, raw);
      return fail(parties, 'DROPPED', `TLS ClientHello ${e.code ?? 'error'}: ${e.message}`, raw);
    }
    const sni = peeked.hello.sni;
    const sniOption = sni === undefined ? {} : { sni };

    let conn: ConnectionPolicy | undefined;
    let tlsSocket: TLSSocket | undefined;
    if (clientCertificates) {
      tlsSocket = await terminate(raw, peeked, partiesOf(ctx, raw, sni), listenerSecret!);
      if (tlsSocket === undefined) return;
      conn = ConnectionPolicy.admit(ctx, raw, { ...sniOption, certificateNames: verifiedPeerNames(tlsSocket), clientHasSent: true });
      if (conn === undefined) return;
    } else {
      conn = ConnectionPolicy.admit(ctx, raw, { ...sniOption, clientHasSent: true });
      if (conn === undefined) return;
    }
    const decision = conn.current();
    if (decision === undefined) return;
    const secret = decision.terminatingTLS ?? (terminatesAlways ? listenerSecret : undefined);

    if (tlsSocket === undefined && secret === undefined) {
      if (decision.l7 !== 'none') {
        return fail(conn, 'ERROR', `the ${decision.l7} rules on port ${conn.destinationPort} cannot be enforced on TLS that is not terminated (the rule needs terminatingTLS)`, raw, decision);
      }
      // Spliced sockets stay unmanaged: shutdown ends them itself.
      spliceToUpstream(raw, peeked.buffered, { ...upstream, connectTimeoutMs: config.http.upstreamConnectTimeoutMs }, {
        onConnected: () => recordConnection(ctx, conn, 'FORWARDED', `TLS ${sni === undefined ? 'without SNI' : `SNI ${sni}`}: passthrough to ${upstream.host}:${upstream.port}`, decision),
        onFailed: (reason) => recordConnection(ctx, conn, 'ERROR', `TLS passthrough failed: ${reason}`, decision),
      });
      return;
    }
    tlsSocket ??= await terminate(raw, peeked, conn, secret!);
    if (tlsSocket === undefined) return;
    serve.tracker.markManaged(raw);
    serveTerminated(conn, decision, raw, tlsSocket, serve);
  };

  return {
    accept: (raw, serve) => void accept(raw, serve),
    close: () => routes.close(),
  };
}

/** Source and destination of a connection that has no decision yet (malformed hello, failed handshake). */
function partiesOf(ctx: ListenerContext, raw: Socket, sni?: string): FlowParties {
  const sourceAddress = raw.remoteAddress?.replace(/^::ffff:(?=\d+\.)/, '') ?? '';
  const { source, destination } = decideConnection(ctx.snapshot(), ctx, sourceAddress, sni === undefined ? {} : { sni });
  return { source, destination, sourceAddress, sourcePort: raw.remotePort ?? 0, destinationPort: ctx.config.port, direction: 'ingress' };
}

function recordConnection(ctx: ListenerContext, parties: FlowParties, verdict: Verdict, info: string, decision?: ConnectionDecision): void {
  ctx.flows.record({
    time: new Date(),
    verdict,
    direction: parties.direction,
    source: parties.source,
    destination: parties.destination,
    sourcePort: parties.sourcePort,
    destinationPort: parties.destinationPort,
    type: 'L3_L4',
    isReply: false,
    ...(decision !== undefined ? { decision } : {}),
    info,
    listener: ctx.config.name,
  });
  ctx.log.debug({ listener: ctx.config.name, source: parties.sourceAddress, verdict, info }, 'tls connection');
}
