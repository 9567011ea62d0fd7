// The HTTP/2 side of an `http` listener. The listener admits a connection at L3/L4, sniffs the h2c preface
// (or negotiates `h2` by ALPN) and hands the socket over with `accept`; from there every stream is decided
// on its own under the current snapshot and answered locally or relayed to the upstream.
import http2 from 'node:http2';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ListenerContext } from '../context.js';
import { ConnectionPolicy, connectionPolicyOf } from '../connection-policy.js';
import { H2SessionGuard, type SessionGuardLimits } from './h2-session-guard.js';
import { connectionWindowSize, h2ServerOptions, initialWindowSize, streamIdleTimeoutMs } from './h2-settings.js';
import { handleH2Stream, type H2StreamScope, type H2Upstream } from './h2-stream.js';
import { H2UpstreamPool } from './h2-upstream.js';
import { connectionUpstreamOf, createUpstreamPool } from './upstream.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** How often live sessions are re-decided after a policy reload (a denied one is closed). */
const RELOAD_CHECK_MS = 500;
/** How long `close` lets in-flight streams finish after GOAWAY before destroying the sessions. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface H2Handler {
  /** Serves HTTP/2 on an admitted socket (plain h2c, or a TLSSocket that negotiated `h2`); sniffed bytes unshifted. */
  accept(socket: Socket): void;
  /** GOAWAY to every session, waits for in-flight streams (bounded), closes the upstream sessions. */
  close(): Promise<void>;
}

export function createH2Handler(ctx: ListenerContext): H2Handler {
  const { config } = ctx;
  // Forward-proxy listeners have no upstream of their own: every connection is routed to its target.
  const upstream = config.upstream === undefined ? undefined : createH2Upstream(ctx);
  const guardLimits: SessionGuardLimits = {
    maxResetsPerSecond: config.http.maxResetsPerSecond,
    sessionIdleTimeoutMs: config.http.idleTimeoutMs,
    streamIdleTimeoutMs: streamIdleTimeoutMs(config.http),
  };
  const server = http2.createServer(h2ServerOptions(config.http));
  const connectionWindow = connectionWindowSize(config.http);
  const sessions = new Map<ServerHttp2Session, { readonly scope: H2StreamScope; readonly guard: H2SessionGuard }>();
  // `emit('connection')` creates the session synchronously; this carries the socket's policy state to it.
  let handoff: ConnectionPolicy | undefined;
  let closing = false;

  server.on('session', (session: ServerHttp2Session) => {
    const conn = handoff;
    const routed = conn === undefined ? undefined : (connectionUpstreamOf(conn.socket)?.h2 ?? upstream);
    if (conn === undefined || routed === undefined) return session.destroy();
    const scope: H2StreamScope = { ctx, conn, scheme: conn.socket instanceof TLSSocket ? 'https' : 'http', upstream: routed };
    sessions.set(session, { scope, guard: new H2SessionGuard(session, guardLimits, ctx.log) });
    // SETTINGS only sizes the per-stream windows; the connection window (65,535 by default) would cap every
    // upload on the session, so it grows with them.
    session.setLocalWindowSize(connectionWindow);
    session.on('error', (err) => ctx.log.debug({ listener: config.name, err }, 'HTTP/2 session error'));
    session.once('close', () => sessions.delete(session));
  });

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
    // Errors surface on every stream that is reset or torn down; the relays react on 'close'.
    stream.on('error', (err) => ctx.log.debug({ listener: config.name, err }, 'HTTP/2 stream error'));
    const entry = sessions.get(stream.session as ServerHttp2Session);
    if (entry === undefined) return stream.close(NGHTTP2_REFUSED_STREAM);
    entry.guard.track(stream);
    handleH2Stream(entry.scope, stream, headers, raw);
  });

  // A reload that no longer allows a connection closes it, even if it never opens another stream.
  let lastSnapshot = ctx.snapshot();
  const reloadCheck = setInterval(() => {
    const snapshot = ctx.snapshot();
    if (snapshot === lastSnapshot) return;
    lastSnapshot = snapshot;
    for (const { scope } of sessions.values()) scope.conn.current();
  }, RELOAD_CHECK_MS);
  reloadCheck.unref();

  return {
    accept(socket: Socket): void {
      if (closing) return void socket.destroy();
      const conn = connectionPolicyOf(socket) ?? ConnectionPolicy.admit(ctx, socket);
      if (conn === undefined) return;
      handoff = conn;
      try {
        server.emit('connection', socket);
      } finally {
        handoff = undefined;
      }
    },
    async close(): Promise<void> {
      closing = true;
      clearInterval(reloadCheck);
      const open = [...sessions.keys()];
      const closed = Promise.all(open.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())))));
      for (const s of open) {
        if (!s.destroyed) {
          s.goaway(NGHTTP2_NO_ERROR);
          s.close();
        }
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)))]);
      clearTimeout(timer);
      for (const s of open) if (!s.destroyed) s.destroy();
      await upstream?.pool.close();
    },
  };
}

function createH2Upstream(ctx: ListenerContext): H2Upstream {
  const { config } = ctx;
  if (config.upstreamProtocol === 'http1') return { protocol: 'http1', pool: createUpstreamPool(config) };
  const target = config.upstream;
  if (target === undefined) throw new Error(`listener ${config.name}: an http listener needs an upstream`);
  return {
    protocol: config.upstreamProtocol,
    pool: new H2UpstreamPool({
      host: target.host,
      port: target.port,
      // `h2`: verified TLS to the upstream with the system CAs; per-policy originatingTLS comes with the TLS work.
      ...(config.upstreamProtocol === 'h2' ? { tls: { servername: target.host } } : {}),
      connectTimeoutMs: config.http.upstreamConnectTimeoutMs,
      initialWindowSize: initialWindowSize(config.http),
      connectionWindowSize: connectionWindowSize(config.http),
    }),
  };
}
