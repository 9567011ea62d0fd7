// `portcullis run`'s operational log as an operator reads it: the line saying what is in force at start-up and
// after each reload (with what changed), the restart warning only for edits a reload cannot apply, --log-level and
// `log: {format: pretty}` in every process; and the flow file reopened on SIGHUP, as log rotation needs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageFile } from '../../src/package-root.js';
import { startDeathstar } from '../../src/demo/starwars/deathstar.js';
import { cli, curl, starWarsConfig, TIEFIGHTER } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

type LogLine = Record<string, any>;

interface Run {
  readonly child: ChildProcess;
  stderr(): string;
  /** The JSON lines logged so far. */
  lines(): LogLine[];
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-logs-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(folder: string, args: readonly string[] = []): Run {
  const child = spawn(process.execPath, [packageFile('dist', 'src', 'cli', 'main.js'), 'run', '--no-watch', '-c', join(folder, 'portcullis.yaml'), ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit');
  return {
    child,
    stderr: () => stderr,
    lines: () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine),
    stop: async () => {
      child.kill('SIGTERM');
      return ((await exited) as [number | null])[0];
    },
  };
}

/** A folder with portcullis.yaml (the Star Wars endpoints and one listener) and a policies/ folder. */
function starWarsFolder(name: string, policy: string, o: { upstreamPort?: number; flows?: string } = {}): string {
  const folder = join(dir, name);
  mkdirSync(join(folder, 'policies'), { recursive: true });
  copyFileSync(packageFile('policies', 'starwars', policy), join(folder, 'policies', 'rule1.yaml'));
  writeFileSync(join(folder, 'portcullis.yaml'), starWarsConfig({ upstreamPort: o.upstreamPort ?? 9, policies: join(folder, 'policies'), flows: o.flows ?? 'off' }));
  return folder;
}

// One process reloads by itself; with workers the primary compiles, every worker applies, then the primary reports.
for (const workers of [1, 2]) {
  test(`start-up and every reload say what is in force and what changed; only a listener edit warns of a restart (${workers} worker(s))`, async () => {
    const folder = starWarsFolder(`reloads-${workers}`, 'sw_l3_l4_policy.yaml');
    const config = join(folder, 'portcullis.yaml');
    const proxy = run(folder, ['--workers', String(workers)]);
    const msg = (l: LogLine) => String(l.msg);
    const reloaded = (revision: number) => proxy.lines().find((l) => msg(l).startsWith('policy snapshot reloaded') && l.revision === revision);
    try {
      const loaded = await waitUntil('the start-up line', () => proxy.lines().find((l) => msg(l).startsWith('policy snapshot loaded')));
      assert.equal(loaded.level, 'info');
      assert.deepEqual({ revision: loaded.revision, policies: loaded.policies, endpoints: loaded.endpoints }, { revision: 1, policies: 1, endpoints: 3 });
      assert.deepEqual(loaded.rules, { l3l4: 1, http: 0, kafka: 0, dns: 0, deny: 0 });
      assert.equal(msg(loaded), 'policy snapshot loaded: revision 1, 1 policy, 3 endpoints, rules 1 l3l4, enforcement default');
      await waitUntil('the listening line', () => proxy.lines().find((l) => msg(l) === 'listening'));

      // rule1 gains its L7 rule, and a second policy appears.
      const l7 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml'), 'utf8');
      writeFileSync(join(folder, 'policies', 'rule1.yaml'), l7);
      writeFileSync(join(folder, 'policies', 'rule2.yaml'), l7.replace('name: "rule1"', 'name: "rule2"'));
      proxy.child.kill('SIGHUP');
      const second = await waitUntil('revision 2', () => reloaded(2));
      assert.deepEqual(second.changes, {
        policies: { added: ['default/rule2'], removed: [], changed: ['default/rule1'] },
        endpoints: { added: [], removed: [], changed: [] },
      });
      assert.deepEqual(second.rules, { l3l4: 0, http: 2, kafka: 0, dns: 0, deny: 0 });
      assert.equal(msg(second), 'policy snapshot reloaded on SIGHUP: revision 2, 2 policies, 3 endpoints, rules 2 http, enforcement default; added policy default/rule2; changed policy default/rule1');

      // Settings a reload applies (and a comment that moves every listener's line) are no restart.
      writeFileSync(config, `# audit for a week\n${readFileSync(config, 'utf8').replace('audit: false', 'audit: true')}`);
      proxy.child.kill('SIGHUP');
      const third = await waitUntil('revision 3', () => reloaded(3));
      assert.equal(third.audit, true);
      assert.match(msg(third), /audit mode; no policy or endpoint changed$/);

      writeFileSync(config, readFileSync(config, 'utf8').replace('listen: "127.0.0.1:0"', 'listen: "127.0.0.5:0"'));
      proxy.child.kill('SIGHUP');
      const warning = await waitUntil('the restart warning', () => proxy.lines().find((l) => l.level === 'warn'));
      // The only warning of the run, after revision 4: none came with revisions 2 and 3.
      const lines = proxy.lines();
      const at = (revision: number) => lines.findIndex((l) => String(l.msg).startsWith('policy snapshot reloaded') && l.revision === revision);
      assert.deepEqual(lines.flatMap((l, i) => (l.level === 'warn' ? [i] : [])), [at(4) + 1], proxy.stderr());
      assert.deepEqual(warning.pending, ['listener "deathstar-http": listen.host']);
      assert.equal(msg(warning), 'not applied until a restart: listener "deathstar-http": listen.host');

      // The edit waits until the listener restarts: one process names it again at the next reload; replacing the
      // workers (SIGUSR2) applies it, so it is not named again.
      if (workers > 1) {
        proxy.child.kill('SIGUSR2');
        await waitUntil('the workers replaced', () => proxy.lines().find((l) => msg(l) === 'every worker was replaced'), 20_000);
      }
      writeFileSync(config, readFileSync(config, 'utf8').replace('audit: true', 'audit: false'));
      proxy.child.kill('SIGHUP');
      await waitUntil('revision 5', () => reloaded(5));
      assert.equal(await proxy.stop(), 0);
      const warnings = proxy.lines().filter((l) => l.level === 'warn').map((l) => l.pending as string[]);
      assert.deepEqual(warnings, workers === 1 ? [['listener "deathstar-http": listen.host'], ['listener "deathstar-http": listen.host']] : [['listener "deathstar-http": listen.host']]);
    } finally {
      proxy.child.kill('SIGKILL');
    }
  });
}

test('listener lines name the listener once', async () => {
  const proxy = run(starWarsFolder('listener-key', 'sw_l3_l4_policy.yaml'), ['--workers', '1']);
  try {
    await waitUntil('the listening line', () => proxy.stderr().includes('"msg":"listening"'));
    const line = proxy.stderr().split('\n').find((l) => l.includes('"msg":"listening"'))!;
    assert.equal(line.match(/"listener":/g)?.length, 1, line);
    assert.equal(proxy.lines().filter((l) => l.listener === 'deathstar-http').length, 1, 'one line for the listener start');
    assert.equal(await proxy.stop(), 0);
  } finally {
    proxy.child.kill('SIGKILL');
  }
});

test('an unknown --log-level is refused, naming the levels', async () => {
  const r = await cli(['run', '--log-level', 'loud']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split('\n')[0], "error: option '--log-level <level>' argument 'loud' is invalid. must be one of: trace, debug, info, warn, error, fatal, silent");
});

// A forward listener open to unselected clients warns at start in every process that serves it.
const FORWARD = `listeners:
  - {name: egress, listen: "127.0.0.1:0", protocol: forward, forward: {allowUnselectedClients: true, systemResolver: false}}
`;

test('--log-level warn hides info lines in the primary and in every worker (and overrides log.level)', async () => {
  const folder = join(dir, 'warn');
  mkdirSync(folder);
  writeFileSync(join(folder, 'portcullis.yaml'), `policies: []\nadmin: off\nflows: off\nlog: {level: error}\n${FORWARD}`);
  const proxy = run(folder, ['--workers', '2', '--log-level', 'warn']);
  try {
    const warnings = await waitUntil('both workers\' warnings', () => {
      const found = proxy.lines().filter((l) => String(l.msg).startsWith('forward listener relays'));
      return found.length === 2 && found;
    });
    assert.deepEqual(warnings.map((l) => l.worker).sort(), [1, 2]);
    assert.equal(await proxy.stop(), 0);
    assert.deepEqual(proxy.lines().filter((l) => l.level !== 'warn'), [], proxy.stderr());
  } finally {
    proxy.child.kill('SIGKILL');
  }
});

test('log: {format: pretty} makes every process write readable lines', async () => {
  const folder = join(dir, 'pretty');
  mkdirSync(folder);
  writeFileSync(join(folder, 'portcullis.yaml'), `policies: []\nadmin: off\nflows: off\nlog: {format: pretty}\n${FORWARD}`);
  const proxy = run(folder, ['--workers', '2']);
  try {
    await waitUntil('both workers listening', () => proxy.stderr().match(/ INFO {2}listening /g)?.length === 2);
    assert.equal(await proxy.stop(), 0);
    const lines = proxy.stderr().split('\n').slice(0, -1);
    for (const line of lines) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN ) \S/, line);
    assert.ok(lines.some((l) => / INFO {2}policy snapshot loaded: revision 1, 0 policies, 0 endpoints, rules none, enforcement default revision=1 policies=0 /.test(l)), proxy.stderr());
    assert.ok(lines.some((l) => / INFO {2}listening worker=2 listener=egress protocol=forward address=127\.0\.0\.1:\d+ tls=true$/.test(l)), proxy.stderr());
    assert.ok(lines.some((l) => / WARN {2}forward listener relays .* worker=1 listener=egress$/.test(l)), proxy.stderr());
  } finally {
    proxy.child.kill('SIGKILL');
  }
});

