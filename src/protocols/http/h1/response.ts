// One HTTP/1.1 response written onto the client connection. Its head is framed the way node:http frames it
// (the proxy's replies stayed byte for byte what they were when node:http wrote them): the caller's fields in
// order, then Date if absent, then Connection (with Keep-Alive's timeout) unless the caller set one, then
// Content-Length or Transfer-Encoding: chunked unless the caller gave a length. The head is held until the first
// body bytes or the end, so a short response leaves in one write.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { chunkLine, writeFramed } from './write.js';

/** The client connection as the response sees it. */
export interface ResponseConnection {
  readonly socket: Socket;
  /** Seconds announced in `Keep-Alive: timeout=`. */
  readonly keepAliveSeconds: number;
  /** The response is complete (all of it handed to the socket); `close`: the connection ends after it. */
  responseDone(close: boolean): void;
  /** Records that the connection moved bytes (body idle deadline). */
  touch(): void;
}

/** What the response needs to know of its request. */
export interface ResponseRequest {
  readonly method: string;
  readonly versionMinor: 0 | 1;
  /** The client asked to keep the connection (HTTP/1.1 without `close`, HTTP/1.0 with `keep-alive`). */
  readonly keepAlive: boolean;
  /** HTTP/1.0 clients get chunked bodies only when they say they take them (`TE: chunked`). */
  readonly acceptsChunked: boolean;
}

/** Field values node:http refused to write, and so does this writer: control characters other than HTAB. */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function sendableField(name: string, value: string): boolean {
  return TOKEN.test(name) && !INVALID_VALUE.test(value);
}

/**
 * True when every field (flat `[name, value, ...]`) can be written over HTTP/1.1. Fields from the HTTP/1.1 parser
 * always can; those that came through HTTP/2, which allows more octets, are checked with this before `writeHead`.
 */
export function sendableOverHttp1(fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) if (!sendableField(fields[i]!, fields[i + 1]!)) return false;
  return true;
}

let cachedDate = '';
let cachedDateUntil = 0;

/** The Date field value, formatted once per second. */
function httpDate(): string {
  const now = Date.now();
  if (now >= cachedDateUntil) {
    cachedDate = new Date(now).toUTCString();
    cachedDateUntil = now - (now % 1000) + 1000;
  }
  return cachedDate;
}

export class H1Response {
  statusCode = 0;
  /** The head was written (or is being written with the first body bytes). */
  headersSent = false;
  /** `end()` was called. */
  ended = false;
  /** The connection went away before the response was complete. */
  destroyed = false;
  /** Called when the socket can take more after `write` returned false. */
  ondrain: (() => void) | undefined;
  /** Called when the connection closes before `end()`. */
  onclose: (() => void) | undefined;

  private head = '';
  private hasBody = true;
  private hasLength = false;
  private hasTrailerField = false;
  private chunked = false;
  /** The connection ends after this response. */
  private last = false;

  constructor(
    private readonly conn: ResponseConnection,
    private readonly req: ResponseRequest,
  ) {}

  /** `100 Continue`, once policy allowed a request that expects it. */
  writeContinue(): void {
    this.conn.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
  }

  /** A 1xx response ahead of the final one (HTTP/1.1 clients only: the caller checks). */
  writeInformational(status: number, reason: string, headers: readonly string[]): void {
    this.conn.socket.write(formatHead(status, reason, headers) + '\r\n', 'latin1');
  }

