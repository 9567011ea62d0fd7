// The node:http server behind an HTTP listener: every HTTP/1.x request on an admitted connection is
// re-checked at L3/L4 (reloads apply to keep-alive connections), cleaned up, decided, then forwarded or
// answered locally.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerContext } from '../context.js';
import { connectionPolicyOf } from '../connection-policy.js';
import type { ConnectionTracker } from '../connections.js';
import { upstreamRequestHeaders } from './forward-headers.js';
import { ForwardedResponse, sendOverloaded } from './http1-forward.js';
import { relayHttp1ToH2 } from './http1-h2.js';
import { isRefusal, prepareRequest } from './http1-request.js';
import { handleConnect, handleUpgrade } from './http1-upgrade.js';
import { ACCESS_DENIED_REPLY, closeAfterWrite, refusedRequest, sendLocalReply, writeRawReply } from './local-reply.js';
import { HttpExchange, recordRejectedRequest } from './request-policy.js';
import { connectionUpstreamOf, type UpstreamClient } from './upstream.js';
import { MISDIRECTED_REPLY, misdirectedRequest } from '../tls/terminate-authority.js';

/** Node's requestTimeout covers receiving a whole request; long uploads are legitimate, slow headers are not. */
const REQUEST_TIMEOUT_MS = 300_000;

/**
 * Forward-proxy listeners: requests on sockets that no connection policy admitted (the proxy's own clients, whose
 * every request names its destination) and their CONNECT requests. Tunnelled connections are admitted and routed
 * like any other connection.
 */
export interface ProxyRequestHandlers {
  request(req: IncomingMessage, res: ServerResponse): void;
  connect(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

/** `pool` is the listener's upstream; undefined when every connection is routed (`routeConnection`). */
export function createHttp1Server(ctx: ListenerContext, pool: UpstreamClient | undefined, tracker: ConnectionTracker, proxy?: ProxyRequestHandlers): Server {
  const limits = ctx.config.http;
  const target = ctx.config.upstream;
  // HTTP/2 requires an authority; HTTP/1.0 requests may come without Host.
  const defaultAuthority = target === undefined ? '' : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const server = createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    insecureHTTPParser: false,
    // Checked by inspectRequestHead, so a missing Host gets the same reply, metric and flow as other refusals.
    requireHostHeader: false,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: Math.max(REQUEST_TIMEOUT_MS, limits.headersTimeoutMs),
    keepAliveTimeout: limits.idleTimeoutMs,
    // Node checks header/request timeouts on this period; the default (30 s) would make headersTimeout coarse.
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  });
  // Node drops headers past maxHeadersCount silently; one extra lets inspectRequestHead see the excess and answer 431.
  server.maxHeadersCount = limits.maxHeaderCount + 1;

  const serveRequest = (req: IncomingMessage, res: ServerResponse): void => {
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
      recordRejectedRequest(ctx, conn, req.method ?? '', req.url ?? '', req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1', prepared.status, prepared.reason);
      // After a framing error the rest of the byte stream cannot be trusted: close.
      sendLocalReply(res, refusedRequest(prepared.status, prepared.reason), true);
      return;
    }
    const encrypted = (req.socket as TLSSocket).encrypted === true;
    const misdirected = encrypted ? misdirectedRequest(req.socket, prepared.facts.host) : undefined;
    if (misdirected !== undefined) {
      recordRejectedRequest(ctx, conn, prepared.facts.method, prepared.facts.path, prepared.protocol, MISDIRECTED_REPLY.status, misdirected);
      sendLocalReply(res, MISDIRECTED_REPLY, tracker.closing);
      return;
    }
    const exchange = new HttpExchange(ctx, conn, connection, prepared.facts, prepared.protocol, encrypted ? 'https' : 'http', prepared.received);
    if (!exchange.allowed) {
      exchange.responded(ACCESS_DENIED_REPLY.status, sendLocalReply(res, ACCESS_DENIED_REPLY, tracker.closing));
      return;
    }
    const { head, facts, authority } = prepared;
    if (head.expectContinue && req.httpVersionMinor >= 1) res.writeContinue();
    const headers = upstreamRequestHeaders(exchange.headers, authority, limits.xForwardedFor, conn.sourceAddress);
    if (upstream.protocol !== 'http1') {
      const scheme = upstream.protocol === 'h2' ? 'https' : 'http';
      const to = { pool: upstream.pool, scheme, defaultAuthority, responseTimeoutMs: limits.upstreamTimeoutMs, bodyIdleMs: limits.streamIdleTimeoutMs } as const;
      relayHttp1ToH2(req, res, tracker, exchange, headers, head.hasBody, to);
      return;
    }
    const release = upstream.gate.enter();
    if (release === undefined) return sendOverloaded(res, exchange, upstream.gate.refusal, tracker);
    upstream.pool.dispatch(
      { path: facts.path, method: facts.method, headers, body: head.hasBody ? req : null },
      new ForwardedResponse(req, res, exchange, tracker, release, head.hasBody ? limits.streamIdleTimeoutMs : 0),
    );
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (res.socket === null) servePipelined(req, res, serveRequest);
    else serveRequest(req, res);
  };

