// The lean HTTP/2 server for the downstream hop: one session per admitted connection (h2c after the preface
// sniff, or h2 on a TLS socket that negotiated it). It validates every request header block (RFC 9113 §8.2,
// §8.3), enforces the listener's limits itself (concurrent streams, header list size and count, CONTINUATION
// floods, rapid reset, idle sessions and streams) and hands each valid request to `onStream`.
import type net from 'node:net';
import { ErrorCode, Flag, PREFACE, Setting, goawayFrame, rstStreamFrame } from './frames.js';
import {
  CONNECTION_FIELDS, H2Connection, H2Stream, INVALID_VALUE, VALID_NAME, h2Error, validateOutgoingFields,
  type Fields, type H2FloodLimits, type H2StreamHandler,
} from './connection.js';

export interface H2ServerOptions {
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: each request body's receive window. */
  initialWindowSize: number;
  connectionWindowSize: number;
  /** Advertised; a larger request header block resets its stream with ENHANCE_YOUR_CALM. */
  maxHeaderListSize: number;
  /** Regular header fields per request beyond which its stream is reset with ENHANCE_YOUR_CALM. */
  maxHeaderCount: number;
  maxConcurrentStreams: number;
  /** Streams reset by the client (or by us for its protocol errors) per second beyond which the session closes. */
  maxResetsPerSecond: number;
  /** ms without an open stream before GOAWAY(NO_ERROR). */
  idleTimeoutMs: number;
  /** ms a request's (or its trailers') header block may take to arrive, from its first octet to END_HEADERS. */
  headersTimeoutMs: number;
  /** ms without DATA or HEADERS either way before a stream is reset with CANCEL. */
  streamIdleTimeoutMs: number;
  floodLimits: H2FloodLimits;
}

/** Closed streams remembered, to tell a late frame (ignored) from one on a stream the client knows is closed. */
const RECENTLY_CLOSED = 256;
/** Idle checks run this many times per timeout: a quiet stream or session (or a slow head) is closed within 1¼ timeouts. */
const SWEEPS_PER_TIMEOUT = 4;
const PSEUDO_REQUEST = new Set([':method', ':scheme', ':authority', ':path']);
const EDGE_WHITESPACE = /^[\t ]|[\t ]$/;
const DIGITS = /^\d+$/;

/** A regular field that makes a request malformed (RFC 9113 §8.2.1, §8.2.2): stream error PROTOCOL_ERROR. */
function malformedField(name: string, value: string): boolean {
  return (
    !VALID_NAME.test(name) ||
    INVALID_VALUE.test(value) ||
    EDGE_WHITESPACE.test(value) ||
    CONNECTION_FIELDS.has(name) ||
    (name === 'te' && value !== 'trailers')
  );
}

/** Until the caller takes a stream over, its request body is read and dropped. */
class DiscardBody implements H2StreamHandler {
  constructor(private readonly stream: H2ServerStream) {}
  onData(chunk: Buffer): void {
    this.stream.consumed(chunk.length);
  }
  onTrailers(): void {}
  onEnd(): void {}
  onClose(): void {}
  onDrain(): void {}
}

export class H2ServerStream extends H2Stream {
  headersSent = false;
  /** A 100 (Continue) went out. */
  private continued = false;
  /** Request body still arriving once the response is complete is refused with RST_STREAM(NO_ERROR). */
  stopReading = false;
  /** Idle sweeps since `activity` last changed. */
  quietSweeps = 0;
  seenActivity = 0;

  constructor(
    private readonly session: H2ServerSession,
    id: number,
    readonly method: string,
    readonly scheme: string | undefined,
    readonly authority: string | undefined,
    readonly path: string | undefined,
    /** Regular header fields in arrival order, names in lower case. */
    readonly fields: Array<readonly [string, string]>,
    /** The request had no body (END_STREAM on its HEADERS). */
    readonly endAfterHeaders: boolean,
  ) {
    super(session);
    this.handler = new DiscardBody(this);
    this.sid = id;
  }

  private awaitsContinue(): boolean {
    return !this.continued && this.field('expect')?.toLowerCase() === '100-continue';
  }

  /** The value of the first regular field named `name`. */
  field(name: string): string | undefined {
    for (const [n, v] of this.fields) if (n === name) return v;
    return undefined;
  }

