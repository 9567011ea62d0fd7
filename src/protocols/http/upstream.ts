// The pooled keep-alive client towards a listener's upstream, and what its failures mean for the client.
// undici's dispatch is used directly: it streams both bodies with backpressure, hands response headers
// over as raw bytes (original case, duplicates kept), and is the fastest option (perf-baselines.md: a
// node:http client proxy does ~20 % fewer requests/s than the same proxy on an undici Pool).
import type { Socket } from 'node:net';
import { H2CClient, Pool, type Dispatcher } from 'undici';
import type { ListenerConfig } from '../../config/types.js';
import type { H2Upstream } from './h2-stream.js';
import { UPSTREAM_CONNECT_ERROR, UPSTREAM_TIMEOUT, type LocalReply } from './local-reply.js';

export function createUpstreamPool(config: ListenerConfig): Pool {
  const upstream = config.upstream;
  if (upstream === undefined) throw new Error(`listener ${config.name}: an http listener needs an upstream`);
  const host = upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host;
  return new Pool(`http://${host}:${upstream.port}`, {
    connectTimeout: config.http.upstreamConnectTimeoutMs,
    headersTimeout: config.http.upstreamTimeoutMs,
    // Streaming responses may pause for long; idle bodies are bounded by undici's default (300 s).
    pipelining: 1,
  });
}

/**
 * The client HTTP/1.x requests are forwarded with, in the listener's `upstreamProtocol`: HTTP/1.1, h2c
 * with prior knowledge, or h2 over TLS (ALPN, verified against the system CAs). The HTTP/2 side has its own.
 */
export function createHttp1Upstream(config: ListenerConfig): Dispatcher {
  if (config.upstreamProtocol === 'http1') return createUpstreamPool(config);
  const upstream = config.upstream;
  if (upstream === undefined) throw new Error(`listener ${config.name}: an http listener needs an upstream`);
  const host = upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host;
  const timeouts = { connectTimeout: config.http.upstreamConnectTimeoutMs, headersTimeout: config.http.upstreamTimeoutMs };
  if (config.upstreamProtocol === 'h2c') return new H2CClient(`http://${host}:${upstream.port}`, timeouts);
  return new Pool(`https://${host}:${upstream.port}`, { ...timeouts, allowH2: true, connect: { servername: upstream.host } });
}

/** The local reply for a request whose upstream exchange failed before response headers, and why. */
export function upstreamFailure(err: Error): { readonly reply: LocalReply; readonly info: string } {
  const code = (err as { code?: unknown }).code;
  const info = `upstream ${typeof code === 'string' ? code + ': ' : ''}${err.message}`;
  return { reply: code === 'UND_ERR_HEADERS_TIMEOUT' ? UPSTREAM_TIMEOUT : UPSTREAM_CONNECT_ERROR, info };
}

/**
 * Where one connection's requests go when that is not the listener's own upstream: a TLS listener's terminated
 * connection (plaintext, or TLS originated with the policy's CA), a forward-proxy tunnel (its target).
 */
export interface ConnectionUpstream {
  /** HTTP/1.x requests. */
  readonly http1: Pool;
  /** HTTP/2 streams (gRPC included). */
  readonly h2: H2Upstream;
}

const connectionUpstreams = new WeakMap<Socket, ConnectionUpstream>();

/** Routes the requests of `socket` (the socket they arrive on) to `upstream` instead of the listener's. */
export function routeConnection(socket: Socket, upstream: ConnectionUpstream): void {
  connectionUpstreams.set(socket, upstream);
}

export function connectionUpstreamOf(socket: Socket): ConnectionUpstream | undefined {
  return connectionUpstreams.get(socket);
}
