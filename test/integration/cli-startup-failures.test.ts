// `portcullis run` as an operator sees it: a start-up failure is one `cannot start: …` line on stderr and exit 1,
// whatever the flow target, never a stack trace; stopping right after start (or right after a SIGHUP reopened the
// flow file) exits 0 cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageFile } from '../../src/package-root.js';
import { starWarsConfig } from '../helpers/runtime-fixture.js';

const RUN_TIMEOUT_MS = 10_000;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `portcullis run -c <config>`; `whenListening` is called once the last listener logs `listening`. */
async function run(configFile: string, whenListening?: (pid: number) => void): Promise<Run> {
  const child = spawn(process.execPath, [packageFile('dist', 'src', 'cli', 'main.js'), 'run', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (whenListening && stderr.includes('"listening"')) {
      whenListening(child.pid!);
      whenListening = undefined;
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  try {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** stderr holds pino JSON log lines and, on failure, the plain-text answer: returns the plain-text lines. */
function plainLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => {
    if (line === '') return false;
    try {
      return typeof JSON.parse(line).level !== 'string';
    } catch {
      return true;
    }
  });
}

/**
 * Exit 1 and, besides JSON log lines, one `cannot start: …` line on stderr, followed only by located
 * `file:line:column: …` errors when there are `located` of them.
 */
function assertCleanFailure(r: Run, expected: RegExp, located = 0): void {
  const detail = JSON.stringify(r);
  assert.equal(r.signal, null, detail);
  assert.equal(r.code, 1, detail);
  assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|node:internal|sonic-boom/, `no stack trace: ${detail}`);
  const [first, ...rest] = plainLines(r.stderr);
  assert.match(first ?? '', /^cannot start: /, detail);
  assert.match(first ?? '', expected, detail);
  assert.equal(rest.length, located, `plain lines after the first: ${detail}`);
  for (const line of rest) assert.match(line, /^\/\S+:\d+:\d+: /, detail);
  assert.equal(r.stdout, '', `nothing on stdout: ${detail}`);
}

describe('portcullis run: start-up failures and early shutdown', () => {
  let dir: string;
  let held: Server;
  let heldPort: number;
  const policies = (): string => join(dir, 'policies');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-startup-'));
    mkdirSync(policies());
    writeFileSync(join(policies(), 'p.yaml'), '');
    held = createServer().listen(0, '127.0.0.1');
    await once(held, 'listening');
    heldPort = (held.address() as { port: number }).port;
  });
  after(() => {
    held.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A star wars config (upstream never contacted) with `edit` applied; flows to a fresh file or stdout. */
  function config(name: string, flows: 'file' | 'stdout', edit: (text: string) => string = (t) => t): string {
    const file = join(dir, `${name}-${flows}.yaml`);
    const flowsTarget = flows === 'file' ? join(dir, `${name}-flows`, 'flows.jsonl') : 'stdout';
    writeFileSync(file, edit(starWarsConfig({ upstreamPort: 9, policies: policies(), flows: flowsTarget, admin: true })));
    return file;
  }
  const takenAdmin = (t: string) => t.replace('admin: "127.0.0.1:0"', `admin: "127.0.0.1:${heldPort}"`);
  const takenListener = (t: string) => t.replace('listen: "127.0.0.1:0"', `listen: "127.0.0.1:${heldPort}"`);

  for (const flows of ['file', 'stdout'] as const) {
    test(`flows to ${flows}: admin port taken`, async () => {
      assertCleanFailure(await run(config('admin-taken', flows, takenAdmin)), /admin: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    });

    test(`flows to ${flows}: listener port taken`, async () => {
      assertCleanFailure(await run(config('listener-taken', flows, takenListener)), /EADDRINUSE/);
    });

    test(`flows to ${flows}: a listener's TLS secret missing from a bad certs folder`, async () => {
      const edit = (t: string) =>
        `certs: ${JSON.stringify(join(dir, 'no-such-certs'))}\n${t.replace('port: 80}', 'port: 80, tls: {secret: default/deathstar-tls}}')}`;
      assertCleanFailure(await run(config('bad-certs', flows, edit)), /deathstar-tls/);
    });

    test(`flows to ${flows}: a policy error`, async () => {
      const broken = join(dir, `broken-${flows}`);
      mkdirSync(broken, { recursive: true });
      writeFileSync(join(broken, 'p.yaml'), 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspec: {bogus: 1}\n');
      const edit = (t: string) => t.replace(JSON.stringify(policies()), JSON.stringify(broken));
      assertCleanFailure(await run(config('policy-error', flows, edit)), /^cannot start: 3 errors in the config and policies$/, 3);
    });
  }

  // After the http listener has started, so what did start is stopped before the answer.
  const failingListeners = {
    'a kafka listener port': (port: number) => `{name: k, listen: "127.0.0.1:${port}", protocol: kafka, to: deathstar, upstream: "127.0.0.10:9"}`,
    'a tls listener port': (port: number) => `{name: t, listen: "127.0.0.1:${port}", protocol: tls, to: deathstar, upstream: "127.0.0.10:9"}`,
    'a forward listener port': (port: number) => `{name: f, listen: "127.0.0.1:${port}", protocol: forward}`,
  };
  for (const [what, listener] of Object.entries(failingListeners)) {
    test(`flows to file: ${what} taken, after another listener started`, async () => {
      const r = await run(config(what.replace(/\W+/g, '-'), 'file', (t) => `${t}  - ${listener(heldPort)}\n`));
      assertCleanFailure(r, /EADDRINUSE/);
      assert.match(r.stderr, /"listening"/, 'the first listener had started');
    });
  }

  test('an unwritable flows file path', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    const edit = (t: string) => t.replace(/^flows: .*$/m, `flows: ${JSON.stringify(join(dir, 'a-file', 'flows.jsonl'))}`);
    assertCleanFailure(await run(config('flows-unwritable', 'file', edit)), /flows: cannot write flow records to .*a-file/);
  });

  test('flows a folder', async () => {
    mkdirSync(join(dir, 'flows-folder'));
    const edit = (t: string) => t.replace(/^flows: .*$/m, `flows: ${JSON.stringify(join(dir, 'flows-folder'))}`);
    assertCleanFailure(await run(config('flows-folder', 'file', edit)), /flows: cannot write flow records to .*flows-folder/);
  });

  for (const flows of ['file', 'stdout'] as const) {
    for (const signals of [['SIGTERM'], ['SIGHUP', 'SIGTERM'], ['SIGINT']] as const) {
      test(`flows to ${flows}: ${signals.join(' then ')} right after start stops cleanly`, async () => {
        const r = await run(config(`stop-${signals.join('-')}`, flows), (pid) => {
          for (const s of signals) process.kill(pid, s);
        });
        const detail = JSON.stringify(r);
        assert.equal(r.code, 0, detail);
        assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|node:internal|sonic-boom/, `no stack trace: ${detail}`);
        assert.deepEqual(plainLines(r.stderr), [], detail);
        assert.match(r.stderr, /"shutting down"/, detail);
      });
    }
  }
});
