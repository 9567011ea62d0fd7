// Portcullis' HTTP/1.x server: reads request heads and bodies off admitted sockets and hands each request to the
// listener, one at a time per connection. Bytes that arrive while a request is being answered (pipelining) stay
// unread in the kernel beyond what one read brought in, so one connection never has two exchanges in flight.
// Heads are refused before anything else sees them when they are malformed (400), too large (431), of another
// HTTP version (505) or too slow (408); bodies are decoded as they are read and handed on with back-pressure.
import type { Socket } from 'node:net';
import type { HttpLimits } from '../../../config/types.js';
import { FramingError, inspectRequestHead } from './framing.js';
import { isKnownMethod } from '../request-fields.js';
import { closeAfterWrite, refusedRequest, sendLocalReply, writeRawReply } from '../local-reply.js';
import { ChunkedDecoder } from './chunked.js';
import type { ListenerTimings } from '../../timings.js';
import { DeadlineSweep, type DeadlineHolder } from './deadlines.js';
import { findHeadEnd, HeadError, parseRequestHead } from './head-parser.js';
import { H1Request, type RequestBodyReader } from './request.js';
import { H1Response, type ResponseConnection } from './response.js';

/** The whole request, head to last body byte, unless the head timeout is longer. */
const REQUEST_TIMEOUT_MS = 300_000;

export interface H1Handlers {
  /** A request with its response to write. Requests whose framing was refused arrive too (`req.framing`), to be answered. */
  request(req: H1Request, res: H1Response): void;
  /** `CONNECT`, or a request with `Connection: upgrade`: the socket is handed over with the bytes after the head. */
  upgrade(req: H1Request, socket: Socket, head: Buffer): void;
  /** A request the server refused itself (unparseable, too large, too slow, broken body): for metrics and logs. */
  malformed(socket: Socket, status: number, reason: string): void;
}

/** Replies to heads the server refuses; the precise reason goes to the log. */
const HEAD_REPLY_REASON: Record<number, string> = { 408: 'request timeout', 431: 'request headers too large', 505: 'HTTP version not supported' };

export class H1Server {
  private readonly connections = new Set<H1Connection>();
  private readonly sweep: DeadlineSweep;
  /** Shutdown began: idle connections close, busy ones after their response. */
  closing = false;

  constructor(
    readonly limits: HttpLimits,
    readonly timings: ListenerTimings,
    readonly handlers: H1Handlers,
  ) {
    this.sweep = new DeadlineSweep(Math.min(limits.headersTimeoutMs, limits.idleTimeoutMs, limits.streamIdleTimeoutMs));
  }

  /** Serves HTTP/1.x on an admitted socket (paused or flowing; bytes unshifted by sniffing are read first). */
  serve(socket: Socket): void {
    const conn = new H1Connection(this, socket);
    this.connections.add(conn);
    this.sweep.add(conn);
    socket.resume();
  }

  /** Stops serving: idle connections are closed now, the others after their response in flight. */
  close(): void {
    this.closing = true;
    for (const conn of this.connections) conn.closeIfIdle();
  }

  forget(conn: H1Connection): void {
    this.connections.delete(conn);
    this.sweep.delete(conn);
  }
}

const enum State {
  /** Reading a request head (or idle between requests). */
  Head,
  /** Reading the current request's body. */
  Body,
  /** The request is read; its response is not complete. */
  Await,
  /** Handed over (upgrade, CONNECT) or closed. */
  Gone,
}

class H1Connection implements ResponseConnection, RequestBodyReader, DeadlineHolder {
  readonly keepAliveSeconds: number;
  /** Bytes read and not consumed yet. */
  private buf: Buffer | undefined;
  /** Where the search for the end of a partial head resumes. */
  private scanFrom = 0;
  private state = State.Head;
  /** When the first byte of the current head arrived (0: none yet), when the connection last became idle. */
  private headStartedAt = 0;
  private idleSince = performance.now();
  /** For the body deadlines: when the request began, when bytes last moved. */
  private requestStartedAt = 0;
  private lastActivity = 0;
  private req: H1Request | undefined;
  private res: H1Response | undefined;
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | undefined;
  /** The body is being delivered (to the sink, or dropped after `discard`). */
  private flowing = false;
  private processing = false;
  /** Body bytes are being handed to the sink (which may resume the flow from inside). */
  private delivering = false;
  private paused = false;
  /** The client closed its sending side: the connection ends after the response in flight. */
  private peerEnded = false;
  /** A request was answered on it: between requests it is an idle keep-alive connection, not a fresh one. */
  private served = false;

  constructor(
    private readonly server: H1Server,
    readonly socket: Socket,
  ) {
    this.keepAliveSeconds = Math.floor(server.limits.idleTimeoutMs / 1000);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('drain', this.onDrain);
    socket.on('close', this.onClose);
    socket.on('error', onSocketError);
  }

