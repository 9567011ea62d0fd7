// Which protocol a cleartext connection speaks, from its first bytes: the HTTP/2 connection preface
// (RFC 9113 §3.4, h2c with prior knowledge) or anything else, which the HTTP/1.x parser judges.
import type { Socket } from 'node:net';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Reads until the first bytes tell the protocol, puts them back (`unshift`) and calls `route` with the
 * socket paused; the new owner resumes it. A connection that has not told within `timeoutMs` of the call is
 * closed: the deadline is absolute, so a client dripping the preface a byte at a time cannot stretch it.
 * Once routed, no listener of the sniffing is left on the socket: nothing here (the first bytes, the timer)
 * stays reachable for the life of a keep-alive connection.
 */
export function sniffProtocol(socket: Socket, timeoutMs: number, route: (protocol: 'h1' | 'h2') => void): void {
  let seen: Buffer | undefined;
  const deadline = setTimeout(() => socket.destroy(), timeoutMs);
  const stop = (): void => {
    clearTimeout(deadline);
    socket.off('data', onData);
    socket.off('close', stop);
  };
  const onData = (chunk: Buffer): void => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const prefaceSoFar = seen.compare(H2_PREFACE, 0, n, 0, n) === 0;
    if (prefaceSoFar && n < H2_PREFACE.length) return;
    stop();
    socket.pause();
    socket.unshift(seen);
    route(prefaceSoFar ? 'h2' : 'h1');
  };
  socket.on('data', onData);
  socket.on('close', stop);
}
