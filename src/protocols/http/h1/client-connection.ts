// One keep-alive connection to an upstream: writes a request (head in undici's field order: host, connection,
// the request's fields, then the framing this hop needs), streams its body with back-pressure, and reads the
// response: 1xx, head, a body delimited by length, chunks or the end of the connection, trailers.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Headers } from '../forward-headers.js';
import type { BodySink } from './body.js';
import { ChunkedDecoder } from './chunked.js';
import { chunkLine, writeFramed } from './write.js';
import { RESPONSE_BODY_IDLE_MS, UpstreamError, type ConnectionOwner, type Exchange } from './exchange.js';
import type { DeadlineHolder } from './deadlines.js';
import { findHeadEnd, HeadError, parseResponseHead } from './head-parser.js';

/** Response heads from upstreams: larger than what clients may send, still bounded. */
const MAX_RESPONSE_HEAD_BYTES = 65_536;
const MAX_RESPONSE_FIELDS = 500;
const MAX_RESPONSE_TRAILER_BYTES = 16_384;
/** How long an idle connection is kept (less when the upstream announces a shorter keep-alive timeout). */
const DEFAULT_KEEP_ALIVE_MS = 4000;

/** Methods whose bodiless requests carry `content-length: 0` (as undici frames them). */
const EXPECTS_PAYLOAD = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);

const enum State {
  Connecting,
  Idle,
  /** A request is (being) written; its response head has not arrived. */
  Head,
  /** Reading the response body. */
  Body,
  Closed,
}

const enum Deadline {
  Connect,
  Response,
  Body,
}

const enum Framing {
  Length,
  Chunked,
  /** The body ends when the upstream closes the connection. */
  Close,
}

export class UpstreamConnection implements DeadlineHolder, BodySink {
  private readonly socket: Socket;
  private state = State.Connecting;
  private ex: Exchange | undefined;
  /** Carried a complete exchange before: a failure before any response byte may be the upstream closing it. */
  private reused = false;
  private buf: Buffer | undefined;
  private scanFrom = 0;
  private framing = Framing.Length;
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private chunkedRequest = false;
  private pendingHead = '';
  private requestDone = false;
  /** The response allows another request on this connection. */
  private keepAlive = false;
  private responseStarted = false;
  private paused = false;
  /** Response body bytes are being handed to the handler (which may resume from inside). */
  private delivering = false;
  /** The pending deadline of the current state (performance.now() ms; 0: none) and what passing it means. */
  private deadline = 0;
  private deadlineKind = Deadline.Connect;
  private keepAliveMs = DEFAULT_KEEP_ALIVE_MS;
  private error: Error | undefined;

  constructor(private readonly pool: ConnectionOwner<UpstreamConnection>) {
    const { host, port, tls, connectTimeoutMs } = pool.options;
    this.socket =
      tls === undefined
        ? netConnect({ host, port, noDelay: true })
        : tlsConnect({ host, port, ALPNProtocols: ['http/1.1'], ...tls });
    this.socket.setNoDelay(true);
    this.socket.once(tls === undefined ? 'connect' : 'secureConnect', this.onConnect);
    this.socket.on('data', this.onData);
    this.socket.on('drain', this.onDrain);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    this.setDeadline(connectTimeoutMs, Deadline.Connect);
    pool.sweep.add(this);
  }

  /** Carries `ex` (written once connected). */
  run(ex: Exchange): void {
    this.ex = ex;
    ex.conn = this;
    if (this.state === State.Idle) this.write(ex);
  }

  /** Ends the current exchange with `reason` and the connection with it. */
  abort(reason: Error): void {
    const ex = this.ex;
    this.ex = undefined;
    this.destroy();
    ex?.request.body?.abandon();
    ex?.fail(reason);
  }

  destroy(): void {
    if (this.state === State.Closed) return;
    this.state = State.Closed;
    this.socket.destroy();
  }

  checkDeadlines(now: number): void {
    if (this.deadline === 0 || now < this.deadline) return;
    if (this.state === State.Idle) this.destroy();
    else this.abort(this.deadlineError());
  }

  private deadlineError(): UpstreamError {
    const { connectTimeoutMs, responseTimeoutMs } = this.pool.options;
    switch (this.deadlineKind) {
      case Deadline.Connect:
        return new UpstreamError('PCL_UPSTREAM_CONNECT_TIMEOUT', `no connection within ${connectTimeoutMs} ms (upstreamConnectTimeoutMs)`);
      case Deadline.Response:
        return new UpstreamError('PCL_UPSTREAM_RESPONSE_TIMEOUT', `no response head within ${responseTimeoutMs} ms (upstreamTimeoutMs)`);
      case Deadline.Body:
        return new UpstreamError('PCL_UPSTREAM_BODY_TIMEOUT', `response body made no progress for ${RESPONSE_BODY_IDLE_MS} ms`);
    }
  }

