// Tools for denial-of-service tests: an upstream that counts its connections, and a latency probe for the
// well-behaved client that must keep being served while an attack runs.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';

export interface CountingUpstream {
  readonly port: number;
  /** Connections open right now, and the most ever open at once. */
  open(): number;
  maxOpen(): number;
  /** The most requests ever in progress at once. */
  maxActive(): number;
  /** Requests whose body is still arriving (uploads in progress). */
  uploading(): number;
  close(): Promise<void>;
}

/**
 * An upstream (HTTP/1.1, or h2c with `maxConcurrentStreams` per connection) that answers every request with
 * its path once the request body has ended (`/slow`: after 300 ms).
 */
export async function startCountingUpstream(protocol: 'http1' | 'h2c', maxConcurrentStreams = 100): Promise<CountingUpstream> {
  let open = 0;
  let maxOpen = 0;
  let uploading = 0;
  let active = 0;
  let maxActive = 0;
  const sockets = new Set<Socket>();
  const handle = (req: IncomingMessage | http2.Http2ServerRequest, res: ServerResponse | http2.Http2ServerResponse): void => {
    uploading++;
    maxActive = Math.max(maxActive, ++active);
    res.once('close', () => active--);
    let ended = false;
    const done = () => {
      if (!ended) uploading--;
      ended = true;
    };
    req.on('close', done);
    req.resume();
    req.on('end', () => {
      done();
      const answer = () => (res as ServerResponse).end(req.url);
      if (req.url === '/slow') setTimeout(answer, 300);
      else answer();
    });
  };
  const server: Server | http2.Http2Server =
    protocol === 'http1' ? createServer({ keepAliveTimeout: 60_000 }, handle) : http2.createServer({ settings: { maxConcurrentStreams } }, handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    maxOpen = Math.max(maxOpen, ++open);
    s.once('close', () => {
      open--;
      sockets.delete(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    open: () => open,
    maxOpen: () => maxOpen,
    maxActive: () => maxActive,
    uploading: () => uploading,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
