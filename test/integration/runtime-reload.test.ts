// Hot reload: file changes are validated, compiled and swapped without dropping connections; a broken file
// keeps the last good snapshot.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { packageFile } from '../../src/package-root.js';
import { QUICK_RELOAD_TIMINGS, reloadFailures, TIEFIGHTER, startStarWars, type StarWarsFixture } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const L4 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_policy.yaml'), 'utf8');
const L7 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml'), 'utf8');

async function waitForRevision(sw: StarWarsFixture, revision: number): Promise<void> {
  await waitUntil(`revision ${revision}`, () => sw.proxy.state.snapshot.revision >= revision);
}

describe('hot reload', () => {
  let sw: StarWarsFixture;
  let pool: Pool;
  before(async () => {
    sw = await startStarWars({ watch: true, admin: true, timings: QUICK_RELOAD_TIMINGS });
    writeFileSync(join(sw.policies, 'deathstar.yaml'), L4);
    await waitForRevision(sw, 2);
    pool = new Pool(sw.url, { connections: 4, localAddress: TIEFIGHTER, pipelining: 1 });
  });
  after(async () => {
    await pool.close();
    await sw.close();
  });

  const put = async () => (await pool.request({ method: 'PUT', path: '/v1/exhaust-port' }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() })));

  test('a keep-alive connection uses the new snapshot on its next request', async () => {
    assert.equal((await put()).status, 503, 'L4 policy: the PUT reaches the deathstar');
    const revision = sw.proxy.state.snapshot.revision;
    writeFileSync(join(sw.policies, 'deathstar.yaml'), L7);
    await waitForRevision(sw, revision + 1);
    const denied = await put();
    assert.deepEqual(denied, { status: 403, body: 'Access denied\r\n' });
  });

  test('reload under traffic: no request fails while policies are swapped 20 times', async () => {
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (!stop) {
        try {
          const r = await pool.request({ method: 'POST', path: '/v1/request-landing', body: 'x' });
          const body = await r.body.text();
          if (r.statusCode === 200 && body === 'Ship landed\n') ok++;
          else failures.push(`${r.statusCode} ${body}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    const start = sw.proxy.state.snapshot.revision;
    for (let i = 0; i < 20; i++) {
      writeFileSync(join(sw.policies, 'deathstar.yaml'), i % 2 === 0 ? L4 : L7);
      await waitForRevision(sw, start + i + 1);
    }
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `only ${ok} requests completed`);
  });

  test('a broken policy file keeps the last good snapshot; fixing it applies the change', async () => {
    const before = sw.proxy.state.snapshot.revision;
    writeFileSync(join(sw.policies, 'deathstar.yaml'), L7);
    await waitForRevision(sw, before + 1);
    const good = sw.proxy.state.snapshot.revision;
    const failures = await reloadFailures(sw.proxy);
    writeFileSync(join(sw.policies, 'broken.yaml'), L4.replace('port: "80"', 'port: "80"\n        bogus: 1'));
    await waitUntil('the broken file rejected', async () => (await reloadFailures(sw.proxy)) > failures);
    assert.equal(sw.proxy.state.snapshot.revision, good, 'the broken file was not applied');
    assert.equal((await put()).status, 403, 'the last good (L7) policy still applies');
    rmSync(join(sw.policies, 'broken.yaml'));
    writeFileSync(join(sw.policies, 'deathstar.yaml'), L4);
    await waitForRevision(sw, good + 1);
    assert.equal((await put()).status, 503);
  });
});
