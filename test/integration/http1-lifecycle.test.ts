// Connection lifecycle of the listener: protocol sniffing on awkward first packets, silent clients,
// CONNECT, and a graceful close that lets in-flight exchanges finish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, STAR_WARS_L4, TIEFIGHTER } from '../helpers/http-proxy-fixture.js';
import { rawExchange, withoutDates } from '../helpers/http-raw-client.js';
import { waitUntil } from '../helpers/wait.js';

test('an HTTP/1.1 request trickling in byte by byte (first byte shared with the h2 preface) is served', async () => {
  const proxy = await startProxy({ policy: STAR_WARS_L4 });
  try {
    const socket = connect({ port: proxy.port, host: '127.0.0.1', localAddress: TIEFIGHTER });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    for (const byte of 'POST /v1/request-landing HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n') {
      socket.write(byte);
      await sleep(1);
    }
    await closed;
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Ship landed\n$/);
  } finally {
    await proxy.close();
  }
});

test('an h2c preface split across packets reaches the HTTP/2 side, which answers with SETTINGS', async () => {
  const proxy = await startProxy({ policy: STAR_WARS_L4 });
  try {
    const socket = connect({ port: proxy.port, host: '127.0.0.1', localAddress: TIEFIGHTER });
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.write('PRI * HTTP/2.0\r\n');
    await sleep(50); // the point: the preface arrives in two packets
    // Rest of the preface, then an empty SETTINGS frame (length 0, type 4, flags 0, stream 0).
    socket.write(Buffer.concat([Buffer.from('\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    try {
      await waitUntil('a frame from the server', () => Buffer.concat(received).length >= 9, 3000);
    } finally {
      socket.destroy();
    }
    const frame = Buffer.concat(received);
    assert.equal(frame[3], 4, 'the first frame from the server is SETTINGS');
  } finally {
    await proxy.close();
  }
});

test('a client that connects and sends nothing is closed after headersTimeoutMs', async () => {
  const proxy = await startProxy({ policy: STAR_WARS_L4, http: 'headersTimeoutMs: 300' });
  try {
    const started = Date.now();
    const res = await rawExchange(proxy.port, '', { localAddress: TIEFIGHTER, waitMs: 3000 });
    assert.deepEqual([res.text, res.ending], ['', 'closed']);
    assert.ok(Date.now() - started < 2000);
  } finally {
    await proxy.close();
  }
});

test('CONNECT on a reverse-proxy listener gets 405 and the connection closes', async () => {
  const proxy = await startProxy({ policy: STAR_WARS_L4 });
  try {
    const res = await rawExchange(proxy.port, 'CONNECT deathstar:443 HTTP/1.1\r\nHost: deathstar:443\r\n\r\n', { localAddress: TIEFIGHTER });
    assert.equal(
      res.text,
      'HTTP/1.1 405 Method Not Allowed\r\ncontent-type: text/plain\r\ncontent-length: 43\r\nconnection: close\r\n\r\nCONNECT is not supported by this listener\r\n',
    );
    assert.equal(res.ending, 'closed');
    assert.equal(proxy.upstream.seen.length, 0);
  } finally {
    await proxy.close();
  }
});

test('close(): in-flight exchanges finish with Connection: close, idle ones are closed, new ones refused', async () => {
  const proxy = await startProxy({ policy: STAR_WARS_L4 });
  try {
    const idle = connect({ port: proxy.port, host: '127.0.0.1', localAddress: TIEFIGHTER });
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    idle.on('error', () => {});
    idle.write('POST /v1/request-landing HTTP/1.1\r\nHost: d\r\n\r\n');
    await new Promise<void>((resolve) => idle.once('data', () => resolve()));

    const inFlight = rawExchange(proxy.port, 'GET /delay/400 HTTP/1.1\r\nHost: d\r\n\r\n', { localAddress: TIEFIGHTER, waitMs: 3000 });
    await waitUntil('the in-flight request at the upstream', () => proxy.upstream.seen.some((r) => r.url === '/delay/400'));
    const closing = proxy.listener.close();
    const res = await inFlight;
    assert.equal(withoutDates(res.text), 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\nDate: <date>\r\nconnection: close\r\n\r\nlate');
    assert.equal(res.ending, 'closed');
    await idleClosed;
    await closing;
    const refused = await new Promise<string>((resolve) => {
      const s = connect({ port: proxy.port, host: '127.0.0.1' });
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED');
    assert.equal(proxy.metrics.of('connectionOpened').length, proxy.metrics.of('connectionClosed').length);
  } finally {
    // close() is idempotent: a second call returns the first one's promise.
    await proxy.close();
  }
});
