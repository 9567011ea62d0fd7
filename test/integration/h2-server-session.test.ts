// The downstream HTTP/2 server's own duties: graceful shutdown with GOAWAY (a hand-driven client), response flow
// control against a node:http2 client that grants only a small window, and a defect confined to its stream.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { startH2EchoUpstream, type H2Echo } from '../helpers/h2-echo-upstream.js';
import { BACKEND, CLIENT, startH2Proxy } from '../helpers/h2-proxy-fixture.js';
import { ErrorCode, Flag, FrameType, RawH2Client, errorCodeOf, requestFields } from '../helpers/h2-raw-client.js';
import { waitUntil } from '../helpers/wait.js';

async function readResponse(req: http2.ClientHttp2Stream): Promise<{ status: number; body: Buffer }> {
  const status = new Promise<number>((resolve) => req.once('response', (h) => resolve(Number(h[':status']))));
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve, reject) => {
    req.once('end', () => resolve());
    req.once('error', reject);
  });
  return { status: await status, body: Buffer.concat(chunks) };
}

test('shutdown: GOAWAY(NO_ERROR) names the last stream, which completes; a stream opened after it is refused', async () => {
  const upstream = await startH2EchoUpstream(BACKEND);
  const proxy = await startH2Proxy({ upstreamPort: upstream.port });
  const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
  const authority = `${proxy.host}:${proxy.port}`;
  try {
    const first = raw.newStreamId();
    raw.headers(first, requestFields(authority, '/in-flight', 'POST'), false);
    raw.write(FrameType.DATA, 0, first, Buffer.from('part one, '));
    await waitUntil('the in-flight request at the upstream', () => upstream.seen.includes('/in-flight'));
    const closing = proxy.close();
    const goaway = await raw.waitFor((f) => f.type === FrameType.GOAWAY);
    assert.equal(errorCodeOf(goaway), ErrorCode.NO_ERROR);
    assert.equal(goaway.payload.readUInt32BE(0), first, 'last stream id');
    const late = raw.newStreamId();
    raw.headers(late, requestFields(authority, '/late'));
    assert.equal(errorCodeOf(await raw.waitFor((f) => f.type === FrameType.RST_STREAM && f.streamId === late)), ErrorCode.REFUSED_STREAM);
    raw.write(FrameType.DATA, Flag.END_STREAM, first, Buffer.from('part two'));
    await raw.waitClosed();
    await closing;
    const headers = raw.frames.find((f) => f.type === FrameType.HEADERS && f.streamId === first);
    assert.ok(headers, 'the stream in flight got its response');
    const body = Buffer.concat(raw.frames.filter((f) => f.type === FrameType.DATA && f.streamId === first).map((f) => f.payload));
    assert.equal((JSON.parse(body.toString()) as H2Echo).body, 'part one, part two');
    assert.ok(!upstream.seen.includes('/late'), 'the refused stream never reached the upstream');
  } finally {
    raw.close();
    await upstream.close();
  }
});

test('a client granting a 1 KiB stream window still gets a 1 MiB response intact', async () => {
  const upstream = await startH2EchoUpstream(BACKEND);
  const proxy = await startH2Proxy({ upstreamPort: upstream.port });
  const session = http2.connect(proxy.url, {
    settings: { initialWindowSize: 1024 },
    createConnection: () => net.connect({ host: proxy.host, port: proxy.port, localAddress: CLIENT }),
  });
  session.on('error', () => {});
  try {
    const payload = 'abcdefghijklmnop'.repeat(64 * 1024);
    const req = session.request({ ':method': 'POST', ':path': '/big' });
    req.end(payload);
    const { status, body } = await readResponse(req);
    assert.equal(status, 200);
    assert.equal((JSON.parse(body.toString()) as H2Echo).body, payload);
  } finally {
    session.close();
    await proxy.close();
    await upstream.close();
  }
});

test('a defect while handling one stream resets that stream with INTERNAL_ERROR; the connection goes on', async () => {
  const upstream = await startH2EchoUpstream(BACKEND);
  const proxy = await startH2Proxy({ upstreamPort: upstream.port });
  const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
  const authority = `${proxy.host}:${proxy.port}`;
  const record = proxy.flows.record;
  try {
    proxy.flows.record = () => {
      throw new Error('injected defect');
    };
    const broken = raw.newStreamId();
    raw.headers(broken, requestFields(authority, '/broken'));
    const rst = await raw.waitFor((f) => f.type === FrameType.RST_STREAM && f.streamId === broken);
    assert.equal(errorCodeOf(rst), ErrorCode.INTERNAL_ERROR);
    proxy.flows.record = record;
    const fine = raw.newStreamId();
    raw.headers(fine, requestFields(authority, '/fine'));
    await raw.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === fine);
    assert.equal(raw.goaway(), undefined);
    assert.ok(!upstream.seen.includes('/broken'));
  } finally {
    proxy.flows.record = record;
    raw.close();
    await proxy.close();
    await upstream.close();
  }
});
