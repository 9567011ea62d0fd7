// Per-session limits that nghttp2 does not enforce itself: rapid reset (CVE-2023-44487), idle sessions and
// idle streams. Concurrent streams, header list size/count and CONTINUATION floods are bounded by the
// SETTINGS and options in h2-settings.ts, which nghttp2 enforces before a stream reaches the proxy.
import http2 from 'node:http2';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import type { Logger } from 'pino';
import { resetByClient, resetStream } from './h2-reply.js';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR } = http2.constants;

export interface SessionGuardLimits {
  /** Client resets per second above which the session is closed with GOAWAY(ENHANCE_YOUR_CALM). */
  readonly maxResetsPerSecond: number;
  /** ms without an open stream before the session is closed with GOAWAY(NO_ERROR). */
  readonly sessionIdleTimeoutMs: number;
  /** ms without a frame on a stream before it is reset with CANCEL (the upstream stream follows). */
  readonly streamIdleTimeoutMs: number;
}

/** The stream sweep runs this many times per stream idle timeout. */
const SWEEPS_PER_TIMEOUT = 4;

export class H2SessionGuard {
  private openStreams = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private windowStart = 0;
  private resetsInWindow = 0;
  /**
   * Streams opened since the last sweep. Most streams (unary calls) end within milliseconds, and Node's
   * per-stream idle timer is re-armed on every frame: only a stream still open at the next sweep gets one,
   * so a silent stream is reset between one and one and a quarter timeouts after it went quiet.
   */
  private readonly fresh = new Set<ServerHttp2Stream>();
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly session: Http2Session,
    private readonly limits: SessionGuardLimits,
    private readonly log: Logger,
  ) {
    this.armIdle();
    session.once('close', () => {
      this.disarmIdle();
      clearInterval(this.sweep);
    });
  }

  /** Call for every new stream of the session, before it is handled. */
  track(stream: ServerHttp2Stream): void {
    this.openStreams++;
    this.disarmIdle();
    this.fresh.add(stream);
    this.sweep ??= setInterval(() => this.armStreamTimers(), this.limits.streamIdleTimeoutMs / SWEEPS_PER_TIMEOUT).unref();
    stream.once('close', () => {
      this.fresh.delete(stream);
      this.openStreams--;
      if (resetByClient(stream)) this.countReset();
      if (this.openStreams === 0) this.armIdle();
    });
  }

  private armStreamTimers(): void {
    const ms = this.limits.streamIdleTimeoutMs;
    for (const stream of this.fresh) stream.setTimeout(ms, () => resetStream(stream, NGHTTP2_CANCEL));
    this.fresh.clear();
  }

  private countReset(): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.resetsInWindow = 0;
    }
    if (++this.resetsInWindow <= this.limits.maxResetsPerSecond || this.session.destroyed) return;
    const socket = this.session.socket;
    this.log.warn(
      { remoteAddress: socket?.remoteAddress, remotePort: socket?.remotePort, resets: this.resetsInWindow },
      'HTTP/2 client reset streams too fast (rapid reset): closing the session',
    );
    // Sends GOAWAY(ENHANCE_YOUR_CALM), then tears down every stream and the socket.
    this.session.destroy(new Error('rapid reset: too many streams reset by the client'), NGHTTP2_ENHANCE_YOUR_CALM);
  }

  private armIdle(): void {
    if (this.session.destroyed || this.session.closed) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.openStreams === 0 && !this.session.destroyed) {
        this.session.goaway(NGHTTP2_NO_ERROR);
        this.session.close();
      }
    }, this.limits.sessionIdleTimeoutMs);
    this.idleTimer.unref();
  }

  private disarmIdle(): void {
    if (this.idleTimer === undefined) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