  // BodySink: the request body

  data(chunk: Buffer): boolean {
    if (this.state === State.Closed || chunk.length === 0) return true;
    if (this.state === State.Body) this.touchBody();
    const head = this.takeHead();
    if (this.chunkedRequest) return writeFramed(this.socket, head + chunkLine(chunk.length), chunk, '\r\n');
    return head === '' ? this.socket.write(chunk) : writeFramed(this.socket, head, chunk, '');
  }

  end(trailers: readonly string[]): void {
    if (this.state === State.Closed) return;
    let tail = this.takeHead();
    if (this.chunkedRequest) {
      const forwarded = this.ex?.request.forwardTrailers?.(trailers) ?? [];
      tail += forwarded.length === 0 ? '0\r\n\r\n' : `0\r\n${fields(forwarded)}\r\n`;
    }
    if (tail !== '') this.socket.write(tail, 'latin1');
    this.requestWritten();
  }

  /** The request head not written yet: it leaves with the first body bytes. */
  private takeHead(): string {
    const head = this.pendingHead;
    this.pendingHead = '';
    return head;
  }

  private write(ex: Exchange): void {
    const { method, path, headers, body, upgrade } = ex.request;
    this.state = State.Head;
    this.deadline = 0;
    this.requestDone = false;
    this.responseStarted = false;
    let host = this.pool.hostField;
    let rest = '';
    let length: string | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name === 'host') host = `host: ${headers[i + 1]}\r\n`;
      else if (name === 'content-length') length = headers[i + 1];
      else rest += `${name}: ${headers[i + 1]}\r\n`;
    }
    let head = `${method} ${path} HTTP/1.1\r\n${host}${upgrade !== undefined ? `connection: upgrade\r\nupgrade: ${upgrade}\r\n` : 'connection: keep-alive\r\n'}${rest}`;
    this.chunkedRequest = body !== null && length === undefined;
    if (body === null) head += EXPECTS_PAYLOAD.has(method) ? 'content-length: 0\r\n\r\n' : '\r\n';
    else head += this.chunkedRequest ? 'transfer-encoding: chunked\r\n\r\n' : `content-length: ${length}\r\n\r\n`;
    if (body === null) {
      this.socket.write(head, 'latin1');
      this.requestWritten();
      return;
    }
    // The head and whatever of the body is already here leave in one write.
    this.pendingHead = head;
    body.start(this);
    const unsent = this.takeHead();
    if (unsent !== '') this.socket.write(unsent, 'latin1');
  }

  /** The whole request is on the wire: the response head is due within the response timeout. */
  private requestWritten(): void {
    this.requestDone = true;
    if (this.state === State.Head) this.setDeadline(this.pool.options.responseTimeoutMs, Deadline.Response);
  }

  private readonly onConnect = (): void => {
    if (this.state !== State.Connecting) return;
    this.state = State.Idle;
    this.deadline = 0;
    if (this.ex !== undefined) this.write(this.ex);
    else this.destroy(); // its exchange was aborted while it connected
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.ex === undefined || this.state === State.Closed) {
      // Bytes nobody asked for: the connection cannot be trusted with a request any more.
      this.destroy();
      return;
    }
    this.responseStarted = true;
    this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf !== undefined && this.ex !== undefined && !this.paused) {
      if (this.state === State.Head) {
        if (!this.readHead(this.buf, this.ex)) break;
      } else if (this.state === State.Body) this.readBody(this.buf, this.ex);
      else break;
    }
  };

  /** Parses a response head at the start of `buf`; false when more bytes are needed or the exchange ended. */
  private readHead(buf: Buffer, ex: Exchange): boolean {
    const end = findHeadEnd(buf, 0, MAX_RESPONSE_HEAD_BYTES, this.scanFrom);
    if (end === -1) {
      this.scanFrom = Math.max(0, buf.length - 3);
      return false;
    }
    const head = end instanceof HeadError ? end : parseResponseHead(buf, 0, end, MAX_RESPONSE_FIELDS);
    if (head instanceof HeadError) {
      this.abort(new UpstreamError('PCL_UPSTREAM_BAD_RESPONSE', `malformed response: ${head.reason}`));
      return false;
    }
    this.buf = end === buf.length ? undefined : buf.subarray(end as number);
    this.scanFrom = 0;
    const { status, reason, rawHeaders } = head;
    if (status === 101 && ex.request.upgrade !== undefined && ex.handler.onUpgrade !== undefined) {
      this.handOver(ex, status, reason, rawHeaders);
      return false;
    }
    if (status < 200) {
      if (status === 101) {
        this.abort(new UpstreamError('PCL_UPSTREAM_BAD_RESPONSE', 'protocol switch nobody asked for'));
        return false;
      }
      ex.handler.onInformational(status, reason, rawHeaders);
      return true;
    }
    const framing = responseFraming(ex.request.method, status, head.versionMinor, rawHeaders);
    if (framing instanceof UpstreamError) {
      this.abort(framing);
      return false;
    }
    this.framing = framing.framing;
    this.bodyRemaining = framing.length;
    this.keepAlive = framing.keepAlive;
    if (framing.keepAliveMs !== undefined) this.keepAliveMs = Math.min(DEFAULT_KEEP_ALIVE_MS, framing.keepAliveMs);
    this.decoder = framing.framing === Framing.Chunked ? new ChunkedDecoder(MAX_RESPONSE_TRAILER_BYTES, MAX_RESPONSE_FIELDS) : undefined;
    this.state = State.Body;
    this.touchBody();
    ex.handler.onResponse(status, reason, rawHeaders, this.resumeBody);
    if (this.ex === ex && framing.framing === Framing.Length && framing.length === 0) this.complete(ex, []);
    return this.ex === ex;
  }

  private readBody(buf: Buffer, ex: Exchange): void {
    this.touchBody();
    let more = true;
    const deliver = (chunk: Buffer): void => {
      if (this.ex === ex) more = ex.handler.onData(chunk);
    };
    let used: number;
    this.delivering = true;
    try {
      if (this.decoder !== undefined) {
        const r = this.decoder.push(buf, 0, buf.length, deliver);
        if (r instanceof HeadError) return this.abort(new UpstreamError('PCL_UPSTREAM_BAD_RESPONSE', `malformed response body: ${r.reason}`));
        used = r;
      } else {
        used = this.framing === Framing.Close ? buf.length : Math.min(this.bodyRemaining, buf.length);
        this.bodyRemaining -= used;
        deliver(used === buf.length ? buf : buf.subarray(0, used));
      }
    } finally {
      this.delivering = false;
    }
    this.buf = used === buf.length ? undefined : buf.subarray(used);
    if (this.ex !== ex) return;
    if (this.decoder !== undefined ? this.decoder.done : this.framing === Framing.Length && this.bodyRemaining === 0) this.complete(ex, this.decoder?.trailers ?? []);
    else if (!more) this.pauseBody();
  }

  /** The response is complete: the connection goes back to the pool first (if it can carry another), then onEnd. */
  private complete(ex: Exchange, trailers: string[]): void {
    ex.done = true;
    this.ex = undefined;
    this.decoder = undefined;
    const reusable = this.keepAlive && this.requestDone && this.buf === undefined;
    if (!this.requestDone) ex.request.body?.abandon();
    if (reusable) this.release();
    else this.destroy();
    ex.handler.onEnd(trailers);
  }

  private release(): void {
    this.state = State.Idle;
    this.reused = true;
    this.deadline = performance.now() + this.keepAliveMs;
    this.resumeBody();
    this.pool.release(this);
  }

  private handOver(ex: Exchange, status: number, reason: string, rawHeaders: string[]): void {
    const socket = this.socket;
    const rest = this.buf ?? Buffer.alloc(0);
    ex.done = true;
    this.ex = undefined;
    this.buf = undefined;
    this.state = State.Closed;
    socket.off('data', this.onData);
    socket.off('drain', this.onDrain);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    socket.pause();
    this.pool.sweep.delete(this);
    this.pool.removed(this);
    ex.handler.onUpgrade!(status, reason, rawHeaders, socket, rest);
  }

  private readonly resumeBody = (): void => {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
    // Resumed from inside a delivery: its loop goes on by itself.
    if (this.buf !== undefined && !this.delivering) this.onData(Buffer.alloc(0));
  };

  private pauseBody(): void {
    this.paused = true;
    this.socket.pause();
  }

  private touchBody(): void {
    this.setDeadline(RESPONSE_BODY_IDLE_MS, Deadline.Body);
  }

  private setDeadline(ms: number, kind: Deadline): void {
    this.deadline = performance.now() + ms;
    this.deadlineKind = kind;
  }

  private readonly onDrain = (): void => {
    this.ex?.request.body?.resume();
  };

  private readonly onError = (err: Error): void => {
    this.error ??= err;
  };

  private readonly onClose = (): void => {
    const was = this.state;
    this.state = State.Closed;
    this.pool.sweep.delete(this);
    this.pool.removed(this);
    const ex = this.ex;
    this.ex = undefined;
    if (ex === undefined || ex.done) return;
    if (was === State.Body && this.framing === Framing.Close && this.error === undefined) {
      ex.done = true;
      ex.request.body?.abandon();
      ex.handler.onEnd([]);
      return;
    }
    // A reused connection the upstream closed before answering (its keep-alive timeout raced the request): a
    // request without a body is sent once more on a new connection.
    if (this.reused && !this.responseStarted && ex.request.body === null && !ex.retried) {
      ex.retried = true;
      ex.conn = undefined;
      this.pool.assign(ex, true);
      return;
    }
    ex.request.body?.abandon();
    const err = this.error;
    ex.fail(err !== undefined ? new UpstreamError('PCL_UPSTREAM_ERROR', err.message, { cause: err }) : new UpstreamError('PCL_UPSTREAM_CLOSED', 'upstream closed the connection before the response was complete'));
  };
}

