// The npm package as a user installs it: `npm pack` of this checkout installed into an empty folder (offline,
// from the npm cache), then the installed copy's CLI: --version, check and trace against the packaged config and
// policies, run in front of the deathstar, and the Kafka proxy's zero-copy addon, shipped prebuilt, compiled on
// install where it is missing, and without a compiler an install that goes on and a listener that says it copies.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDeathstar, type Deathstar } from '../../src/demo/starwars/deathstar.js';
import { packageFile } from '../../src/package-root.js';
import { execCommand } from '../helpers/exec.js';
import { installOffline, NPM_ENV, packInto } from '../helpers/package-tarball.js';
import { curl, DEATHSTAR, TIEFIGHTER } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const { version } = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string };
const FALLBACK_LOG = 'Kafka responses are copied, not spliced';

describe('the packed package, installed into an empty folder', () => {
  let dir: string;
  let files: string[];
  let deathstar: Deathstar;
  const installed = (...parts: string[]) => join(dir, 'node_modules', 'portcullis', ...parts);
  const npx = (args: readonly string[]) => execCommand('npx', ['portcullis', ...args], { cwd: dir, env: NPM_ENV });
  const zeroCopy = async () => {
    const probe = `const m = await import(${JSON.stringify(installed('dist', 'src', 'protocols', 'kafka', 'proxy', 'zero-copy.js'))}); console.log(JSON.stringify(m.zeroCopySupport()));`;
    const r = await execCommand(process.execPath, ['--input-type=module', '-e', probe]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { available: boolean; reason?: string };
  };
  const installNative = (env: NodeJS.ProcessEnv) => execCommand(process.execPath, [installed('scripts', 'install-native.mjs')], { env });

  /** `portcullis run` of the installed copy, with an http listener (the deathstar) and a kafka one; stops it with SIGTERM. */
  async function runInstalled(whileRunning: (httpAddress: string) => Promise<void>): Promise<string> {
    const config = join(dir, 'portcullis.yaml');
    writeFileSync(config, `policies: ${installed('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml')}
admin: off
flows: off
endpoints:
  - {name: deathstar, labels: {org: empire, class: deathstar}, addresses: [${DEATHSTAR}]}
  - {name: tiefighter, labels: {org: empire, class: tiefighter}, addresses: [${TIEFIGHTER}]}
  - {name: kafka-broker, labels: {app: kafka}, addresses: [127.0.0.30]}
listeners:
  - {name: deathstar-http, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "${DEATHSTAR}:${deathstar.port}", port: 80}
  - {name: kafka, listen: "127.0.0.1:0", protocol: kafka, to: kafka-broker, upstream: "127.0.0.30:9092"}
`);
    const child = spawn(join(dir, 'node_modules', '.bin', 'portcullis'), ['run', '-w', '1', '--no-watch', '-c', config], { cwd: dir, env: NPM_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      await waitUntil('both listeners listening', () => stderr.split('"msg":"listening"').length === 3);
      const address = /"listener":"deathstar-http","protocol":"http","address":"([\d.]+:\d+)"/.exec(stderr)?.[1];
      assert.ok(address, stderr);
      await whileRunning(address);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, stderr);
      return stderr;
    } finally {
      child.kill('SIGKILL');
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-package-'));
    deathstar = await startDeathstar(DEATHSTAR);
    const packed = await packInto(dir);
    files = packed.files;
    await installOffline(dir, packed.tarball);
  });
  after(async () => {
    await deathstar?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball holds the built CLI, the prebuilt addon and its source, the demo policies, LICENSE and the systemd unit; no tests', () => {
    for (const file of ['dist/src/cli/main.js', 'dist/native/splice-relay.node', 'native/splice-relay.c', 'scripts/build-native.mjs', 'scripts/install-native.mjs', 'portcullis.yaml', 'policies/starwars/sw_l3_l4_l7_policy.yaml', 'src/demo/cloudcity/cloudcity.proto', 'LICENSE', 'deploy/portcullis.service']) {
      assert.ok(files.includes(file), `${file} is not in the package`);
    }
    assert.deepEqual(files.filter((f) => /^(dist\/)?(test|bench)\//.test(f)), []);
  });

  test('npx portcullis --version', async () => {
    const r = await npx(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  });

  test('check and trace against the packaged config and its policies', async () => {
    const config = installed('portcullis.yaml');
    const check = await npx(['check', '-c', config]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, 'OK: 1 policies (1 rules) in 1 files, 3 endpoints, 1 listeners\n');
    const trace = await npx(['trace', '-c', config, '--from', 'tiefighter', '--to', 'deathstar', '--http', 'PUT /v1/exhaust-port']);
    assert.equal(trace.code, 2, trace.stderr);
    assert.match(trace.stdout, /L7 http PUT \/v1\/exhaust-port: DROPPED/);
    assert.ok(trace.stdout.includes(installed('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml')), trace.stdout);
  });

  test('run enforces the packaged policy; the prebuilt addon loads, so Kafka responses are spliced', async () => {
    assert.deepEqual(await zeroCopy(), { available: true });
    const stderr = await runInstalled(async (address) => {
      assert.match((await curl(['--interface', TIEFIGHTER, '-XPOST', `http://${address}/v1/request-landing`])).stdout, /^Ship landed/);
      assert.equal((await curl(['--interface', TIEFIGHTER, '-XPUT', `http://${address}/v1/exhaust-port`])).stdout, 'Access denied\r\n');
    });
    assert.ok(!stderr.includes(FALLBACK_LOG), stderr);
  });

  test('no addon: the install script compiles it; without a compiler the install goes on and the kafka listener says it copies', async () => {
    rmSync(installed('dist', 'native', 'splice-relay.node'));
    const noCompiler = await installNative({ ...NPM_ENV, CC: join(dir, 'no-such-cc') });
    assert.equal(noCompiler.code, 0, noCompiler.stderr);
    assert.match(noCompiler.stderr, /no-such-cc is not available .*the Kafka proxy will copy large responses instead of splicing them/);
    const reason = (await zeroCopy()).reason;
    assert.match(reason ?? '', /the native addon did not load \(Cannot find module .*splice-relay\.node/);
    const stderr = await runInstalled(async () => {});
    assert.ok(stderr.includes(`"reason":${JSON.stringify(reason)},"msg":"${FALLBACK_LOG}"`), stderr);

    const compiled = await installNative(NPM_ENV);
    assert.equal(compiled.code, 0, compiled.stderr);
    assert.deepEqual(await zeroCopy(), { available: true });
  });
});
