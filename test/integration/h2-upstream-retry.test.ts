// An upstream that did not process a stream — it answered RST_STREAM(REFUSED_STREAM), or sent GOAWAY with a
// last stream id below it, as a server restarting gracefully does — gets the request again, once, on
// another stream; the client never sees the refusal. A second refusal, or a body too large to have been
// kept, reaches the client as the upstream's reset.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import grpc from '@grpc/grpc-js';
import { BACKEND, CLIENT, connectFrom, startH2Proxy, type H2Proxy } from '../helpers/h2-proxy-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** goaway/reset: once the request has ended; reset-early: on its first DATA, with more of the body still to come. */
type Refusal = 'goaway' | 'reset' | 'reset-early' | undefined;

/** A node:http2 upstream that refuses the next `refusals` streams as told, then echoes request bodies. */
class RefusingUpstream {
  readonly server = http2.createServer();
  refusals: Refusal[] = [];
  /** Every stream the upstream saw: the session it came on and the body it carried. */
  readonly attempts: Array<{ session: number; stream: number; path: string; bytes: number }> = [];
  private sessions = 0;
  port = 0;

  async start(): Promise<void> {
    this.server.on('session', (session) => {
      (session as http2.ServerHttp2Session & { n?: number }).n = ++this.sessions;
      session.on('error', () => {});
    });
    this.server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const session = stream.session as http2.ServerHttp2Session & { n: number };
      if (this.refusals[0] === 'reset-early') {
        stream.once('data', (c: Buffer) => {
          this.refusals.shift();
          this.attempts.push({ session: session.n, stream: stream.id!, path: String(headers[':path']), bytes: c.length });
          stream.close(NGHTTP2_REFUSED_STREAM);
        });
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        this.attempts.push({ session: session.n, stream: stream.id!, path: String(headers[':path']), bytes: body.length });
        const refusal = this.refusals.shift();
        if (refusal === 'reset') return stream.close(NGHTTP2_REFUSED_STREAM);
        if (refusal === 'goaway') {
          // This stream was not processed (the last one processed is the one before it); the connection goes
          // away soon after. Node reads a last stream id of 0 as "the latest", hence streams 3 and up only.
          assert.ok(stream.id! >= 3, 'a GOAWAY refusal needs an earlier stream on the session');
          session.goaway(NGHTTP2_NO_ERROR, stream.id! - 2);
          setTimeout(() => session.destroy(), 50);
          return;
        }
        if (String(headers['content-type']).startsWith('application/grpc')) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end(body); // the request message, echoed: same framing
          return;
        }
        stream.respond({ ':status': 200, 'x-session': String(session.n) });
        stream.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, BACKEND, resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Outcome {
  status?: number;
  body: Buffer;
  rstCode?: number;
}

function post(proxy: H2Proxy, path: string, body: Buffer): Promise<Outcome> {
  const session = connectFrom(proxy, CLIENT);
  return new Promise<Outcome>((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/octet-stream' });
    const out: Outcome = { body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    req.on('response', (h) => (out.status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('close', () => {
      out.body = Buffer.concat(chunks);
      if (req.rstCode !== NGHTTP2_NO_ERROR) out.rstCode = req.rstCode;
      resolve(out);
    });
    req.end(body);
  }).finally(() => session.close());
}

describe('HTTP/2 upstream refusals are retried once', () => {
  const upstream = new RefusingUpstream();
  let proxy: H2Proxy;
  before(async () => {
    await upstream.start();
    proxy = await startH2Proxy({ upstreamPort: upstream.port, http: 'upstreamTimeoutMs: 5000' });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });
  afterEach(() => {
    upstream.refusals = [];
    upstream.attempts.length = 0;
    proxy.metrics.clear();
  });

  test('RST_STREAM(REFUSED_STREAM): the request is sent again, body included, and answered', async () => {
    upstream.refusals = ['reset'];
    const body = Buffer.from('refused once, then served');
    const r = await post(proxy, '/refused', body);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, body);
    assert.deepEqual(upstream.attempts.map((a) => [a.path, a.bytes]), [['/refused', body.length], ['/refused', body.length]]);
    assert.deepEqual(proxy.metrics.of('upstreamRetry'), [['backend-http', 'refused_stream']]);
  });

  test('GOAWAY below the stream: the request goes again on a new upstream connection', async () => {
    await post(proxy, '/first', Buffer.from('1')); // so the refused stream is not the session's first
    upstream.attempts.length = 0;
    upstream.refusals = ['goaway'];
    const body = Buffer.alloc(40_000, 'g');
    const r = await post(proxy, '/goaway', body);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, body);
    assert.equal(upstream.attempts.length, 2);
    assert.notEqual(upstream.attempts[1]!.session, upstream.attempts[0]!.session, 'the retry used another connection');
    assert.deepEqual(proxy.metrics.of('upstreamRetry'), [['backend-http', 'goaway']]);
    // One request, one answer in the flow records: the retry is the proxy's business.
    const flows = proxy.flows.events.filter((e) => e.l7?.http?.url.endsWith('/goaway'));
    assert.deepEqual(flows.map((e) => [e.l7!.type, e.l7!.http!.code]), [['REQUEST', undefined], ['RESPONSE', 200]]);
  });

  test('a gRPC call survives the upstream going away under it', async () => {
    await post(proxy, '/first', Buffer.from('1'));
    upstream.attempts.length = 0;
    upstream.refusals = ['goaway'];
    const client = new grpc.Client(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest('/retry.Echo/Say', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('hello'), (err, value) => (err ? reject(err) : resolve(value!))),
      );
      assert.equal(reply.toString(), 'hello');
      assert.equal(upstream.attempts.length, 2);
    } finally {
      client.close();
    }
  });

  test('refused while the body is still arriving: what was sent goes again, the rest follows on the new stream', async () => {
    upstream.refusals = ['reset-early'];
    const session = connectFrom(proxy, CLIENT);
    try {
      const req = session.request({ ':method': 'POST', ':path': '/early', 'content-type': 'application/octet-stream' });
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        let status = 0;
        let body = '';
        req.on('response', (h) => (status = Number(h[':status'])));
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
      });
      req.write('first half, ');
      await waitUntil('the first half to reach the upstream', () => upstream.attempts.length > 0);
      // The refusal reaches the proxy, which counts the retry once it has opened the second stream.
      await waitUntil('the proxy to retry', () => proxy.metrics.of('upstreamRetry').length > 0);
      req.end('second half');
      assert.deepEqual(await answer, { status: 200, body: 'first half, second half' });
      assert.deepEqual(upstream.attempts.map((a) => [a.path, a.bytes]), [['/early', 12], ['/early', 23]]);
      assert.deepEqual(proxy.metrics.of('upstreamRetry'), [['backend-http', 'refused_stream']]);
    } finally {
      session.close();
    }
  });

  test('refused twice: the client gets the refusal, and the upstream saw two attempts, not more', async () => {
    upstream.refusals = ['reset', 'reset', 'reset'];
    const r = await post(proxy, '/twice', Buffer.from('x'));
    assert.equal(r.status, undefined);
    assert.equal(r.rstCode, NGHTTP2_REFUSED_STREAM);
    assert.equal(upstream.attempts.length, 2);
    assert.equal(proxy.metrics.of('upstreamRetry').length, 1, 'one retry, not two');
  });

  test('a body over 64 KiB is not kept for a retry: the refusal reaches the client', async () => {
    upstream.refusals = ['reset'];
    const r = await post(proxy, '/large', Buffer.alloc(100_000, 'l'));
    assert.equal(r.rstCode, NGHTTP2_REFUSED_STREAM);
    assert.equal(upstream.attempts.length, 1);
  });
});
