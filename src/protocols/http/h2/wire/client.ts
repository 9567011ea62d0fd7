// The lean HTTP/2 client for the upstream hop: h2c over TCP, or h2 over TLS negotiated by ALPN. Requests are
// queued until the server's SETTINGS arrive and a stream slot is free; the framing and flow control are in
// connection.ts.
import net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, Flag, PREFACE, Setting, goawayFrame } from './frames.js';
import {
  CONNECTION_FIELDS, H2Connection, H2Stream, INVALID_VALUE, VALID_NAME, h2Error, validateOutgoingFields, type Fields,
  type H2StreamHandler,
} from './connection.js';

export interface H2ClientOptions {
  host: string;
  port: number;
  /** Present: TLS with ALPN h2 (the session fails if the server picks anything else). */
  tls?: tls.ConnectionOptions;
  connectTimeoutMs: number;
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window. */
  initialWindowSize: number;
  /** Our connection receive window. */
  connectionWindowSize: number;
  /** Default 64 KiB; a response header block over it resets that stream. */
  maxHeaderListSize?: number;
}

export interface H2ResponseHandler extends H2StreamHandler {
  /** Final response headers (1xx skipped). raw: [name, value, ...] as received, pseudo-headers included. */
  onResponse(status: number, raw: string[], endStream: boolean): void;
  /**
   * Exactly once, last. code: RST_STREAM code received or sent (0 for a clean close). err: the session failed
   * (socket error, connect failure or timeout, connection error), or GOAWAY excluded the stream (code
   * REFUSED_STREAM: the server did not process it, so it may be retried).
   */
  onClose(code: number, err: Error | undefined): void;
}

/** Until the server's SETTINGS arrive, assume the RFC's recommended minimum. */
const ASSUMED_MAX_STREAMS = 100;
const MAX_STREAM_ID = 2 ** 31 - 1;
const STATUS = /^[1-9]\d\d$/;

/** Response fields as RFC 9113 §8.2–8.3 allow them: `:status` first and only there (never in trailers). */
function wellFormed(raw: readonly string[], trailers: boolean): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 0x3a && (trailers || i > 0 || name !== ':status')) return false;
    if (!VALID_NAME.test(name) || INVALID_VALUE.test(raw[i + 1]!) || CONNECTION_FIELDS.has(name)) return false;
  }
  return true;
}

export class H2ClientStream extends H2Stream<H2ResponseHandler> {
  /** Kept until the stream starts. */
  headers: Fields | undefined;

  constructor(session: H2ClientSession, headers: Fields, endStream: boolean, handler: H2ResponseHandler) {
    super(session);
    this.handler = handler;
    this.headers = headers;
    this.endQueued = endStream;
  }
}

export class H2ClientSession extends H2Connection<H2ClientStream> {
  static connect(opts: H2ClientOptions): H2ClientSession {
    const socket = opts.tls
      ? tls.connect({ ...opts.tls, host: opts.host, port: opts.port, ALPNProtocols: ['h2'] })
      : net.connect({ host: opts.host, port: opts.port });
    return new H2ClientSession(socket, opts);
  }

  /** Requests waiting for the server's SETTINGS or for a free stream slot, in order. */
  private readonly waiting: H2ClientStream[] = [];
  /** No new requests: close() called, GOAWAY received, or destroyed. */
  private isClosed = false;
  private goawayReceived = false;
  private finished = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private nextId = 1;

