// Absolute-form requests (`GET http://host/path HTTP/1.1`) from HTTP_PROXY clients. Each request names its own
// destination, so each is decided on its own: the target is resolved, every address is checked against the source's
// egress policy (and a registered destination's ingress), the HTTP rules apply to the normalised request, and an
// allowed one is sent to the very address that was decided. Denials are 403 at either level: a proxy client has
// no connection to reset that would mean anything per request.
import type { Peer } from '../../policy/types.js';
import type { ListenerContext } from '../context.js';
import { unmapAddress, type FlowParties } from '../connection-policy.js';
import type { ConnectionTracker } from '../connections.js';
import { upstreamRequestHeaders } from '../http/forward-headers.js';
import { ForwardedResponse, sendOverloaded } from '../http/h1/forward.js';
import { H1Agent } from '../http/h1/client.js';
import type { H1Request } from '../http/h1/request.js';
import type { H1Response } from '../http/h1/response.js';
import { http1PoolOptions } from '../http/upstream.js';
import { RequestGate } from '../http/upstream-gate.js';
import { httpProtocol, isRefusal, prepareRequest } from '../http/h1/prepare.js';
import { ACCESS_DENIED_REPLY, refusedRequest, sendLocalReply } from '../http/local-reply.js';
import { HttpExchange, recordRejectedRequest } from '../http/request-policy.js';
import { chooseTarget, refusedClient, splitAuthority } from './destination.js';
import { ResolveError, type TargetResolver } from './resolve.js';

export interface AbsoluteRequests {
  handle(req: H1Request, res: H1Response): void;
  close(): Promise<void>;
}

export function createAbsoluteRequests(ctx: ListenerContext, resolver: TargetResolver, tracker: ConnectionTracker): AbsoluteRequests {
  const limits = ctx.config.http;
  // One keep-alive pool per origin (`<address>:<port>`), each with the connection limit; the gate bounds each
  // origin's queue.
  const agent = new H1Agent(http1PoolOptions(limits));
  const gate = new RequestGate(limits);

  const refuse = (req: H1Request, res: H1Response, status: number, reason: string) => {
    const headers = sendLocalReply(res, refusedRequest(status, reason), status === 400);
    recordRejectedRequest(ctx, unresolvedParties(ctx, req), req.method, req.url, httpProtocol(req), reason, { code: status, headers });
  };

  const deny = (res: H1Response, exchange: HttpExchange) => {
    exchange.denied({ code: ACCESS_DENIED_REPLY.status, headers: sendLocalReply(res, ACCESS_DENIED_REPLY, tracker.closing) });
  };

  const handle = async (req: H1Request, res: H1Response): Promise<void> => {
    if (!/^http:\/\//i.test(req.url)) {
      const why = /^https:\/\//i.test(req.url) ? 'https targets go through CONNECT' : 'a forward proxy needs an absolute-form target (http://host/path)';
      return refuse(req, res, 400, why);
    }
    const prepared = prepareRequest(req, limits);
    if (isRefusal(prepared)) return refuse(req, res, prepared.status, prepared.reason);
    const authority = prepared.authority!;
    const hostPort = splitAuthority(authority, 80);
    if (hostPort === undefined) return refuse(req, res, 400, `bad authority ${JSON.stringify(authority.slice(0, 100))}`);
    const early = { ...unresolvedParties(ctx, req), destinationPort: hostPort.port };
    const refusal = refusedClient(ctx, early);
    if (refusal !== undefined) return deny(res, new HttpExchange(ctx, early, refusal, prepared.facts, prepared.protocol, 'http', prepared.received));
    let resolved;
    try {
      resolved = await resolver.resolve(hostPort.host);
    } catch (err) {
      const e = err as ResolveError;
      return refuse(req, res, e instanceof ResolveError ? e.status : 502, e.message);
    }
    if (res.destroyed) return;
    const client = { address: unmapAddress(req.socket.remoteAddress ?? ''), port: req.socket.remotePort ?? 0 };
    const { target, parties, decision } = chooseTarget(ctx, client, resolved, hostPort.port);
    // On a denied connection every request carries the connection's denial (verdict and reason).
    const exchange = new HttpExchange(ctx, parties, decision, prepared.facts, prepared.protocol, 'http', prepared.received);
    if (!exchange.allowed) return deny(res, exchange);
    const { head, facts } = prepared;
    if (head.expectContinue && req.versionMinor >= 1) res.writeContinue();
    const headers = upstreamRequestHeaders(exchange.headers, authority, limits.xForwardedFor, client.address);
    const release = gate.enter(`${target.address}|${target.port}`);
    if (release === undefined) return sendOverloaded(res, exchange, gate.refusal, tracker);
    agent.dispatch(
      target.address,
      target.port,
      { path: facts.path, method: facts.method, headers: withoutProxyCredentials(headers), body: head.hasBody ? req : null },
      new ForwardedResponse(req, res, exchange, tracker, release),
    );
  };

  return {
    handle: (req, res) => void handle(req, res),
    close: () => agent.close(),
  };
}

/** Proxy-Authorization is for this hop. */
function withoutProxyCredentials(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'proxy-authorization') out.push(headers[i]!, headers[i + 1]!);
  return out;
}

/** Parties of a request refused before it had a destination. */
export function unresolvedParties(ctx: ListenerContext, req: H1Request): FlowParties {
  const snapshot = ctx.snapshot();
  const sourceAddress = unmapAddress(req.socket.remoteAddress ?? '');
  const source: Peer = { identity: snapshot.endpoints.resolveAddress(sourceAddress), address: sourceAddress };
  return { source, destination: { identity: snapshot.endpoints.reserved('world') }, sourceAddress, sourcePort: req.socket.remotePort ?? 0, destinationPort: 0, direction: 'egress' };
}
