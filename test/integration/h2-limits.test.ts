// Every HTTP/2 limit provoked by a hand-rolled client that breaks the rules on purpose; each test then
// shows the proxy is still up and serving another client.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startH2EchoUpstream, type H2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { BACKEND, CLIENT, connectFrom, startH2Proxy, STRANGER, type H2Proxy } from '../helpers/h2-proxy-fixture.js';
import { ErrorCode, Flag, FrameType, PREFACE, RawH2Client, errorCodeOf, frame, headerBlock, requestFields, type Frame } from '../helpers/h2-raw-client.js';
import { waitUntil } from '../helpers/wait.js';

/** Another, well-behaved client gets a normal answer: the proxy survived. */
async function servesOthers(proxy: H2Proxy): Promise<void> {
  const session = connectFrom(proxy, STRANGER);
  try {
    const req = session.request({ ':method': 'GET', ':path': '/still-up' });
    const status = await new Promise<number>((resolve, reject) => {
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
    });
    req.resume();
    assert.equal(status, 200);
  } finally {
    session.close();
  }
}

/** The session ends with GOAWAY(ENHANCE_YOUR_CALM), and another client is still served. */
async function expectCalmGoaway(raw: RawH2Client, proxy: H2Proxy): Promise<void> {
  const goaway = await raw.waitFor((f) => f.type === FrameType.GOAWAY).catch(() => undefined);
  await raw.waitClosed();
  assert.ok(goaway, 'GOAWAY before the close');
  assert.equal(errorCodeOf(goaway), ErrorCode.ENHANCE_YOUR_CALM);
  await servesOthers(proxy);
}

const rstOn = (id: number) => (f: Frame) => f.type === FrameType.RST_STREAM && f.streamId === id;
const headersOn = (id: number) => (f: Frame) => f.type === FrameType.HEADERS && f.streamId === id;

describe('HTTP/2 limits', () => {
  let upstream: H2EchoUpstream;
  let proxy: H2Proxy;
  let authority: string;
  before(async () => {
    upstream = await startH2EchoUpstream(BACKEND);
    proxy = await startH2Proxy({
      upstreamPort: upstream.port,
      http: 'maxConcurrentStreams: 10, maxResetsPerSecond: 20, maxHeaderCount: 20, maxHeaderBytes: 4096',
    });
    authority = `${proxy.host}:${proxy.port}`;
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test('concurrent streams: the limit is advertised, and a client that exceeds it is disconnected', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      const settings = await raw.waitFor((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0);
      const advertised = new Map<number, number>();
      for (let i = 0; i + 6 <= settings.payload.length; i += 6) advertised.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
      assert.equal(advertised.get(0x3), 10, 'SETTINGS_MAX_CONCURRENT_STREAMS');
      const seenBefore = upstream.seen.length;
      for (let i = 0; i < 10; i++) raw.headers(raw.newStreamId(), requestFields(authority, '/hang'));
      await waitUntil('the ten streams at the upstream', () => upstream.seen.length >= seenBefore + 10);
      assert.equal(raw.frames.filter((f) => f.type === FrameType.RST_STREAM || f.type === FrameType.GOAWAY).length, 0, 'ten streams are fine');
      // The 11th breaks the limit the client acknowledged: a connection error (before the acknowledgement it would be refused).
      raw.headers(raw.newStreamId(), requestFields(authority, '/hang'));
      await raw.waitFor((f) => f.type === FrameType.GOAWAY);
      await raw.waitClosed();
      assert.equal(upstream.seen.length, seenBefore + 10, 'the 11th stream never reached the upstream');
      await servesOthers(proxy);
    } finally {
      raw.close();
    }
  });

  test('header count and header list size: the stream is reset, the connection stays usable', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      const many = raw.newStreamId();
      raw.headers(many, requestFields(authority, '/many', 'GET', Array.from({ length: 40 }, (_, i) => [`x-h${i}`, 'v'] as const)));
      assert.equal(errorCodeOf(await raw.waitFor(rstOn(many))), ErrorCode.ENHANCE_YOUR_CALM);
      const big = raw.newStreamId();
      raw.headers(big, requestFields(authority, '/big', 'GET', [['x-big', 'b'.repeat(8192)]]));
      assert.equal(errorCodeOf(await raw.waitFor(rstOn(big))), ErrorCode.ENHANCE_YOUR_CALM);
      assert.ok(!upstream.seen.includes('/many') && !upstream.seen.includes('/big'), 'neither reached the upstream');
      const fine = raw.newStreamId();
      raw.headers(fine, requestFields(authority, '/fine'));
      await raw.waitFor(headersOn(fine));
      assert.equal(raw.goaway(), undefined);
      await servesOthers(proxy);
    } finally {
      raw.close();
    }
  });

  test('rapid reset (CVE-2023-44487): a client resetting streams too fast gets GOAWAY(ENHANCE_YOUR_CALM)', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      for (let i = 0; i < 200 && !raw.closed; i++) {
        const id = raw.newStreamId();
        raw.headers(id, requestFields(authority, '/reset-me'));
        raw.rst(id, ErrorCode.CANCEL);
      }
      await expectCalmGoaway(raw, proxy);
    } finally {
      raw.close();
    }
  });

  test('a client that makes the proxy reset its streams (WINDOW_UPDATE of 0 on each) is cut off like rapid reset', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      const zero = Buffer.alloc(4);
      const first = raw.newStreamId();
      raw.headers(first, requestFields(authority, '/provoke'), false);
      raw.write(FrameType.WINDOW_UPDATE, 0, first, zero);
      assert.equal(errorCodeOf(await raw.waitFor(rstOn(first))), ErrorCode.PROTOCOL_ERROR, 'the stream error itself');
      for (let i = 0; i < 200 && !raw.closed; i++) {
        const id = raw.newStreamId();
        raw.headers(id, requestFields(authority, '/provoke'), false);
        raw.write(FrameType.WINDOW_UPDATE, 0, id, zero);
      }
      await expectCalmGoaway(raw, proxy);
    } finally {
      raw.close();
    }
  });

  test('ping flood (CVE-2019-9512): a client that sends PINGs and never reads the answers is disconnected', async () => {
    const socket = net.connect({ host: proxy.host, port: proxy.port, localAddress: CLIENT });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let closed = false;
    socket.on('error', () => {});
    socket.once('close', () => (closed = true));
    socket.pause(); // never read: the acknowledgements pile up on the proxy's side
    socket.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0))]));
    const ping = frame(FrameType.PING, 0, 0, Buffer.alloc(8));
    const batch = Buffer.concat(Array.from({ length: 4096 }, () => ping));
    // At most 64 MiB of PINGs; the proxy gives up long before (its answers stop being read after a few MiB).
    for (let sent = 0; sent < 64 * 1024 * 1024 && !closed; sent += batch.length) {
      if (!socket.write(batch)) await new Promise<void>((resolve) => socket.once('drain', resolve).once('close', resolve));
    }
    try {
      await waitUntil('the proxy to close the connection', () => closed, 5000);
    } finally {
      socket.destroy();
    }
    await servesOthers(proxy);
  });

  test('CONTINUATION flood (CVE-2024-27983): the connection is closed and the proxy survives', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      const id = raw.newStreamId();
      raw.write(FrameType.HEADERS, 0, id, headerBlock(requestFields(authority, '/flood')));
      const junk = headerBlock([['x-junk', 'j'.repeat(1000)]]);
      for (let i = 0; i < 10_000 && !raw.closed; i++) raw.write(FrameType.CONTINUATION, 0, id, junk);
      await raw.waitClosed(10_000);
      assert.ok(!upstream.seen.includes('/flood'), 'the flooded request never reached the upstream');
      await servesOthers(proxy);
    } finally {
      raw.close();
    }
  });
});

