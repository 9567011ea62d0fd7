// The lean HTTP/2 client against real servers: node:http2 (nghttp2) for requests, trailers, HPACK, flow
// control, stream limits, resets, GOAWAY, PING, TLS and failures; grpc-js for a unary call framed by hand;
// and a hand-driven server for what real servers never send (negative windows, protocol violations).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { startDoorServer } from '../../src/demo/cloudcity/door-server.js';
import { ErrorCode, Flag, FrameType, Setting, frame } from '../../src/protocols/http/h2/wire/frames.js';
import {
  HOST, closedPort, connect, field, requestHeaders, selfSigned, send, sessionClosed, sha256, startServer, startTap, type TestServer,
} from '../helpers/h2-client-fixtures.js';
import { RawH2Server } from '../helpers/h2-client-raw-server.js';
import { waitUntil } from '../helpers/wait.js';

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
const HUFFMAN_VALUE = `${PRINTABLE} ${'content delivered over http two '.repeat(8)}`;
const DOWNLOAD = randomBytes(16 << 20);

/** `count` copies of one frame in a single write, as a flooding peer sends them. */
function floodOf(raw: RawH2Server, count: number, type: number, flags: number, streamId: number, payload: Buffer): void {
  const one = frame(type, flags, streamId, payload.length);
  payload.copy(one, 9);
  raw.socket?.write(Buffer.concat(Array.from({ length: count }, () => one)));
}

function readBody(stream: http2.ServerHttp2Stream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks))));
}

