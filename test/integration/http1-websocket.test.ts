// WebSocket upgrades through the listener: a raw handshake and echo frames when policy allows the
// upgrade request, a 403 (and no tunnel) when it does not.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startProxy, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { readTextFrames, textFrame, WEBSOCKET_POLICY, websocketAccept, websocketKey } from '../helpers/http-websocket.js';

/** Empire ships may open the `/ws` socket and nothing else. */

let proxy: ProxyFixture | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** A client socket with a running buffer of everything received. */
async function open(port: number): Promise<{ socket: Socket; received: () => Buffer; waitFor: (test: (b: Buffer) => boolean) => Promise<void> }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: TIEFIGHTER });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buffer = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (const w of waiters.splice(0)) w();
  });
  socket.on('end', () => waiters.splice(0).forEach((w) => w()));
  const waitFor = async (test: (b: Buffer) => boolean): Promise<void> => {
    const deadline = Date.now() + 3000;
    while (!test(buffer)) {
      if (Date.now() > deadline || socket.destroyed) throw new Error(`timed out; received ${JSON.stringify(buffer.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { socket, received: () => buffer, waitFor };
}

function handshake(path: string, key: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: deathstar\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

test('an allowed upgrade becomes a tunnel: 101 from upstream, frames echoed both ways', async () => {
  proxy = await startProxy({ policy: WEBSOCKET_POLICY });
  const client = await open(proxy.port);
  const key = websocketKey();
  // The first frame rides in the same packet as the handshake (Node hands it over as the upgrade head).
  client.socket.write(handshake('/ws', key) + textFrame('hello', true).toString('latin1'), 'latin1');
  await client.waitFor((b) => b.includes('\r\n\r\n'));
  const text = client.received().toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n') + 4;
  assert.equal(
    text.slice(0, headEnd),
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${websocketAccept(key)}\r\n\r\n`,
  );
  client.socket.write(textFrame('second message', true));
  client.socket.write(textFrame('x'.repeat(1000), true));
  await client.waitFor((b) => readTextFrames(b.subarray(headEnd)).texts.length === 3);
  assert.deepEqual(readTextFrames(client.received().subarray(headEnd)).texts, ['echo: hello', 'echo: second message', `echo: ${'x'.repeat(1000)}`]);
  client.socket.destroy();
  assert.deepEqual(proxy.flows.l7('RESPONSE').map((e) => e.l7?.http?.code), [101]);
});

test('a denied upgrade gets the 403 and the connection closes; the upstream never sees it', async () => {
  proxy = await startProxy({ policy: WEBSOCKET_POLICY });
  const client = await open(proxy.port);
  client.socket.write(handshake('/admin-ws', websocketKey()));
  await client.waitFor((b) => b.toString('latin1').endsWith('Access denied\r\n'));
  assert.equal(
    client.received().toString('latin1'),
    'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 15\r\nconnection: close\r\n\r\nAccess denied\r\n',
  );
  await client.waitFor(() => client.socket.readableEnded);
  assert.equal(proxy.upstream.seen.length, 0);
});

test('an upstream that refuses the upgrade answers once, then the connection closes', async () => {
  proxy = await startProxy({ policy: WEBSOCKET_POLICY });
  const client = await open(proxy.port);
  // No Sec-WebSocket-Key: the echo upstream answers 400 instead of 101.
  client.socket.write('GET /ws HTTP/1.1\r\nHost: deathstar\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  await client.waitFor(() => client.socket.readableEnded);
  assert.equal(client.received().toString('latin1'), 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
});
