// `workers` when processes fail: a worker killed under load costs only its own connections and is replaced (with a
// doubling back-off when it keeps dying); the primary killed leaves no worker behind; a worker that cannot start
// makes the whole proxy exit 1 with the worker's `cannot start:` line.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil } from '../helpers/wait.js';
import { deathstarProcessConfig } from '../helpers/http-proxy-fixture.js';
import { ProxyStartFailure, runProcesses, startProxyProcess } from '../helpers/proxy-process.js';
import { failed, getPolicy, loadOnFreshConnections, startLifecycleProxy, startLoad } from '../helpers/workers-lifecycle.js';
import { metric } from '../helpers/workers-proxy.js';

const LANES = 6;
const EXITED = 'worker exited; replacing it';

test('workers: a worker killed under load costs only its connections; it is replaced and both serve again', { timeout: 30_000 }, async () => {
  const proxy = await startLifecycleProxy(getPolicy('/public'));
  try {
    const load = startLoad(proxy.origin, { lanes: LANES, paths: ['/public'] });
    await sleep(500);
    const before = await proxy.workers();
    const victim = before[0]!;
    const survivor = before[1]!;
    assert.ok((victim.connections ?? 0) >= 1 && (survivor.connections ?? 0) >= 1, `load on both workers: ${JSON.stringify(before)}`);
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    await proxy.waitForLog(EXITED);
    await waitUntil('/ready to be 200 again', async () => (await proxy.admin('/ready')).status === 200, 10_000);
    await sleep(300);
    const outcomes = await load.stop();

    const errors = failed(outcomes);
    assert.ok(errors.length <= victim.connections!, `${errors.length} errors, the killed worker held ${victim.connections} connections: ${JSON.stringify(errors)}`);
    for (let lane = 0; lane < LANES; lane++) {
      // A lane's connection dies with the worker at most once; its next one lands on a live worker.
      assert.ok(errors.filter((e) => e.lane === lane).length <= 1, `lane ${lane}: ${JSON.stringify(errors)}`);
    }
    assert.deepEqual(outcomes.filter((o) => o.error === undefined && o.status !== 200), [], 'every answer is 200');
    assert.ok(outcomes.filter((o) => o.sentAt > killedAt && o.status === 200).length >= 20, 'requests were served after the kill');

    const exit = proxy.logLines(EXITED)[0]!;
    assert.deepEqual([exit.worker, exit.workerPid, exit.signal, exit.restartInMs], [victim.worker, victim.pid, 'SIGKILL', 100]);
    assert.equal(await metric(proxy, `portcullis_worker_restarts_total{worker="${victim.worker}"}`), 1);
    assert.equal(await metric(proxy, `portcullis_worker_restarts_total{worker="${survivor.worker}"}`) ?? 0, 0);
    assert.equal(await metric(proxy, 'portcullis_workers'), 2);

    const fresh = await loadOnFreshConnections(proxy, 4, ['/public'], 500);
    assert.deepEqual(fresh.outcomes.filter((o) => o.status !== 200), [], 'requests on new connections succeed');
    const after = new Map(fresh.workers.map((w) => [w.worker, w]));
    assert.notEqual(after.get(victim.worker)?.pid, victim.pid, 'the killed worker was replaced');
    assert.equal(after.get(survivor.worker)?.pid, survivor.pid, 'the other worker kept running');
    for (const w of fresh.workers) {
      assert.ok(w.serving && w.revision === 1 && (w.connections ?? 0) >= 1, `worker ${w.worker} serves new connections: ${JSON.stringify(fresh.workers)}`);
    }
  } finally {
    await proxy.close();
  }
});

