// `CONNECT host:port` from HTTPS_PROXY clients. The target is resolved and decided before the tunnel opens: refused
// → `403` and the connection closes. Allowed → `200`, then the tunnel's first bytes decide the rest:
//   - a rule that needs nothing from the stream (no serverNames, no terminatingTLS, no L7) → spliced at once;
//   - otherwise the ClientHello is read: SNI checked against serverNames, then spliced, or, when the rule has
//     `terminatingTLS`, intercepted (TLS inspection): the proxy answers the handshake with the stored certificate for
//     that name, enforces the HTTP rules on the decrypted requests, and re-originates TLS to the address it decided.
import type { Socket } from 'node:net';
import { policyDropReason } from '../../observe/drop-reason.js';
import type { ConnectionDecision, Verdict } from '../../policy/types.js';
import type { ListenerContext } from '../context.js';
import { flowPeers, recordConnection, unmapAddress, type FlowParties } from '../connection-policy.js';
import type { HttpServe } from '../http/front.js';
import type { TlsHttpConnections } from '../http/tls-front.js';
import type { H1Request } from '../http/h1/request.js';
import { ACCESS_DENIED_REPLY, refusedRequest, writeRawReply } from '../http/local-reply.js';
import { recordRejectedRequest } from '../http/request-policy.js';
import { spliceToUpstream } from '../tls/listener-passthrough.js';
import { tunnelIdle } from '../splice.js';
import { unresolvedParties } from './absolute-request.js';
import { chooseTarget, refusedClient, splitAuthority, type ChosenTarget } from './destination.js';
import { ResolveError, type TargetResolver } from './resolve.js';

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

export async function handleConnect(
  ctx: ListenerContext,
  resolver: TargetResolver,
  connections: TlsHttpConnections,
  serve: HttpServe,
  req: H1Request,
  socket: Socket,
  head: Buffer,
): Promise<void> {
  socket.on('error', () => socket.destroy());
  // The HTTP server let go of the socket; shutdown must end the tunnel itself.
  serve.tracker.markUnmanaged(socket);
  const authority = req.url;
  const refuse = (status: number, reason: string) => {
    const headers = writeRawReply(socket, refusedRequest(status, reason), ctx.timings.lingerMs);
    recordRejectedRequest(ctx, unresolvedParties(ctx, req), 'CONNECT', authority, 'HTTP/1.1', reason, { code: status, headers });
  };
  const hostPort = splitAuthority(authority);
  if (hostPort === undefined) return refuse(400, 'CONNECT needs host:port');
  const early = { ...unresolvedParties(ctx, req), destinationPort: hostPort.port };
  const refusal = refusedClient(ctx, early);
  if (refusal !== undefined) return denyTunnel(ctx, socket, { parties: early, decision: refusal }, authority);
  let resolved;
  try {
    resolved = await resolver.resolve(hostPort.host);
  } catch (err) {
    const e = err as ResolveError;
    return refuse(e instanceof ResolveError ? e.status : 502, e.message);
  }
  if (socket.destroyed) return;
  const client = { address: unmapAddress(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
  const withoutSni = chooseTarget(ctx, client, resolved, hostPort.port);
  // Rules with serverNames allow nothing without an SNI; the name the client asked for is the SNI it will send.
  const name = resolved.names[0];
  const chosen = withoutSni.decision.allowed || name === undefined ? withoutSni : chooseTarget(ctx, client, resolved, hostPort.port, name);
  if (!chosen.decision.allowed) return denyTunnel(ctx, socket, chosen, authority);
  recordConnect(ctx, chosen, authority, chosen.decision.verdict);
  socket.write(ESTABLISHED);
  if (head.length > 0) socket.unshift(head);
  const { target } = chosen;
  const upstream = { host: target.address, port: target.port };
  if (needsNothingFromTheStream(withoutSni.decision)) {
    spliceToUpstream(socket, Buffer.alloc(0), { ...upstream, connectTimeoutMs: ctx.config.http.upstreamConnectTimeoutMs }, {
      onConnected: () => {},
      onFailed: (reason) => recordConnection(ctx, withoutSni.parties, 'ERROR', `tunnel to ${authority} failed: ${reason}`, withoutSni.decision),
    }, tunnelIdle(ctx, withoutSni.parties, `CONNECT tunnel to ${authority}`, withoutSni.decision));
    return;
  }
  const destination = { target, upstream, ...(name === undefined ? {} : { servername: name }) };
  await connections.handle(socket, destination, serve);
}

function needsNothingFromTheStream(decision: ConnectionDecision): boolean {
  return decision.allowed && decision.l7 === 'none' && decision.terminatingTLS === undefined;
}

/** A CONNECT policy refused: `403` before any tunnel opens. */
function denyTunnel(ctx: ListenerContext, socket: Socket, refused: Decided, authority: string): void {
  recordConnect(ctx, refused, authority, 'DROPPED', ACCESS_DENIED_REPLY.status);
  ctx.metrics.drop(policyDropReason(refused.decision), 'TCP');
  writeRawReply(socket, ACCESS_DENIED_REPLY, ctx.timings.lingerMs);
}

type Decided = Pick<ChosenTarget, 'parties' | 'decision'>;

/** The CONNECT request as an L7 record: which tunnel was asked for, what policy said, and the proxy's answer to a denial. */
function recordConnect(ctx: ListenerContext, chosen: Decided, authority: string, verdict: Verdict, localReply?: number): void {
  const parties: FlowParties = chosen.parties;
  ctx.metrics.policyL7('received', 'http');
  ctx.metrics.policyL7(chosen.decision.allowed ? 'forwarded' : 'denied', 'http');
  ctx.flows.record({
    time: new Date(),
    verdict,
    ...flowPeers(parties),
    type: 'L7',
    l7: { type: 'REQUEST', http: { method: 'CONNECT', url: authority, protocol: 'HTTP/1.1', headers: [] } },
    isReply: false,
    decision: chosen.decision,
    ...(localReply === undefined ? {} : { localReply: { code: localReply } }),
    listener: ctx.config.name,
  });
}
