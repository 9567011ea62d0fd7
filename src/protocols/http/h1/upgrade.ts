// Requests after which the HTTP/1.x server hands the raw socket over: `Upgrade` and `CONNECT`.
//
// Only WebSocket upgrades become tunnels. Any other protocol switch (h2c above all) would open a channel
// whose later requests policy never sees, so other Upgrade requests are forwarded as plain requests
// without their upgrade headers (RFC 9110 §7.8 lets a server ignore Upgrade). CONNECT belongs to the
// forward proxy, not to a reverse-proxy listener.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerContext } from '../../context.js';
import { connectionPolicyOf } from '../../connection-policy.js';
import type { ConnectionTracker } from '../../connections.js';
import { downstreamResponseHeaders, lowerCasePairs, upstreamRequestHeaders } from '../forward-headers.js';
import { isRefusal, prepareRequest } from './prepare.js';
import type { UpstreamResponseHandler } from './exchange.js';
import type { H1Request } from './request.js';
import {
  ACCESS_DENIED_REPLY,
  CONNECT_NOT_ALLOWED,
  UPSTREAM_OVERLOADED,
  closeAfterWrite,
  formatResponseHead,
  refusedRequest,
  writeRawReply,
} from '../local-reply.js';
import { HttpExchange, recordRejectedRequest } from '../request-policy.js';
import { upstreamFailure, type UpstreamClient } from '../upstream.js';
import { MISDIRECTED_REPLY, misdirectedRequest } from '../misdirected-request.js';
import { splice, tunnelIdle, type TunnelIdle } from '../../splice.js';

/** A body on an upgrade request would be read by the upstream as the new protocol's first bytes: ambiguous. */
const UPGRADE_WITH_BODY = { status: 400, reason: 'upgrade request with a body' } as const;

export function handleUpgrade(
  ctx: ListenerContext,
  upstream: UpstreamClient,
  tracker: ConnectionTracker,
  req: H1Request,
  socket: Socket,
  bodyHead: Buffer,
): void {
  // The server removed its own socket listeners when it handed the socket over.
  socket.on('error', () => socket.destroy());
  tracker.markUnmanaged(socket);
  const conn = connectionPolicyOf(socket);
  const connection = conn?.current();
  if (conn === undefined || connection === undefined) {
    socket.destroy();
    return;
  }
  const prepared = prepareRequest(req, ctx.config.http);
  if (isRefusal(prepared) || prepared.head.hasBody) {
    const { status, reason } = isRefusal(prepared) ? prepared : UPGRADE_WITH_BODY;
    const headers = writeRawReply(socket, refusedRequest(status, reason), ctx.timings.lingerMs);
    recordRejectedRequest(ctx, conn, req.method, req.url, 'HTTP/1.1', reason, { code: status, headers });
    return;
  }
  const encrypted = (socket as TLSSocket).encrypted === true;
  const misdirected = encrypted ? misdirectedRequest(socket, prepared.facts.host) : undefined;
  if (misdirected !== undefined) {
    const headers = writeRawReply(socket, MISDIRECTED_REPLY, ctx.timings.lingerMs);
    recordRejectedRequest(ctx, conn, prepared.facts.method, prepared.facts.path, prepared.protocol, misdirected, { code: MISDIRECTED_REPLY.status, headers });
    return;
  }
  const exchange = new HttpExchange(ctx, conn, connection, prepared.facts, prepared.protocol, encrypted ? 'https' : 'http', prepared.received);
  if (!exchange.allowed) {
    exchange.denied({ code: ACCESS_DENIED_REPLY.status, headers: writeRawReply(socket, ACCESS_DENIED_REPLY, ctx.timings.lingerMs) });
    return;
  }
  if (upstream.protocol !== 'http1') {
    // A tunnel needs HTTP/1.1 upstream (WebSocket over HTTP/2, RFC 8441, is not supported), and the answer to a
    // plain request on this raw socket would need an HTTP/1.1 writer of its own.
    const reason = `Upgrade requests are not forwarded to an ${upstream.protocol} upstream`;
    exchange.failed(501, reason, writeRawReply(socket, refusedRequest(501, reason), ctx.timings.lingerMs));
    return;
  }
  const release = upstream.gate.enter();
  if (release === undefined) {
    exchange.failed(UPSTREAM_OVERLOADED.status, upstream.gate.refusal, writeRawReply(socket, UPSTREAM_OVERLOADED, ctx.timings.lingerMs));
    return;
  }
  const { head, facts, authority } = prepared;
  const websocket = head.upgrade !== undefined && head.upgrade.trim().toLowerCase() === 'websocket';
  upstream.pool.dispatch(
    {
      path: facts.path,
      method: facts.method,
      headers: upstreamRequestHeaders(exchange.headers, authority, ctx.config.http.xForwardedFor, conn.sourceAddress),
      body: null,
      ...(websocket ? { upgrade: head.upgrade } : {}),
    },
    new DetachedExchange(socket, bodyHead, exchange, release, tunnelIdle(ctx, conn, 'WebSocket tunnel', connection), ctx.timings.lingerMs),
  );
}