describe('HTTP/2 frames that cost work and carry nothing', () => {
  let upstream: H2EchoUpstream;
  let proxy: H2Proxy;
  let authority: string;
  before(async () => {
    upstream = await startH2EchoUpstream(BACKEND);
    proxy = await startH2Proxy({ upstreamPort: upstream.port });
    authority = `${proxy.host}:${proxy.port}`;
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  /** A request header block cut into HEADERS plus `continuations` CONTINUATION frames, one field each. */
  function splitRequest(raw: RawH2Client, id: number, path: string, continuations: number): void {
    const fields = requestFields(authority, path, 'GET', Array.from({ length: continuations }, (_, i) => [`x-part${i}`, 'v'] as const));
    raw.write(FrameType.HEADERS, Flag.END_STREAM, id, headerBlock(fields.slice(0, 4)));
    fields.slice(4).forEach((f, i) => raw.write(FrameType.CONTINUATION, i === continuations - 1 ? Flag.END_HEADERS : 0, id, headerBlock([f])));
  }

  test('a header block in 8 CONTINUATION frames is served; in 9 the connection is cut off', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      const eight = raw.newStreamId();
      splitRequest(raw, eight, '/eight', 8);
      await raw.waitFor(headersOn(eight));
      assert.ok(upstream.seen.includes('/eight'));
      splitRequest(raw, raw.newStreamId(), '/nine', 9);
      await expectCalmGoaway(raw, proxy);
      assert.ok(!upstream.seen.includes('/nine'));
    } finally {
      raw.close();
    }
  });

  test('one empty DATA frame is fine, two in a row cut the connection off', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      const one = raw.newStreamId();
      raw.headers(one, requestFields(authority, '/one-empty', 'POST'), false);
      raw.write(FrameType.DATA, 0, one);
      raw.write(FrameType.DATA, Flag.END_STREAM, one, Buffer.from('body'));
      await raw.waitFor(headersOn(one));
      const two = raw.newStreamId();
      raw.headers(two, requestFields(authority, '/two-empty', 'POST'), false);
      raw.write(FrameType.DATA, 0, two);
      raw.write(FrameType.DATA, 0, two);
      await expectCalmGoaway(raw, proxy);
    } finally {
      raw.close();
    }
  });

  const floods: Array<{ name: string; send: (raw: RawH2Client, id: number) => void }> = [
    { name: 'empty CONTINUATION frames (CVE-2024-27316)', send: (raw, id) => {
      raw.write(FrameType.HEADERS, Flag.END_STREAM, id, headerBlock(requestFields(authority, '/continued')));
      raw.writeRepeated(100_000, FrameType.CONTINUATION, 0, id);
    } },
    { name: 'empty CONTINUATION frames continuing trailers', send: (raw, id) => {
      raw.headers(id, requestFields(authority, '/flood', 'POST'), false);
      raw.write(FrameType.HEADERS, Flag.END_STREAM, id, headerBlock([['x-trailer', 't']]));
      raw.writeRepeated(100_000, FrameType.CONTINUATION, 0, id);
    } },
    { name: 'HEADERS that are all padding, then empty CONTINUATION frames', send: (raw, id) => {
      raw.write(FrameType.HEADERS, Flag.PADDED, id, Buffer.alloc(200, 0).fill(199, 0, 1));
      raw.writeRepeated(100_000, FrameType.CONTINUATION, 0, id);
    } },
    { name: 'empty DATA frames (CVE-2019-9518)', send: (raw, id) => {
      raw.headers(id, requestFields(authority, '/flood', 'POST'), false);
      raw.writeRepeated(100_000, FrameType.DATA, 0, id);
    } },
    { name: 'padding-only DATA frames', send: (raw, id) => {
      raw.headers(id, requestFields(authority, '/flood', 'POST'), false);
      raw.writeRepeated(100_000, FrameType.DATA, Flag.PADDED, id, Buffer.from([0]));
    } },
    { name: 'PRIORITY frames', send: (raw, id) => raw.writeRepeated(100_000, FrameType.PRIORITY, 0, id, Buffer.from([0, 0, 0, 0, 16])) },
    { name: 'WINDOW_UPDATE frames', send: (raw) => raw.writeRepeated(100_000, FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0, 1])) },
    { name: 'a batch of PINGs (CVE-2019-9512), answers read', send: (raw) => raw.writeRepeated(10_000, FrameType.PING, 0, 0, Buffer.alloc(8)) },
    { name: 'a batch of SETTINGS (CVE-2019-9515), answers read', send: (raw) => raw.writeRepeated(10_000, FrameType.SETTINGS, 0, 0) },
    { name: 'a SETTINGS frame of 2,700 entries (CVE-2020-11080)', send: (raw) => raw.write(FrameType.SETTINGS, 0, 0, Buffer.alloc(2700 * 6)) },
  ];
  for (const f of floods) {
    test(`${f.name}: GOAWAY(ENHANCE_YOUR_CALM), and others are served`, async () => {
      const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
      try {
        f.send(raw, raw.newStreamId());
        await expectCalmGoaway(raw, proxy);
        assert.ok(!upstream.seen.includes('/continued'), 'a request still in its header block never reached the upstream');
      } finally {
        raw.close();
      }
    });
  }
});