  /** How long the connection may wait for a request head to begin. */
  private idleLimit(): number {
    const limit = this.server.limits.idleTimeoutMs;
    return this.server.closing ? Math.min(limit, this.server.timings.firstRequestGraceMs) : limit;
  }

  // ResponseConnection

  responseDone(close: boolean): void {
    const req = this.req!;
    this.res = undefined;
    if (close || this.peerEnded || this.server.closing || this.state === State.Gone) return this.end();
    if (!req.complete) {
      // The answer came before the whole body (an early reply, a failed exchange): the rest is read and dropped,
      // then the connection carries the next request.
      this.discard();
      return;
    }
    this.nextRequest();
  }

  touch(): void {
    if (this.state === State.Body) this.lastActivity = performance.now();
  }

  // RequestBodyReader

  flow(): void {
    this.flowing = true;
    this.resumeSocket();
    // Resumed by the sink while it takes a piece: the delivery loop goes on by itself.
    if (this.delivering) return;
    // Started from the request handler (inside process()): the body bytes already here go now, in the same
    // write as the upstream request head.
    if (!this.processing) this.process();
    else if (this.state === State.Body && this.buf !== undefined) this.readBody(this.buf);
  }

  discard(): void {
    if (this.req === undefined || this.req.complete) return;
    this.req.sink = undefined;
    this.flow();
  }

  // DeadlineHolder

  checkDeadlines(now: number): void {
    const limits = this.server.limits;
    if (this.state === State.Head) {
      if (this.headStartedAt > 0 && now - this.headStartedAt > limits.headersTimeoutMs) this.refuseHead(408, 'request head not complete within headersTimeoutMs');
      else if (this.headStartedAt === 0 && now - this.idleSince > this.idleLimit()) this.socket.destroy();
    } else if (this.state === State.Body) {
      if (now - this.requestStartedAt > Math.max(REQUEST_TIMEOUT_MS, limits.headersTimeoutMs)) this.bodyFailed(408, 'request timeout', 'request not complete within 300 s');
      else if (now - this.lastActivity > limits.streamIdleTimeoutMs) this.bodyFailed(408, 'request body timeout', `request body made no progress for ${limits.streamIdleTimeoutMs} ms`);
    }
  }