  /** Response headers; false if a field cannot be sent (nothing is sent then). */
  respond(status: number, fields: Fields, endStream = false): boolean {
    if (this.isClosed || this.headersSent) return false;
    try {
      validateOutgoingFields(fields);
    } catch {
      return false;
    }
    this.headersSent = true;
    this.session.respond(this, status, fields, endStream);
    return true;
  }

  /** An interim `100 (Continue)`: the client that sent `expect: 100-continue` may send its body now. */
  sendContinue(): void {
    if (this.isClosed || this.headersSent || this.remoteEnded) return;
    this.continued = true;
    this.session.informational(this, 100);
  }

  /**
   * After a complete local answer the rest of the request body is not wanted (RFC 9113 §8.1): the stream
   * is reset with NO_ERROR once the answer is out. Not when the client is still waiting for a 100: it has
   * sent no body and, told the final status, sends none (RFC 9110 §10.1.1); it ends its side itself, and
   * some clients (curl 7.88) would take the reset for an empty reply.
   */
  finishEarly(): void {
    this.handler = new DiscardBody(this);
    if (this.awaitsContinue()) return;
    this.stopReading = true;
    if (this.localEnded && !this.remoteEnded) this.reset(ErrorCode.NO_ERROR);
  }
}

export class H2ServerSession extends H2Connection<H2ServerStream> {
  /** The highest stream id the client has used. */
  private lastStreamId = 0;
  /** No new streams: our GOAWAY went out, or the client's came in. */
  private draining = false;
  private goawaySent = false;
  private finished = false;
  /** Recently closed stream ids: true when the client knows (it ended or reset its side). */
  private readonly recentlyClosed = new Map<number, boolean>();
  private resetWindowStart = 0;
  private resetsInWindow = 0;
  private readonly sweep: NodeJS.Timeout;
  private readonly streamQuietSweeps: number;
  private readonly sessionQuietSweeps: number;
  private idleSweeps = 0;

  constructor(
    socket: net.Socket,
    private readonly opts: H2ServerOptions,
    private readonly onStream: (stream: H2ServerStream) => void,
  ) {
    super(socket, opts);
    this.prefaceLeft = PREFACE.length;
    this.socketReady = true;
    this.queuePreface([[Setting.MAX_CONCURRENT_STREAMS, opts.maxConcurrentStreams]]);
    const period = Math.max(10, Math.min(opts.idleTimeoutMs, opts.streamIdleTimeoutMs, opts.headersTimeoutMs) / SWEEPS_PER_TIMEOUT);
    this.streamQuietSweeps = Math.ceil(opts.streamIdleTimeoutMs / period);
    this.sessionQuietSweeps = Math.ceil(opts.idleTimeoutMs / period);
    this.sweep = setInterval(() => this.checkIdle(), period).unref();
    socket.resume(); // handed over paused, with any sniffed octets put back
  }

  /** GOAWAY(NO_ERROR): no new streams; open ones finish, then the connection ends. */
  close(): void {
    if (this.destroyed || this.goawaySent) return;
    this.goawaySent = true;
    this.draining = true;
    this.queue(goawayFrame(this.lastStreamId, ErrorCode.NO_ERROR));
    this.finishIfIdle();
  }

  /** For H2ServerStream: a 1xx HEADERS frame, which neither ends the stream nor stands for the response. */
  informational(s: H2ServerStream, status: number): void {
    this.queueHeaders(s.sid, [[':status', String(status)]], false);
  }

  /** For H2ServerStream. */
  respond(s: H2ServerStream, status: number, fields: Fields, endStream: boolean): void {
    const all: Array<readonly [string, string]> = [[':status', String(status)]];
    for (const f of fields) all.push(f);
    this.queueHeaders(s.sid, all, endStream);
    s.activity++;
    if (endStream) {
      s.endQueued = true;
      s.localEnded = true;
      this.localEnd(s);
    }
  }

  protected override localEnd(s: H2ServerStream): void {
    if (s.remoteEnded) this.closeStream(s, ErrorCode.NO_ERROR, undefined);
    else if (s.stopReading) this.resetStream(s, ErrorCode.NO_ERROR);
  }

  protected override lastPeerStreamId(): number {
    return this.lastStreamId;
  }