  server.on('request', onRequest);
  // With a listener Node leaves `Expect: 100-continue` to us: the 100 is sent only once policy allowed it.
  server.on('checkContinue', onRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, bodyHead: Buffer) => {
    const upstream = connectionUpstreamOf(socket)?.http1 ?? pool;
    // A forward proxy's own clients: protocol switches are tunnelled with CONNECT, not forwarded.
    if (upstream === undefined) return void writeRawReply(socket, refusedRequest(501, 'Upgrade is not forwarded by this proxy; tunnel with CONNECT'));
    handleUpgrade(ctx, upstream, tracker, req, socket, bodyHead);
  });
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (proxy !== undefined && connectionPolicyOf(socket) === undefined) proxy.connect(req, socket, head);
    else handleConnect(ctx, req, socket);
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => onClientError(ctx, err, socket));
  return server;
}

/** Pipelined requests parsed but not started yet, per connection. */
const queuedRequests = new WeakMap<Socket, number>();

/**
 * Node parses pipelined requests ahead and emits them all at once, each response queued behind the one before
 * (it has no socket yet). Each is served only once its response gets the socket, i.e. after the previous
 * response is complete, so one connection never has more than one request upstream; and the socket is not read
 * while any wait, so the backlog is at most what one read brought in.
 */
function servePipelined(req: IncomingMessage, res: ServerResponse, serve: (req: IncomingMessage, res: ServerResponse) => void): void {
  const socket = req.socket;
  queuedRequests.set(socket, (queuedRequests.get(socket) ?? 0) + 1);
  socket.pause();
  res.once('socket', () => {
    const left = queuedRequests.get(socket)! - 1;
    queuedRequests.set(socket, left);
    // Unless Node itself paused the socket (its responses are not being read).
    if (left === 0 && !(socket as Socket & { _paused?: boolean })._paused) socket.resume();
    serve(req, res);
  });
}

/** Parser errors (malformed or ambiguous requests, header limits, header timeout). */
function onClientError(ctx: ListenerContext, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return;
  }
  ctx.metrics.policyL7('parse_errors', 'http');
  ctx.log.debug({ listener: ctx.config.name, code: err.code, err: err.message }, 'malformed HTTP/1.x request');
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const reason = status === 431 ? 'request headers too large' : status === 408 ? 'request timeout' : 'malformed request';
  // Node keeps the response it is writing on this socket as `_httpMessage` (what its own default
  // clientError handler consults); a second response must never be interleaved with it.
  const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (pending) {
    if (!pending.req.complete) {
      // The error is in the body of the request being answered: that exchange cannot complete.
      if (!pending.headersSent) sendLocalReply(pending, refusedRequest(status, reason), true);
      // Aborts the upstream exchange streaming this body (and the connection with it).
      pending.req.destroy();
    } else if (pending.writableFinished) {
      closeAfterWrite(socket);
    } else {
      // The error is in a later pipelined request: finish the current response, then close.
      pending.once('finish', () => closeAfterWrite(socket));
    }
    return;
  }
  writeRawReply(socket, refusedRequest(status, reason));
}