  /**
   * Shutdown: a connection between requests closes now. A fresh one may carry a request already on its way (handed
   * to this worker just before it stopped accepting): it gets the first-request grace (ListenerTimings) to send it, and its answer.
   */
  closeIfIdle(): void {
    if (this.served && this.state === State.Head && this.headStartedAt === 0 && this.buf === undefined) this.end();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.state === State.Body) this.lastActivity = performance.now();
    this.process();
  };

  private process(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.buf !== undefined && !this.socket.destroyed) {
        if (this.state === State.Head) {
          if (!this.readHead(this.buf)) break;
        } else if (this.state === State.Body && this.flowing) {
          this.readBody(this.buf);
        } else break;
      }
    } finally {
      this.processing = false;
    }
    // Unread bytes that are not this request's body wait in the kernel until they are wanted.
    if (this.buf !== undefined && this.state !== State.Head && !(this.state === State.Body && this.flowing)) this.pauseSocket();
  }

  /** Parses the head at the start of `buf`; false when more bytes are needed or the connection is done. */
  private readHead(buf: Buffer): boolean {
    const limits = this.server.limits;
    if (this.headStartedAt === 0) this.headStartedAt = performance.now();
    const end = findHeadEnd(buf, 0, limits.maxHeaderBytes, this.scanFrom);
    if (end instanceof HeadError) return this.refuseHead(end.status, end.reason);
    if (end === -1) {
      this.scanFrom = Math.max(0, buf.length - 3);
      return false;
    }
    const head = parseRequestHead(buf, 0, end, limits.maxHeaderCount);
    if (head instanceof HeadError) return this.refuseHead(head.status, head.reason);
    // The methods llhttp knows, as before this parser replaced it (request-fields.ts holds HTTP/2 to the same).
    if (!isKnownMethod(head.method)) return this.refuseHead(400, `unknown method ${JSON.stringify(head.method.slice(0, 32))}`);
    this.buf = end === buf.length ? undefined : buf.subarray(end);
    this.scanFrom = 0;
    this.headStartedAt = 0;
    const framing = inspectRequestHead(head.rawHeaders, head.versionMinor, limits.maxHeaderCount);
    const req = new H1Request(head, framing, this.socket, this);
    if (head.method === 'CONNECT' || (!(framing instanceof FramingError) && framing.connectionUpgrade && framing.upgrade !== undefined)) {
      this.handOver(req);
      return false;
    }
    this.req = req;
    this.res = new H1Response(this, req);
    if (framing instanceof FramingError || !framing.hasBody) this.state = State.Await;
    else {
      this.state = State.Body;
      this.flowing = false;
      this.requestStartedAt = this.lastActivity = performance.now();
      if (framing.bodyLength === 'chunked') this.decoder = new ChunkedDecoder(limits.maxHeaderBytes, limits.maxHeaderCount);
      else this.bodyRemaining = framing.bodyLength;
    }
    this.server.handlers.request(req, this.res);
    return true;
  }

  /** Consumes body bytes from `buf` while the body flows. */
  private readBody(buf: Buffer): void {
    const req = this.req!;
    let wantsMore = true;
    const deliver = (chunk: Buffer): void => {
      // The last answer counts: the sink may have resumed the flow since an earlier `false`.
      if (req.sink !== undefined) wantsMore = req.sink.data(chunk);
    };
    let used: number;
    this.delivering = true;
    try {
      if (this.decoder !== undefined) {
        const r = this.decoder.push(buf, 0, buf.length, deliver);
        if (r instanceof HeadError) {
          this.buf = undefined;
          return this.bodyFailed(400, 'malformed request', r.reason);
        }
        used = r;
      } else {
        used = Math.min(this.bodyRemaining, buf.length);
        this.bodyRemaining -= used;
        deliver(used === buf.length ? buf : buf.subarray(0, used));
      }
    } finally {
      this.delivering = false;
    }
    this.buf = used === buf.length ? undefined : buf.subarray(used);
    if (this.decoder === undefined ? this.bodyRemaining === 0 : this.decoder.done) this.bodyDone();
    else if (!wantsMore) this.flowing = false;
  }

  private bodyDone(): void {
    const req = this.req!;
    req.complete = true;
    req.trailers = this.decoder?.trailers ?? [];
    this.decoder = undefined;
    // The response was complete first (the rest of the body was dropped): ready for the next request.
    if (this.res === undefined) return this.nextRequest();
    this.state = State.Await;
    req.sink?.end(req.trailers);
  }

  private nextRequest(): void {
    this.served = true;
    this.req = undefined;
    this.state = State.Head;
    this.flowing = false;
    this.idleSince = performance.now();
    this.resumeSocket();
    this.process();
  }

  /**
   * The body cannot be completed (malformed chunk, stalled, too slow): the request's consumer answers and ends its
   * exchange (`onbodyerror`), or the server answers; either way the connection closes.
   */
  private bodyFailed(status: number, reason: string, detail: string): void {
    const req = this.req!;
    const res = this.res;
    this.state = State.Gone;
    this.server.handlers.malformed(this.socket, status, detail);
    if (req.onbodyerror !== undefined) req.onbodyerror(status, reason, detail);
    else if (res !== undefined && !res.headersSent) sendLocalReply(res, refusedRequest(status, reason), true);
    if (res !== undefined && !res.ended) res.destroy();
    else if (res === undefined) this.end();
  }

  /** Answers a head the server refuses and closes the connection. */
  private refuseHead(status: number, reason: string): false {
    this.state = State.Gone;
    this.buf = undefined;
    this.server.handlers.malformed(this.socket, status, reason);
    this.pauseSocket();
    writeRawReply(this.socket, refusedRequest(status, HEAD_REPLY_REASON[status] ?? 'malformed request'), this.server.timings.lingerMs);
    return false;
  }

  private handOver(req: H1Request): void {
    const socket = this.socket;
    const rest = this.buf ?? Buffer.alloc(0);
    this.buf = undefined;
    this.state = State.Gone;
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('drain', this.onDrain);
    socket.off('close', this.onClose);
    socket.off('error', onSocketError);
    socket.pause();
    this.server.forget(this);
    this.server.handlers.upgrade(req, socket, rest);
  }

  /**
   * Closes the connection after what was written. With request bytes left unread (a body, pipelined requests) the
   * close lingers (closeAfterWrite), or the kernel would answer them with a reset that can destroy the response.
   */
  private end(): void {
    const unread = this.buf !== undefined || (this.req !== undefined && !this.req.complete);
    this.state = State.Gone;
    this.buf = undefined;
    const socket = this.socket;
    if (unread) return closeAfterWrite(socket, this.server.timings.lingerMs);
    if (socket.destroyed) return;
    socket.once('finish', () => socket.destroy());
    socket.end();
  }

  private pauseSocket(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private resumeSocket(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  private readonly onEnd = (): void => {
    this.peerEnded = true;
    if (this.state === State.Head) this.end();
    else if (this.state === State.Body) this.socket.destroy(); // the body will never be complete
  };

  private readonly onDrain = (): void => {
    this.res?.ondrain?.();
  };

  private readonly onClose = (): void => {
    this.state = State.Gone;
    this.server.forget(this);
    this.res?.closed();
  };
}

function onSocketError(this: Socket): void {
  this.destroy();
}
