// `portcullis check` on policy folders as they are kept next to Kubernetes manifests, on listener addresses, and
// with --strict and --json; and `run` logging the same warnings. The real CLI on temp folders: exit codes and lines.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { packageFile } from '../../src/package-root.js';
import { cli } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
description: "L7 policy to restrict access to specific HTTP call"
metadata: {name: rule1}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: POST, path: /v1/request-landing}]}
`;

/** A ConfigMap and a Service beside the policy, as a kustomize folder holds them. */
const MANIFESTS = `apiVersion: v1
kind: ConfigMap
metadata: {name: deathstar-settings}
data: {mode: armed}
---
apiVersion: v1
kind: Service
metadata: {name: deathstar}
spec: {selector: {class: deathstar}, ports: [{port: 80}]}
`;

const CONFIG = `policies: ./policies
admin: off
flows: off
endpoints:
  - {name: deathstar, labels: {org: empire, class: deathstar}, addresses: [127.0.0.10]}
  - {name: tiefighter, labels: {org: empire, class: tiefighter}, addresses: [127.0.0.2]}
listeners:
  - {name: deathstar-http, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.10:8000", port: 80}
`;

let dir: string;
let policies: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-check-'));
  policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'kustomization.yaml'), 'resources: [policy.yaml, manifests.yaml]\n');
  writeFileSync(join(policies, 'manifests.yaml'), MANIFESTS);
  writeFileSync(join(policies, 'policy.yaml'), POLICY);
  writeFileSync(join(dir, 'portcullis.yaml'), CONFIG);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The warnings the folder above gives, in file order. */
function folderWarnings(label: string): string[] {
  return [
    `${join(policies, 'kustomization.yaml')}:1:1: ${label}skipped: not a Kubernetes object (no apiVersion or kind)`,
    `${join(policies, 'manifests.yaml')}:2:7: ${label}kind: skipped ConfigMap "deathstar-settings": not a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy`,
    `${join(policies, 'manifests.yaml')}:7:7: ${label}kind: skipped Service "deathstar": not a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy`,
    `${join(policies, 'policy.yaml')}:3:14: ${label}description: ignored: only spec.description is part of a policy`,
  ];
}

describe('portcullis check: a policy folder that holds other Kubernetes objects', () => {
  test('other kinds and a top-level description are one warning each; the policy is checked; exit 0', async () => {
    const r = await cli(['check'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, folderWarnings('warning: ').map((l) => `${l}\n`).join(''));
    assert.equal(r.stdout, 'OK: 1 policies (1 rules) in 3 files, 2 endpoints, 1 listeners (4 warnings)\n');
  });

  test('--strict: the same lines are errors, exit 1', async () => {
    const r = await cli(['check', '--strict'], dir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, [...folderWarnings(''), '4 errors'].map((l) => `${l}\n`).join(''));
    assert.equal(r.stdout, '');
  });

  test('an unknown field inside a rule is still an error, beside the warnings', async () => {
    writeFileSync(join(policies, 'policy.yaml'), POLICY.replace('- fromEndpoints:', '- fromEndpoint:'));
    const r = await cli(['check'], dir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, [
      ...folderWarnings('warning: ').slice(0, 4),
      `${join(policies, 'policy.yaml')}:8:5: spec.ingress[0].fromEndpoint: unknown field "fromEndpoint" (did you mean "fromEndpoints"?)`,
      '1 error, 4 warnings',
    ].map((l) => `${l}\n`).join(''));
  });

  test('a policy kind one typo away is an error, not a skipped document', async () => {
    writeFileSync(join(policies, 'policy.yaml'), POLICY.replace('kind: CiliumNetworkPolicy', 'kind: CiliumNetworkPolcy'));
    const r = await cli(['check'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^${escape(join(policies, 'policy.yaml'))}:2:7: kind: unsupported kind "CiliumNetworkPolcy" \\(did you mean "CiliumNetworkPolicy"\\?\\)$`, 'm'));
    assert.match(r.stderr, /^1 error, 3 warnings\n$/m);
  });

  test('a config kept in its own policy folder is not read as a policy', async () => {
    rmSync(join(policies, 'kustomization.yaml'));
    rmSync(join(policies, 'manifests.yaml'));
    writeFileSync(join(policies, 'policy.yaml'), POLICY.replace(/^description: .*\n/m, ''));
    writeFileSync(join(dir, 'portcullis.yaml'), CONFIG.replace('policies: ./policies', 'policies: .'));
    const r = await cli(['check'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'OK: 1 policies (1 rules) in 1 files, 2 endpoints, 1 listeners\n');
  });
});

