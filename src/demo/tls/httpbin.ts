// A small httpbin.org look-alike for the TLS-inspection demo: HTTPS (HTTP/1.1 and h2) with its own certificate,
// answering `/anything...`, `/get`, `/post` and `/status/<code>` with httpbin's JSON shapes, so a client can see
// that what came back is the real server's answer to exactly what it sent.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface Httpbin {
  readonly port: number;
  /** `METHOD path` of every request that reached the server. */
  readonly served: string[];
  close(): Promise<void>;
}

export async function startHttpbin(host: string, tls: { cert: Buffer; key: Buffer }): Promise<Httpbin> {
  const served: string[] = [];
  const server = http2.createSecureServer({ ...tls, allowHTTP1: true });
  server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      served.push(`${req.method} ${req.url}`);
      const authority = req.headers[':authority'] ?? req.headers.host ?? host;
      const url = new URL(req.url, `https://${authority}`);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !name.startsWith(':')));
      const common = { args: Object.fromEntries(url.searchParams), headers, origin: req.socket.remoteAddress ?? '', url: url.href };
      const data = Buffer.concat(chunks).toString();
      const send = (status: number, body: object | string) => {
        const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
        res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      const status = /^\/status\/(\d{3})$/.exec(url.pathname);
      if (url.pathname === '/anything' || url.pathname.startsWith('/anything/')) send(200, { ...common, data, method: req.method });
      else if (url.pathname === '/get' && req.method === 'GET') send(200, common);
      else if (url.pathname === '/post' && req.method === 'POST') send(200, { ...common, data });
      else if (status) send(Number(status[1]), '');
      else send(404, 'Not Found\n');
    });
  });
  server.on('sessionError', () => {});
  const sockets = new Set<import('node:tls').TLSSocket>();
  server.on('secureConnection', (socket: import('node:tls').TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
