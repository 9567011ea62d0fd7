// Clients that drip their first bytes (a preface, a request head, a TLS handshake, a CONNECT) one octet every
// 100 ms: every such deadline runs from the accept (or the head's first octet), not from the last byte, so the
// connection is closed within the timeout plus a margin however steadily the bytes keep coming.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { Flag, FrameType, PREFACE, frame, headerBlock, requestFields } from '../helpers/h2-raw-client.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const CLIENT = '127.0.0.91';
const TIMEOUT_MS = 1000;
/** Timers here are checked at most a timeout apart (node:http's connectionsCheckingInterval, the h2 sweeps). */
const MARGIN_MS = 1500;
const DRIP_MS = 100;
/** How long a drip goes on before the test gives up on the proxy closing the connection. */
const GIVE_UP_MS = 6000;

/** Writes `first` at once, then `drip` one octet every 100 ms until the proxy closes; ms from connect to close. */
function dripUntilClosed(socket: net.Socket, drip: Buffer, first: Buffer = Buffer.alloc(0)): Promise<number> {
  return new Promise((resolve) => {
    let started = 0;
    let at = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('error', () => {});
    socket.resume();
    socket.once('connect', () => {
      started = Date.now();
      if (first.length > 0) socket.write(first);
      timer = setInterval(() => {
        if (at < drip.length && Date.now() - started < GIVE_UP_MS) return void socket.write(drip.subarray(at, ++at));
        socket.destroy();
      }, DRIP_MS);
    });
    socket.once('close', () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    });
  });
}

function assertCut(ms: number, what: string): void {
  assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `${what}: the connection lived ${ms} ms (timeout ${TIMEOUT_MS} ms)`);
}

const h2Head = (extra: number) => frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, headerBlock(requestFields('slow', '/', 'GET', [['x-slow', 's'.repeat(extra)]])));
const h1Head = (extra: number) => Buffer.from(`GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ${'s'.repeat(extra)}\r\n\r\n`);

describe('first bytes dripped one at a time', () => {
  let store: TempStore;
  let runtime: Runtime;
  before(async () => {
    store = await tempStoreWithCa();
    await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'web' }, names: ['web.example.local'] });
    const limits = `{headersTimeoutMs: ${TIMEOUT_MS}, idleTimeoutMs: 60000}`;
    runtime = await startRuntime({
      certs: store.root,
      policies: {},
      endpoints: `
- {name: web, namespace: default, labels: {app: web}, addresses: [127.0.0.90]}
- {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}]}`,
      listeners: `
- {name: plain, listen: "127.0.0.1:0", protocol: http, to: web, upstream: "127.0.0.90:9", port: 80, http: ${limits}}
- {name: secure, listen: "127.0.0.1:0", protocol: http, to: web, upstream: "127.0.0.90:9", port: 443, http: ${limits}, tls: {secret: default/web, handshakeTimeoutMs: ${TIMEOUT_MS}}}
- {name: egress, listen: "127.0.0.1:0", protocol: forward, http: ${limits}, forward: {systemResolver: false}}`,
    });
  });
  after(async () => {
    await runtime?.close();
    store?.cleanup();
  });

  const connect = (listener: string) => net.connect({ host: '127.0.0.1', port: runtime.port(listener), localAddress: CLIENT });

  test('the h2c preface (finding 13): closed after headersTimeoutMs from the accept', async () => {
    assertCut(await dripUntilClosed(connect('plain'), Buffer.concat([PREFACE, h2Head(100)])), 'h2c preface');
  });

  test('an HTTP/2 request header block after a prompt preface: closed after headersTimeoutMs from its first octet', async () => {
    const settings = frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));
    assertCut(await dripUntilClosed(connect('plain'), h2Head(100), Buffer.concat([PREFACE, settings])), 'h2 HEADERS');
  });

  test('an HTTP/1.1 request head: closed after headersTimeoutMs', async () => {
    assertCut(await dripUntilClosed(connect('plain'), h1Head(100)), 'HTTP/1.1 head');
  });

  test('a forward proxy CONNECT head: closed after headersTimeoutMs', async () => {
    assertCut(await dripUntilClosed(connect('egress'), Buffer.from(`CONNECT web.example.local:443 HTTP/1.1\r\nHost: web.example.local:443\r\nX-Slow: ${'s'.repeat(100)}\r\n\r\n`)), 'CONNECT head');
  });

  test('a TLS ClientHello: closed after tls.handshakeTimeoutMs', async () => {
    const hello = await captureClientHello();
    assertCut(await dripUntilClosed(connect('secure'), hello), 'ClientHello');
  });

  test('the rest of a TLS handshake after a prompt ClientHello: closed after tls.handshakeTimeoutMs', async () => {
    // A real client's handshake through a relay that passes its first flight on at once and drips the rest.
    const relay = net.createServer();
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const closedAfter = new Promise<number>((resolve) => {
      relay.once('connection', (client) => {
        const upstream = connect('secure');
        const rest: Buffer[] = [];
        let first = true;
        client.on('error', () => {});
        client.on('data', (chunk: Buffer) => {
          if (first) upstream.write(chunk);
          else rest.push(chunk);
          first = false;
        });
        upstream.on('data', (chunk: Buffer) => client.write(chunk));
        upstream.once('connect', () => {
          const started = Date.now();
          const drip = setInterval(() => {
            const next = rest[0];
            if (next !== undefined && Date.now() - started < GIVE_UP_MS) {
              upstream.write(next.subarray(0, 1));
              if (next.length > 1) rest[0] = next.subarray(1);
              else rest.shift();
            } else if (Date.now() - started >= GIVE_UP_MS) upstream.destroy();
          }, DRIP_MS);
          upstream.on('error', () => {});
          upstream.once('close', () => {
            clearInterval(drip);
            client.destroy();
            resolve(Date.now() - started);
          });
        });
      });
    });
    const client = tls.connect({ host: '127.0.0.1', port: (relay.address() as net.AddressInfo).port, servername: 'web.example.local', rejectUnauthorized: false });
    client.on('error', () => {});
    try {
      assertCut(await closedAfter, 'TLS handshake');
    } finally {
      client.destroy();
      relay.close();
    }
  });
});

/** The first flight of a real TLS client (node:tls): its ClientHello. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const hello = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))));
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, servername: 'web.example.local', rejectUnauthorized: false });
  client.on('error', () => {});
  try {
    return await hello;
  } finally {
    client.destroy();
    server.close();
  }
}