interface ResponseFraming {
  readonly framing: Framing;
  readonly length: number;
  readonly keepAlive: boolean;
  readonly keepAliveMs: number | undefined;
}

/** How the response's body is delimited (RFC 9112 §6.3) and whether the connection can carry another request. */
function responseFraming(method: string, status: number, versionMinor: 0 | 1, raw: readonly string[]): ResponseFraming | UpstreamError {
  let length: string | undefined;
  let transferEncoding: string | undefined;
  let close = false;
  let keepAliveToken = false;
  let keepAliveMs: number | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    switch (name.length) {
      case 10: {
        const lower = name.toLowerCase();
        if (lower === 'connection') {
          const tokens = connectionTokens(value);
          close ||= tokens.close;
          keepAliveToken ||= tokens.keepAlive;
        } else if (lower === 'keep-alive') keepAliveMs = keepAliveTimeoutMs(value);
        break;
      }
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (!/^\d+$/.test(value) || (length !== undefined && length !== value)) return new UpstreamError('PCL_UPSTREAM_BAD_RESPONSE', 'invalid Content-Length in the response');
          length = value;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
    }
  }
  const keepAlive = versionMinor === 1 ? !close : keepAliveToken && !close;
  if (method === 'HEAD' || status === 204 || status === 304) return { framing: Framing.Length, length: 0, keepAlive, keepAliveMs };
  if (transferEncoding !== undefined) {
    // Both: a length the client would read differently from the chunks relayed to it (RFC 9112 §6.3 calls it a
    // likely smuggling attempt; llhttp refused it when undici read responses).
    if (length !== undefined) return new UpstreamError('PCL_UPSTREAM_BAD_RESPONSE', 'Content-Length and Transfer-Encoding in the response');
    // Chunked last: chunks delimit the body; otherwise only the end of the connection does (RFC 9112 §6.3).
    const chunked = /(?:^|,)\s*chunked\s*$/i.test(transferEncoding);
    return chunked ? { framing: Framing.Chunked, length: 0, keepAlive, keepAliveMs } : { framing: Framing.Close, length: 0, keepAlive: false, keepAliveMs };
  }
  if (length !== undefined) {
    const n = Number(length);
    if (!Number.isSafeInteger(n)) return new UpstreamError('PCL_UPSTREAM_BAD_RESPONSE', 'invalid Content-Length in the response');
    return { framing: Framing.Length, length: n, keepAlive, keepAliveMs };
  }
  return { framing: Framing.Close, length: 0, keepAlive: false, keepAliveMs };
}

