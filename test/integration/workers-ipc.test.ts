// The primary's messages to a worker that has just exited. A worker's exit reaches the primary only when its event
// loop next runs; on a loaded machine a message sent in between hits a closed channel (EPIPE). That must cost
// nothing: the exit is what the pool acts on. (Found by CI: a worker's start-up failure, then the primary's drain
// message to it, crashed the primary with a stack trace instead of its `cannot start:` line.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';
import { compile } from '../../src/runtime/compile.js';
import { WorkerPool, type Revision } from '../../src/runtime/worker-pool.js';
import { starWarsConfig } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

let dir: string;
let held: Server;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-ipc-'));
  mkdirSync(join(dir, 'policies'));
  held = createServer().listen(0, '127.0.0.1');
  await once(held, 'listening');
});
after(() => {
  held.close();
  rmSync(dir, { recursive: true, force: true });
});

function revision(listenPort: number): Revision {
  const file = join(dir, `portcullis-${listenPort}.yaml`);
  const text = starWarsConfig({ upstreamPort: 9, policies: join(dir, 'policies'), flows: 'off' });
  writeFileSync(file, text.replace('listen: "127.0.0.1:0"', `listen: "127.0.0.1:${listenPort}"`));
  const { compiled, errors } = compile(file, { revision: 1 });
  assert.ok(compiled, JSON.stringify(errors));
  return { sources: compiled.sources, revision: 1 };
}

function pool(latest: Revision): WorkerPool {
  return new WorkerPool({
    size: 1,
    log: createLogger({ level: 'silent' }),
    logOptions: { level: 'info', format: 'json' },
    latest: () => latest,
    ticketKeys: randomBytes(48),
    watchCerts: false,
    onMessage: () => {},
    onRestart: () => {},
    onExit: () => {},
  });
}

/** Keeps this (the primary's) event loop from running, as a loaded machine does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

test('a worker that failed to start and exited before the primary noticed is drained without an error', async () => {
  const workers = pool(revision((held.address() as { port: number }).port));
  await assert.rejects(workers.start(), /EADDRINUSE/);
  // The worker exits right after its report; the primary learns of that only after this.
  busy(300);
  await workers.stop();
  assert.deepEqual(workers.workers(), []);
});

test('messages to a worker that was killed and not yet seen exiting are dropped; it is replaced', async () => {
  const workers = pool(revision(0));
  await workers.start();
  try {
    const [first] = workers.workers();
    first!.worker.process.kill('SIGKILL');
    busy(300);
    workers.broadcast({ t: 'reopen' });
    await waitUntil('a replacement worker to serve', () => workers.allServing() && workers.workers()[0]?.worker !== first!.worker, 10_000);
  } finally {
    await workers.stop();
  }
});
