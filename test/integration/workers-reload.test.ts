// `workers`: a policy reload (SIGHUP) under load. The primary logs the new revision only once every worker applied
// it, so every request sent after that line must be decided by it, whichever worker its connection landed on; a
// broken file is rejected by the primary and nobody leaves the revision in force.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { failed, getPolicy, startLifecycleProxy, startLoad, type Outcome } from '../helpers/workers-lifecycle.js';

/** Lanes (connections) of the load: enough that the primary's round robin puts several on each worker. */
const LANES = 6;

test('workers: reloads under load decide every request sent after the reload line, with no failed request', { timeout: 30_000 }, async () => {
  const proxy = await startLifecycleProxy(getPolicy('/public'));
  try {
    const load = startLoad(proxy.origin, { lanes: LANES, paths: ['/public', '/new'] });
    await sleep(700);
    proxy.writePolicy(getPolicy('/public', '/new'));
    proxy.proc.signal('SIGHUP');
    const reloadedAt = await proxy.waitForLog('policy snapshot reloaded');
    await sleep(1000);
    const afterReload = await proxy.workers();

    proxy.writePolicy('apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nspec: [not, a, policy\n');
    proxy.proc.signal('SIGHUP');
    const rejectedAt = await proxy.waitForLog('reload rejected');
    await sleep(500);
    const afterRejection = await proxy.workers();
    const outcomes = await load.stop();

    assert.deepEqual(failed(outcomes), [], 'no transport error');
    // Before the reload line /new may be either revision's answer; from it on, only the new one's.
    const unexpected = (o: Outcome): boolean =>
      o.path === '/public' || o.sentAt > reloadedAt ? o.status !== 200 : o.status !== 200 && o.status !== 403;
    assert.deepEqual(outcomes.filter(unexpected), [], 'no unexpected status');
    assert.ok(outcomes.some((o) => o.path === '/new' && o.status === 403), 'revision 1 denied /new');
    const newAfter = outcomes.filter((o) => o.path === '/new' && o.sentAt > reloadedAt);
    assert.ok(newAfter.length >= 50, `${newAfter.length} requests for /new after the reload line`);
    assert.ok(
      outcomes.some((o) => o.sentAt > rejectedAt),
      'requests were served after the rejected reload',
    );

    assert.equal(proxy.logLines('policy snapshot reloaded')[0]!.revision, 2);
    assert.equal(proxy.logLines('reload rejected')[0]!.msg, 'reload rejected, keeping revision 2');
    assert.equal(JSON.parse((await proxy.admin('/policies')).body).revision, 2);
    for (const workers of [afterReload, afterRejection]) {
      assert.equal(workers.length, 2, JSON.stringify(workers));
      for (const w of workers) {
        assert.equal(w.revision, 2, JSON.stringify(workers));
        // The load's connections were on both workers: each of them decided requests after the reload.
        assert.ok((w.connections ?? 0) >= 1, `worker ${w.worker} holds load connections: ${JSON.stringify(workers)}`);
      }
    }
  } finally {
    await proxy.close();
  }
});
