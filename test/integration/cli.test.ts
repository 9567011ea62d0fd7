// The built CLI as users run it: check, trace, demo and run (with SIGHUP), with exit codes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { packageFile, packageRoot } from '../../src/package-root.js';
import { startDeathstar, type Deathstar } from '../../src/demo/starwars/deathstar.js';
import { cli, curl, starWarsConfig, TIEFIGHTER } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

describe('portcullis check', () => {
  test('the repo config and its policies are valid', async () => {
    const r = await cli(['check'], packageRoot);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^OK: 1 policies \(1 rules\) in 1 files, 3 endpoints, 1 listeners\n$/);
  });

  test('a broken policy: exit 1 with file:line:column, field path and what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-check-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml'), 'utf8').replace('path: "/v1/request-landing"', 'path: "/v1/(request-landing"'));
    try {
      const r = await cli(['check', file], dir);
      assert.equal(r.code, 1);
      const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('(request-landing')) + 1;
      assert.match(r.stderr, new RegExp(`${file.replace(/[.\\/]/g, '\\$&')}:${line}:\\d+: spec\\.ingress\\[0\\]\\.toPorts\\[0\\]\\.rules\\.http\\[0\\]\\.path: invalid RE2 regex: missing closing \\)`));
      assert.match(r.stderr, /1 error\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('unsupported Kubernetes-only fields are rejected, not ignored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-check-'));
    const file = join(dir, 'svc.yaml');
    writeFileSync(file, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: to-svc}
spec:
  endpointSelector: {matchLabels: {app: a}}
  egress:
  - toServices:
    - k8sService: {serviceName: b, namespace: default}
`);
    try {
      const r = await cli(['check', file], dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /svc\.yaml:7:\d+: spec\.egress\[0\]\.toServices: .*not supported by Portcullis/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a broken config: exit 1 naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-check-'));
    writeFileSync(join(dir, 'portcullis.yaml'), 'enforcement: sometimes\nlisteners:\n  - {name: a, listen: "127.0.0.1:1", protocol: http, to: nobody, upstream: "127.0.0.1:2"}\n');
    try {
      const r = await cli(['check'], dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /portcullis\.yaml:1:14: enforcement: must be one of: default, always, never/);
      assert.match(r.stderr, /portcullis\.yaml:3:\d+: listeners\[0\]\.to: no endpoint named "nobody"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('portcullis trace', () => {
  test('tiefighter POST /v1/request-landing: FORWARDED, exit 0, names the allowing rule', async () => {
    const r = await cli(['trace', '--from', 'tiefighter', '--to', 'deathstar', '--http', 'POST /v1/request-landing'], packageRoot);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /L3\/L4: FORWARDED/);
    assert.match(r.stdout, /L7 http POST \/v1\/request-landing: FORWARDED/);
    assert.match(r.stdout, /allowed by http rule spec\.ingress\[0\]\.toPorts\[0\]\.rules\.http\[0\] of CiliumNetworkPolicy default\/rule1 \(.*sw_l3_l4_l7_policy\.yaml:21\)/);
    assert.match(r.stdout, /verdict: FORWARDED\n$/);
  });

  test('tiefighter PUT /v1/exhaust-port: DROPPED at L7, exit 2, says which rules did not match', async () => {
    const r = await cli(['trace', '--from', 'tiefighter', '--to', 'deathstar', '--http', 'PUT /v1/exhaust-port'], packageRoot);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, /L7 http PUT \/v1\/exhaust-port: DROPPED/);
    assert.match(r.stdout, /request-landing/);
    assert.match(r.stdout, /verdict: DROPPED/);
  });

  test('a label set as source: org=alliance is dropped at L3/L4', async () => {
    const r = await cli(['trace', '--from', 'org=alliance,class=xwing', '--to', 'deathstar', '--port', '80', '--json'], packageRoot);
    assert.equal(r.code, 2, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.verdict, 'DROPPED');
    assert.equal(out.connection.allowed, false);
    assert.match(out.connection.reason, /ingress/);
  });

  test('--grpc against the grpc rule form: GetName allowed, SetAccessCode denied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-trace-'));
    writeFileSync(join(dir, 'doors.yaml'), `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: doors}
spec:
  endpointSelector: {matchLabels: {app: cc-door-mgr}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: public-terminal}}]
    toPorts:
    - ports: [{port: "50051", protocol: TCP}]
      rules:
        grpc:
        - {service: cloudcity.DoorManager, method: GetName}
`);
    writeFileSync(join(dir, 'portcullis.yaml'), `policies: doors.yaml
endpoints:
  - {name: cc-door-mgr, labels: {app: cc-door-mgr}, addresses: [127.0.0.31]}
listeners:
  - {name: doors, listen: "127.0.0.1:0", protocol: http, to: cc-door-mgr, upstream: "127.0.0.31:50051", upstreamProtocol: h2c}
