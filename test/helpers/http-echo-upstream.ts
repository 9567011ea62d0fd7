// A real HTTP/1.1 upstream for proxy tests (node:http on 127.0.0.1:0). The default route echoes the
// request as JSON (trailers included); a few paths exercise what a proxy must pass through: streamed bodies both ways,
// trailers, 1xx responses, slow answers and a WebSocket echo.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readTextFrames, textFrame, websocketAccept } from './http-websocket.js';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
}

export interface EchoUpstream {
  readonly port: number;
  /** Every request that reached the upstream, in order (upgrade requests included). */
  readonly seen: SeenRequest[];
  /** Connections to the upstream that have been closed so far. */
  closedConnections(): number;
  close(): Promise<void>;
}

/** The JSON body of the default route. */
export interface Echo {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly rawHeaders: string[];
  readonly body: string;
  /** Trailer fields of a chunked request body, names as sent (empty when none). */
  readonly rawTrailers: string[];
}

/** Deterministic bytes for large-body tests. */
export function patternBytes(length: number, offset = 0): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (offset + i) % 251;
  return out;
}

export async function startEchoUpstream(host = '127.0.0.1'): Promise<EchoUpstream> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let closed = 0;
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders });
    route(req, res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => {
      sockets.delete(s);
      closed++;
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders });
    websocketEcho(req, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    closedConnections: () => closed,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?')[0] ?? '';
  if (path === '/echo-stream') {
    // Streams the request body straight back, chunked: nothing is buffered on either side.
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    req.pipe(res);
  } else if (path.startsWith('/bytes/')) {
    sendPattern(res, Number(path.slice('/bytes/'.length)));
  } else if (path === '/trailers') {
    res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Checksum' });
    res.write('part one, ');
    res.write('part two');
    res.addTrailers({ 'X-Checksum': 'c0ffee' });
    res.end();
  } else if (path === '/announced-trailer') {
    // Announces a trailer on a length-delimited response, which node:http itself refuses to produce.
    const body = req.method === 'HEAD' ? '' : 'hello';
    req.socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Checksum\r\nContent-Length: 5\r\nConnection: close\r\n\r\n${body}`);
  } else if (path === '/early-hints') {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style', 'x-hint': 'early' });
    setTimeout(() => res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' }).end('ok'), 20);
  } else if (path === '/early-reply') {
    // Answers without reading the request body (as an upload size limit would).
    res.writeHead(413, { 'Content-Type': 'text/plain', 'Content-Length': '9' }).end('too large');
  } else if (path === '/drop-upload') {
    // Drops the connection as soon as upload bytes arrive, before answering.
    req.once('data', () => req.socket.destroy());
  } else if (path === '/reset-mid-body') {
    // Announces 100 bytes, sends 10, then drops the connection.
    res.writeHead(200, { 'Content-Length': '100' });
    res.write('0123456789', () => res.socket?.destroy());
  } else if (path.startsWith('/delay/')) {
    setTimeout(() => res.writeHead(200, { 'Content-Length': '4' }).end('late'), Number(path.slice('/delay/'.length)));
  } else if (path === '/v1/request-landing') {
    drain(req, () => res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '12' }).end('Ship landed\n'));
  } else {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const echo: Echo = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
        rawTrailers: req.rawTrailers,
      };
      const body = JSON.stringify(echo);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  }
}

function drain(req: IncomingMessage, then: () => void): void {
  req.resume();
  req.on('end', then);
}

/** Writes `length` pattern bytes in 64 KiB chunks, honouring backpressure. */
function sendPattern(res: ServerResponse, length: number): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
  let sent = 0;
  const pump = (): void => {
    while (sent < length) {
      const n = Math.min(65536, length - sent);
      const ok = res.write(patternBytes(n, sent));
      sent += n;
      if (!ok) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** Accepts a WebSocket upgrade and answers every text frame with `echo: <text>`. */
function websocketEcho(req: IncomingMessage, socket: Socket, head: Buffer): void {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' + `Sec-WebSocket-Accept: ${websocketAccept(key)}\r\n\r\n`,
  );
  let pending = head;
  const onData = (chunk: Buffer): void => {
    const { texts, rest } = readTextFrames(Buffer.concat([pending, chunk]));
    pending = rest;
    for (const text of texts) socket.write(textFrame(`echo: ${text}`, false));
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
  if (head.length > 0) onData(Buffer.alloc(0));
}