  private constructor(
    socket: net.Socket,
    private readonly opts: H2ClientOptions,
  ) {
    super(socket, { ...opts, maxHeaderListSize: opts.maxHeaderListSize ?? 64 * 1024 });
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => this.onSocketConnect());
    this.connectTimer = setTimeout(
      () => this.destroy(h2Error('ETIMEDOUT', `upstream connect timeout after ${opts.connectTimeoutMs} ms`)),
      opts.connectTimeoutMs,
    );
    this.queue(PREFACE);
    this.queuePreface([[Setting.ENABLE_PUSH, 0]]);
  }

  /** The server's first SETTINGS arrived. */
  get connected(): boolean {
    return this.gotSettings;
  }

  /** Open streams plus requests still queued. */
  get activeStreams(): number {
    return this.streams.size + this.waiting.length;
  }

  /** Requests waiting for the server's SETTINGS or a free stream slot. */
  get queuedStreams(): number {
    return this.waiting.length;
  }

  get maxConcurrentStreams(): number {
    return this.gotSettings ? this.peerMaxStreams : ASSUMED_MAX_STREAMS;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Starts a request: headers are pseudo-headers first, then regular ones, names in lower case (the array is
   * read when the stream starts: do not change it). Throws if the session takes no new requests or a header
   * is invalid.
   */
  request(headers: Fields, endStream: boolean, handler: H2ResponseHandler): H2ClientStream {
    if (this.isClosed) throw h2Error('ERR_HTTP2_GOAWAY_SESSION', 'the HTTP/2 session is closed to new streams');
    validateOutgoingFields(headers);
    if (this.nextId + 2 * this.waiting.length > MAX_STREAM_ID) {
      this.close();
      throw h2Error('ERR_HTTP2_OUT_OF_STREAMS', 'no stream ids left on this HTTP/2 session');
    }
    const stream = new H2ClientStream(this, headers, endStream, handler);
    this.waiting.push(stream);
    this.startWaiting();
    return stream;
  }

  /** No new requests; open and queued streams finish, then GOAWAY(NO_ERROR) and the socket ends. */
  close(): void {
    if (this.destroyed) return;
    this.isClosed = true;
    this.finishIfIdle();
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.gotSettings && !this.goawayReceived && this.streams.size < this.peerMaxStreams) {
      this.start(this.waiting.shift()!);
    }
  }

  private start(s: H2ClientStream): void {
    s.sid = this.nextId;
    this.nextId += 2;
    s.sendWindow = this.peerInitialWindow;
    s.recvWindow = this.streamWindow;
    this.streams.set(s.sid, s);
    const endStream = s.endQueued && s.queued === 0;
    this.queueHeaders(s.sid, s.headers!, endStream);
    s.headers = undefined;
    if (endStream) s.localEnded = true;
    else if (s.queued > 0 || s.endQueued) this.sendData(s);
  }

  protected override closeStream(s: H2ClientStream, code: number, err: Error | undefined): void {
    if (s.isClosed) return;
    if (s.sid === 0) {
      const i = this.waiting.indexOf(s);
      if (i >= 0) this.waiting.splice(i, 1);
    }
    super.closeStream(s, code, err);
  }

  protected onStreamClosed(): void {
    this.startWaiting();
    this.finishIfIdle();
  }

  /** After close() or GOAWAY, once no stream is left: GOAWAY(NO_ERROR) and end the socket. */
  private finishIfIdle(): void {
    if (!this.isClosed || this.finished || this.destroyed || this.streams.size > 0 || this.waiting.length > 0) return;
    this.finished = true;
    if (!this.socketReady) return this.destroy();
    this.queue(goawayFrame(0, ErrorCode.NO_ERROR));
    this.flush();
    this.socket.end(() => this.socket.destroy());
  }

  private onSocketConnect(): void {
    const alpn = (this.socket as tls.TLSSocket).alpnProtocol;
    if (this.opts.tls && alpn !== 'h2') {
      this.destroy(h2Error('EPROTO', `upstream did not negotiate h2 by ALPN (got ${alpn || 'none'})`));
      return;
    }
    this.socketReady = true;
    this.flush();
  }

  protected onSocketClose(): void {
    if (!this.destroyed) {
      const open = this.streams.size + this.waiting.length > 0;
      this.teardown(open ? h2Error('ECONNRESET', 'upstream closed the connection') : undefined);
    }
    this.emit('close');
  }

  protected teardown(err: Error | undefined): void {
    this.destroyed = true;
    this.isClosed = true;
    clearTimeout(this.connectTimer);
    const code = err ? ErrorCode.INTERNAL_ERROR : ErrorCode.CANCEL;
    for (const s of this.waiting.splice(0)) this.closeStream(s, code, err);
    for (const s of this.streams.values()) this.closeStream(s, code, err);
    if (err) process.nextTick(() => this.emit('error', err));
  }

  /** A stream id we never opened: even (server-initiated) or not yet used. */
  protected isIdle(id: number): boolean {
    return (id & 1) === 0 || id >= this.nextId;
  }

  protected onClosedStreamData(): void {}

  protected onHeaderBlock(id: number, flags: number, block: Buffer): void {
    if (!this.streams.has(id) && this.isIdle(id)) return this.fail(ErrorCode.PROTOCOL_ERROR, `HEADERS on idle stream ${id}`);
    const raw = this.decode(block);
    if (raw === undefined) return;
    const s = this.streams.get(id);
    if (s === undefined) return; // a closed stream: decoded only to keep the dynamic table in step
    const endStream = (flags & Flag.END_STREAM) !== 0;
    // Too large for our MAX_HEADER_LIST_SIZE, which the server ignored.
    if (raw === null) return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
    if (s.remoteEnded) return this.resetStream(s, ErrorCode.STREAM_CLOSED);
    // §8.1.1: a malformed response (bad names or values, connection-specific fields, misplaced pseudo-headers).
    if (!wellFormed(raw, s.headersReceived)) return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
    if (s.headersReceived) {
      if (!endStream) return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
      s.handler.onTrailers(raw);
    } else {
      const status = raw[0] === ':status' && STATUS.test(raw[1]!) ? Number(raw[1]) : 0;
      if (status === 0 || (status < 200 && endStream)) return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
      if (status < 200) return; // informational
      s.headersReceived = true;
      s.handler.onResponse(status, raw, endStream);
    }
    if (endStream && !s.isClosed) this.remoteEnd(s);
  }

  protected onPeerSettings(first: boolean): void {
    if (first) {
      clearTimeout(this.connectTimer);
      this.emit('connect');
    }
    this.startWaiting();
  }

  protected onGoaway(lastStreamId: number, code: number, debug: Buffer): void {
    this.isClosed = true;
    this.goawayReceived = true;
    // Streams above lastStreamId were never processed: the caller may retry them elsewhere.
    const refused = h2Error('ERR_HTTP2_GOAWAY_SESSION', `upstream sent GOAWAY (code ${code}) before processing the stream`, ErrorCode.REFUSED_STREAM);
    for (const s of this.waiting.splice(0)) this.closeStream(s, ErrorCode.REFUSED_STREAM, refused);
    for (const s of this.streams.values()) if (s.sid > lastStreamId) this.closeStream(s, ErrorCode.REFUSED_STREAM, refused);
    this.emit('goaway', code, lastStreamId, debug);
    this.finishIfIdle();
  }
}