describe('HTTP/2 idle timeouts', () => {
  let upstream: H2EchoUpstream;
  let proxy: H2Proxy;
  before(async () => {
    upstream = await startH2EchoUpstream(BACKEND);
    proxy = await startH2Proxy({ upstreamPort: upstream.port, http: 'idleTimeoutMs: 300, streamIdleTimeoutMs: 300' });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test('an idle session (no open stream) is closed with GOAWAY(NO_ERROR)', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      const goaway = await raw.waitFor((f) => f.type === FrameType.GOAWAY, 3000);
      assert.equal(errorCodeOf(goaway), ErrorCode.NO_ERROR);
      await raw.waitClosed(3000);
      await servesOthers(proxy);
    } finally {
      raw.close();
    }
  });

  test('an idle stream is reset with CANCEL on both hops', async () => {
    const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
    try {
      const id = raw.newStreamId();
      // Headers without END_STREAM, then silence: a request body that never comes, an answer that never comes.
      raw.headers(id, requestFields(`${proxy.host}:${proxy.port}`, '/hang', 'POST'), false);
      assert.equal(errorCodeOf(await raw.waitFor(rstOn(id), 3000)), ErrorCode.CANCEL);
      await waitUntil('the upstream stream to be reset too', () => upstream.resets.includes(http2.constants.NGHTTP2_CANCEL), 3000);
      await servesOthers(proxy);
    } finally {
      raw.close();
    }
  });

  test('a stream that keeps moving outlives the idle timeout several times over', async () => {
    const session = connectFrom(proxy, CLIENT);
    try {
      const req = session.request({ ':method': 'POST', ':path': '/trickle' });
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        let status = 0;
        let body = '';
        req.on('response', (h) => (status = Number(h[':status'])));
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
      });
      // 12 chunks 100 ms apart: 1.2 s of upload on a stream that may be quiet for 300 ms.
      for (let i = 0; i < 12; i++) {
        req.write(`${i},`);
        await new Promise((r) => setTimeout(r, 100));
      }
      req.end('end');
      const { status, body } = await answer;
      assert.equal(status, 200);
      assert.equal((JSON.parse(body) as { body: string }).body, '0,1,2,3,4,5,6,7,8,9,10,11,end');
    } finally {
      session.close();
    }
  });
});
