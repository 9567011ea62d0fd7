// A raw TCP client for byte-level HTTP tests: writes exactly the bytes given and reports exactly the
// bytes received, and whether the server closed or reset the connection.
import { connect } from 'node:net';

export interface RawResult {
  /** Everything received, latin1-decoded. */
  readonly text: string;
  /** How the connection ended: the server closed it, reset it, or it was still open at the deadline. */
  readonly ending: 'closed' | 'reset' | 'open';
  /** The client's source port. */
  readonly localPort: number;
}

export interface RawOptions {
  readonly localAddress?: string;
  /** Stop waiting after this long (the connection may legitimately stay open). */
  readonly waitMs?: number;
  /** Resolve as soon as the received bytes satisfy this. */
  readonly until?: (text: string) => boolean;
}

/**
 * Sends `request` and collects the answer. Given a list of requests, each one after the first is sent
 * only once a final response to the previous one has started (sequential, not pipelined).
 */
export function rawExchange(port: number, request: string | Buffer | readonly string[], options: RawOptions = {}): Promise<RawResult> {
  const queue = typeof request === 'string' || Buffer.isBuffer(request) ? [request] : [...request];
  let sent = 0;
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    let text = '';
    let settled = false;
    let localPort = 0;
    socket.once('connect', () => (localPort = socket.localPort ?? 0));
    const finish = (ending: RawResult['ending']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, ending, localPort });
    };
    const timer = setTimeout(() => finish('open'), options.waitMs ?? 2000);
    const sendNext = (): void => {
      const next = queue[sent++]!;
      socket.write(typeof next === 'string' ? Buffer.from(next, 'latin1') : next);
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (options.until?.(text)) finish('open');
      else if (sent < queue.length && finalResponses(text) >= sent) sendNext();
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNRESET' ? 'reset' : 'closed'));
    sendNext();
  });
}

/** Replaces Date header values, the only bytes of a response that vary between runs. */
export function withoutDates(text: string): string {
  return text.replace(/^(date: ).*$/gim, '$1<date>');
}

/** Number of `HTTP/1.1 NNN` status lines of final (non-1xx) responses in `text`. */
function finalResponses(text: string): number {
  return (text.match(/^HTTP\/1\.1 [2-5]\d\d /gm) ?? []).length;
}