export function handleConnect(ctx: ListenerContext, req: H1Request, socket: Socket): void {
  socket.on('error', () => socket.destroy());
  const conn = connectionPolicyOf(socket);
  if (conn === undefined || conn.current() === undefined) {
    socket.destroy();
    return;
  }
  const headers = writeRawReply(socket, CONNECT_NOT_ALLOWED, ctx.timings.lingerMs);
  recordRejectedRequest(ctx, conn, 'CONNECT', req.url, 'HTTP/1.1', 'CONNECT on a reverse-proxy listener', { code: CONNECT_NOT_ALLOWED.status, headers });
}

/** Relays the upstream answer to an upgrade request onto the raw client socket: a tunnel, or one response then close. */
class DetachedExchange implements UpstreamResponseHandler {
  private abortUpstream: ((reason: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private headSent = false;
  private finished = false;

  constructor(
    private readonly socket: Socket,
    private readonly bodyHead: Buffer,
    private readonly exchange: HttpExchange,
    /** Frees the request's place at the upstream (a tunnel leaves the pool's connections). */
    private readonly release: () => void,
    private readonly idle: TunnelIdle,
    private readonly lingerMs: number,
  ) {
    socket.once('close', () => {
      if (!this.finished) this.abortUpstream?.(new Error('client closed the connection'));
    });
    socket.on('drain', () => this.resumeUpstream?.());
  }

  onStart(abort: (reason: Error) => void): void {
    if (this.socket.destroyed) abort(new Error('client went away'));
    else this.abortUpstream = abort;
  }

  onUpgrade(status: number, _reason: string, rawHeaders: string[], upstream: Socket, head: Buffer): void {
    this.finished = true;
    this.release();
    const headers = downstreamResponseHeaders(rawHeaders, true);
    this.socket.write(formatResponseHead(status, 'Switching Protocols', headers));
    this.exchange.responded(status, lowerCasePairs(headers));
    if (head.length > 0) this.socket.write(head);
    if (this.bodyHead.length > 0) upstream.write(this.bodyHead);
    splice(this.socket, upstream, this.idle);
  }

  onInformational(status: number, reason: string, rawHeaders: string[]): void {
    this.socket.write(formatResponseHead(status, reason, downstreamResponseHeaders(rawHeaders, false)));
  }

  onResponse(status: number, reason: string, rawHeaders: string[], resume: () => void): void {
    // No tunnel: one response, delimited by closing the connection when it has no length.
    const headers = downstreamResponseHeaders(rawHeaders, false);
    headers.push('connection', 'close');
    this.socket.write(formatResponseHead(status, reason, headers));
    this.headSent = true;
    this.resumeUpstream = resume;
    this.exchange.responded(status, lowerCasePairs(headers));
  }

  onData(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  onEnd(): void {
    this.finished = true;
    this.release();
    closeAfterWrite(this.socket, this.lingerMs);
  }

  onError(err: Error): void {
    this.finished = true;
    this.release();
    if (this.socket.destroyed) return;
    if (this.headSent) {
      this.socket.destroy();
      return;
    }
    const { reply, why } = upstreamFailure(err);
    this.exchange.failed(reply.status, why, writeRawReply(this.socket, reply, this.lingerMs));
  }
}
