// What both ends of an HTTP/2 connection do alike (RFC 9113): frames parsed straight out of the socket's chunks,
// SETTINGS, PING, WINDOW_UPDATE, CONTINUATION, flow control both ways, and an output queue that sends every
// frame queued during an event-loop turn in one socket write. The client (upstream hop) and the server
// (downstream hop) add what differs: who opens streams and what their header blocks must hold.
// Node's own HTTP/2 spends more CPU per stream on its stream objects, async-resource bindings and events than
// on HTTP/2 itself; here a stream is one plain object driven by callbacks.
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import {
  DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, Flag, FRAME_HEADER_LENGTH, FrameType, MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE, SETTINGS_ACK, Setting, frame, goawayFrame, pingAckFrame, rstStreamFrame, settingsFrame, windowUpdateFrame,
  writeFrameHeader,
} from './frames.js';
import { HpackDecoder, encodeHeaderBlock, headerBlockLength, writeHeaderBlock } from './hpack.js';

export type Fields = ReadonlyArray<readonly [string, string]>;

export interface H2StreamHandler {
  /** A DATA payload, padding removed. Its receive-window credit returns only through stream.consumed(n). */
  onData(chunk: Buffer): void;
  /** Trailing HEADERS (with END_STREAM): [name, value, ...]. */
  onTrailers(raw: string[]): void;
  /** END_STREAM received, after any data and trailers. */
  onEnd(): void;
  /**
   * Exactly once, last. code: RST_STREAM code received or sent (0 for a clean close). err: the connection
   * failed (socket error, connect failure or timeout, connection error), or GOAWAY excluded the stream.
   */
  onClose(code: number, err: Error | undefined): void;
  /** The send queue drained after write() returned false. */
  onDrain(): void;
}

/** write() returns false beyond this many queued bytes. */
export const HIGH_WATER_MARK = 64 * 1024;
/** Queued frames up to this size are concatenated into one buffer; beyond, they are written corked, in runs this long. */
const COALESCE_LIMIT = 64 * 1024;
/** Buffers this large (DATA payloads) are written as they are, not copied into a run. */
const LARGE_WRITE = 16 * 1024;
/**
 * Bytes written while the socket is already full before the connection is dropped. DATA waits for 'drain', so
 * these are control frames (PING and SETTINGS acknowledgements, resets, headers): a peer that keeps sending
 * frames that need an answer without reading the answers (ping flood, CVE-2019-9512) would grow the buffer
 * without bound.
 */
const MAX_BYTES_WHILE_FULL = 1024 * 1024;
export const OUR_HEADER_TABLE_SIZE = 4096;
const EMPTY = Buffer.alloc(0);

export function h2Error(code: string, message: string, errorCode?: number): Error & { code: string; errorCode?: number } {
  return Object.assign(new Error(message), errorCode === undefined ? { code } : { code, errorCode });
}

/** RFC 9113 §8.2: lower-case tokens; §8.2.2: no connection-specific fields. */
export const VALID_NAME = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/;
export const INVALID_VALUE = /[\0\r\n\u0100-\uffff]/;
export const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Checks fields we are about to send; throws ERR_HTTP2_INVALID_HEADER. */
export function validateOutgoingFields(fields: Fields): void {
  let regular = false;
  for (const [name, value] of fields) {
    if (!VALID_NAME.test(name)) throw h2Error('ERR_HTTP2_INVALID_HEADER', `invalid header name ${JSON.stringify(name)}`);
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) throw h2Error('ERR_HTTP2_INVALID_HEADER', `pseudo-header ${name} after a regular header`);
    } else {
      regular = true;
      if (CONNECTION_FIELDS.has(name) || (name === 'te' && value !== 'trailers')) {
        throw h2Error('ERR_HTTP2_INVALID_HEADER', `connection-specific header ${name}`);
      }
    }
    if (INVALID_VALUE.test(value)) throw h2Error('ERR_HTTP2_INVALID_HEADER', `invalid value for header ${name}`);
  }
}

/** The connection methods a stream calls. */
interface StreamOwner {
  sendData(s: H2Stream): void;
  resetStream(s: H2Stream, code: number): void;
  consume(s: H2Stream, bytes: number): void;
}