const KEEP_ALIVE = { close: false, keepAlive: true };
const CLOSE = { close: true, keepAlive: false };

/** `close` / `keep-alive` in a Connection value; the usual one-token values without splitting. */
function connectionTokens(value: string): { readonly close: boolean; readonly keepAlive: boolean } {
  const lower = value.toLowerCase();
  if (lower === 'keep-alive') return KEEP_ALIVE;
  if (lower === 'close') return CLOSE;
  const out = { close: false, keepAlive: false };
  for (const t of lower.split(',')) {
    const token = t.trim();
    if (token === 'close') out.close = true;
    else if (token === 'keep-alive') out.keepAlive = true;
  }
  return out;
}

/** An upstream says the same Keep-Alive on every response: its value is parsed once. */
let lastKeepAlive = '';
let lastKeepAliveMs: number | undefined;

/** How long to keep an idle connection by the upstream's `Keep-Alive: timeout=N`: a second less, at least one. */
function keepAliveTimeoutMs(value: string): number | undefined {
  if (value !== lastKeepAlive) {
    const m = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(value);
    lastKeepAlive = value;
    lastKeepAliveMs = m === null ? undefined : Math.max(1000, Number(m[1]) * 1000 - 1000);
  }
  return lastKeepAliveMs;
}

function fields(pairs: Headers): string {
  let out = '';
  for (const [name, value] of pairs) out += `${name}: ${value}\r\n`;
  return out;
}
