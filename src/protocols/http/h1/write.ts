// Writing a piece of body with the framing around it (a head, a chunk-size line, a CRLF) in one socket write:
// small pieces are joined into one latin1 string, which costs Node less than corking a writev of three parts.
import type { Socket } from 'node:net';

/** Pieces up to this size travel inside the string. */
const INLINE_BYTES = 2048;

/** Writes `prefix`, `chunk`, `suffix` as one write; false when the socket's buffer is full. */
export function writeFramed(socket: Socket, prefix: string, chunk: Buffer, suffix: string): boolean {
  if (chunk.length <= INLINE_BYTES) return socket.write(prefix + chunk.toString('latin1') + suffix, 'latin1');
  socket.cork();
  if (prefix !== '') socket.write(prefix, 'latin1');
  let ok = socket.write(chunk);
  if (suffix !== '') ok = socket.write(suffix, 'latin1');
  socket.uncork();
  return ok;
}

/** The chunk-size line of a chunk of `length` bytes. */
export function chunkLine(length: number): string {
  return `${length.toString(16)}\r\n`;
}