export class H2Stream<H extends H2StreamHandler = H2StreamHandler> {
  // State driven by the connection; callers use the getters and methods.
  sid = 0;
  isClosed = false;
  sendQueue: Buffer[] = [];
  queued = 0;
  sendWindow = 0;
  recvWindow = 0;
  /** Credit consumed by the caller and not yet sent in a WINDOW_UPDATE. */
  owed = 0;
  /** Delivered by onData, not yet consumed: returned to the connection window when the stream closes. */
  unconsumed = 0;
  /** end() called, or the message has no body. */
  endQueued = false;
  /** Sent as trailing HEADERS instead of an empty END_STREAM DATA frame. */
  trailers: Fields | undefined;
  /** END_STREAM sent / received. */
  localEnded = false;
  remoteEnded = false;
  /** The peer's request or final response headers arrived. */
  headersReceived = false;
  needDrain = false;
  /** The RST_STREAM code sent or received; undefined while open or after a clean close. */
  rstCode: number | undefined;
  resetByPeer = false;
  /** DATA (and, on the server, HEADERS) frames sent and received, for idle checks. */
  activity = 0;
  /** The incoming message's content-length, checked against its DATA (RFC 9113 §8.1.1); -1 when absent. */
  expectedLength = -1;
  receivedLength = 0;

  /** Set by whoever owns the stream before any of its events can fire. */
  handler!: H;

  constructor(protected readonly owner: StreamOwner) {}

  /** 0 while queued (client streams wait for a free slot). */
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
      if (this.sid !== 0) this.owner.sendData(this);
    }
    if (this.queued <= HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  /** END_STREAM after the queued data (and `chunk`, which then shares the last DATA frame), or with `trailers`. */
  end(chunk?: Buffer, trailers?: Fields): void {
    if (this.isClosed || this.endQueued) return;
    if (chunk !== undefined && chunk.length > 0) {
      this.sendQueue.push(chunk);
      this.queued += chunk.length;
    }
    if (trailers !== undefined && trailers.length > 0) this.trailers = trailers;
    this.endQueued = true;
    if (this.sid !== 0) this.owner.sendData(this);
  }

  /** RST_STREAM (if the stream started), then onClose(code, undefined). */
  reset(code: number): void {
    this.owner.resetStream(this, code);
  }

  /** Returns receive-window credit for data the caller is done with. */
  consumed(bytes: number): void {
    this.owner.consume(this, bytes);
  }
}

/**
 * Bounds on frames that cost us work but carry nothing (CVE-2019-9518 empty frames, CVE-2024-27316/27983
 * CONTINUATION floods, PRIORITY and WINDOW_UPDATE floods). Past any of them the peer gets GOAWAY(ENHANCE_YOUR_CALM).
 * The names follow Envoy's Http2ProtocolOptions, the CONTINUATION bound nghttp2's max_continuations.
 */
export interface H2FloodLimits {
  /** CONTINUATION frames one header block may span. */
  maxContinuationFrames: number;
  /** DATA, HEADERS and CONTINUATION frames in a row with no payload (after padding) and no END_STREAM. */
  maxConsecutiveEmptyFrames: number;
  /** PRIORITY frames per stream the peer opened, plus one stream's worth. */
  maxPriorityFramesPerStream: number;
  /** WINDOW_UPDATE frames per DATA frame we sent (plus a few per stream). */
  maxWindowUpdatesPerDataFrame: number;
  /**
   * Frames answering the peer's (PING and SETTINGS acknowledgements, resets) queued in one event-loop turn, before
   * they are written: more means a batch of frames whose only purpose is to make us work (nghttp2's max_outbound_ack).
   */
  maxOutboundControlFrames: number;
}

export const DEFAULT_FLOOD_LIMITS: H2FloodLimits = {
  maxContinuationFrames: 8,
  maxConsecutiveEmptyFrames: 1,
  maxPriorityFramesPerStream: 100,
  maxWindowUpdatesPerDataFrame: 10,
  maxOutboundControlFrames: 1000,
};

/** Entries in one SETTINGS frame (nghttp2's max_settings, CVE-2020-11080): each may walk every open stream. */
const MAX_SETTINGS_ENTRIES = 32;

export interface H2ConnectionOptions {
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window. */
  initialWindowSize: number;
  /** Our connection receive window. */
  connectionWindowSize: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE; a larger header block resets its stream. */
  maxHeaderListSize: number;
  /** Default DEFAULT_FLOOD_LIMITS. */
  floodLimits?: H2FloodLimits;
}

