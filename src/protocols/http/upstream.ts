// The pooled keep-alive clients towards an upstream, and what their failures mean for the client. Both are
// Portcullis' own: HTTP/1.1 (h1/client.ts) and HTTP/2 (h2/upstream.ts), the latter for HTTP/1.1 and HTTP/2
// requests alike.
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { HttpLimits, ListenerConfig } from '../../config/types.js';
import { H1UpstreamPool } from './h1/client.js';
import { UpstreamError, type H1PoolOptions } from './h1/exchange.js';
import { connectionWindowSize, initialWindowSize } from './h2/settings.js';
import { H2UpstreamPool, type H2UpstreamOptions } from './h2/upstream.js';
import { RequestGate } from './upstream-gate.js';
import { UPSTREAM_CONNECT_ERROR, UPSTREAM_TIMEOUT, type LocalReply } from './local-reply.js';

/**
 * A client towards one upstream, in the protocol requests go there with: HTTP/1.1, or HTTP/2 (h2c with prior
 * knowledge, h2 over TLS by ALPN), whichever protocol the requests arrive in.
 */
export type UpstreamClient =
  | { readonly protocol: 'http1'; readonly pool: H1UpstreamPool; readonly gate: RequestGate }
  | { readonly protocol: 'h2' | 'h2c'; readonly pool: H2UpstreamPool };

/** HTTP/1.1 pool options from a listener's limits: timeouts and the connection limit. */
export function http1PoolOptions(limits: HttpLimits): Omit<H1PoolOptions, 'host' | 'port'> {
  return {
    connectTimeoutMs: limits.upstreamConnectTimeoutMs,
    responseTimeoutMs: limits.upstreamTimeoutMs,
    maxConnections: limits.upstreamMaxConnections,
  };
}

/** An HTTP/1.1 upstream at `host`:`port`; `tls`: HTTP/1.1 over TLS with these options. */
export function http1Upstream(host: string, port: number, limits: HttpLimits, tls?: ConnectionOptions): UpstreamClient {
  const pool = new H1UpstreamPool({ ...http1PoolOptions(limits), host, port, ...(tls !== undefined ? { tls } : {}) });
  return { protocol: 'http1', pool, gate: new RequestGate(limits) };
}

/** An HTTP/2 upstream; `tls`: h2 over TLS with these options, else h2c. */
export function h2Upstream(host: string, port: number, limits: HttpLimits, tls?: H2UpstreamOptions['tls']): UpstreamClient {
  const pool = new H2UpstreamPool({
    host,
    port,
    ...(tls !== undefined ? { tls } : {}),
    connectTimeoutMs: limits.upstreamConnectTimeoutMs,
    initialWindowSize: initialWindowSize(limits),
    connectionWindowSize: connectionWindowSize(limits),
    upstreamMaxConnections: limits.upstreamMaxConnections,
    upstreamMaxPending: limits.upstreamMaxPending,
  });
  return { protocol: tls !== undefined ? 'h2' : 'h2c', pool };
}

/** The listener's own upstream, in its `upstreamProtocol` (`h2`: verified TLS with the system CAs). */
export function createListenerUpstream(config: ListenerConfig): UpstreamClient {
  const target = config.upstream;
  if (target === undefined) throw new Error(`listener ${config.name}: an http listener needs an upstream`);
  if (config.upstreamProtocol !== 'http1') {
    return h2Upstream(target.host, target.port, config.http, config.upstreamProtocol === 'h2' ? { servername: target.host } : undefined);
  }
  return http1Upstream(target.host, target.port, config.http);
}

/** Called once its users are gone: what is still in flight on an HTTP/1.1 pool is aborted, HTTP/2 streams finish. */
export async function closeUpstream(upstream: UpstreamClient): Promise<void> {
  await upstream.pool.close();
}

/** The local reply for a request whose upstream exchange failed before response headers, and why. */
export function upstreamFailure(err: Error): { readonly reply: LocalReply; readonly why: string } {
  // HTTP/2 pool errors carry a Node or HTTP/2 code of their own.
  const code = err instanceof UpstreamError ? err.detail : (err as { code?: unknown }).code;
  const why = `upstream ${typeof code === 'string' ? code + ': ' : ''}${err.message}`;
  return { reply: err instanceof UpstreamError && err.reason === 'PCL_UPSTREAM_RESPONSE_TIMEOUT' ? UPSTREAM_TIMEOUT : UPSTREAM_CONNECT_ERROR, why };
}

/**
 * Where one connection's requests go when that is not the listener's own upstream: a TLS listener's terminated
 * connection (plaintext, or TLS originated with the policy's CA), a forward-proxy tunnel (its target).
 */
export interface ConnectionUpstream {
  /** HTTP/1.x requests. */
  readonly http1: UpstreamClient;
  /** HTTP/2 streams (gRPC included). */
  readonly h2: UpstreamClient;
}

const connectionUpstreams = new WeakMap<Socket, ConnectionUpstream>();

/** Routes the requests of `socket` (the socket they arrive on) to `upstream` instead of the listener's. */
export function routeConnection(socket: Socket, upstream: ConnectionUpstream): void {
  connectionUpstreams.set(socket, upstream);
}

export function connectionUpstreamOf(socket: Socket): ConnectionUpstream | undefined {
  return connectionUpstreams.get(socket);
}
