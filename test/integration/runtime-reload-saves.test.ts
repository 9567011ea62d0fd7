// Hot reload whatever way an editor saves: in place (write to the same inode), by replacement (write a temporary
// file, rename it over the original: `sed -i`, vim, most editors), or by deleting and recreating. A rejected save
// must not stop later saves from being noticed: watching the old inode of a replaced file would miss them.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { Pool } from 'undici';
import { packageFile } from '../../src/package-root.js';
import { startDeathstar, type Deathstar } from '../../src/demo/starwars/deathstar.js';
import { createLogger } from '../../src/observe/logger.js';
import { startPortcullis, type Portcullis } from '../../src/runtime/server.js';
import { DEATHSTAR, QUICK_RELOAD_TIMINGS, reloadFailures, TIEFIGHTER, starWarsConfig } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const L4 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_policy.yaml'), 'utf8');
const L7 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml'), 'utf8');
const BROKEN = L4.replace('port: "80"', 'port: "80"\n        bogus: 1');
/** Longest a valid save may take to be applied (the debounce is QUICK_RELOAD_TIMINGS'). */
const APPLY_WITHIN_MS = 3000;

/** Saves the way `sed -i` and most editors do: a new file renamed over the old one (a new inode). */
function replaceSave(file: string, text: string): void {
  const tmp = join(dirname(file), `.${Date.now()}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

interface Rig {
  readonly dir: string;
  readonly configFile: string;
  readonly proxy: Portcullis;
  /**
   * PUT /v1/exhaust-port as the tiefighter: 503 from the deathstar under L4, 403 from the proxy under L7,
   * 'reset' when L3/L4 policy does not let the source in.
   */
  put(): Promise<number | 'reset'>;
  /** Reloads rejected so far, from /metrics. */
  failures(): Promise<number>;
  close(): Promise<void>;
}

/** A watching Portcullis whose `policies:` is what `layout` returns (given the rig folder), with admin for /metrics. */
async function startRig(setup: (dir: string) => string): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-saves-'));
  const policies = setup(dir);
  const deathstar: Deathstar = await startDeathstar(DEATHSTAR);
  const configFile = join(dir, 'portcullis.yaml');
  writeFileSync(configFile, starWarsConfig({ upstreamPort: deathstar.port, policies, flows: 'off', admin: true }));
  const proxy = await startPortcullis(configFile, { watch: true, log: createLogger({ level: 'silent' }), timings: QUICK_RELOAD_TIMINGS });
  const at = proxy.listeners[0]!.address;
  const pool = new Pool(`http://${at.host}:${at.port}`, { connections: 1, localAddress: TIEFIGHTER });
  return {
    dir,
    configFile,
    proxy,
    async put() {
      try {
        const r = await pool.request({ method: 'PUT', path: '/v1/exhaust-port' });
        await r.body.text();
        return r.statusCode;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ECONNRESET') return 'reset';
        throw e;
      }
    },
    failures: () => reloadFailures(proxy),
    async close() {
      await pool.close();
      await proxy.close();
      await deathstar.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Saves `text` and waits for it to be applied: a new revision, and a request decided by it. */
async function expectApplied(rig: Rig, what: string, save: () => void, status: number | 'reset'): Promise<void> {
  const revision = rig.proxy.state.snapshot.revision;
  save();
  await waitUntil(`${what} applied (still revision ${revision})`, () => rig.proxy.state.snapshot.revision > revision, APPLY_WITHIN_MS);
  assert.equal(await rig.put(), status, `${what}: the request is decided by the new policy`);
}

/** Saves something invalid and waits for the reload to be rejected; the last good snapshot stays. */
async function expectRejected(rig: Rig, what: string, save: () => void, status: number): Promise<void> {
  const revision = rig.proxy.state.snapshot.revision;
  const failures = await rig.failures();
  save();
  await waitUntil(`${what} noticed and rejected`, async () => (await rig.failures()) > failures, APPLY_WITHIN_MS);
  assert.equal(rig.proxy.state.snapshot.revision, revision, `${what}: not applied`);
  assert.equal(await rig.put(), status, `${what}: the last good policy still decides`);
}

describe('hot reload: every way of saving is noticed, also after a rejected save', () => {
  const layouts = {
    'a policy folder': (dir: string) => {
      mkdirSync(join(dir, 'policies'));
      writeFileSync(join(dir, 'policies', 'deathstar.yaml'), L4);
      return join(dir, 'policies');
    },
    'a single policy file': (dir: string) => {
      mkdirSync(join(dir, 'policies'));
      writeFileSync(join(dir, 'policies', 'deathstar.yaml'), L4);
      return join(dir, 'policies', 'deathstar.yaml');
    },
  };
  for (const [name, layout] of Object.entries(layouts)) {
    test(`${name}: replace-style broken save, in-place fix, replace-style fix, delete and recreate`, async () => {
      const rig = await startRig(layout);
      const file = join(rig.dir, 'policies', 'deathstar.yaml');
      try {
        assert.equal(await rig.put(), 503, 'L4 at start');
        await expectRejected(rig, 'replace-style broken save', () => replaceSave(file, BROKEN), 503);
        await expectApplied(rig, 'in-place fix (L7)', () => writeFileSync(file, L7), 403);
        await expectApplied(rig, 'replace-style save (L4)', () => replaceSave(file, L4), 503);
        await expectApplied(rig, 'in-place save (L7)', () => writeFileSync(file, L7), 403);
        // Deleting leaves an empty folder (valid: no policy) or a missing file (rejected).
        const revision = rig.proxy.state.snapshot.revision;
        const failures = await rig.failures();
        rmSync(file);
        await waitUntil('the deletion noticed', async () => rig.proxy.state.snapshot.revision > revision || (await rig.failures()) > failures, APPLY_WITHIN_MS);
        await expectApplied(rig, 'recreated (L4)', () => writeFileSync(file, L4), 503);
        await expectApplied(rig, 'in-place save after recreation (L7)', () => writeFileSync(file, L7), 403);
        await expectRejected(rig, 'in-place broken save', () => writeFileSync(file, BROKEN), 403);
        await expectApplied(rig, 'replace-style fix (L4)', () => replaceSave(file, L4), 503);
      } finally {
        await rig.close();
      }
    });
  }

  test('policy subfolders and the policy folder itself created or replaced holding a broken file: in-place fixes apply', async () => {
    const rig = await startRig(layouts['a policy folder']);
    const sub = join(rig.dir, 'policies', 'team');
    try {
      await expectRejected(rig, 'new subfolder with a broken file', () => {
        mkdirSync(sub);
        writeFileSync(join(sub, 'extra.yaml'), BROKEN);
      }, 503);
      rmSync(join(rig.dir, 'policies', 'deathstar.yaml'));
      await expectApplied(rig, 'the file in the new subfolder fixed in place (L7)', () => writeFileSync(join(sub, 'extra.yaml'), L7), 403);
      await expectRejected(rig, 'the subfolder replaced by another holding a broken file', () => {
        const next = join(rig.dir, 'policies', '.team-next');
        mkdirSync(next);
        writeFileSync(join(next, 'extra.yaml'), BROKEN);
        rmSync(sub, { recursive: true });
        renameSync(next, sub);
      }, 403);
      await expectApplied(rig, 'the file in the replacing subfolder fixed in place (L4)', () => writeFileSync(join(sub, 'extra.yaml'), L4), 503);
      await expectRejected(rig, 'the whole policy folder replaced by one holding a broken file', () => {
        const next = join(rig.dir, '.policies-next');
        mkdirSync(next);
        writeFileSync(join(next, 'deathstar.yaml'), BROKEN);
        rmSync(join(rig.dir, 'policies'), { recursive: true });
        renameSync(next, join(rig.dir, 'policies'));
      }, 503);
      await expectApplied(rig, 'the file in the replacing policy folder fixed in place (L7)', () => writeFileSync(join(rig.dir, 'policies', 'deathstar.yaml'), L7), 403);
    } finally {
      await rig.close();
    }
  });

  test('a Kubernetes ConfigMap mount: ..data symlink swaps, broken then fixed', async () => {
    const rig = await startRig((dir) => {
      const mount = join(dir, 'policies');
      mkdirSync(join(mount, '..v1'), { recursive: true });
      writeFileSync(join(mount, '..v1', 'deathstar.yaml'), L4);
      symlinkSync('..v1', join(mount, '..data'));
      symlinkSync('..data/deathstar.yaml', join(mount, 'deathstar.yaml'));
      return mount;
    });
    const mount = join(rig.dir, 'policies');
    let version = 1;
    /** What the kubelet does: a new timestamped folder, a temporary link renamed over ..data, the old folder removed. */
    const swap = (text: string) => () => {
      const next = `..v${++version}`;
      mkdirSync(join(mount, next));
      writeFileSync(join(mount, next, 'deathstar.yaml'), text);
      symlinkSync(next, join(mount, '..data_tmp'));
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
      rmSync(join(mount, `..v${version - 1}`), { recursive: true });
    };
    try {
      await expectRejected(rig, 'a swap to a broken version', swap(BROKEN), 503);
      await expectApplied(rig, 'a swap to a fixed version (L7)', swap(L7), 403);
      await expectApplied(rig, 'another swap (L4)', swap(L4), 503);
    } finally {
      await rig.close();
    }
  });

  test('a policy file that is a symlink: saves to the file it points to are noticed', async () => {
    const rig = await startRig((dir) => {
      mkdirSync(join(dir, 'real'));
      writeFileSync(join(dir, 'real', 'deathstar.yaml'), L4);
      mkdirSync(join(dir, 'policies'));
      symlinkSync(join(dir, 'real', 'deathstar.yaml'), join(dir, 'policies', 'deathstar.yaml'));
      return join(dir, 'policies', 'deathstar.yaml');
    });
    const real = join(rig.dir, 'real', 'deathstar.yaml');
    try {
      await expectRejected(rig, 'replace-style broken save of the target', () => replaceSave(real, BROKEN), 503);
      await expectApplied(rig, 'in-place fix of the target (L7)', () => writeFileSync(real, L7), 403);
      await expectApplied(rig, 'replace-style save of the target (L4)', () => replaceSave(real, L4), 503);
    } finally {
      await rig.close();
    }
  });

  test('the config file: replace-style broken save, then in-place fix, then replace-style save', async () => {
    const rig = await startRig(layouts['a policy folder']);
    const good = readFileSync(rig.configFile, 'utf8');
    // The tiefighter's address given to the xwing (org=alliance): the L4 policy lets only org=empire in.
    const moved = good.replace(`addresses: [${TIEFIGHTER}]}`, 'addresses: [127.0.0.99]}').replace('addresses: [127.0.0.3]}', `addresses: [${TIEFIGHTER}]}`);
    assert.notEqual(moved, good);
    try {
      await expectRejected(rig, 'replace-style broken config', () => replaceSave(rig.configFile, `${good}\nbogus: 1\n`), 503);
      await expectApplied(rig, 'in-place config fix moving the tiefighter address', () => writeFileSync(rig.configFile, moved), 'reset');
      await expectApplied(rig, 'replace-style config save restoring it', () => replaceSave(rig.configFile, good), 503);
    } finally {
      await rig.close();
    }
  });
});