describe('against a node:http2 server', () => {
  let srv: TestServer;
  const held = new Map<string, http2.ServerHttp2Stream>();
  const resets: number[] = [];

  before(async () => {
    srv = await startServer((stream, headers) => {
      const path = String(headers[':path']);
      stream.on('close', () => {
        if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) resets.push(stream.rstCode);
      });
      switch (path) {
        case '/echo':
          return void readBody(stream).then((body) => {
            stream.respond({ ':status': 200, 'content-type': 'application/json' });
            stream.end(JSON.stringify({ method: headers[':method'], raw: headers, body: body.toString() }));
          });
        case '/trailers':
          stream.respond({ ':status': 200 }, { waitForTrailers: true });
          stream.on('wantTrailers', () =>
            stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok', 'x-meta-bin': Buffer.from([0, 1, 2, 254, 255]).toString('base64') }),
          );
          return void stream.end('body');
        case '/huffman':
          // A fixed date: node:http2 would send the current one, which changes when the two responses straddle a
          // second and then cannot be indexed.
          stream.respond({ ':status': 200, 'x-printable': HUFFMAN_VALUE, date: 'Mon, 07 Dec 2026 12:00:00 GMT' }, { endStream: true });
          return;
        case '/upload':
          return void readBody(stream).then((body) => stream.respond({ ':status': 200, 'x-sha256': sha256(body) }, { endStream: true }));
        case '/download':
          stream.respond({ ':status': 200 });
          return void stream.end(DOWNLOAD);
        case '/reset':
          return void stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
        case '/big-headers':
          stream.respond({ ':status': 200, 'x-big': String(headers['x-size'] ? randomBytes(Number(headers['x-size'])).toString('base64') : '') }, { endStream: true });
          return;
        default:
          held.set(path, stream);
      }
    });
  });
  after(() => srv.close());

  test('GET and POST: request headers (one block in CONTINUATION frames) arrive in order, the response and body come back', async () => {
    const session = connect(srv.port);
    try {
      const get = await send(session, requestHeaders('/echo', 'GET', [['x-dup', '1'], ['x-dup', '2'], ['user-agent', 'lean']])).reply;
      assert.equal(get.status, 200);
      assert.equal(field(get.headers, 'content-type'), 'application/json');
      assert.equal(get.headers[0], ':status');
      const echoed = JSON.parse(get.body.toString()) as { method: string; raw: Record<string, string>; body: string };
      assert.equal(echoed.method, 'GET');
      assert.equal(echoed.raw['x-dup'], '1, 2');
      assert.equal(echoed.raw['user-agent'], 'lean');
      assert.equal(echoed.raw[':authority'], 'upstream.test');
      assert.deepEqual([get.ended, get.code, get.err], [true, 0, undefined]);

      // A 30000-octet header: the block goes out as HEADERS + CONTINUATION.
      const big = await send(session, requestHeaders('/echo', 'GET', [['x-big', 'b'.repeat(30000)]])).reply;
      assert.equal((JSON.parse(big.body.toString()) as { raw: Record<string, string> }).raw['x-big'], 'b'.repeat(30000));

      const post = await send(session, requestHeaders('/echo', 'POST'), { body: Buffer.from('hello upstream') }).reply;
      assert.equal(post.status, 200);
      assert.equal((JSON.parse(post.body.toString()) as { body: string }).body, 'hello upstream');
      assert.equal(session.connected, true);
      assert.equal(session.activeStreams, 0);
    } finally {
      session.destroy();
    }
  });

  test('invalid request headers throw synchronously', () => {
    const session = connect(srv.port);
    try {
      const noop = { onResponse() {}, onData() {}, onTrailers() {}, onEnd() {}, onClose() {}, onDrain() {} };
      for (const extra of [[['X-Upper', 'v']], [['x-crlf', 'a\r\nb: c']], [['x-nul', 'a\0']], [['connection', 'close']], [['te', 'gzip']], [['x-a', '1'], [':path', '/b']]] as Array<Array<[string, string]>>) {
        assert.throws(() => session.request(requestHeaders('/echo', 'GET', extra), true, noop), { code: 'ERR_HTTP2_INVALID_HEADER' }, JSON.stringify(extra));
      }
      assert.equal(session.activeStreams, 0);
    } finally {
      session.destroy();
    }
  });

  test('response trailers, with -bin metadata', async () => {
    const session = connect(srv.port);
    try {
      const r = await send(session, requestHeaders('/trailers')).reply;
      assert.equal(r.body.toString(), 'body');
      assert.deepEqual(r.trailers, ['grpc-status', '0', 'grpc-message', 'ok', 'x-meta-bin', 'AAEC/v8=']);
      assert.equal(r.ended, true);
    } finally {
      session.destroy();
    }
  });

  test('Huffman-coded, then dynamically indexed, response headers from nghttp2 (all printable ASCII)', async () => {
    const tap = await startTap(srv.port);
    const session = connect(tap.port);
    try {
      for (let i = 0; i < 2; i++) {
        const r = await send(session, requestHeaders('/huffman')).reply;
        assert.equal(field(r.headers, 'x-printable'), HUFFMAN_VALUE);
      }
      const headers = tap.serverFrames().filter((f) => f.type === FrameType.HEADERS);
      assert.equal(headers.length, 2);
      assert.ok(headers[0]!.length < HUFFMAN_VALUE.length, `first block ${headers[0]!.length} octets: Huffman-coded`);
      assert.ok(headers[1]!.length < 20, `second block ${headers[1]!.length} octets: indexed`);
    } finally {
      session.destroy();
      await tap.close();
    }
  });

  test('16 MiB up and 16 MiB down intact through 64 KiB windows', async () => {
    const session = connect(srv.port, { initialWindowSize: 65535, connectionWindowSize: 65535 });
    try {
      const upload = randomBytes(16 << 20);
      const [up, down] = await Promise.all([
        send(session, requestHeaders('/upload', 'POST'), { body: upload }).reply,
        send(session, requestHeaders('/download'), { consume: 'later' }).reply,
      ]);
      assert.equal(field(up.headers, 'x-sha256'), sha256(upload));
      assert.ok(up.drains > 0, 'write() returned false and onDrain followed');
      assert.equal(down.body.length, DOWNLOAD.length);
      assert.equal(sha256(down.body), sha256(DOWNLOAD));
    } finally {
      session.destroy();
    }
  });

  test('the server resets a stream: its code reaches onClose', async () => {
    const session = connect(srv.port);
    try {
      const r = await send(session, requestHeaders('/reset')).reply;
      assert.deepEqual([r.code, r.err, r.ended], [ErrorCode.ENHANCE_YOUR_CALM, undefined, false]);
    } finally {
      session.destroy();
    }
  });

  test('the client resets a stream: the server sees RST_STREAM with the code', async () => {
    const session = connect(srv.port);
    try {
      const { stream, reply } = send(session, requestHeaders('/hold-reset'));
      await waitUntil('the server to hold /hold-reset', () => held.has('/hold-reset'));
      stream.reset(ErrorCode.CANCEL);
      assert.equal(stream.closed, true);
      const r = await reply;
      assert.deepEqual([r.code, r.err], [ErrorCode.CANCEL, undefined]);
      const serverStream = held.get('/hold-reset')!;
      if (!serverStream.closed) await new Promise((r) => serverStream.once('close', r));
      assert.equal(serverStream.rstCode, ErrorCode.CANCEL);
    } finally {
      session.destroy();
    }
  });

  test('server GOAWAY: streams above last-stream-id are refused, the others complete; request() then throws', async () => {
    const session = connect(srv.port);
    const closed = sessionClosed(session);
    const sends = ['/g1', '/g3', '/g5'].map((p) => send(session, requestHeaders(p)));
    await waitUntil('the server to hold /g1, /g3 and /g5', () => ['/g1', '/g3', '/g5'].every((p) => held.has(p)));
    const goaway = new Promise<unknown[]>((resolve) => session.once('goaway', (...args: unknown[]) => resolve(args)));
    held.get('/g1')!.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, 3);
    assert.deepEqual((await goaway).slice(0, 2), [0, 3]);
    assert.equal(session.closed, true);
    assert.throws(() => send(session, requestHeaders('/late')), { code: 'ERR_HTTP2_GOAWAY_SESSION' });
    const refused = await sends[2]!.reply;
    assert.deepEqual(sends.map((x) => x.stream.id), [1, 3, 5]);
    assert.equal(refused.code, ErrorCode.REFUSED_STREAM);
    assert.equal((refused.err as { code?: string }).code, 'ERR_HTTP2_GOAWAY_SESSION');
    for (const p of ['/g1', '/g3']) held.get(p)!.respond({ ':status': 200 }, { endStream: true });
    for (const s of sends.slice(0, 2)) assert.equal((await s.reply).status, 200);
    await closed; // the last stream closing ends the session
    assert.deepEqual(session.errors, []);
  });

  test('close(): open streams finish, new requests throw, then the session closes', async () => {
    const session = connect(srv.port);
    const pending = send(session, requestHeaders('/hold-close'));
    await waitUntil('the server to hold /hold-close', () => held.has('/hold-close'));
    const closed = sessionClosed(session);
    session.close();
    assert.throws(() => send(session, requestHeaders('/echo')), { code: 'ERR_HTTP2_GOAWAY_SESSION' });
    held.get('/hold-close')!.respond({ ':status': 204 }, { endStream: true });
    assert.equal((await pending.reply).status, 204);
    await closed;
  });

  test('the server tearing the connection down mid-response: onClose with an error', async () => {
    const session = connect(srv.port);
    const closed = sessionClosed(session);
    const { reply } = send(session, requestHeaders('/hold-partial'));
    const stream = await waitUntil('the server to hold /hold-partial', () => held.get('/hold-partial'));
    stream.respond({ ':status': 200 });
    stream.write('partial', () => setTimeout(() => stream.session!.destroy(), 20));
    const r = await reply;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'partial');
    assert.equal(r.ended, false);
    assert.ok(r.err, 'an error');
    await closed;
    assert.equal(session.closed, true);
  });

  test('a server PING is answered', async () => {
    const session = connect(srv.port);
    try {
      await send(session, requestHeaders('/echo')).reply;
      const serverSession = [...srv.sessions].at(-1)!;
      const payload = Buffer.from('12345678');
      const echoed = await new Promise<Buffer>((resolve, reject) =>
        serverSession.ping(payload, (err, _ms, p) => (err ? reject(err) : resolve(p))),
      );
      assert.deepEqual(echoed, payload);
    } finally {
      session.destroy();
    }
  });

  test('a response header block over 16 KiB arrives in CONTINUATION frames', async () => {
    const tap = await startTap(srv.port);
    const session = connect(tap.port);
    try {
      const r = await send(session, requestHeaders('/big-headers', 'GET', [['x-size', '30000']])).reply;
      assert.equal(r.status, 200);
      assert.equal(field(r.headers, 'x-big')!.length, 40000);
      assert.ok(tap.serverFrames().some((f) => f.type === FrameType.CONTINUATION));
    } finally {
      session.destroy();
      await tap.close();
    }
  });

  test('a response header list over maxHeaderListSize resets that stream; the session goes on', async () => {
    const session = connect(srv.port, { maxHeaderListSize: 8192 });
    try {
      const big = await send(session, requestHeaders('/big-headers', 'GET', [['x-size', '9000']])).reply;
      assert.deepEqual([big.status, big.code, big.err], [0, ErrorCode.PROTOCOL_ERROR, undefined]);
      const small = await send(session, requestHeaders('/big-headers', 'GET', [['x-size', '30']])).reply;
      assert.equal(small.status, 200);
      assert.equal(field(small.headers, 'x-big')!.length, 40);
    } finally {
      session.destroy();
    }
  });

  test('stream ids running out: the last id is used, then request() throws and the session closes', async () => {
    const session = connect(srv.port);
    const closed = sessionClosed(session);
    (session as unknown as { nextId: number }).nextId = 2 ** 31 - 1;
    const last = send(session, requestHeaders('/echo'));
    assert.throws(() => send(session, requestHeaders('/echo')), { code: 'ERR_HTTP2_OUT_OF_STREAMS' });
    assert.equal((await last.reply).status, 200);
    assert.equal(last.stream.id, 2 ** 31 - 1);
    await closed;
  });
});

