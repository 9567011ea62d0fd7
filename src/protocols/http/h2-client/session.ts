// A lean HTTP/2 client session for the upstream hop: h2c over TCP, or h2 over TLS negotiated by ALPN.
// Node's ClientHttp2Session spends more CPU per request on its stream objects, async-resource bindings and
// events than on HTTP/2 itself. Here a request is one plain object driven by callbacks, frames are parsed
// straight out of the socket's chunks, and every frame queued during an event-loop turn goes out in one socket write.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import {
  DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, Flag, FRAME_HEADER_LENGTH, FrameType, MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE, PREFACE, SETTINGS_ACK, Setting, frame, goawayFrame, pingAckFrame, rstStreamFrame, settingsFrame,
  windowUpdateFrame, writeFrameHeader,
} from './frames.js';
import { HpackDecoder, encodeHeaderBlock, headerBlockLength, writeHeaderBlock } from './hpack.js';

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

export interface H2ResponseHandler {
  /** Final response headers (1xx skipped). raw: [name, value, ...] as received, pseudo-headers included. */
  onResponse(status: number, raw: string[], endStream: boolean): void;
  /** A DATA payload, padding removed. Its receive-window credit returns only through stream.consumed(n). */
  onData(chunk: Buffer): void;
  /** Trailing HEADERS (with END_STREAM). */
  onTrailers(raw: string[]): void;
  /** END_STREAM received, after any data and trailers. */
  onEnd(): void;
  /**
   * Exactly once, last. code: RST_STREAM code received or sent (0 for a clean close). err: the session failed
   * (socket error, connect failure or timeout, connection error), or GOAWAY excluded the stream (code
   * REFUSED_STREAM: the server did not process it, so it may be retried).
   */
  onClose(code: number, err: Error | undefined): void;
  /** The send queue drained after write() returned false. */
  onDrain(): void;
}

/** Until the server's SETTINGS arrive, assume the RFC's recommended minimum. */
const ASSUMED_MAX_STREAMS = 100;
/** write() returns false beyond this many queued bytes. */
const HIGH_WATER_MARK = 64 * 1024;
/** Queued frames up to this size are concatenated into one buffer; beyond, they are written corked. */
const COALESCE_LIMIT = 64 * 1024;
const OUR_HEADER_TABLE_SIZE = 4096;
const MAX_STREAM_ID = 2 ** 31 - 1;
const EMPTY = Buffer.alloc(0);

/** RFC 9113 §8.2: lower-case tokens; §8.2.2: no connection-specific fields. */
const VALID_NAME = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const INVALID_VALUE = /[\0\r\n\u0100-\uffff]/;
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const STATUS = /^[1-9]\d\d$/;

function h2Error(code: string, message: string, errorCode?: number): Error & { code: string; errorCode?: number } {
  return Object.assign(new Error(message), errorCode === undefined ? { code } : { code, errorCode });
}

function invalidHeader(message: string): Error {
  return h2Error('ERR_HTTP2_INVALID_HEADER', message);
}

function validateRequestHeaders(headers: ReadonlyArray<readonly [string, string]>): void {
  let regular = false;
  for (const [name, value] of headers) {
    if (!VALID_NAME.test(name)) throw invalidHeader(`invalid header name ${JSON.stringify(name)}`);
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) throw invalidHeader(`pseudo-header ${name} after a regular header`);
    } else {
      regular = true;
      if (CONNECTION_FIELDS.has(name) || (name === 'te' && value !== 'trailers')) throw invalidHeader(`connection-specific header ${name}`);
    }
    if (INVALID_VALUE.test(value)) throw invalidHeader(`invalid value for header ${name}`);
  }
}

export class H2ClientStream {
  // State driven by the session; callers use the getters and methods.
  sid = 0;
  isClosed = false;
  /** Kept until the stream starts. */
  headers: ReadonlyArray<readonly [string, string]> | undefined;
  sendQueue: Buffer[] = [];
  queued = 0;
  sendWindow = 0;
  recvWindow = 0;
  /** Credit consumed by the caller and not yet sent in a WINDOW_UPDATE. */
  owed = 0;
  /** Delivered by onData, not yet consumed: returned to the connection window when the stream closes. */
  unconsumed = 0;
  /** end() called, or the request has no body. */
  endQueued: boolean;
  /** END_STREAM sent / received. */
  localEnded = false;
  remoteEnded = false;
  responded = false;
  needDrain = false;

