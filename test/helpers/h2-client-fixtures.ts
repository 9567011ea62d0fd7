// Fixtures for the lean HTTP/2 client tests: real node:http2 servers (h2c and TLS), a client with test
// defaults, a request helper that collects everything the handler sees, and a TCP tap that records the
// server's bytes so a test can look at the frames as sent.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { H2ClientSession, type H2ClientOptions, type H2ClientStream } from '../../src/protocols/http/h2/wire/client.js';

export const HOST = '127.0.0.1';

export interface TestServer {
  readonly port: number;
  readonly server: http2.Http2Server;
  /** Server sessions currently open. */
  readonly sessions: Set<http2.ServerHttp2Session>;
  close(): Promise<void>;
}

export async function startServer(
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  options: http2.SecureServerOptions & { secure?: boolean } = {},
): Promise<TestServer> {
  const { secure, ...rest } = options;
  const server = secure ? http2.createSecureServer(rest) : http2.createServer(rest);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on('error', () => {});
    onStream(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    server: server as http2.Http2Server,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A client session with small windows by default; session errors are collected, not thrown. */
export function connect(port: number, overrides: Partial<H2ClientOptions> = {}): H2ClientSession & { errors: Error[] } {
  const session = H2ClientSession.connect({
    host: HOST,
    port,
    connectTimeoutMs: 2000,
    initialWindowSize: 65535,
    connectionWindowSize: 1 << 20,
    ...overrides,
  });
  const errors: Error[] = [];
  session.on('error', (err: Error) => errors.push(err));
  return Object.assign(session, { errors });
}

export function sessionClosed(session: H2ClientSession): Promise<void> {
  return new Promise((resolve) => session.once('close', () => resolve()));
}

export function requestHeaders(path: string, method = 'GET', extra: Array<[string, string]> = []): Array<[string, string]> {
  return [[':method', method], [':scheme', 'http'], [':authority', 'upstream.test'], [':path', path], ...extra];
}

export interface Reply {
  status: number;
  headers: string[];
  body: Buffer;
  trailers: string[] | undefined;
  ended: boolean;
  code: number;
  err: Error | undefined;
  /** onDrain calls while uploading. */
  drains: number;
}

export interface SendOptions {
  body?: Buffer;
  /** Return receive-window credit a macrotask after each chunk, or never, instead of at once. */
  consume?: 'later' | 'never';
  /** Call end() on its own after the last write() instead of end(lastChunk). */
  separateEnd?: boolean;
}

/** Sends a request (body written in 16 KiB chunks, obeying write() and onDrain) and collects the reply. */
export function send(session: H2ClientSession, headers: Array<[string, string]>, opts: SendOptions = {}): { stream: H2ClientStream; reply: Promise<Reply> } {
  const reply: Reply = { status: 0, headers: [], body: Buffer.alloc(0), trailers: undefined, ended: false, code: -1, err: undefined, drains: 0 };
  const chunks: Buffer[] = [];
  let offset = 0;
  let resolve!: (r: Reply) => void;
  const done = new Promise<Reply>((r) => (resolve = r));
  const pushBody = () => {
    const body = opts.body!;
    while (offset < body.length) {
      const chunk = body.subarray(offset, offset + 16384);
      offset += chunk.length;
      if (offset === body.length && !opts.separateEnd) return stream.end(chunk); // END_STREAM on the last DATA frame
      if (!stream.write(chunk)) return;
    }
    stream.end();
  };
  const stream: H2ClientStream = session.request(headers, opts.body === undefined, {
    onResponse(status, raw) {
      reply.status = status;
      reply.headers = raw;
    },
    onData(chunk) {
      chunks.push(Buffer.from(chunk));
      if (opts.consume === 'later') setImmediate(() => stream.consumed(chunk.length));
      else if (opts.consume === undefined) stream.consumed(chunk.length);
    },
    onTrailers(raw) {
      reply.trailers = raw;
    },
    onEnd() {
      reply.ended = true;
    },
    onClose(code, err) {
      reply.code = code;
      reply.err = err;
      reply.body = Buffer.concat(chunks);
      resolve(reply);
    },
    onDrain() {
      reply.drains++;
      pushBody();
    },
  });
  if (opts.body !== undefined) pushBody();
  return { stream, reply: done };
}

/** Header value by name from a flat [name, value, ...] list. */
export function field(raw: string[] | undefined, name: string): string | undefined {
  if (raw === undefined) return undefined;
  for (let i = 0; i < raw.length; i += 2) if (raw[i] === name) return raw[i + 1];
  return undefined;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'h2-client-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, HOST, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Tap {
  readonly port: number;
  /** Bytes the server sent, as frames (the server sends no preface). */
  serverFrames(): Array<{ type: number; flags: number; streamId: number; length: number }>;
  close(): Promise<void>;
}

/** A TCP relay to `port` that records what the server sends. */
export async function startTap(port: number): Promise<Tap> {
  const fromServer: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const tap = net.createServer((client) => {
    const upstream = net.connect(port, HOST);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    upstream.on('data', (c: Buffer) => fromServer.push(c));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => tap.listen(0, HOST, resolve));
  return {
    port: (tap.address() as net.AddressInfo).port,
    serverFrames() {
      const all = Buffer.concat(fromServer);
      const frames = [];
      for (let pos = 0; pos + 9 <= all.length; pos += 9 + all.readUIntBE(pos, 3)) {
        frames.push({ type: all[pos + 3]!, flags: all[pos + 4]!, streamId: all.readUInt32BE(pos + 5), length: all.readUIntBE(pos, 3) });
      }
      return frames;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tap.close(() => resolve());
      }),
  };
}