describe('stream limits and settings from node:http2', () => {
  test('200 concurrent requests against maxConcurrentStreams 5 all complete, never more than 5 open', async () => {
    let open = 0;
    let peak = 0;
    const seen: string[] = [];
    const srv = await startServer(
      (stream, headers) => {
        seen.push(String(headers[':path']));
        peak = Math.max(peak, ++open);
        stream.on('close', () => open--);
        setTimeout(() => stream.respond({ ':status': 200 }, { endStream: true }), 1);
      },
      { settings: { maxConcurrentStreams: 5 } },
    );
    const session = connect(srv.port);
    try {
      assert.equal(session.maxConcurrentStreams, 100);
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => send(session, requestHeaders(`/${i}`)).reply));
      assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
      assert.equal(session.maxConcurrentStreams, 5);
      assert.ok(peak <= 5 && peak >= 2, `peak ${peak}`);
      assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => `/${i}`), 'queued requests start in order');
    } finally {
      session.destroy();
      await srv.close();
    }
  });

  test('the server raising INITIAL_WINDOW_SIZE from 0 mid-connection releases queued DATA', async () => {
    let serverSession: http2.Http2Session | undefined;
    let received = 0;
    const srv = await startServer(
      (stream) => {
        serverSession = stream.session!;
        stream.on('data', (c: Buffer) => (received += c.length));
        void readBody(stream).then((body) => stream.respond({ ':status': 200, 'x-sha256': sha256(body) }, { endStream: true }));
      },
      { settings: { initialWindowSize: 0 } },
    );
    const session = connect(srv.port);
    try {
      const body = randomBytes(200_000);
      const { reply } = send(session, requestHeaders('/upload', 'POST'), { body });
      const server = await waitUntil('the upload stream at the server', () => serverSession);
      await sleep(50); // the point: nothing arrives through the zero window meanwhile
      assert.equal(received, 0, 'no DATA through a zero window');
      server.settings({ initialWindowSize: 65535 });
      assert.equal(field((await reply).headers, 'x-sha256'), sha256(body));
    } finally {
      session.destroy();
      await srv.close();
    }
  });
});

