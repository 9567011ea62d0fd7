// A real HTTPS upstream for TLS proxy tests: node:http2's secure server with HTTP/1.1 allowed, so HTTP/1.1 and h2
// clients (ALPN) both reach it. Every request is answered with JSON describing it and the TLS connection it came on.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';

export interface UpstreamEcho {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  /** SNI the upstream's TLS connection was established with ('' when none). */
  readonly sni: string;
  readonly alpn: string;
  readonly httpVersion: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface HttpsUpstream {
  readonly port: number;
  /** Requests seen, in order. */
  readonly seen: UpstreamEcho[];
  close(): Promise<void>;
}

/** Serves with the certificate of `<store>/<namespace>/<name>/`. */
export async function startHttpsUpstream(store: string, secret: { namespace: string; name: string }, host = '127.0.0.1'): Promise<HttpsUpstream> {
  const dir = path.join(store, secret.namespace, secret.name);
  const seen: UpstreamEcho[] = [];
  const server = http2.createSecureServer({ allowHTTP1: true, cert: readFileSync(path.join(dir, 'tls.crt')), key: readFileSync(path.join(dir, 'tls.key')) });
  server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const socket = req.socket as unknown as TLSSocket;
      const echo: UpstreamEcho = {
        method: req.method,
        path: req.url,
        host: req.headers.host ?? req.headers[':authority'] ?? '',
        sni: typeof socket.servername === 'string' ? socket.servername : '',
        alpn: socket.alpnProtocol || '',
        httpVersion: req.httpVersion,
        headers: { ...req.headers },
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(echo);
      const body = JSON.stringify(echo);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