// logrotate moves the file away and sends SIGHUP (no copytruncate): every process then writes to a new file.
for (const workers of [1, 2]) {
  test(`SIGHUP reopens the flow file after it was moved away (${workers} worker(s))`, async () => {
    const deathstar = await startDeathstar('127.0.0.10');
    const folder = starWarsFolder(`rotate-${workers}`, 'sw_l3_l4_l7_policy.yaml', { upstreamPort: deathstar.port, flows: 'flows.jsonl' });
    const flows = join(folder, 'flows.jsonl');
    const proxy = run(folder, ['--workers', String(workers)]);
    // The requests for `path` recorded in `file` (each is denied, with a REQUEST flow naming its path).
    const flowsFor = (file: string, path: string) =>
      existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"type":"REQUEST"') && l.includes(path)).length : 0;
    try {
      const listening = await waitUntil('the listening line', () => proxy.lines().find((l) => l.msg === 'listening'));
      // A new connection per request: with workers, each may be served by either.
      const requests = async (path: string) => {
        for (let i = 0; i < 4; i++) assert.equal((await curl(['--interface', TIEFIGHTER, `http://${String(listening.address)}${path}`])).code, 0);
      };
      await requests('/v1/before-rotation');
      await waitUntil('flows in the file', () => flowsFor(flows, '/v1/before-rotation') === 4);
      renameSync(flows, `${flows}.1`);
      proxy.child.kill('SIGHUP');
      await waitUntil('the reload', () => proxy.lines().find((l) => l.revision === 2));
      await requests('/v1/after-rotation');
      await waitUntil('flows in a new file', () => flowsFor(flows, '/v1/after-rotation') === 4);
      assert.equal(flowsFor(`${flows}.1`, '/v1/after-rotation'), 0);
      assert.equal(await proxy.stop(), 0);
    } finally {
      proxy.child.kill('SIGKILL');
      await deathstar.close();
    }
  });
}