export abstract class H2Connection<S extends H2Stream> extends EventEmitter implements StreamOwner {
  protected readonly decoder: HpackDecoder;
  protected readonly maxHeaderListSize: number;
  protected readonly streamWindow: number;
  protected readonly connectionWindow: number;
  protected readonly streams = new Map<number, S>();
  /** Streams with DATA held back by a send window or a full socket. */
  private readonly blocked = new Set<S>();
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private readonly flushNow = () => this.flush();
  protected socketReady = false;
  private socketFull = false;
  private writtenWhileFull = 0;
  /** The start of a frame that has not fully arrived. */
  private partial: Buffer | undefined;
  /** Octets of the client connection preface still to check (server side). */
  protected prefaceLeft = 0;
  protected gotSettings = false;
  /** The peer acknowledged our SETTINGS. */
  protected settingsAcked = false;
  protected destroyed = false;
  protected peerInitialWindow = DEFAULT_WINDOW_SIZE;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW_SIZE;
  private recvWindow: number;
  private recvOwed = 0;
  /** The peer changed SETTINGS_HEADER_TABLE_SIZE: our next header block starts with a table size update. */
  private tableSizeUpdate = false;
  /** A header block continued in CONTINUATION frames: its stream (0 = none), HEADERS flags and fragments. */
  private headerStream = 0;
  private headerFlags = 0;
  private headerFragments: Buffer[] = [];
  private headerBytes = 0;
  private continuations = 0;
  /** When the header block now arriving (a HEADERS frame, then any CONTINUATION) started; 0 when none is. */
  private headerSince = 0;
  private readonly flood: H2FloodLimits;
  /** Counters the flood limits are checked against. */
  private emptyFrames = 0;
  private priorityFrames = 0;
  private windowUpdates = 0;
  /** Header blocks sent and received: about two a stream. */
  private headerBlocks = 0;
  private dataFramesSent = 0;
  private repliesQueued = 0;