  protected override checkPreface(octets: Buffer): boolean {
    const at = PREFACE.length - this.prefaceLeft;
    return octets.equals(PREFACE.subarray(at, at + octets.length));
  }

  protected isIdle(id: number): boolean {
    return (id & 1) === 0 || id > this.lastStreamId;
  }

  protected onClosedStreamData(id: number): void {
    if (this.recentlyClosed.get(id) === true) this.fail(ErrorCode.STREAM_CLOSED, `DATA on closed stream ${id}`);
  }

  protected onHeaderBlock(id: number, flags: number, block: Buffer): void {
    const raw = this.decode(block);
    if (raw === undefined) return;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const s = this.streams.get(id);
    if (s !== undefined) return this.onTrailers(s, raw, endStream);
    if ((id & 1) === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, `HEADERS on even stream ${id}`);
    if (id <= this.lastStreamId) {
      const known = this.recentlyClosed.get(id);
      if (known === undefined) return this.fail(ErrorCode.PROTOCOL_ERROR, `stream ${id} is not above the last one`);
      if (known) this.fail(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
      return; // trailers racing our reset
    }
    this.lastStreamId = id;
    // Past a GOAWAY new streams are refused (the client may retry them elsewhere).
    if (this.draining) return this.refuse(id, ErrorCode.REFUSED_STREAM, endStream);
    if (raw === null) return this.refuse(id, ErrorCode.ENHANCE_YOUR_CALM, endStream);
    if (this.streams.size >= this.opts.maxConcurrentStreams) {
      // A client that acknowledged the limit and broke it anyway is misbehaving; before that it could not know.
      if (this.settingsAcked) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_MAX_CONCURRENT_STREAMS exceeded');
      return this.refuse(id, ErrorCode.REFUSED_STREAM, endStream);
    }
    const stream = this.parseRequest(id, raw, endStream);
    if (typeof stream === 'number') return this.refuse(id, stream, endStream);
    stream.sendWindow = this.peerInitialWindow;
    stream.recvWindow = this.streamWindow;
    stream.headersReceived = true;
    stream.remoteEnded = endStream;
    this.streams.set(id, stream);
    this.idleSweeps = 0;
    this.onStream(stream);
  }

  /** The request, or the RST_STREAM code for a malformed one (RFC 9113 §8.1.1). */
  private parseRequest(id: number, raw: string[], endStream: boolean): H2ServerStream | number {
    let method: string | undefined;
    let scheme: string | undefined;
    let authority: string | undefined;
    let path: string | undefined;
    const fields: Array<readonly [string, string]> = [];
    let contentLength = -1;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const value = raw[i + 1]!;
      if (name.charCodeAt(0) === 0x3a) {
        if (fields.length > 0 || !PSEUDO_REQUEST.has(name) || INVALID_VALUE.test(value) || EDGE_WHITESPACE.test(value)) return ErrorCode.PROTOCOL_ERROR;
        if (name === ':method') {
          if (method !== undefined) return ErrorCode.PROTOCOL_ERROR;
          method = value;
        } else if (name === ':scheme') {
          if (scheme !== undefined) return ErrorCode.PROTOCOL_ERROR;
          scheme = value;
        } else if (name === ':authority') {
          if (authority !== undefined) return ErrorCode.PROTOCOL_ERROR;
          authority = value;
        } else {
          if (path !== undefined) return ErrorCode.PROTOCOL_ERROR;
          path = value;
        }
        continue;
      }
      if (malformedField(name, value)) return ErrorCode.PROTOCOL_ERROR;
      if (name === 'content-length') {
        if (!DIGITS.test(value) || (contentLength >= 0 && Number(value) !== contentLength)) return ErrorCode.PROTOCOL_ERROR;
        contentLength = Number(value);
      }
      fields.push([name, value]);
    }
    if (fields.length > this.opts.maxHeaderCount) return ErrorCode.ENHANCE_YOUR_CALM;
    if (method === undefined) return ErrorCode.PROTOCOL_ERROR;
    if (method === 'CONNECT') {
      if (authority === undefined || scheme !== undefined || path !== undefined) return ErrorCode.PROTOCOL_ERROR;
    } else if (scheme === undefined || path === undefined || path === '') {
      return ErrorCode.PROTOCOL_ERROR;
    }
    if (endStream && contentLength > 0) return ErrorCode.PROTOCOL_ERROR;
    const stream = new H2ServerStream(this, id, method, scheme, authority, path, fields, endStream);
    stream.expectedLength = contentLength;
    return stream;
  }

