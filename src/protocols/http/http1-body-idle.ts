// The bound on an HTTP/1.x request body that stops making progress. Node's requestTimeout covers a whole
// request (300 s), so a client can hold an upstream connection or stream that long by sending one byte of its
// body; the body is given `ms` without any traffic on its connection instead.
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Calls `onStall` once if `req`'s connection sees no bytes either way for `ms` before its body is complete.
 * The clock is the socket's own idle timer (re-armed by I/O, no per-chunk cost); Node's server emits
 * 'timeout' on the request being read, so the connection is left to `onStall`. Returns a function that stops
 * watching (once the body no longer matters); a connection idle after that is closed by Node.
 */
export function watchRequestBody(req: IncomingMessage, res: ServerResponse, ms: number, onStall: () => void): () => void {
  // At the 'request' event a bodiless request is not `complete` yet; its callers pass ms 0.
  if (ms <= 0 || req.complete) return noop;
  const socket = req.socket;
  socket.setTimeout(ms);
  req.once('timeout', onStall);
  const stop = (): void => {
    req.off('timeout', onStall);
    req.off('end', stop);
    // Once its response is complete Node arms the keep-alive timeout on the socket: that one stays.
    if (!res.writableFinished && !socket.destroyed) socket.setTimeout(0);
  };
  req.once('end', stop);
  return stop;
}

function noop(): void {}
