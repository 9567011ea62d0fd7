// The HTTP/2 side of an `http` listener. The listener admits a connection at L3/L4, sniffs the h2c preface
// (or negotiates `h2` by ALPN) and hands the socket over with `accept`; from there every stream is decided
// on its own under the current snapshot and answered locally or relayed to the upstream.
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ListenerContext } from '../../context.js';
import { ConnectionPolicy, connectionPolicyOf } from '../../connection-policy.js';
import { h2ServerOptions } from './settings.js';
import { handleH2Stream, type H2StreamScope } from './stream.js';
import { ErrorCode } from './wire/frames.js';
import { H2ServerSession } from './wire/server.js';
import { closeUpstream, connectionUpstreamOf, createListenerUpstream, type UpstreamClient } from '../upstream.js';

export interface H2Handler {
  /** Serves HTTP/2 on an admitted socket (plain h2c, or a TLSSocket that negotiated `h2`); sniffed bytes unshifted. */
  accept(socket: Socket): void;
  /** GOAWAY to every session, waits for in-flight streams (bounded), closes the upstream it created. */
  close(): Promise<void>;
}

/** `shared`: the listener's upstream, also used by its HTTP/1.1 side (which closes it); else one is created here. */
export function createH2Handler(ctx: ListenerContext, shared?: UpstreamClient): H2Handler {
  const { config } = ctx;
  // Forward-proxy listeners have no upstream of their own: every connection is routed to its target.
  const own = shared === undefined && config.upstream !== undefined ? createListenerUpstream(config) : undefined;
  const upstream = shared ?? own;
  const options = h2ServerOptions(config.http);
  const sessions = new Map<H2ServerSession, H2StreamScope>();
  let closing = false;

  // A reload that no longer allows a connection closes it, even if it never opens another stream.
  let lastSnapshot = ctx.snapshot();
  const reloadCheck = setInterval(() => {
    const snapshot = ctx.snapshot();
    if (snapshot === lastSnapshot) return;
    lastSnapshot = snapshot;
    for (const scope of sessions.values()) scope.conn.current();
  }, ctx.timings.reloadCheckMs);
  reloadCheck.unref();

  return {
    accept(socket: Socket): void {
      if (closing) return void socket.destroy();
      const conn = connectionPolicyOf(socket) ?? ConnectionPolicy.admit(ctx, socket);
      if (conn === undefined) return;
      const routed = connectionUpstreamOf(socket)?.h2 ?? upstream;
      if (routed === undefined) return void socket.destroy();
      const scope: H2StreamScope = { ctx, conn, scheme: socket instanceof TLSSocket ? 'https' : 'http', upstream: routed };
      const session = new H2ServerSession(socket, options, (stream) => {
        try {
          handleH2Stream(scope, stream);
        } catch (err) {
          // A defect must cost this stream, not the process and every other connection.
          ctx.log.error({ err }, 'HTTP/2 stream handling failed');
          stream.reset(ErrorCode.INTERNAL_ERROR);
        }
      });
      sessions.set(session, scope);
      session.on('error', (err) => ctx.log.debug({ err }, 'HTTP/2 session error'));
      session.on('rapidReset', (resets: number) =>
        ctx.log.warn(
          { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, resets },
          'HTTP/2 client reset streams too fast (rapid reset): closing the session',
        ),
      );
      session.once('close', () => sessions.delete(session));
    },
    async close(): Promise<void> {
      closing = true;
      clearInterval(reloadCheck);
      const open = [...sessions.keys()];
      const closed = Promise.all(open.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()))));
      for (const s of open) s.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, ctx.timings.shutdownGraceMs)))]);
      clearTimeout(timer);
      for (const s of open) s.destroy();
      if (own !== undefined) await closeUpstream(own);
    },
  };
}