  private onTrailers(s: H2ServerStream, raw: string[] | null, endStream: boolean): void {
    if (s.remoteEnded) return this.streamFault(s, ErrorCode.STREAM_CLOSED);
    if (raw === null) return this.streamFault(s, ErrorCode.ENHANCE_YOUR_CALM);
    if (!endStream) return this.streamFault(s, ErrorCode.PROTOCOL_ERROR);
    // §8.1: no pseudo-header fields in trailers; the rest is held to the same rules as the header section.
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i]!.charCodeAt(0) === 0x3a || malformedField(raw[i]!, raw[i + 1]!)) return this.streamFault(s, ErrorCode.PROTOCOL_ERROR);
    }
    s.activity++;
    s.handler.onTrailers(raw);
    if (!s.isClosed) this.remoteEnd(s);
  }

  /** A stream that never opened: RST_STREAM, remembered so its late frames are ignored. */
  private refuse(id: number, code: number, endStream: boolean): void {
    if (!this.queueReply(rstStreamFrame(id, code))) return;
    this.remember(id, endStream);
    this.countFault();
  }

  private remember(id: number, clientKnows: boolean): void {
    this.recentlyClosed.set(id, clientKnows);
    if (this.recentlyClosed.size > RECENTLY_CLOSED) this.recentlyClosed.delete(this.recentlyClosed.keys().next().value!);
  }

  protected onStreamClosed(s: H2ServerStream): void {
    this.remember(s.sid, s.remoteEnded || s.resetByPeer);
    this.finishIfIdle();
  }

  protected override onPeerFault(): void {
    this.countFault();
  }

  /** Rapid reset (CVE-2023-44487) and its variants where the client makes us reset: too many in a second ends the session. */
  private countFault(): void {
    const now = Date.now();
    if (now - this.resetWindowStart >= 1000) {
      this.resetWindowStart = now;
      this.resetsInWindow = 0;
    }
    if (++this.resetsInWindow > this.opts.maxResetsPerSecond) {
      this.emit('rapidReset', this.resetsInWindow);
      this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'too many streams reset');
    }
  }

  private checkIdle(): void {
    if (this.destroyed) return;
    // A head dripped a byte at a time is not activity: its deadline runs from its first octet.
    const since = this.headerBlockSince;
    if (since !== 0 && Date.now() - since > this.opts.headersTimeoutMs) {
      return this.fail(ErrorCode.ENHANCE_YOUR_CALM, `request header block not complete within ${this.opts.headersTimeoutMs} ms`);
    }
    if (this.streams.size === 0) {
      if (++this.idleSweeps >= this.sessionQuietSweeps) this.close();
      return;
    }
    for (const s of this.streams.values()) {
      if (s.activity !== s.seenActivity) {
        s.seenActivity = s.activity;
        s.quietSweeps = 0;
      } else if (++s.quietSweeps >= this.streamQuietSweeps) {
        s.reset(ErrorCode.CANCEL);
      }
    }
  }

  /** After our GOAWAY or the client's, once no stream is left: end the connection. */
  private finishIfIdle(): void {
    if (!this.draining || this.finished || this.destroyed || this.streams.size > 0) return;
    this.finished = true;
    this.flush();
    this.socket.end(() => this.socket.destroy());
  }

  protected onPeerSettings(): void {}

  protected onGoaway(): void {
    // The client opens no more streams; the open ones finish.
    this.draining = true;
    this.finishIfIdle();
  }

  protected onSocketClose(): void {
    if (!this.destroyed) this.teardown(this.streams.size > 0 ? h2Error('ECONNRESET', 'client closed the connection') : undefined);
    this.emit('close');
  }

  protected teardown(err: Error | undefined): void {
    this.destroyed = true;
    clearInterval(this.sweep);
    const code = err ? ErrorCode.INTERNAL_ERROR : ErrorCode.CANCEL;
    for (const s of this.streams.values()) this.closeStream(s, code, err);
    if (err) process.nextTick(() => this.emit('error', err));
  }
}
