// What an idle keep-alive connection costs in JS heap once its request is done (issue #15: 10,000 idle
// connections in <= 200 MB). The whole runtime runs in this process with flow records to a file; the heap is
// measured after full collections, before and with a few hundred connections that each landed a ship and then
// stayed open, so both ends of every connection are counted.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, test } from 'node:test';
import { startStarWars, TIEFIGHTER, type StarWarsFixture } from '../helpers/runtime-fixture.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CONNECTIONS = 600;
/** Connections opened at once: as many upstream connections serve the warm-up as the measured ones. */
const AT_ONCE = 10;
/**
 * Proxy side and client side of one idle connection: about 5.6 KB with this build (1.3 KB of it the rendered flow
 * text of the connection, cached while fewer than 2,048 peers have any), 7.1 KB before.
 */
const MAX_HEAP_PER_CONNECTION = 6_500;
const BODY = '{"ship":"tie-ln"}';
const LANDING = `POST /v1/request-landing HTTP/1.1\r\nHost: deathstar\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`;

let sw: StarWarsFixture;
before(async () => {
  sw = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml' });
});
after(() => sw.close());

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/**
 * A connection that landed a ship (200) and now idles: the client keeps no listener, closure or bytes of its own,
 * so the heap it adds is little more than its socket.
 */
function land(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: TIEFIGHTER }, () => socket.write(LANDING));
    socket.once('error', reject);
    socket.once('data', (chunk: Buffer) => {
      socket.off('error', reject);
      socket.on('error', () => {}); // a reset after the measurement is no failure
      socket.pause();
      const status = chunk.toString('latin1', 0, chunk.indexOf('\r\n'));
      if (status.startsWith('HTTP/1.1 200 ')) resolve(socket);
      else reject(new Error(status));
    });
  });
}

async function openIdle(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += AT_ONCE) sockets.push(...(await Promise.all(Array.from({ length: Math.min(AT_ONCE, count - i) }, () => land(port)))));
  return sockets;
}

test(`${CONNECTIONS} idle keep-alive connections cost under ${MAX_HEAP_PER_CONNECTION} bytes of heap each`, async () => {
  const { port } = sw.proxy.listeners[0]!.address;
  // Code paths, the upstream pool and caches warm before the baseline.
  for (const s of await openIdle(port, 3 * AT_ONCE)) s.destroy();
  const baseline = heapUsed();
  const sockets = await openIdle(port, CONNECTIONS);
  try {
    const perConnection = (heapUsed() - baseline) / CONNECTIONS;
    // Measured while every connection is still open (the idle timeout, 5 s, has not closed them).
    assert.equal(sockets.filter((s) => s.closed).length, 0);
    assert.ok(perConnection < MAX_HEAP_PER_CONNECTION, `${perConnection.toFixed(0)} bytes of heap per idle connection`);
  } finally {
    for (const s of sockets) s.destroy();
  }
});
