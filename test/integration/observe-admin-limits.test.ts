// The admin listener's own bounds: a request head that never completes is cut off at the header timeout (not on
// Node's 30 s checking interval), and at most ADMIN_MAX_CONNECTIONS are open at once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ADMIN_MAX_CONNECTIONS, startAdmin, type RunningAdmin } from '../../src/observe/admin.js';
import { createMetrics } from '../../src/observe/metrics.js';
import { connectionBurst } from '../helpers/connection-burst.js';
import { starwarsSnapshot } from '../helpers/observe-starwars-snapshot.js';

const HEADERS_TIMEOUT_MS = 1000;
let admin: RunningAdmin;

before(async () => {
  const snapshot = starwarsSnapshot(1);
  admin = await startAdmin({
    listen: { host: '127.0.0.1', port: 0 },
    metrics: createMetrics(),
    ready: () => true,
    snapshot: () => snapshot,
    log: pino({ level: 'silent' }),
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
  });
});
after(() => admin.close());

test('an unfinished request head is closed within a second of the header timeout', async () => {
  const socket = connect({ host: '127.0.0.1', port: admin.address.port, localAddress: '127.0.0.3' });
  socket.on('error', () => {});
  socket.resume(); // the 408/400 and the close must be read for 'close' to come
  await once(socket, 'connect');
  const started = performance.now();
  socket.write('GET /ready HTTP/1.1\r\nHost: admin\r\n');
  const closed = await Promise.race([once(socket, 'close').then(() => true), new Promise<false>((resolve) => setTimeout(resolve, HEADERS_TIMEOUT_MS + 3000, false))]);
  socket.destroy();
  assert.ok(closed, 'still open 3 s after the header timeout');
  assert.ok(performance.now() - started < HEADERS_TIMEOUT_MS + 1500);
});

test(`at most ${ADMIN_MAX_CONNECTIONS} connections: more are closed without a byte, and there is room again once some close`, async () => {
  const get = Buffer.from('GET /ready HTTP/1.1\r\nHost: admin\r\n\r\n', 'latin1');
  const answered = (b: Buffer): boolean => b.includes('LIVE\n');
  const burst = await connectionBurst(admin.address.port, '127.0.0.3', ADMIN_MAX_CONNECTIONS + 6, get, answered);
  assert.equal(burst.served.length, ADMIN_MAX_CONNECTIONS);
  assert.equal(burst.refused, 6);
  await burst.close();
  // The server counts a connection until it has seen it close: retry briefly.
  let served = 0;
  for (let attempt = 0; attempt < 50 && served === 0; attempt++) {
    const again = await connectionBurst(admin.address.port, '127.0.0.3', 1, get, answered);
    served = again.served.length;
    await again.close();
    if (served === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(served, 1);
});