describe('connecting', () => {
  test('connection refused: streams and the session fail with ECONNREFUSED', async () => {
    const session = connect(await closedPort());
    const closed = sessionClosed(session);
    const r = await send(session, requestHeaders('/')).reply;
    assert.equal(r.code, ErrorCode.INTERNAL_ERROR);
    assert.equal((r.err as { code?: string }).code, 'ECONNREFUSED');
    await closed;
    assert.equal((session.errors[0] as { code?: string }).code, 'ECONNREFUSED');
  });

  test('destroy() before the server answers: queued streams get onClose(CANCEL) and no error', async () => {
    const session = connect(await closedPort());
    const closed = sessionClosed(session);
    const replies = [send(session, requestHeaders('/a')).reply, send(session, requestHeaders('/b')).reply];
    assert.equal(session.activeStreams, 2);
    session.destroy();
    for (const r of await Promise.all(replies)) assert.deepEqual([r.code, r.err], [ErrorCode.CANCEL, undefined]);
    await closed;
    assert.deepEqual(session.errors, []);
  });

  test('connect timeout: a server that accepts and never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, HOST, r));
    const session = connect((silent.address() as net.AddressInfo).port, { connectTimeoutMs: 150 });
    try {
      const started = Date.now();
      const r = await send(session, requestHeaders('/')).reply;
      assert.equal((r.err as { code?: string }).code, 'ETIMEDOUT');
      assert.ok(Date.now() - started >= 140);
      assert.equal(session.connected, false);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test('h2 over TLS with ALPN', async () => {
    const creds = selfSigned();
    const srv = await startServer((stream) => stream.respond({ ':status': 200, 'x-tls': String((stream.session!.socket as tls.TLSSocket).alpnProtocol) }, { endStream: true }), {
      secure: true,
      ...creds,
    });
    const session = connect(srv.port, { tls: { ca: creds.cert } });
    try {
      const r = await send(session, requestHeaders('/')).reply;
      assert.equal(r.status, 200);
      assert.equal(field(r.headers, 'x-tls'), 'h2');
    } finally {
      session.destroy();
      await srv.close();
    }
  });

  test('a TLS server that does not pick h2 by ALPN fails the session', async () => {
    const creds = selfSigned();
    const plain = tls.createServer(creds, (s) => s.on('error', () => {}));
    await new Promise<void>((r) => plain.listen(0, HOST, r));
    const session = connect((plain.address() as net.AddressInfo).port, { tls: { ca: creds.cert } });
    const closed = sessionClosed(session);
    const r = await send(session, requestHeaders('/')).reply;
    assert.equal((r.err as { code?: string }).code, 'EPROTO');
    assert.match(r.err!.message, /ALPN/);
    await closed;
    await new Promise<void>((r2) => plain.close(() => r2()));
  });
});

test('a unary gRPC call to a grpc-js server, message framed by hand', async () => {
  const door = await startDoorServer(HOST);
  const session = connect(door.port);
  try {
    const headers: Array<[string, string]> = [
      [':method', 'POST'], [':scheme', 'http'], [':authority', `${HOST}:${door.port}`], [':path', '/cloudcity.DoorManager/GetName'],
      ['content-type', 'application/grpc'], ['te', 'trailers'],
    ];
    // Not compressed, 2 bytes: DoorRequest { door_id (field 1, varint) = 7 }; END_STREAM follows in an empty DATA frame.
    const r = await send(session, headers, { body: Buffer.from([0, 0, 0, 0, 2, 0x08, 0x07]), separateEnd: true }).reply;
    assert.equal(r.status, 200);
    assert.equal(field(r.headers, 'content-type'), 'application/grpc+proto');
    assert.equal(field(r.trailers, 'grpc-status'), '0');
    // DoorNameReply { name (field 1, length-delimited) }.
    assert.equal(r.body[0], 0);
    assert.equal(r.body.readUInt32BE(1), r.body.length - 5);
    assert.deepEqual([r.body[5], r.body[6]], [0x0a, r.body.length - 7]);
    assert.equal(r.body.subarray(7).toString(), 'Spaceport Door #7');
    assert.deepEqual(door.calls, ['GetName']);
  } finally {
    session.destroy();
    await door.close();
  }
});

describe('against a hand-driven server', () => {
  const HEADERS_200: Array<[string, string]> = [[':status', '200']];

  async function opened(settings: Array<[number, number]> = [], overrides = {}): Promise<{ raw: RawH2Server; session: ReturnType<typeof connect> }> {
    const raw = await RawH2Server.start(settings);
    const session = connect(raw.port, overrides);
    await new Promise((r) => session.once('connect', r));
    return { raw, session };
  }

  test('lowering INITIAL_WINDOW_SIZE takes open streams below zero; WINDOW_UPDATEs bring them back', async () => {
    const { raw, session } = await opened([[Setting.INITIAL_WINDOW_SIZE, 100]]);
    try {
      const { reply } = send(session, requestHeaders('/up', 'POST'), { body: Buffer.alloc(300, 'x'), separateEnd: true });
      await raw.until(() => raw.dataBytes(1) === 100);
      raw.send(FrameType.SETTINGS, 0, 0, Buffer.from([0, Setting.INITIAL_WINDOW_SIZE, 0, 0, 0, 50])); // 100 sent: window -50
      await raw.until(() => raw.frames.filter((f) => f.type === FrameType.SETTINGS && f.flags & Flag.ACK).length === 2);
      raw.send(FrameType.WINDOW_UPDATE, 0, 1, Buffer.from([0, 0, 0, 100])); // -50 + 100 = 50
      await raw.until(() => raw.dataBytes(1) === 150);
      await sleep(30); // the point: no DATA beyond the window follows
      assert.equal(raw.dataBytes(1), 150);
      raw.send(FrameType.WINDOW_UPDATE, 0, 1, Buffer.from([0, 0, 0, 150]));
      const end = await raw.waitFor((f) => f.type === FrameType.DATA && (f.flags & Flag.END_STREAM) !== 0);
      assert.equal(raw.dataBytes(1), 300);
      assert.equal(end.streamId, 1);
      raw.headers(1, HEADERS_200, Flag.END_STREAM);
      assert.equal((await reply).status, 200);
    } finally {
      session.destroy();
      await raw.close();
    }
  });

  const violations: Array<{ name: string; code: number; frames: (raw: RawH2Server) => void; overrides?: object; consume?: 'never' }> = [
    { name: 'PUSH_PROMISE', code: ErrorCode.PROTOCOL_ERROR, frames: (raw) => raw.send(FrameType.PUSH_PROMISE, 0x4, 1, Buffer.from([0, 0, 0, 2, 0x82])) },
    { name: 'a frame over 16384 octets', code: ErrorCode.FRAME_SIZE_ERROR, frames: (raw) => raw.send(0xfa, 0, 0, Buffer.alloc(16385)) },
    { name: 'DATA on an idle stream', code: ErrorCode.PROTOCOL_ERROR, frames: (raw) => raw.send(FrameType.DATA, 0, 3, Buffer.from('x')) },
    { name: 'HEADERS on a server-initiated stream', code: ErrorCode.PROTOCOL_ERROR, frames: (raw) => raw.headers(2, HEADERS_200) },
    { name: 'a connection WINDOW_UPDATE of 0', code: ErrorCode.PROTOCOL_ERROR, frames: (raw) => raw.send(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(4)) },
    { name: 'a connection window past 2^31-1', code: ErrorCode.FLOW_CONTROL_ERROR, frames: (raw) => raw.send(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])) },
    { name: 'a RST_STREAM of 3 octets', code: ErrorCode.FRAME_SIZE_ERROR, frames: (raw) => raw.send(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3)) },
    { name: 'an undecodable header block', code: ErrorCode.COMPRESSION_ERROR, frames: (raw) => raw.send(FrameType.HEADERS, 0x4, 1, Buffer.from([0x80])) },
    { name: 'DATA between HEADERS and CONTINUATION', code: ErrorCode.PROTOCOL_ERROR, frames: (raw) => {
      raw.send(FrameType.HEADERS, 0, 1, Buffer.from([0x88]));
      raw.send(FrameType.DATA, 0, 1, Buffer.from('x'));
    } },
    // Floods of frames that cost work and carry nothing (CVE-2024-27316 and the CVE-2019-951x family): cut off.
    { name: 'a flood of empty CONTINUATION frames', code: ErrorCode.ENHANCE_YOUR_CALM, frames: (raw) => {
      raw.send(FrameType.HEADERS, 0, 1, Buffer.from([0x88]));
      floodOf(raw, 10_000, FrameType.CONTINUATION, 0, 1, Buffer.alloc(0));
    } },
    { name: 'a header block in more than 8 CONTINUATION frames', code: ErrorCode.ENHANCE_YOUR_CALM, frames: (raw) => {
      raw.send(FrameType.HEADERS, 0, 1, Buffer.from([0x88]));
      for (let i = 0; i < 9; i++) raw.send(FrameType.CONTINUATION, 0, 1, Buffer.from([0x88]));
    } },
    { name: 'a flood of empty DATA frames', code: ErrorCode.ENHANCE_YOUR_CALM, frames: (raw) => {
      raw.headers(1, HEADERS_200);
      floodOf(raw, 10_000, FrameType.DATA, 0, 1, Buffer.alloc(0));
    } },
    { name: 'a flood of PRIORITY frames', code: ErrorCode.ENHANCE_YOUR_CALM, frames: (raw) => floodOf(raw, 10_000, 0x2, 0, 3, Buffer.from([0, 0, 0, 1, 16])) },
    { name: 'a flood of WINDOW_UPDATE frames', code: ErrorCode.ENHANCE_YOUR_CALM, frames: (raw) => floodOf(raw, 10_000, FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0, 1])) },
    { name: 'a batch of 10,000 PINGs', code: ErrorCode.ENHANCE_YOUR_CALM, frames: (raw) => floodOf(raw, 10_000, FrameType.PING, 0, 0, Buffer.alloc(8)) },
    { name: 'a SETTINGS frame of 33 entries', code: ErrorCode.ENHANCE_YOUR_CALM, frames: (raw) => raw.send(FrameType.SETTINGS, 0, 0, Buffer.alloc(33 * 6)) },
    {
      name: 'DATA beyond the connection window',
      code: ErrorCode.FLOW_CONTROL_ERROR,
      overrides: { connectionWindowSize: 65535, initialWindowSize: 1 << 20 },
      consume: 'never',
      frames: (raw) => {
        raw.headers(1, HEADERS_200);
        for (let i = 0; i < 4; i++) raw.send(FrameType.DATA, 0, 1, Buffer.alloc(16384));
      },
    },
  ];
  for (const v of violations) {
    test(`connection error on ${v.name}: GOAWAY ${v.code}, every stream fails`, async () => {
      const { raw, session } = await opened([], v.overrides);
      try {
        const closed = sessionClosed(session);
        const { reply } = send(session, requestHeaders('/'), { consume: v.consume });
        await raw.waitFor((f) => f.type === FrameType.HEADERS);
        v.frames(raw);
        const goaway = await raw.waitFor((f) => f.type === FrameType.GOAWAY);
        assert.equal(goaway.payload.readUInt32BE(4), v.code);
        const r = await reply;
        assert.equal(r.code, ErrorCode.INTERNAL_ERROR);
        assert.equal((r.err as { errorCode?: number }).errorCode, v.code);
        await closed;
        assert.equal((session.errors[0] as { code?: string }).code, 'ERR_HTTP2_SESSION_ERROR');
      } finally {
        session.destroy();
        await raw.close();
      }
    });
  }

  test('stream errors reset one stream and leave the session up', async () => {
    const { raw, session } = await opened([], { initialWindowSize: 1000 });
    try {
      const over = send(session, requestHeaders('/over'));
      const noEnd = send(session, requestHeaders('/no-end'));
      const ok = send(session, requestHeaders('/ok'));
      await raw.until(() => raw.frames.filter((f) => f.type === FrameType.HEADERS).length === 3);
      raw.headers(1, HEADERS_200);
      raw.send(FrameType.DATA, 0, 1, Buffer.alloc(1001)); // beyond the stream's window
      raw.headers(3, HEADERS_200);
      raw.headers(3, [['grpc-status', '0']]); // trailers without END_STREAM
      raw.headers(5, HEADERS_200, Flag.END_STREAM);
      assert.equal((await over.reply).code, ErrorCode.FLOW_CONTROL_ERROR);
      assert.equal((await noEnd.reply).code, ErrorCode.PROTOCOL_ERROR);
      const fine = await ok.reply;
      assert.deepEqual([fine.status, fine.code], [200, 0]);
      const rsts = () => raw.frames.filter((f) => f.type === FrameType.RST_STREAM).map((f) => [f.streamId, f.payload.readUInt32BE(0)]);
      await raw.until(() => rsts().length === 2);
      assert.deepEqual(rsts(), [[1, ErrorCode.FLOW_CONTROL_ERROR], [3, ErrorCode.PROTOCOL_ERROR]]);
      assert.equal(session.closed, false);
    } finally {
      session.destroy();
      await raw.close();
    }
  });

  test('malformed responses (upper-case name, connection field, pseudo-header in trailers) reset only their stream', async () => {
    const { raw, session } = await opened();
    try {
      const upper = send(session, requestHeaders('/upper'));
      const conn = send(session, requestHeaders('/connection'));
      const pseudo = send(session, requestHeaders('/pseudo-trailer'));
      const ok = send(session, requestHeaders('/ok'));
      await raw.until(() => raw.frames.filter((f) => f.type === FrameType.HEADERS).length === 4);
      raw.headers(1, [[':status', '200'], ['X-Upper', '1']], Flag.END_STREAM);
      raw.headers(3, [[':status', '200'], ['connection', 'close']], Flag.END_STREAM);
      raw.headers(5, HEADERS_200);
      raw.headers(5, [[':status', '200']], Flag.END_STREAM);
      raw.headers(7, HEADERS_200, Flag.END_STREAM);
      assert.equal((await upper.reply).code, ErrorCode.PROTOCOL_ERROR);
      assert.equal((await conn.reply).code, ErrorCode.PROTOCOL_ERROR);
      assert.equal((await pseudo.reply).code, ErrorCode.PROTOCOL_ERROR);
      const fine = await ok.reply;
      assert.deepEqual([fine.status, fine.code], [200, 0]);
      assert.equal(session.closed, false);
    } finally {
      session.destroy();
      await raw.close();
    }
  });

  test('HEADERS for a stream we reset still update the HPACK table', async () => {
    const { raw, session } = await opened();
    try {
      const first = send(session, requestHeaders('/a'));
      const second = send(session, requestHeaders('/b'));
      await raw.until(() => raw.frames.filter((f) => f.type === FrameType.HEADERS).length === 2);
      first.stream.reset(ErrorCode.CANCEL);
      await raw.waitFor((f) => f.type === FrameType.RST_STREAM);
      // Stream 1: ":status: 200" indexed, then "x-seq: indexed" with incremental indexing (dynamic index 62).
      raw.send(FrameType.HEADERS, 0x4 | Flag.END_STREAM, 1, Buffer.concat([Buffer.from([0x88, 0x40, 5]), Buffer.from('x-seq'), Buffer.from([7]), Buffer.from('indexed')]));
      raw.send(FrameType.HEADERS, 0x4 | Flag.END_STREAM, 3, Buffer.from([0x88, 0xbe]));
      const r = await second.reply;
      assert.deepEqual(r.headers, [':status', '200', 'x-seq', 'indexed']);
      assert.equal((await first.reply).code, ErrorCode.CANCEL);
    } finally {
      session.destroy();
      await raw.close();
    }
  });

  test('1xx responses are skipped; padded and prioritised HEADERS and padded DATA are unwrapped', async () => {
    const { raw, session } = await opened();
    try {
      const { reply } = send(session, requestHeaders('/'));
      await raw.waitFor((f) => f.type === FrameType.HEADERS);
      raw.headers(1, [[':status', '103'], ['link', '</a>']]);
      const block = Buffer.from([0x88]);
      // PADDED | PRIORITY: pad length 3, 5 priority octets, the block, 3 octets of padding.
      raw.send(FrameType.HEADERS, 0x4 | Flag.PADDED | Flag.PRIORITY, 1, Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 16]), block, Buffer.alloc(3)]));
      raw.send(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, Buffer.concat([Buffer.from([4]), Buffer.from('body'), Buffer.alloc(4)]));
      const r = await reply;
      assert.deepEqual([r.status, r.headers, r.body.toString(), r.ended, r.code], [200, [':status', '200'], 'body', true, 0]);
    } finally {
      session.destroy();
      await raw.close();
    }
  });
});
