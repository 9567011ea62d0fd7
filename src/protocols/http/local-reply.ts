// Responses the proxy writes itself: policy denials (403), refused requests (400/431/405) and upstream
// failures (503/504). Plain text, fixed length, as Envoy's local replies.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { lowerCasePairs, type Headers } from './forward-headers.js';
import type { H1Response } from './h1/response.js';

export interface LocalReply {
  readonly status: number;
  readonly body: string;
}

/**
 * Writes a local reply on an HTTP/1.x response. `close` adds `Connection: close` (after framing errors the
 * rest of the byte stream cannot be trusted). Returns the headers sent, for the response flow record.
 */
export function sendLocalReply(res: H1Response, reply: LocalReply, close: boolean): Headers {
  const length = String(Buffer.byteLength(reply.body));
  const headers = close
    ? ['content-type', 'text/plain', 'content-length', length, 'connection', 'close']
    : ['content-type', 'text/plain', 'content-length', length];
  res.writeHead(reply.status, STATUS_CODES[reply.status] ?? '', headers);
  res.end(reply.body);
  return lowerCasePairs(headers);
}

/**
 * Writes a local reply straight onto a socket the HTTP server no longer manages (upgrade and CONNECT
 * requests), then closes it once the client has read it.
 */
export function writeRawReply(socket: Socket, reply: LocalReply, lingerMs: number): Headers {
  const length = String(Buffer.byteLength(reply.body));
  const headers = ['content-type', 'text/plain', 'content-length', length, 'connection', 'close'];
  closeAfterWrite(socket, lingerMs, formatResponseHead(reply.status, STATUS_CODES[reply.status] ?? '', headers) + reply.body);
  return lowerCasePairs(headers);
}

/** An HTTP/1.1 status line and header section, for bytes written straight onto a socket. */
export function formatResponseHead(status: number, statusText: string, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${statusText}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return head + '\r\n';
}

/**
 * Ends `socket` after `data` (if any) is written. Closing with unread input makes the kernel send a RST,
 * which can destroy the reply before the client reads it (Apache's "lingering close"), so input is drained
 * for `lingerMs` first (ListenerTimings).
 */
export function closeAfterWrite(socket: Socket, lingerMs: number, data?: string): void {
  if (socket.destroyed) return;
  if (socket.writable) {
    if (data === undefined) socket.end();
    else socket.end(data, 'latin1');
  }
  socket.on('data', discard);
  socket.resume();
  // A fixed deadline, not an idle timeout: a client that keeps sending must not keep the socket.
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
}

function discard(): void {}

/** Every policy denial: Cilium's default `http-403-msg` plus the CRLF its proxy appends (15 bytes). */
export const ACCESS_DENIED_REPLY: LocalReply = { status: 403, body: 'Access denied\r\n' };
export const UPSTREAM_CONNECT_ERROR: LocalReply = { status: 503, body: 'upstream connect error\r\n' };
/** Every upstream connection is busy and the queue of requests waiting for one is full. */
export const UPSTREAM_OVERLOADED: LocalReply = { status: 503, body: 'upstream overloaded\r\n' };
export const UPSTREAM_TIMEOUT: LocalReply = { status: 504, body: 'upstream request timeout\r\n' };
export const CONNECT_NOT_ALLOWED: LocalReply = { status: 405, body: 'CONNECT is not supported by this listener\r\n' };

export function refusedRequest(status: number, reason: string): LocalReply {
  return { status, body: `${reason}\r\n` };
}