// A worker cannot be made to crash by config or traffic, so this one is killed each time it has come up.
test('workers: a worker that keeps dying is restarted after 100, 200, 400 and 800 ms, not ready meanwhile', { timeout: 30_000 }, async () => {
  const proxy = await startLifecycleProxy(getPolicy('/public'));
  try {
    const other = (await proxy.workers())[1]!;
    const pids: number[] = [];
    let notReadyDuringBackoff = 0;
    for (let n = 1; n <= 4; n++) {
      const w = await waitUntil(`worker 1 serving (${n})`, async () => (await proxy.workers()).find((w) => w.worker === 1 && w.serving && !pids.includes(w.pid)), 10_000);
      pids.push(w.pid);
      process.kill(w.pid, 'SIGKILL');
      await proxy.waitForLog(EXITED, n);
      if ((await proxy.admin('/ready')).status === 503) notReadyDuringBackoff++;
    }
    const last = await waitUntil('worker 1 serving again', async () => (await proxy.workers()).find((w) => w.worker === 1 && w.serving && !pids.includes(w.pid)), 10_000);
    pids.push(last.pid);

    const exits = proxy.logLines(EXITED);
    assert.deepEqual(exits.map((l) => [l.worker, l.workerPid, l.restartInMs]), pids.slice(0, 4).map((pid, i) => [1, pid, 100 * 2 ** i]));
    // Each replacement's first log line comes no sooner than its back-off after the exit it replaces.
    const lines = proxy.logLines('');
    for (let i = 0; i < 4; i++) {
      const started = lines.find((l) => l.pid === pids[i + 1])!;
      const waited = Date.parse(started.time as string) - Date.parse(exits[i]!.time as string);
      assert.ok(waited >= (exits[i]!.restartInMs as number), `replacement ${i + 1} started ${waited} ms after the exit`);
    }
    assert.equal(notReadyDuringBackoff, 4, '/ready is 503 while a worker waits to be replaced');
    assert.equal((await proxy.admin('/ready')).status, 200);
    assert.equal(await metric(proxy, 'portcullis_worker_restarts_total{worker="1"}'), 4);
    assert.equal((await proxy.workers()).find((w) => w.worker === 2)?.pid, other.pid, 'worker 2 kept running');
  } finally {
    await proxy.close();
  }
});

test('workers: the primary killed under load leaves no worker behind', { timeout: 30_000 }, async () => {
  const proxy = await startLifecycleProxy(getPolicy('/public'));
  try {
    const load = startLoad(proxy.origin, { lanes: LANES, paths: ['/public'] });
    await sleep(500);
    const pids = proxy.proc.processes();
    assert.equal(pids.length, 3, `the primary and two workers: ${pids}`);
    process.kill(proxy.proc.pid, 'SIGKILL');
    const stopped = load.stop();
    // node:cluster ends a worker whose IPC channel closes; its flow pipe, full or not, must not hold it.
    const gone = await waitUntil('every process of the run to exit', () => proxy.proc.processes().length === 0, 5000).catch(() => false);
    await stopped;
    assert.ok(gone, `processes left: ${proxy.proc.processes()}`);
  } finally {
    await proxy.close();
  }
});

test('workers: a listener port in use makes the proxy exit 1 with the worker\'s cannot start line; no worker is left', { timeout: 30_000 }, async () => {
  const held = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  const { port } = held.address() as AddressInfo;
  try {
    const start = startProxyProcess(deathstarProcessConfig(1, '', { listen: `127.0.0.1:${port}` }), { workers: 2, files: { 'policy.yaml': getPolicy('/public') } });
    await assert.rejects(start, (err: unknown) => {
      assert.ok(err instanceof ProxyStartFailure, String(err));
      assert.deepEqual(err.exit, { code: 1, signal: null }, err.stderr);
      assert.match(err.stderr, new RegExp(`^cannot start: .*127\\.0\\.0\\.1:${port}\\b`, 'm'));
      assert.deepEqual(runProcesses(err.dir), [], 'no process of the run is left');
      return true;
    });
  } finally {
    await new Promise((resolve) => held.close(resolve));
  }
});