`);
    try {
      const allowed = await cli(['trace', '--from', 'app=public-terminal', '--to', 'cc-door-mgr', '--grpc', 'cloudcity.DoorManager/GetName'], dir);
      assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
      assert.match(allowed.stdout, /L7 http POST \/cloudcity\.DoorManager\/GetName: FORWARDED\n\s+allowed by http rule spec\.ingress\[0\]\.toPorts\[0\]\.rules\.grpc\[0\]/);
      const denied = await cli(['trace', '--from', 'app=public-terminal', '--to', 'cc-door-mgr', '--grpc', 'cloudcity.DoorManager/SetAccessCode'], dir);
      assert.equal(denied.code, 2, denied.stdout + denied.stderr);
      assert.match(denied.stdout, /no http rule matched POST \/cloudcity\.DoorManager\/SetAccessCode \(rules: grpc cloudcity\.DoorManager\/GetName\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('enableDefaultDeny: {ingress: false}: the rule\'s L7 rules still decide for the peer it selects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-trace-'));
    // Cilium's CI manifest l7-policy-allow.yaml.
    writeFileSync(join(dir, 'l7-policy-allow.yaml'), `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l7-policy-default-allow}
spec:
  endpointSelector: {matchLabels: {id: app1}}
  enableDefaultDeny: {ingress: false}
  ingress:
  - fromEndpoints: [{matchLabels: {id: app2}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: GET, path: /public}]}
`);
    writeFileSync(join(dir, 'portcullis.yaml'), `policies: l7-policy-allow.yaml
endpoints:
  - {name: app1, labels: {id: app1}, addresses: [127.0.0.51]}
  - {name: app2, labels: {id: app2}, addresses: [127.0.0.52]}
  - {name: app3, labels: {id: app3}, addresses: [127.0.0.53]}
listeners:
  - {name: app1, listen: "127.0.0.1:0", protocol: http, to: app1, upstream: "127.0.0.51:80"}
`);
    try {
      const trace = (from: string, request: string) => cli(['trace', '--from', from, '--to', 'app1', '--port', '80', '--http', request], dir);
      const open = await trace('app2', 'GET /public');
      assert.equal(open.code, 0, open.stdout + open.stderr);
      const denied = await trace('app2', 'GET /private');
      assert.equal(denied.code, 2, denied.stdout + denied.stderr);
      assert.match(denied.stdout, /L7 http GET \/private: DROPPED\n\s+L7: no http rule matched GET \/private \(rules: GET \/public\)/);
      assert.match(denied.stdout, /verdict: DROPPED\n$/);
      // app3 is selected by no rule: not default-denied, not L7-restricted.
      const other = await trace('app3', 'GET /private');
      assert.equal(other.code, 0, other.stdout + other.stderr);
      assert.match(other.stdout, /ingress not enforced: only default-allow policies select default\/app1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad arguments: exit 1 with a clear message', async () => {
    const r = await cli(['trace', '--from', 'nobody', '--to', 'deathstar', '--http', 'GET /'], packageRoot);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--from "nobody": not an endpoint/);
  });
});

describe('portcullis demo starwars', () => {
  test('runs the guide and exits 0', async () => {
    const r = await cli(['demo', 'starwars'], packageRoot);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Star Wars demo: all 8 steps behaved as the guide says/);
    assert.match(r.stdout, /PUT \/v1\/exhaust-port\n\s+-> 403 Access denied\s+OK/);
  });
});

describe('portcullis run', () => {
  let deathstar: Deathstar;
  let dir: string;
  before(async () => {
    deathstar = await startDeathstar('127.0.0.10');
    dir = mkdtempSync(join(tmpdir(), 'portcullis-run-'));
    mkdirSync(join(dir, 'policies'));
  });
  after(async () => {
    await deathstar.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('serves, writes flows to stdout, reloads on SIGHUP, stops on SIGTERM', async () => {
    copyFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_policy.yaml'), join(dir, 'policies', 'p.yaml'));
    const config = starWarsConfig({ upstreamPort: deathstar.port, policies: join(dir, 'policies'), flows: 'stdout' });
    writeFileSync(join(dir, 'portcullis.yaml'), config);
    const child = spawn(process.execPath, [packageFile('dist', 'src', 'cli', 'main.js'), 'run', '--no-watch', '-c', join(dir, 'portcullis.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    try {
      await waitUntil('the listening line', () => stderr.includes('"listening"'));
      const address = /"address":"([\d.]+:\d+)"/.exec(stderr)?.[1];
      assert.ok(address, stderr);
      const url = `http://${address}`;
      assert.equal((await curl(['--interface', TIEFIGHTER, '-XPUT', `${url}/v1/exhaust-port`])).stdout.split('\n')[0], 'Panic: deathstar exploded');
      copyFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml'), join(dir, 'policies', 'p.yaml'));
      child.kill('SIGHUP');
      await waitUntil('the reloaded line', () => stderr.includes('reloaded'));
      assert.equal((await curl(['--interface', TIEFIGHTER, '-XPUT', `${url}/v1/exhaust-port`])).stdout, 'Access denied\r\n');
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, stderr);
      const flows = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      assert.ok(flows.some((f) => f.flow.verdict === 'DROPPED' && f.flow.l7?.http?.method === 'PUT'), stdout);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
