// The HTTP/1.1 upstream pool (h1/client.ts, h1/client-connection.ts) against an upstream whose every byte the test
// stages (raw-http-upstream.ts): keep-alive reuse, one exchange per connection, retirement on Connection: close and
// close-delimited bodies, the retry of a bodiless request when a reused connection closes unanswered (and no retry
// with a body), the connection limit with its queue, and malformed upstream framing, which is never relayed.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, STAR_WARS_L4, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange } from '../helpers/http-raw-client.js';
import { okResponse, startRawUpstream, type RawResponder, type RawUpstream } from '../helpers/raw-http-upstream.js';
import { waitUntil } from '../helpers/wait.js';

let proxy: ProxyFixture | undefined;
let upstream: RawUpstream | undefined;
afterEach(async () => {
  await proxy?.close();
  await upstream?.close();
  proxy = upstream = undefined;
});

async function setUp(respond: RawResponder, http?: string): Promise<ProxyFixture> {
  upstream = await startRawUpstream(respond);
  proxy = await startProxy({ policy: STAR_WARS_L4, upstreamPort: upstream.port, ...(http !== undefined ? { http } : {}) });
  return proxy;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One request on a new client connection (node:http); resolves with the status and the whole body. */
function send(path: string, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: proxy!.port, path, method, localAddress: TIEFIGHTER, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Echoes the path, after `delayMs`. */
const echoPath = (delayMs = 0): RawResponder => (req, socket) => {
  setTimeout(() => socket.write(okResponse(req.path)), delayMs);
};

test('sequential requests reuse one keep-alive connection', async () => {
  await setUp(echoPath());
  for (const path of ['/a', '/b', '/c']) assert.deepEqual(await send(path), { status: 200, body: path });
  assert.deepEqual(upstream!.connections, [['/a', '/b', '/c']]);
});

test('concurrent requests never share a connection, and their slow responses do not mix', async () => {
  // Nothing is answered until all three requests are in (they are in flight together), then each answer goes out
  // in two pieces, 100 ms apart, so two exchanges on one connection would interleave.
  const waiting: Array<() => void> = [];
  await setUp((req, socket) => {
    const body = req.path.repeat(1000);
    waiting.push(() => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 500)}`);
      setTimeout(() => socket.write(body.slice(500)), 100);
    });
    if (waiting.length === 3) for (const answer of waiting) answer();
  });
  const answers = await Promise.all(['/one', '/two', '/six'].map((p) => send(p)));
  assert.deepEqual(answers, ['/one', '/two', '/six'].map((p) => ({ status: 200, body: p.repeat(1000) })));
  assert.equal(upstream!.connections.length, 3);
  assert.ok(upstream!.connections.every((c) => c.length === 1), JSON.stringify(upstream!.connections));
});

test('a response with Connection: close retires its connection (the upstream keeps it open regardless)', async () => {
  await setUp((req, socket) => socket.write(okResponse(req.path, req.path === '/last' ? 'Connection: close\r\n' : '')));
  assert.deepEqual(await send('/first'), { status: 200, body: '/first' });
  assert.deepEqual(await send('/last'), { status: 200, body: '/last' });
  assert.deepEqual(await send('/next'), { status: 200, body: '/next' });
  assert.deepEqual(upstream!.connections, [['/first', '/last'], ['/next']]);
});

test('an upstream that closes right after its response without announcing it: the next request still succeeds', async () => {
  await setUp((req, socket) => {
    socket.write(okResponse(req.path));
    setImmediate(() => socket.destroy());
  });
  for (const path of ['/a', '/b', '/c', '/d']) assert.deepEqual(await send(path), { status: 200, body: path });
  assert.ok(upstream!.connections.every((c) => c.length === 1), JSON.stringify(upstream!.connections));
});

/** Answers the first request of a connection; closes it, unanswered, when a second one arrives on it. */
const closesReusedConnection: RawResponder = (req, socket) => {
  if (req.index === 0) socket.write(okResponse(req.path));
  else socket.destroy();
};

test('a bodiless request on a reused connection the upstream closes unanswered is retried once on a new connection', async () => {
  await setUp(closesReusedConnection);
  // Same client connection, so the second request goes out as soon as the first response is in.
  const res = await rawExchange(proxy!.port, ['GET /one HTTP/1.1\r\nHost: d\r\n\r\n', 'GET /two HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n'], { localAddress: TIEFIGHTER });
  assert.match(res.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\/oneHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\/two$/);
  assert.deepEqual(upstream!.connections, [['/one', '/two'], ['/two']]);
  assert.deepEqual(proxy!.flows.l7('RESPONSE').map((f) => [f.verdict, f.l7?.http?.code]), [['FORWARDED', 200], ['FORWARDED', 200]]);
});

test('a request with a body is not retried: 503 and an ERROR flow', async () => {
  await setUp(closesReusedConnection);
  assert.deepEqual(await send('/one'), { status: 200, body: '/one' });
  const res = await send('/upload', 'POST', 'payload');
  assert.equal(res.status, 503);
  assert.deepEqual(upstream!.connections, [['/one', '/upload']]);
  assert.deepEqual(proxy!.flows.l7('RESPONSE').map((f) => f.verdict), ['FORWARDED']);
  const [failure] = proxy!.flows.failures();
  assert.deepEqual(failure?.localReply, { code: 503 });
  assert.match(failure?.reason ?? '', /upstream/);
});

test('upstreamMaxConnections bounds the connections; queued requests are served in order as connections free up', async () => {
  await setUp(echoPath(150), 'upstreamMaxConnections: 2');
  const paths = ['/q1', '/q2', '/q3', '/q4', '/q5'];
  const answers: Array<Promise<Answer>> = [];
  for (const path of paths) {
    answers.push(send(path));
    await sleep(20); // a defined arrival order
  }
  assert.deepEqual(await Promise.all(answers), paths.map((p) => ({ status: 200, body: p })));
  assert.equal(upstream!.maxOpen(), 2);
  assert.equal(upstream!.connections.length, 2);
  assert.deepEqual(upstream!.requests.map((r) => r.path), paths);
});

test('a close-delimited response is relayed whole and its connection is not reused', async () => {
  const body = Buffer.alloc(300_000, 'x').toString('latin1') + 'end';
  await setUp((req, socket) => {
    if (req.path !== '/close-delimited') return void socket.write(okResponse(req.path));
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n');
    socket.write(body.slice(0, 1000));
    setTimeout(() => socket.end(body.slice(1000)), 50);
  });
  const res = await send('/close-delimited');
  assert.equal(res.status, 200);
  assert.equal(res.body.length, body.length);
  assert.ok(res.body === body, 'the body arrives unchanged');
  assert.deepEqual(await send('/next'), { status: 200, body: '/next' });
  assert.deepEqual(upstream!.connections, [['/close-delimited'], ['/next']]);
});

for (const [what, response] of [
  ['two differing Content-Length fields', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
  ['a bare LF in the head', 'HTTP/1.1 200 OK\r\nX-Smuggled: 1\nContent-Length: 5\r\n\r\nhello'],
  ['an invalid chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
  // Relayed, the length would tell the client to read 2 of the 5 body bytes and the rest as the next response.
  ['Content-Length and Transfer-Encoding: chunked', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
] as const) {
  test(`an upstream response with ${what}: a 5xx local reply and an ERROR flow, nothing relayed`, async () => {
    await setUp((_req, socket) => socket.write(response));
    const res = await rawExchange(proxy!.port, 'GET /bad HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n', { localAddress: TIEFIGHTER });
    assert.match(res.text, /^HTTP\/1\.1 50[23] [^\r]*\r\n/);
    assert.doesNotMatch(res.text, /hello|X-Smuggled/i);
    // One record, of what the client got: no FORWARDED 200 for a head that was never sent, and no response at all.
    assert.equal(proxy!.flows.l7('RESPONSE').length, 0);
    const flows = proxy!.flows.failures();
    assert.equal(flows.length, 1);
    assert.match(String(flows[0]!.localReply?.code), /^50[23]$/);
  });
}

test('an invalid chunk size after the first chunk: the client sees the message cut short, never completed', async () => {
  await setUp((_req, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    setTimeout(() => socket.write('zz\r\nworld\r\n0\r\n\r\n'), 50);
  });
  const res = await rawExchange(proxy!.port, 'GET /bad HTTP/1.1\r\nHost: d\r\n\r\n', { localAddress: TIEFIGHTER, waitMs: 3000 });
  assert.match(res.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n5\r\nhello\r\n$/);
  assert.notEqual(res.ending, 'open', 'the client connection is closed');
  await waitUntil('the upstream connection to be dropped', () => upstream!.open() === 0, 2000);
});