  constructor(
    private readonly session: H2ClientSession,
    headers: ReadonlyArray<readonly [string, string]>,
    endStream: boolean,
    readonly handler: H2ResponseHandler,
  ) {
    this.headers = headers;
    this.endQueued = endStream;
  }

  /** 0 while queued behind MAX_CONCURRENT_STREAMS or the server's SETTINGS. */
  get id(): number {
    return this.sid;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Queues DATA; false once more than 64 KiB waits for the send windows (onDrain follows). */
  write(chunk: Buffer): boolean {
    if (this.isClosed || this.endQueued) return false;
    if (chunk.length > 0) {
      this.sendQueue.push(chunk);
      this.queued += chunk.length;
      if (this.sid !== 0) this.session.sendData(this);
    }
    if (this.queued <= HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  /** END_STREAM after the queued data (and `chunk`, which then shares the last DATA frame). */
  end(chunk?: Buffer): void {
    if (this.isClosed || this.endQueued) return;
    if (chunk !== undefined && chunk.length > 0) {
      this.sendQueue.push(chunk);
      this.queued += chunk.length;
    }
    this.endQueued = true;
    if (this.sid !== 0) this.session.sendData(this);
  }

  /** RST_STREAM (if the stream started), then onClose(code, undefined). */
  reset(code: number): void {
    this.session.resetStream(this, code);
  }

  /** Returns receive-window credit for data the caller is done with. */
  consumed(bytes: number): void {
    this.session.consume(this, bytes);
  }
}

export class H2ClientSession extends EventEmitter {
  static connect(opts: H2ClientOptions): H2ClientSession {
    return new H2ClientSession(opts);
  }

  private readonly socket: net.Socket;
  private readonly decoder: HpackDecoder;
  private readonly maxHeaderListSize: number;
  private readonly streamWindow: number;
  private readonly connectionWindow: number;
  private readonly streams = new Map<number, H2ClientStream>();
  /** Requests waiting for the server's SETTINGS or for a free stream slot, in order. */
  private readonly waiting: H2ClientStream[] = [];
  /** Streams with DATA held back by a send window or a full socket. */
  private readonly blocked = new Set<H2ClientStream>();
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private readonly flushNow = () => this.flush();
  private socketReady = false;
  private socketFull = false;
  /** The start of a frame that has not fully arrived. */
  private partial: Buffer | undefined;
  private gotSettings = false;
  /** No new requests: close() called, GOAWAY received, or destroyed. */
  private isClosed = false;
  private goawayReceived = false;
  private destroyed = false;
  private finished = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private peerMaxStreams = Infinity;
  private peerInitialWindow = DEFAULT_WINDOW_SIZE;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW_SIZE;
  private recvWindow: number;
  private recvOwed = 0;
  /** The server changed SETTINGS_HEADER_TABLE_SIZE: our next header block starts with a table size update. */
  private tableSizeUpdate = false;
  /** A header block continued in CONTINUATION frames: its stream (0 = none), HEADERS flags and fragments. */
  private headerStream = 0;
  private headerFlags = 0;
  private headerFragments: Buffer[] = [];
  private headerBytes = 0;

  private constructor(private readonly opts: H2ClientOptions) {
    super();
    this.maxHeaderListSize = opts.maxHeaderListSize ?? 64 * 1024;
    this.decoder = new HpackDecoder(OUR_HEADER_TABLE_SIZE, this.maxHeaderListSize);
    this.streamWindow = opts.initialWindowSize;
    // The connection window starts at 65535 and can only grow.
    this.connectionWindow = Math.max(DEFAULT_WINDOW_SIZE, opts.connectionWindowSize);
    this.recvWindow = this.connectionWindow;
    this.socket = opts.tls
      ? tls.connect({ ...opts.tls, host: opts.host, port: opts.port, ALPNProtocols: ['h2'] })
      : net.connect({ host: opts.host, port: opts.port });
    this.socket.setNoDelay(true);
    this.socket.once(opts.tls ? 'secureConnect' : 'connect', () => this.onSocketConnect());
    this.socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    this.socket.on('drain', () => {
      this.socketFull = false;
      this.pump();
    });
    this.socket.on('error', (err) => this.destroy(err));
    this.socket.on('close', () => this.onSocketClose());
    this.connectTimer = setTimeout(
      () => this.destroy(h2Error('ETIMEDOUT', `upstream connect timeout after ${opts.connectTimeoutMs} ms`)),
      opts.connectTimeoutMs,
    );
    this.queue(PREFACE);
    this.queue(settingsFrame([
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, this.streamWindow],
      [Setting.MAX_HEADER_LIST_SIZE, this.maxHeaderListSize],
    ]));
    if (this.connectionWindow > DEFAULT_WINDOW_SIZE) this.queue(windowUpdateFrame(0, this.connectionWindow - DEFAULT_WINDOW_SIZE));
  }

  /** The server's first SETTINGS arrived. */
  get connected(): boolean {
    return this.gotSettings;
  }

  /** Open streams plus requests still queued. */
  get activeStreams(): number {
    return this.streams.size + this.waiting.length;
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
  request(headers: ReadonlyArray<readonly [string, string]>, endStream: boolean, handler: H2ResponseHandler): H2ClientStream {
    if (this.isClosed) throw h2Error('ERR_HTTP2_GOAWAY_SESSION', 'the HTTP/2 session is closed to new streams');
    validateRequestHeaders(headers);
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

  /** Immediate: open streams get onClose(CANCEL, undefined), or onClose(INTERNAL_ERROR, err) with an error. */
  destroy(err?: Error): void {
    if (this.destroyed) return;
    this.teardown(err);
    this.socket.destroy();
  }

  // ---- Sending ----

  private queue(buf: Buffer): void {
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After this turn's I/O callbacks, not after this callback: Node hands each downstream stream over in a
      // callback of its own, and a write per stream costs more than the frames in it.
      setImmediate(this.flushNow);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.socketReady) return; // the socket's connect handler flushes
    const out = this.out;
    if (out.length > 0 && this.socket.writable) {
      let ok = true;
      if (out.length === 1) {
        ok = this.socket.write(out[0]!);
      } else if (this.outBytes <= COALESCE_LIMIT) {
        ok = this.socket.write(Buffer.concat(out, this.outBytes));
      } else {
        this.socket.cork();
        for (const buf of out) ok = this.socket.write(buf);
        this.socket.uncork();
      }
      if (!ok) this.socketFull = true;
    }
    out.length = 0;
    this.outBytes = 0;
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

  private queueHeaders(id: number, headers: ReadonlyArray<readonly [string, string]>, endStream: boolean): void {
    const update = this.tableSizeUpdate;
    this.tableSizeUpdate = false;
    const length = headerBlockLength(headers, update);
    const endFlag = endStream ? Flag.END_STREAM : 0;
    if (length <= this.peerMaxFrameSize) {
      const buf = frame(FrameType.HEADERS, Flag.END_HEADERS | endFlag, id, length);
      writeHeaderBlock(headers, buf, FRAME_HEADER_LENGTH, update);
      this.queue(buf);
      return;
    }
    const block = encodeHeaderBlock(headers, update);
    for (let at = 0; at < length; at += this.peerMaxFrameSize) {
      const n = Math.min(this.peerMaxFrameSize, length - at);
      const type = at === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
      this.queueFrame(type, (at === 0 ? endFlag : 0) | (at + n === length ? Flag.END_HEADERS : 0), id, block.subarray(at, at + n));
    }
  }

  /** For H2ClientStream: moves its queued DATA into frames as far as the send windows allow. */
  sendData(s: H2ClientStream): void {
    if (this.destroyed) return;
    while (s.queued > 0) {
      const head = s.sendQueue[0]!;
      const n = Math.min(head.length, s.sendWindow, this.sendWindow, this.peerMaxFrameSize);
      if (n <= 0 || this.socketFull) break;
      let chunk = head;
      if (n === head.length) {
        s.sendQueue.shift();
      } else {
        chunk = head.subarray(0, n);
        s.sendQueue[0] = head.subarray(n);
      }
      s.queued -= n;
      s.sendWindow -= n;
      this.sendWindow -= n;
      const last = s.queued === 0 && s.endQueued;
      this.queueFrame(FrameType.DATA, last ? Flag.END_STREAM : 0, s.sid, chunk);
      if (last) s.localEnded = true;
    }
    if (s.queued > 0) {
      this.blocked.add(s);
    } else {
      this.blocked.delete(s);
      if (s.endQueued && !s.localEnded) {
        this.queueFrame(FrameType.DATA, Flag.END_STREAM, s.sid, EMPTY);
        s.localEnded = true;
      }
    }
    if (s.localEnded && s.remoteEnded) {
      this.closeStream(s, ErrorCode.NO_ERROR, undefined);
    } else if (s.needDrain && s.queued <= HIGH_WATER_MARK) {
      s.needDrain = false;
      s.handler.onDrain();
    }
  }

  /** A frame header, then the payload as its own buffer (not copied). */
  private queueFrame(type: number, flags: number, id: number, payload: Buffer): void {
    const head = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
    writeFrameHeader(head, 0, payload.length, type, flags, id);
    this.queue(head);
    if (payload.length > 0) this.queue(payload);
  }

  /** Sends queued DATA of every blocked stream the windows now allow. */
  private pump(): void {
    for (const s of this.blocked) {
      if (this.sendWindow <= 0 || this.socketFull || this.destroyed) return;
      this.sendData(s);
    }
  }

  /** For H2ClientStream. */
  resetStream(s: H2ClientStream, code: number): void {
    if (s.isClosed) return;
    if (s.sid !== 0 && !this.destroyed) this.queue(rstStreamFrame(s.sid, code));
    this.closeStream(s, code, undefined);
  }

  /** For H2ClientStream. */
  consume(s: H2ClientStream, bytes: number): void {
    const n = Math.min(bytes, s.unconsumed);
    if (n <= 0 || s.isClosed) return;
    s.unconsumed -= n;
    this.credit(s, n);
  }

  /** Returns receive-window credit; a WINDOW_UPDATE goes out once half a window is owed. */
  private credit(s: H2ClientStream | undefined, n: number): void {
    if (this.destroyed || n <= 0) return;
    if (s !== undefined && !s.remoteEnded) {
      s.owed += n;
      if (s.owed >= this.streamWindow / 2) {
        this.queue(windowUpdateFrame(s.sid, s.owed));
        s.recvWindow += s.owed;
        s.owed = 0;
      }
    }
    this.recvOwed += n;
    if (this.recvOwed >= this.connectionWindow / 2) {
      this.queue(windowUpdateFrame(0, this.recvOwed));
      this.recvWindow += this.recvOwed;
      this.recvOwed = 0;
    }
  }

  private closeStream(s: H2ClientStream, code: number, err: Error | undefined): void {
    if (s.isClosed) return;
    s.isClosed = true;
    if (s.sid === 0) {
      const i = this.waiting.indexOf(s);
      if (i >= 0) this.waiting.splice(i, 1);
    } else {
      this.streams.delete(s.sid);
      this.blocked.delete(s);
    }
    // Data the caller never consumed must not shrink the connection window for good.
    this.credit(undefined, s.unconsumed);
    s.unconsumed = 0;
    s.sendQueue.length = 0;
    s.queued = 0;
    s.handler.onClose(code, err);
    if (this.destroyed) return;
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

  // ---- Receiving ----

  private onSocketConnect(): void {
    const alpn = (this.socket as tls.TLSSocket).alpnProtocol;
    if (this.opts.tls && alpn !== 'h2') {
      this.destroy(h2Error('EPROTO', `upstream did not negotiate h2 by ALPN (got ${alpn || 'none'})`));
      return;
    }
    this.socketReady = true;
    this.flush();
  }

  private onSocketClose(): void {
    if (!this.destroyed) {
      const open = this.streams.size + this.waiting.length > 0;
      this.teardown(open ? h2Error('ECONNRESET', 'upstream closed the connection') : undefined);
    }
    this.emit('close');
  }

  private teardown(err: Error | undefined): void {
    this.destroyed = true;
    this.isClosed = true;
    clearTimeout(this.connectTimer);
    const code = err ? ErrorCode.INTERNAL_ERROR : ErrorCode.CANCEL;
    for (const s of this.waiting.splice(0)) this.closeStream(s, code, err);
    for (const s of this.streams.values()) this.closeStream(s, code, err);
    if (err) process.nextTick(() => this.emit('error', err));
  }

  /** A connection error (RFC 9113 §5.4.1): GOAWAY with the code, then every stream fails. */
  private fail(code: number, message: string): void {
    if (this.destroyed) return;
    this.queue(goawayFrame(0, code));
    this.flush();
    this.teardown(h2Error('ERR_HTTP2_SESSION_ERROR', `HTTP/2 connection error ${code}: ${message}`, code));
    this.socket.end(() => this.socket.destroy());
  }

  private onSocketData(chunk: Buffer): void {
    const buf = this.partial === undefined ? chunk : Buffer.concat([this.partial, chunk]);
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER_LENGTH && !this.destroyed) {
      const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (length > DEFAULT_MAX_FRAME_SIZE) return this.fail(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} octets`);
      const end = pos + FRAME_HEADER_LENGTH + length;
      if (end > buf.length) break;
      this.onFrame(buf[pos + 3]!, buf[pos + 4]!, buf.readUInt32BE(pos + 5) & 0x7fffffff, buf.subarray(pos + FRAME_HEADER_LENGTH, end));
      pos = end;
    }
    this.partial = pos === buf.length ? undefined : buf.subarray(pos);
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.headerStream !== 0 && type !== FrameType.CONTINUATION) return this.fail(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    if (!this.gotSettings && (type !== FrameType.SETTINGS || flags & Flag.ACK)) {
      return this.fail(ErrorCode.PROTOCOL_ERROR, 'the server preface must start with SETTINGS');
    }
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, id, payload);
      case FrameType.HEADERS:
        return this.onHeaders(flags, id, payload);
      case FrameType.PRIORITY:
        if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY length');
        return;
      case FrameType.RST_STREAM:
        return this.onRstStream(id, payload);
      case FrameType.SETTINGS:
        return this.onSettings(flags, id, payload);
      case FrameType.PUSH_PROMISE:
        return this.fail(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      case FrameType.PING:
        if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
        if (payload.length !== 8) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'PING length');
        if ((flags & Flag.ACK) === 0) this.queue(pingAckFrame(payload));
        return;
      case FrameType.GOAWAY:
        return this.onGoaway(id, payload);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(id, payload);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, id, payload);
      default:
        return; // unknown frame types are ignored (§5.5)
    }
  }

  /** A stream id we never opened: even (server-initiated, 0 included) or not yet used. */
  private isIdle(id: number): boolean {
    return (id & 1) === 0 || id >= this.nextId;
  }

  private onData(flags: number, id: number, payload: Buffer): void {
    const s = this.streams.get(id);
    if (s === undefined && this.isIdle(id)) return this.fail(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
    const length = payload.length;
    if (length > this.recvWindow) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    this.recvWindow -= length;
    let end = length;
    let start = 0;
    if (flags & Flag.PADDED) {
      if (length === 0 || payload[0]! >= length) return this.fail(ErrorCode.PROTOCOL_ERROR, 'DATA padding exceeds the frame');
      start = 1;
      end = length - payload[0]!;
    }
    if (s === undefined || s.remoteEnded || length > s.recvWindow || !s.responded) {
      // A stream already closed, or one reset now: the frame still counted against the connection window.
      this.credit(undefined, length);
      if (s === undefined) return;
      const code = s.remoteEnded ? ErrorCode.STREAM_CLOSED : length > s.recvWindow ? ErrorCode.FLOW_CONTROL_ERROR : ErrorCode.PROTOCOL_ERROR;
      return this.resetStream(s, code);
    }
    s.recvWindow -= length;
    // Padding never reaches the caller, so its credit returns at once.
    this.credit(s, length - (end - start));
    if (end > start) {
      s.unconsumed += end - start;
      s.handler.onData(payload.subarray(start, end));
    }
    if (flags & Flag.END_STREAM && !s.isClosed) this.remoteEnd(s);
  }

  private remoteEnd(s: H2ClientStream): void {
    s.remoteEnded = true;
    s.handler.onEnd();
    if (s.localEnded && !s.isClosed) this.closeStream(s, ErrorCode.NO_ERROR, undefined);
  }

  private onHeaders(flags: number, id: number, payload: Buffer): void {
    if (!this.streams.has(id) && this.isIdle(id)) return this.fail(ErrorCode.PROTOCOL_ERROR, `HEADERS on idle stream ${id}`);
    let start = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (end === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding without a length');
      start = 1;
      end -= payload[0]!;
    }
    if (flags & Flag.PRIORITY) start += 5;
    if (start > end) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding or priority exceeds the frame');
    const fragment = payload.subarray(start, end);
    if (flags & Flag.END_HEADERS) return this.onHeaderBlock(id, flags, fragment);
    this.headerStream = id;
    this.headerFlags = flags;
    this.headerFragments = [fragment];
    this.headerBytes = fragment.length;
  }

  private onContinuation(flags: number, id: number, payload: Buffer): void {
    if (id === 0 || id !== this.headerStream) return this.fail(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    this.headerBytes += payload.length;
    // The whole block must be decoded to keep HPACK in step; past twice the list limit it is an attack.
    if (this.headerBytes > 2 * this.maxHeaderListSize) return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    this.headerFragments.push(payload);
    if ((flags & Flag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.headerFragments, this.headerBytes);
    this.headerStream = 0;
    this.headerFragments = [];
    this.onHeaderBlock(id, this.headerFlags, block);
  }

  private onHeaderBlock(id: number, flags: number, block: Buffer): void {
    let raw: string[] | null;
    try {
      raw = this.decoder.decode(block);
    } catch (err) {
      return this.fail(ErrorCode.COMPRESSION_ERROR, (err as Error).message);
    }
    const s = this.streams.get(id);
    if (s === undefined) return; // a closed stream: decoded only to keep the dynamic table in step
    const endStream = (flags & Flag.END_STREAM) !== 0;
    // Too large for our MAX_HEADER_LIST_SIZE, which the server ignored.
    if (raw === null) return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
    if (s.remoteEnded) return this.resetStream(s, ErrorCode.STREAM_CLOSED);
    if (s.responded) {
      if (!endStream) return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
      s.handler.onTrailers(raw);
    } else {
      const status = raw[0] === ':status' && STATUS.test(raw[1]!) ? Number(raw[1]) : 0;
      if (status === 0 || (status < 200 && endStream)) return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
      if (status < 200) return; // informational
      s.responded = true;
      s.handler.onResponse(status, raw, endStream);
    }
    if (endStream && !s.isClosed) this.remoteEnd(s);
  }

  private onRstStream(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length');
    const s = this.streams.get(id);
    if (s === undefined && this.isIdle(id)) return this.fail(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
    if (s !== undefined) this.closeStream(s, payload.readUInt32BE(0), undefined);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (payload.length !== 0) this.fail(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length');
    for (let i = 0; i < payload.length; i += 6) {
      const value = payload.readUInt32BE(i + 2);
      switch (payload.readUInt16BE(i)) {
        case Setting.HEADER_TABLE_SIZE:
          this.tableSizeUpdate = true;
          break;
        case Setting.ENABLE_PUSH:
          if (value > 1) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH above 1');
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.peerMaxStreams = value;
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW_SIZE) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE too large');
          // §6.9.2: open streams' send windows move by the difference, possibly below zero.
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW_SIZE) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'a stream window overflowed');
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE');
          this.peerMaxFrameSize = value;
          break;
      }
    }
    this.queue(SETTINGS_ACK);
    if (!this.gotSettings) {
      this.gotSettings = true;
      clearTimeout(this.connectTimer);
      this.emit('connect');
    }
    this.startWaiting();
    this.pump();
  }

  private onGoaway(id: number, payload: Buffer): void {
    if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (payload.length < 8) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY length');
    const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    this.isClosed = true;
    this.goawayReceived = true;
    // Streams above lastStreamId were never processed: the caller may retry them elsewhere.
    const refused = h2Error('ERR_HTTP2_GOAWAY_SESSION', `upstream sent GOAWAY (code ${code}) before processing the stream`, ErrorCode.REFUSED_STREAM);
    for (const s of this.waiting.splice(0)) this.closeStream(s, ErrorCode.REFUSED_STREAM, refused);
    for (const s of this.streams.values()) if (s.sid > lastStreamId) this.closeStream(s, ErrorCode.REFUSED_STREAM, refused);
    this.emit('goaway', code, lastStreamId, payload.subarray(8));
    this.finishIfIdle();
  }

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (increment === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      if (this.sendWindow + increment > MAX_WINDOW_SIZE) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      this.sendWindow += increment;
      return this.pump();
    }
    const s = this.streams.get(id);
    if (s === undefined) {
      if (this.isIdle(id)) this.fail(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
      return;
    }
    if (increment === 0) return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
    if (s.sendWindow + increment > MAX_WINDOW_SIZE) return this.resetStream(s, ErrorCode.FLOW_CONTROL_ERROR);
    s.sendWindow += increment;
    if (s.queued > 0) this.sendData(s);
  }
}
