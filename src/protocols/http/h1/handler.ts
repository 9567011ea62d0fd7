// The HTTP/1.x side of an HTTP listener: every request on an admitted connection is re-checked at L3/L4
// (reloads apply to keep-alive connections), cleaned up, decided, then forwarded or answered locally.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerContext } from '../../context.js';
import { connectionPolicyOf } from '../../connection-policy.js';
import type { ConnectionTracker } from '../../connections.js';
import { forwardableRequestTrailers, upstreamRequestHeaders } from '../forward-headers.js';
import { ForwardedResponse, sendOverloaded } from './forward.js';
import { relayHttp1ToH2 } from './to-h2.js';
import { httpProtocol, isRefusal, prepareRequest } from './prepare.js';
import { handleConnect, handleUpgrade } from './upgrade.js';
import { H1Server } from './server.js';
import type { H1Request } from './request.js';
import type { H1Response } from './response.js';
import { ACCESS_DENIED_REPLY, refusedRequest, sendLocalReply, writeRawReply } from '../local-reply.js';
import { HttpExchange, recordRejectedRequest } from '../request-policy.js';
import { connectionUpstreamOf, type UpstreamClient } from '../upstream.js';
import { MISDIRECTED_REPLY, misdirectedRequest } from '../misdirected-request.js';

/**
 * Forward-proxy listeners: requests on sockets that no connection policy admitted (the proxy's own clients, whose
 * every request names its destination) and their CONNECT requests. Tunnelled connections are admitted and routed
 * like any other connection.
 */
export interface ProxyRequestHandlers {
  request(req: H1Request, res: H1Response): void;
  connect(req: H1Request, socket: Socket, head: Buffer): void;
}

/** `pool` is the listener's upstream; undefined when every connection is routed (`routeConnection`). */
export function createHttp1Server(ctx: ListenerContext, pool: UpstreamClient | undefined, tracker: ConnectionTracker, proxy?: ProxyRequestHandlers): H1Server {
  const limits = ctx.config.http;
  const target = ctx.config.upstream;
  // HTTP/2 requires an authority; HTTP/1.0 requests may come without Host.
  const defaultAuthority = target === undefined ? '' : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;

  const request = (req: H1Request, res: H1Response): void => {
    const conn = connectionPolicyOf(req.socket);
    if (conn === undefined && proxy !== undefined) return proxy.request(req, res);
    const connection = conn?.current();
    const upstream = connectionUpstreamOf(req.socket)?.http1 ?? pool;
    if (conn === undefined || connection === undefined || upstream === undefined) {
      req.socket.destroy();
      return;
    }
    const prepared = prepareRequest(req, limits);
    if (isRefusal(prepared)) {
      // After a framing error the rest of the byte stream cannot be trusted: close.
      const headers = sendLocalReply(res, refusedRequest(prepared.status, prepared.reason), true);
      recordRejectedRequest(ctx, conn, req.method, req.url, httpProtocol(req), prepared.reason, { code: prepared.status, headers });
      return;
    }
    const encrypted = (req.socket as TLSSocket).encrypted === true;
    const misdirected = encrypted ? misdirectedRequest(req.socket, prepared.facts.host) : undefined;
    if (misdirected !== undefined) {
      const headers = sendLocalReply(res, MISDIRECTED_REPLY, tracker.closing);
      recordRejectedRequest(ctx, conn, prepared.facts.method, prepared.facts.path, prepared.protocol, misdirected, { code: MISDIRECTED_REPLY.status, headers });
      return;
    }
    const exchange = new HttpExchange(ctx, conn, connection, prepared.facts, prepared.protocol, encrypted ? 'https' : 'http', prepared.received);
    if (!exchange.allowed) {
      exchange.denied({ code: ACCESS_DENIED_REPLY.status, headers: sendLocalReply(res, ACCESS_DENIED_REPLY, tracker.closing) });
      return;
    }
    const { head, facts, authority } = prepared;
    if (head.expectContinue && req.versionMinor >= 1) res.writeContinue();
    const headers = upstreamRequestHeaders(exchange.headers, authority, limits.xForwardedFor, conn.sourceAddress);
    if (upstream.protocol !== 'http1') {
      const scheme = upstream.protocol === 'h2' ? 'https' : 'http';
      const to = { pool: upstream.pool, scheme, defaultAuthority, responseTimeoutMs: limits.upstreamTimeoutMs, policyHeaderNames: connection.httpHeaderNames } as const;
      relayHttp1ToH2(req, res, tracker, exchange, headers, to);
      return;
    }
    const release = upstream.gate.enter();
    if (release === undefined) return sendOverloaded(res, exchange, upstream.gate.refusal, tracker);
    const policyNames = connection.httpHeaderNames;
    upstream.pool.dispatch(
      {
        path: facts.path,
        method: facts.method,
        headers,
        body: head.hasBody ? req : null,
        forwardTrailers: (trailers) => forwardableRequestTrailers(trailers, policyNames),
      },
      new ForwardedResponse(req, res, exchange, tracker, release),
    );
  };

  return new H1Server(limits, ctx.timings, {
    request,
    upgrade(req, socket, head) {
      if (req.method === 'CONNECT') {
        if (proxy !== undefined && connectionPolicyOf(socket) === undefined) proxy.connect(req, socket, head);
        else handleConnect(ctx, req, socket);
        return;
      }
      const upstream = connectionUpstreamOf(socket)?.http1 ?? pool;
      // A forward proxy's own clients: protocol switches are tunnelled with CONNECT, not forwarded.
      if (upstream === undefined) return void writeRawReply(socket, refusedRequest(501, 'Upgrade is not forwarded by this proxy; tunnel with CONNECT'), ctx.timings.lingerMs);
      handleUpgrade(ctx, upstream, tracker, req, socket, head);
    },
    malformed(socket, status, reason) {
      ctx.metrics.policyL7('parse_errors', 'http');
      ctx.log.debug({ status, reason, source: socket.remoteAddress }, 'malformed HTTP/1.x request');
    },
  });
}