describe('portcullis check: listener addresses and the config file', () => {
  test('malformed addresses are errors saying what is wrong; loopback-by-default and every-interface are warnings', async () => {
    const listeners = [
      '127.0.9.9.9:80', '127.0.0.1:99999', '127.0.0.1', '127.0.0.1:http', '::1:80', ':8080', '0.0.0.0:8081', '[::]:8082',
    ].map((listen, i) => `  - {name: l${i}, listen: "${listen}", protocol: http, to: deathstar, upstream: "127.0.0.10:8000"}\n`);
    writeFileSync(join(dir, 'portcullis.yaml'), CONFIG.replace(/listeners:\n.*\n$/s, `listeners:\n${listeners.join('')}`));
    const r = await cli(['check'], dir);
    assert.equal(r.code, 1);
    const at = (i: number) => `portcullis.yaml:${8 + i}:24: listeners[${i}].listen: `;
    // The config is invalid, so the policies are not read: only its own problems.
    assert.equal(r.stderr, [
      `${at(0)}"127.0.9.9.9:80": "127.0.9.9.9" is not an IPv4 address (four numbers from 0 to 255)`,
      `${at(1)}"127.0.0.1:99999": port 99999 is out of range (0 to 65535)`,
      `${at(2)}"127.0.0.1" has no port (expected host:port, e.g. 127.0.0.1:8080)`,
      `${at(3)}"127.0.0.1:http": port "http" is not a number`,
      `${at(4)}"::1:80": an IPv6 address needs brackets and a port: "[::1:80]:8080"`,
      `portcullis.yaml:13:24: warning: listeners[5].listen: ":8080" listens on 127.0.0.1 only (an empty host means loopback here, not every interface): write 127.0.0.1:8080 or 0.0.0.0:8080 to say which`,
      'portcullis.yaml:14:24: warning: listeners[6].listen: "0.0.0.0:8081" listens on every interface: reachable from other machines, not only from this one',
      'portcullis.yaml:15:24: warning: listeners[7].listen: "[::]:8082" listens on every interface: reachable from other machines, not only from this one',
      '5 errors, 3 warnings',
    ].map((l) => `${l}\n`).join(''));
  });

  test('a policy passed as -c is named as a policy, not reported as a broken config', async () => {
    const r = await cli(['check', '-c', join(policies, 'policy.yaml')], dir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `${join(policies, 'policy.yaml')}:2:7: kind: this is a CiliumNetworkPolicy, not a portcullis.yaml config: ` +
      'give policy files to "portcullis check <paths>" or list them under "policies:" in the config\n1 error\n');
  });
});

describe('portcullis check --json', () => {
  test('every problem with file, line, column, path, severity and message; exit 0 with warnings only', async () => {
    const r = await cli(['check', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.problems[1], {
      file: join(policies, 'manifests.yaml'), line: 2, column: 7, path: 'kind', severity: 'warning',
      message: 'skipped ConfigMap "deathstar-settings": not a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy',
    });
    assert.deepEqual(out.problems.map((p: { severity: string; line: number }) => [p.severity, p.line]), [['warning', 1], ['warning', 2], ['warning', 7], ['warning', 3]]);
    assert.deepEqual({ ok: out.ok, errors: out.errors, warnings: out.warnings, summary: out.summary }, {
      ok: true, errors: 0, warnings: 4, summary: { policies: 1, rules: 1, files: 3, endpoints: 2, listeners: 1 },
    });
  });

  test('--strict --json: warnings have severity error, no summary, exit 1', async () => {
    writeFileSync(join(policies, 'policy.yaml'), POLICY.replace('port: "80"', 'port: "80000"'));
    const r = await cli(['check', '--json', '--strict'], dir);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    assert.equal(out.ok, false);
    assert.equal(out.summary, undefined);
    assert.deepEqual([out.errors, out.warnings], [5, 0]);
    assert.ok(out.problems.every((p: { severity: string }) => p.severity === 'error'), r.stdout);
    assert.ok(out.problems.some((p: { path: string }) => p.path === 'spec.ingress[0].toPorts[0].ports[0].port'), r.stdout);
  });
});

describe('portcullis run with the same folder', () => {
  test('logs each warning, one line each, at start-up and again on a reload', async () => {
    const child = spawn(process.execPath, [packageFile('dist', 'src', 'cli', 'main.js'), 'run', '--no-watch', '--workers', '1', '-c', join(dir, 'portcullis.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      const logged = (times: number) => {
        const lines = stderr.split('\n');
        for (const warning of folderWarnings('warning: ')) {
          assert.equal(lines.filter((l) => l.includes(JSON.stringify(warning).slice(1, -1))).length, times, `${warning}\n${stderr}`);
        }
      };
      await waitUntil('the listening line', () => stderr.includes('"listening"'));
      logged(1);
      child.kill('SIGHUP');
      await waitUntil('the reloaded line', () => stderr.includes('reloaded'));
      logged(2);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, stderr);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