  protected constructor(
    protected readonly socket: net.Socket,
    opts: H2ConnectionOptions,
  ) {
    super();
    this.maxHeaderListSize = opts.maxHeaderListSize;
    this.flood = opts.floodLimits ?? DEFAULT_FLOOD_LIMITS;
    this.decoder = new HpackDecoder(OUR_HEADER_TABLE_SIZE, this.maxHeaderListSize);
    this.streamWindow = opts.initialWindowSize;
    // The connection window starts at 65535 and can only grow.
    this.connectionWindow = Math.max(DEFAULT_WINDOW_SIZE, opts.connectionWindowSize);
    this.recvWindow = this.connectionWindow;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => {
      this.socketFull = false;
      this.writtenWhileFull = 0;
      this.pump();
    });
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.onSocketClose());
  }

  /** Our SETTINGS (plus `extra`), and the connection window beyond its initial 65,535. */
  protected queuePreface(extra: ReadonlyArray<readonly [number, number]>): void {
    const settings: Array<readonly [number, number]> = [
      ...extra,
      [Setting.INITIAL_WINDOW_SIZE, this.streamWindow],
      [Setting.MAX_HEADER_LIST_SIZE, this.maxHeaderListSize],
    ];
    this.queue(settingsFrame(settings));
    if (this.connectionWindow > DEFAULT_WINDOW_SIZE) this.queue(windowUpdateFrame(0, this.connectionWindow - DEFAULT_WINDOW_SIZE));
  }

  /** Immediate: open streams get onClose(CANCEL, undefined), or onClose(INTERNAL_ERROR, err) with an error. */
  destroy(err?: Error): void {
    if (this.destroyed) return;
    this.teardown(err);
    this.socket.destroy();
  }

  // ---- Role hooks ----

  /** A complete header block (HEADERS plus any CONTINUATION) on stream `id`. */
  protected abstract onHeaderBlock(id: number, flags: number, block: Buffer): void;
  /** A stream id the peer may not use yet (never opened). */
  protected abstract isIdle(id: number): boolean;
  /** DATA on a stream that is no longer open; its window is already credited back. */
  protected abstract onClosedStreamData(id: number): void;
  /** A stream left the map (after its handler's onClose). */
  protected abstract onStreamClosed(s: S): void;
  /** The peer reset an open stream, or made us reset it by breaking the protocol on it. */
  protected onPeerFault(_s: S): void {}
  /** The peer's SETTINGS were applied (`first`: the ones that open the connection). */
  protected abstract onPeerSettings(first: boolean): void;
  protected abstract onGoaway(lastStreamId: number, code: number, debug: Buffer): void;
  /** The socket closed before destroy(): the connection ends here. */
  protected abstract onSocketClose(): void;
  /** The last stream the peer opened that we processed, for GOAWAY (0: we open the streams). */
  protected lastPeerStreamId(): number {
    return 0;
  }
  /** Tears down every stream (code CANCEL, or INTERNAL_ERROR with err). */
  protected abstract teardown(err: Error | undefined): void;

  // ---- Sending ----

  protected queue(buf: Buffer): void {
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After this turn's I/O callbacks, not after this callback: streams are handed over in callbacks of their
      // own, and a write per stream costs more than the frames in it.
      setImmediate(this.flushNow);
    }
  }

  protected flush(): void {
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
        ok = this.writeRuns(out);
        this.socket.uncork();
      }
      if (this.socketFull && (this.writtenWhileFull += this.outBytes) > MAX_BYTES_WHILE_FULL) {
        this.destroy(h2Error('ERR_HTTP2_SESSION_ERROR', 'the peer stopped reading while its frames kept coming'));
      }
      if (!ok) this.socketFull = true;
    }
    out.length = 0;
    this.outBytes = 0;
    this.repliesQueued = 0;
  }

  /** Queues a control frame the peer's frame asked for; false (the connection failing) past maxOutboundControlFrames. */
  protected queueReply(buf: Buffer): boolean {
    if (++this.repliesQueued > this.flood.maxOutboundControlFrames) {
      this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'too many frames to answer at once');
      return false;
    }
    this.queue(buf);
    return true;
  }

  /**
   * Writes `out` with its small buffers (frame headers, control frames) joined in runs: a write costs far more
   * than copying a small buffer, and thousands of acknowledgements to a flood must not cost thousands of writes.
   */
  private writeRuns(out: readonly Buffer[]): boolean {
    let ok = true;
    let run: Buffer[] = [];
    let runBytes = 0;
    const writeRun = (): void => {
      if (run.length > 0) ok = this.socket.write(run.length === 1 ? run[0]! : Buffer.concat(run, runBytes));
      run = [];
      runBytes = 0;
    };
    for (const buf of out) {
      if (buf.length >= LARGE_WRITE) {
        writeRun();
        ok = this.socket.write(buf);
        continue;
      }
      if (runBytes + buf.length > COALESCE_LIMIT) writeRun();
      run.push(buf);
      runBytes += buf.length;
    }
    writeRun();
    return ok;
  }

  protected queueHeaders(id: number, headers: Fields, endStream: boolean): void {
    this.headerBlocks++;
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

  /** For H2Stream: moves its queued DATA into frames as far as the send windows allow. */
  sendData(s: S): void {
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
      const last = s.queued === 0 && s.endQueued && s.trailers === undefined;
      this.queueFrame(FrameType.DATA, last ? Flag.END_STREAM : 0, s.sid, chunk);
      this.dataFramesSent++;
      s.activity++;
      if (last) s.localEnded = true;
    }
    if (s.queued > 0) {
      this.blocked.add(s);
    } else {
      this.blocked.delete(s);
      if (s.endQueued && !s.localEnded) {
        if (s.trailers === undefined) this.queueFrame(FrameType.DATA, Flag.END_STREAM, s.sid, EMPTY);
        else this.queueHeaders(s.sid, s.trailers, true);
        s.localEnded = true;
      }
    }
    if (s.localEnded) this.localEnd(s);
    else if (s.needDrain && s.queued <= HIGH_WATER_MARK) {
      s.needDrain = false;
      s.handler.onDrain();
    }
  }

  /** Our END_STREAM is queued: the stream closes if the peer's side is done too. */
  protected localEnd(s: S): void {
    if (s.remoteEnded) this.closeStream(s, ErrorCode.NO_ERROR, undefined);
  }

  /** A frame header, then the payload as its own buffer (not copied). */
  protected queueFrame(type: number, flags: number, id: number, payload: Buffer): void {
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

  /** For H2Stream. */
  resetStream(s: S, code: number): void {
    if (s.isClosed) return;
    if (s.sid !== 0 && !this.destroyed) this.queue(rstStreamFrame(s.sid, code));
    this.closeStream(s, code, undefined);
  }

  /** For H2Stream. */
  consume(s: S, bytes: number): void {
    const n = Math.min(bytes, s.unconsumed);
    if (n <= 0 || s.isClosed) return;
    s.unconsumed -= n;
    this.credit(s, n);
  }

  /** Returns receive-window credit; a WINDOW_UPDATE goes out once half a window is owed. */
  protected credit(s: S | undefined, n: number): void {
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

  protected closeStream(s: S, code: number, err: Error | undefined): void {
    if (s.isClosed) return;
    s.isClosed = true;
    if (code !== ErrorCode.NO_ERROR || err !== undefined) s.rstCode = code;
    if (s.sid !== 0) {
      this.streams.delete(s.sid);
      this.blocked.delete(s);
    }
    // Data the caller never consumed must not shrink the connection window for good.
    this.credit(undefined, s.unconsumed);
    s.unconsumed = 0;
    s.sendQueue.length = 0;
    s.queued = 0;
    s.handler.onClose(code, err);
    if (!this.destroyed) this.onStreamClosed(s);
  }

  /** A connection error (RFC 9113 §5.4.1): GOAWAY with the code, then every stream fails. */
  protected fail(code: number, message: string): void {
    if (this.destroyed) return;
    this.queue(goawayFrame(this.lastPeerStreamId(), code));
    this.flush();
    this.teardown(h2Error('ERR_HTTP2_SESSION_ERROR', `HTTP/2 connection error ${code}: ${message}`, code));
    this.socket.end(() => this.socket.destroy());
  }

  // ---- Receiving ----

  private onSocketData(chunk: Buffer): void {
    // After a connection error the socket is only closing: what still arrives is dropped, not buffered.
    if (this.destroyed) return;
    let buf: Buffer | undefined = chunk;
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, buf.length);
      if (!this.checkPreface(buf.subarray(0, n))) return this.fail(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
      this.prefaceLeft -= n;
      buf = buf.subarray(n);
    }
    if (this.partial !== undefined) buf = this.completePartial(buf);
    if (buf !== undefined) this.readFrames(buf);
  }

  /**
   * Completes the frame split across reads, copying only its own octets rather than the whole new chunk (a flood
   * of tiny frames straddles nearly every read). Returns the rest of `chunk`, or undefined if there is none to read.
   */
  private completePartial(chunk: Buffer): Buffer | undefined {
    const partial = this.partial!;
    const have = partial.length + chunk.length;
    const head = partial.length >= FRAME_HEADER_LENGTH || have < FRAME_HEADER_LENGTH ? partial : Buffer.concat([partial, chunk.subarray(0, FRAME_HEADER_LENGTH - partial.length)]);
    const end = head.length >= FRAME_HEADER_LENGTH ? this.frameEnd(head, 0) : Infinity;
    if (end < 0) return undefined;
    if (have < end) {
      this.keepPartial(Buffer.concat([partial, chunk], have));
      return undefined;
    }
    const take = end - partial.length;
    this.readFrames(Buffer.concat([partial, chunk.subarray(0, take)], end));
    return this.destroyed ? undefined : chunk.subarray(take);
  }

  /** Handles the whole frames in `buf`; keeps the start of an incomplete last one. */
  private readFrames(buf: Buffer): void {
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER_LENGTH && !this.destroyed) {
      const end = this.frameEnd(buf, pos);
      if (end < 0) return;
      if (end > buf.length) break;
      this.onFrame(buf[pos + 3]!, buf[pos + 4]!, buf.readUInt32BE(pos + 5) & 0x7fffffff, buf.subarray(pos + FRAME_HEADER_LENGTH, end));
      pos = end;
    }
    if (pos === buf.length) this.partial = undefined;
    else this.keepPartial(buf.subarray(pos));
  }

  /** Keeps the start of an incomplete frame; a header block's deadline runs from its first octet. */
  private keepPartial(partial: Buffer): void {
    this.partial = partial;
    const type = partial.length > 3 ? partial[3] : undefined;
    if (this.headerSince === 0 && (type === FrameType.HEADERS || type === FrameType.CONTINUATION)) this.headerSince = Date.now();
  }

  /** Where the frame whose header is at `pos` ends; -1 (the connection failing) if it is larger than we allow. */
  private frameEnd(buf: Buffer, pos: number): number {
    const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
    if (length <= DEFAULT_MAX_FRAME_SIZE) return pos + FRAME_HEADER_LENGTH + length;
    this.fail(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} octets`);
    return -1;
  }

  /** Server side: the next octets of the client preface; true if they match. */
  protected checkPreface(_octets: Buffer): boolean {
    return true;
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.headerStream !== 0 && type !== FrameType.CONTINUATION) return this.fail(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    if (!this.gotSettings && (type !== FrameType.SETTINGS || flags & Flag.ACK)) {
      return this.fail(ErrorCode.PROTOCOL_ERROR, 'the connection preface must start with SETTINGS');
    }
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, id, payload);
      case FrameType.HEADERS:
        return this.onHeaders(flags, id, payload);
      case FrameType.PRIORITY:
        if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY length');
        // Ignored, but not for free: bounded per stream as Envoy does.
        if (++this.priorityFrames > this.flood.maxPriorityFramesPerStream * (1 + this.headerBlocks / 2)) {
          return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'too many PRIORITY frames');
        }
        if ((payload.readUInt32BE(0) & 0x7fffffff) === id) return this.streamError(id, ErrorCode.PROTOCOL_ERROR);
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
        if ((flags & Flag.ACK) === 0) this.queueReply(pingAckFrame(payload));
        return;
      case FrameType.GOAWAY:
        if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (payload.length < 8) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY length');
        return this.onGoaway(payload.readUInt32BE(0) & 0x7fffffff, payload.readUInt32BE(4), payload.subarray(8));
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(id, payload);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, id, payload);
      default:
        return; // unknown frame types are ignored (§5.5)
    }
  }

  /** A stream error on `id` (RFC 9113 §5.4.2): RST_STREAM, and the stream (if open) closes with that code. */
  protected streamError(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s !== undefined) this.streamFault(s, code);
    else this.queueReply(rstStreamFrame(id, code));
  }

  /** A stream error the peer caused on an open stream. */
  protected streamFault(s: S, code: number): void {
    this.resetStream(s, code);
    this.onPeerFault(s);
  }

  private onData(flags: number, id: number, payload: Buffer): void {
    const s = this.streams.get(id);
    if (s === undefined && (id === 0 || this.isIdle(id))) return this.fail(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
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
    if (!this.countEmpty(end === start && (flags & Flag.END_STREAM) === 0)) return;
    if (s === undefined || s.remoteEnded || length > s.recvWindow || !s.headersReceived) {
      // A stream already closed, or one reset now: the frame still counted against the connection window.
      this.credit(undefined, length);
      if (s === undefined) return this.onClosedStreamData(id);
      const code = s.remoteEnded ? ErrorCode.STREAM_CLOSED : length > s.recvWindow ? ErrorCode.FLOW_CONTROL_ERROR : ErrorCode.PROTOCOL_ERROR;
      return this.streamFault(s, code);
    }
    s.recvWindow -= length;
    // Padding never reaches the caller, so its credit returns at once.
    this.credit(s, length - (end - start));
    if (end > start) {
      s.receivedLength += end - start;
      if (s.expectedLength >= 0 && s.receivedLength > s.expectedLength) return this.streamFault(s, ErrorCode.PROTOCOL_ERROR);
      s.activity++;
      s.unconsumed += end - start;
      s.handler.onData(payload.subarray(start, end));
    }
    if (flags & Flag.END_STREAM && !s.isClosed) this.remoteEnd(s);
  }

  protected remoteEnd(s: S): void {
    if (s.expectedLength >= 0 && s.receivedLength !== s.expectedLength) return this.streamFault(s, ErrorCode.PROTOCOL_ERROR);
    s.remoteEnded = true;
    s.handler.onEnd();
    if (s.localEnded && !s.isClosed) this.closeStream(s, ErrorCode.NO_ERROR, undefined);
  }

  /** Counts a DATA, HEADERS or CONTINUATION frame; false (the connection failing) past the empty-frame limit. */
  private countEmpty(empty: boolean): boolean {
    if (!empty) {
      this.emptyFrames = 0;
      return true;
    }
    if (++this.emptyFrames <= this.flood.maxConsecutiveEmptyFrames) return true;
    this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'too many frames without payload');
    return false;
  }

  private onHeaders(flags: number, id: number, payload: Buffer): void {
    if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let start = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (end === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding without a length');
      start = 1;
      end -= payload[0]!;
    }
    const priority = flags & Flag.PRIORITY ? start : -1;
    if (priority >= 0) start += 5;
    if (start > end) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding or priority exceeds the frame');
    // §5.3.1: a stream cannot depend on itself (a stream error, once the block has been decoded).
    const selfDependent = priority >= 0 && (payload.readUInt32BE(priority) & 0x7fffffff) === id;
    const fragment = payload.subarray(start, end);
    if (!this.countEmpty(fragment.length === 0 && (flags & Flag.END_STREAM) === 0)) return;
    this.headerBlocks++;
    if (flags & Flag.END_HEADERS) return this.headerBlock(id, flags, fragment, selfDependent);
    this.headerStream = id;
    if (this.headerSince === 0) this.headerSince = Date.now();
    this.headerFlags = selfDependent ? flags | SELF_DEPENDENT : flags;
    // Copied: a fragment kept across reads must not pin the whole socket chunk it arrived in.
    this.headerFragments = [Buffer.from(fragment)];
    this.headerBytes = fragment.length;
    this.continuations = 0;
  }

  private onContinuation(flags: number, id: number, payload: Buffer): void {
    if (id === 0 || id !== this.headerStream) return this.fail(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    if (!this.countEmpty(payload.length === 0)) return;
    // A header block costs memory until END_HEADERS, however small or empty its frames (CVE-2024-27316).
    if (++this.continuations > this.flood.maxContinuationFrames) return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'too many CONTINUATION frames');
    this.headerBytes += payload.length;
    // The whole block must be decoded to keep HPACK in step; past twice the list limit it is an attack.
    if (this.headerBytes > 2 * this.maxHeaderListSize) return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    this.headerFragments.push(Buffer.from(payload));
    if ((flags & Flag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.headerFragments, this.headerBytes);
    const headerFlags = this.headerFlags;
    this.headerStream = 0;
    this.headerFragments = [];
    this.headerBlock(id, headerFlags & ~SELF_DEPENDENT, block, (headerFlags & SELF_DEPENDENT) !== 0);
  }

  /** Since when (Date.now()) a header block has been arriving without its end; 0 when none is. */
  protected get headerBlockSince(): number {
    return this.headerSince;
  }

  private headerBlock(id: number, flags: number, block: Buffer, selfDependent: boolean): void {
    this.headerSince = 0;
    if (!selfDependent) return this.onHeaderBlock(id, flags, block);
    try {
      this.decoder.decode(block); // keeps the dynamic table in step
    } catch (err) {
      return this.fail(ErrorCode.COMPRESSION_ERROR, (err as Error).message);
    }
    this.streamError(id, ErrorCode.PROTOCOL_ERROR);
  }

  /** Decodes a header block; undefined after a COMPRESSION_ERROR (the connection is failing), null if too large. */
  protected decode(block: Buffer): string[] | null | undefined {
    try {
      return this.decoder.decode(block);
    } catch (err) {
      this.fail(ErrorCode.COMPRESSION_ERROR, (err as Error).message);
      return undefined;
    }
  }

  private onRstStream(id: number, payload: Buffer): void {
    if (id === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (payload.length !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length');
    const s = this.streams.get(id);
    if (s === undefined && this.isIdle(id)) return this.fail(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
    if (s === undefined) return;
    s.resetByPeer = true;
    this.closeStream(s, payload.readUInt32BE(0), undefined);
    this.onPeerFault(s);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (payload.length !== 0) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      this.settingsAcked = true;
      return;
    }
    if (payload.length % 6 !== 0) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length');
    if (payload.length > 6 * MAX_SETTINGS_ENTRIES) return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'too many SETTINGS entries');
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
    if (!this.queueReply(SETTINGS_ACK)) return;
    const first = !this.gotSettings;
    this.gotSettings = true;
    this.onPeerSettings(first);
    this.pump();
  }

  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS (streams we may open). */
  protected peerMaxStreams = Infinity;

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    // Envoy's bound: a few per stream, the rest answer DATA we sent.
    if (++this.windowUpdates > 5 + this.headerBlocks + 2 * this.flood.maxWindowUpdatesPerDataFrame * this.dataFramesSent) {
      return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'too many WINDOW_UPDATE frames');
    }
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
    if (increment === 0) return this.streamFault(s, ErrorCode.PROTOCOL_ERROR);
    if (s.sendWindow + increment > MAX_WINDOW_SIZE) return this.streamFault(s, ErrorCode.FLOW_CONTROL_ERROR);
    s.sendWindow += increment;
    if (s.queued > 0 || (s.endQueued && !s.localEnded)) this.sendData(s);
  }
}

/** Not a wire flag: marks a continued header block whose HEADERS depended on its own stream. */
const SELF_DEPENDENT = 0x100;
