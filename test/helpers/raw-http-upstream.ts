// An HTTP/1.1 upstream on a raw `net` server, for tests of the proxy's upstream connections: it records every
// connection and the requests each carried, and a test script answers each request with exactly the bytes it
// chooses (or none, or a close), so keep-alive, races and malformed framing can be staged byte for byte.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface RawUpstreamRequest {
  readonly method: string;
  readonly path: string;
  /** Flat `[name, value, ...]`, names as sent. */
  readonly rawHeaders: readonly string[];
  /** The body (Content-Length or chunked, de-chunked), latin1. */
  readonly body: string;
  /** Which connection carried it (0 for the first accepted) and its place on that connection (0 for the first). */
  readonly connection: number;
  readonly index: number;
}

/** Answers one request by writing (or not) on its socket. */
export type RawResponder = (req: RawUpstreamRequest, socket: Socket) => void;

export interface RawUpstream {
  readonly port: number;
  /** For each connection accepted so far, the paths of the requests it carried, in order. */
  readonly connections: string[][];
  /** Every request, in arrival order. */
  readonly requests: RawUpstreamRequest[];
  /** Connections open now, and the most that were open at once. */
  open(): number;
  maxOpen(): number;
  close(): Promise<void>;
}

export async function startRawUpstream(respond: RawResponder): Promise<RawUpstream> {
  const connections: string[][] = [];
  const requests: RawUpstreamRequest[] = [];
  const sockets = new Set<Socket>();
  let maxOpen = 0;
  const server: Server = createServer((socket) => {
    const connection = connections.length;
    const paths: string[] = [];
    connections.push(paths);
    sockets.add(socket);
    maxOpen = Math.max(maxOpen, sockets.size);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let parsed = parseRequest(buf); parsed !== undefined; parsed = parseRequest(buf)) {
        buf = buf.subarray(parsed.used);
        const req: RawUpstreamRequest = { ...parsed.request, connection, index: paths.length };
        paths.push(req.path);
        requests.push(req);
        respond(req, socket);
        if (socket.destroyed) return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    requests,
    open: () => sockets.size,
    maxOpen: () => maxOpen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Parsed = { request: Omit<RawUpstreamRequest, 'connection' | 'index'>; used: number };

/** One complete request at the start of `buf` (the proxy's requests are well-formed), or undefined for more bytes. */
function parseRequest(buf: Buffer): Parsed | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [line, ...fieldLines] = buf.toString('latin1', 0, headEnd).split('\r\n');
  const [method, path] = line!.split(' ');
  const rawHeaders = fieldLines.flatMap((l) => {
    const colon = l.indexOf(':');
    return [l.slice(0, colon), l.slice(colon + 1).trim()];
  });
  const field = (name: string): string | undefined => {
    const i = rawHeaders.findIndex((v, j) => j % 2 === 0 && v.toLowerCase() === name);
    return i === -1 ? undefined : rawHeaders[i + 1];
  };
  let pos = headEnd + 4;
  let body = '';
  if (field('transfer-encoding') === 'chunked') {
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd === -1) return undefined;
      const size = parseInt(buf.toString('latin1', pos, lineEnd), 16);
      if (size === 0) {
        const end = buf.indexOf('\r\n\r\n', lineEnd);
        if (end === -1) return undefined;
        pos = end + 4;
        break;
      }
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      body += buf.toString('latin1', lineEnd + 2, lineEnd + 2 + size);
      pos = lineEnd + 2 + size + 2;
    }
  } else {
    const length = Number(field('content-length') ?? 0);
    if (buf.length < pos + length) return undefined;
    body = buf.toString('latin1', pos, pos + length);
    pos += length;
  }
  return { request: { method: method!, path: path!, rawHeaders, body }, used: pos };
}

/** A complete 200 response whose body is `body`. */
export function okResponse(body: string, extraFields = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extraFields}\r\n${body}`;
}