  /**
   * Sets the status and fields (flat `[name, value, ...]`, each sendable: see sendableOverHttp1); nothing is written
   * yet.
   */
  writeHead(status: number, reason: string | undefined, headers: readonly string[]): void {
    if (this.headersSent) throw new Error('response head already sent');
    let hasDate = false;
    let hasConnection = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === 'date') hasDate = true;
          break;
        case 7:
          if (name.toLowerCase() === 'trailer') this.hasTrailerField = true;
          break;
        case 10:
          if (name.toLowerCase() === 'connection') {
            hasConnection = true;
            if (/(?:^|,)\s*close\s*(?:,|$)/i.test(value)) this.last = true;
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') this.hasLength = true;
          break;
      }
    }
    this.statusCode = status;
    const method = this.req.method;
    this.hasBody = !(method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200));
    let head = formatHead(status, reason ?? STATUS_CODES[status] ?? 'unknown', headers);
    if (!hasDate) head += `Date: ${httpDate()}\r\n`;
    if (!hasConnection) {
      const chunkable = this.req.versionMinor === 1 || this.req.acceptsChunked;
      if (this.req.keepAlive && (this.hasLength || chunkable)) head += `Connection: keep-alive\r\nKeep-Alive: timeout=${this.conn.keepAliveSeconds}\r\n`;
      else {
        head += 'Connection: close\r\n';
        this.last = true;
      }
    }
    this.head = head;
  }

  /** Writes body bytes; false when the socket's buffer is full (`ondrain` follows). */
  write(chunk: Buffer): boolean {
    const socket = this.conn.socket;
    if (this.destroyed) return false;
    this.conn.touch();
    const head = this.headersSent ? '' : this.flushHead(undefined);
    if (!this.hasBody || chunk.length === 0) return head === '' || socket.write(head, 'latin1');
    if (!this.chunked) return head === '' ? socket.write(chunk) : writeFramed(socket, head, chunk, '');
    return writeFramed(socket, head + chunkLine(chunk.length), chunk, '\r\n');
  }

  /** Ends the response, with a last piece of body (`body`, whose length frames it if the head is not out yet) and trailers. */
  end(body?: string | Buffer, trailers?: readonly string[]): void {
    if (this.ended || this.destroyed) return;
    this.ended = true;
    const socket = this.conn.socket;
    if (!this.headersSent) {
      const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body, 'latin1') : body.length;
      const head = this.flushHead(length);
      if (body === undefined || !this.hasBody || length === 0) socket.write(head, 'latin1');
      else if (typeof body === 'string') socket.write(head + body, 'latin1');
      else writeFramed(socket, head, body, '');
    } else if (body !== undefined) this.write(typeof body === 'string' ? Buffer.from(body, 'latin1') : body);
    if (this.chunked) socket.write(trailers === undefined || trailers.length === 0 ? '0\r\n\r\n' : `0\r\n${formatFields(sendable(trailers))}\r\n`, 'latin1');
    this.conn.responseDone(this.last);
  }

  /** Abandons the response: the connection is destroyed (a client must see a cut-short message as such). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.conn.socket.destroy();
  }

  /** The connection ended before `end()`. */
  closed(): void {
    if (this.ended || this.destroyed) return;
    this.destroyed = true;
    this.onclose?.();
  }

  /** The head with its framing fields; `length`: the whole body's length when it is known (the response ends now). */
  private flushHead(length: number | undefined): string {
    this.headersSent = true;
    let head = this.head;
    if (this.hasBody && !this.hasLength) {
      const chunkable = this.req.versionMinor === 1 || this.req.acceptsChunked;
      if (!chunkable) this.last = true; // delimited by closing the connection
      else if (!this.hasTrailerField && length !== undefined) head += `Content-Length: ${length}\r\n`;
      else {
        head += 'Transfer-Encoding: chunked\r\n';
        this.chunked = true;
      }
    }
    this.head = '';
    return head + '\r\n';
  }
}

function formatHead(status: number, reason: string, headers: readonly string[]): string {
  return `HTTP/1.1 ${status} ${reason}\r\n${formatFields(headers)}`;
}

/** Trailer fields HTTP/1.1 can carry; others (from HTTP/2, which allows more octets) are dropped. */
function sendable(fields: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2) if (sendableField(fields[i]!, fields[i + 1]!)) out.push(fields[i]!, fields[i + 1]!);
  return out;
}

function formatFields(headers: readonly string[]): string {
  let out = '';
  for (let i = 0; i < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return out;
}
