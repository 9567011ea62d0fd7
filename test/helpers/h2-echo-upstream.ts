// A real h2c upstream (node:http2) for non-gRPC HTTP/2 proxy tests. The default route answers with the
// request as JSON (pseudo-headers, headers in arrival order, body); `/hang` never answers, and every
// stream the proxy resets is remembered with its RST_STREAM code.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface H2Echo {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly rawHeaders: string[];
  readonly body: string;
  /** Request trailers, if the client sent any. */
  readonly trailers?: Record<string, string>;
}

export interface H2EchoUpstream {
  readonly port: number;
  /** Paths of requests that arrived, in order. */
  readonly seen: string[];
  /** RST_STREAM codes of streams that were reset before they completed. */
  readonly resets: number[];
  close(): Promise<void>;
}

export async function startH2EchoUpstream(host: string): Promise<H2EchoUpstream> {
  const seen: string[] = [];
  const resets: number[] = [];
  const server = http2.createServer();
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => {
    const path = String(headers[':path']);
    seen.push(path);
    stream.on('error', () => {});
    stream.on('close', () => {
      if (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) resets.push(stream.rstCode);
    });
    if (path === '/hang') return;
    const chunks: Buffer[] = [];
    let trailers: Record<string, string> | undefined;
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (trailers = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, String(v)]))));
    stream.on('end', () => {
      // A request the proxy already reset (its client went away) may still end here: nothing to answer.
      if (stream.destroyed || stream.closed) return;
      const echo: H2Echo = {
        method: String(headers[':method']),
        path,
        authority: String(headers[':authority']),
        rawHeaders: raw,
        body: Buffer.concat(chunks).toString(),
        ...(trailers === undefined ? {} : { trailers }),
      };
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-upstream': 'h2c', 'set-cookie': ['a=1', 'b=2'] });
      stream.end(JSON.stringify(echo));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    resets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
