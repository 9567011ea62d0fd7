// `portcullis test` as CI runs it: the built CLI on the demo expectation files, a policy change that opens or
// closes traffic failing with the deciding rule named, JUnit XML that a real XML parser reads, and malformed files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readExpectationFile } from '../../src/cli/expectations.js';
import { packageFile, packageRoot } from '../../src/package-root.js';
import { cli } from '../helpers/runtime-fixture.js';

const DEMOS = ['starwars/sw_l3_l4_l7_policy', 'starwars/sw_l3_l4_policy', 'cloudcity/cc-door-ingress-security', 'kafka/kafka-sw-security-policy', 'tls/l7-visibility-tls'];
const expectFile = (demo: string) => packageFile('policies', `${demo}.expect.yaml`);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('portcullis test on the demo policies', () => {
  test('every case of every demo expectation file passes, one PASS line each', async () => {
    const r = await cli(['test', 'policies', '-c', 'portcullis.yaml'], packageRoot);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const cases = DEMOS.flatMap((d) => readExpectationFile(expectFile(d)).groups.flatMap((g) => g.cases));
    assert.ok(cases.length >= 30, `${cases.length} cases`);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.at(-1), `${cases.length} passed, 0 failed (${DEMOS.length} files)`);
    for (const c of cases) assert.ok(lines.includes(`PASS ${c.at.file.replace(`${packageRoot}/`, '')}:${c.at.line} ${c.title}: ${c.expect.kind === 'denied' ? `denied (${c.title.includes('grpc ') ? 'gRPC status' : c.title.includes('kafka ') ? 'Kafka error' : 'HTTP status'} ${c.expect.kind === 'denied' && c.expect.code})` : c.expect.kind}`), `${c.at.line} ${c.title}\n${r.stdout}`);
  });

  test("the issue's cases, with the answers a client gets", async () => {
    const r = await cli(['test', 'policies', '-c', 'portcullis.yaml'], packageRoot);
    for (const line of [
      'tiefighter -> deathstar POST /v1/request-landing: allowed',
      'tiefighter -> deathstar PUT /v1/exhaust-port: denied (HTTP status 403)',
      'xwing -> deathstar POST /v1/request-landing: reset',
      'grpc cloudcity.DoorManager/SetAccessCode: denied (gRPC status 7)',
      'app=empire-outpost,outpostid=9999 -> app=kafka:9092 kafka produce@9 deathstar-plans: denied (Kafka error 29)',
      'org=empire,class=mediabot -> api.twitter.local:443 GET /anything: denied (HTTP status 403)',
    ]) assert.match(r.stdout, new RegExp(`^PASS \\S+ .*${escape(line)}$`, 'm'));
  });

  test('with no paths, the expectation files beside the config\'s policies are run', async () => {
    const r = await cli(['test'], packageRoot);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS policies\/starwars\/sw_l3_l4_l7_policy\.expect\.yaml:8 /m);
    assert.match(r.stdout, /\d+ passed, 0 failed \(2 files\)\n$/);
  });
});

describe('portcullis test catches a policy change', () => {
  let dir = '';
  const policy = () => join(dir, 'sw_l3_l4_l7_policy.yaml');
  const ruleLine = (text: string) => readFileSync(policy(), 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
  const edit = (...changes: Array<[string, string]>) =>
    writeFileSync(policy(), changes.reduce((text, [from, to]) => text.replace(from, to), readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml'), 'utf8')));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-policy-test-'));
    copyFileSync(expectFile('starwars/sw_l3_l4_l7_policy'), join(dir, 'sw_l3_l4_l7_policy.expect.yaml'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a widened rule opens the exhaust port: those cases fail naming the http rule that allowed them; JUnit says so too', async () => {
    edit(['method: "POST"', 'method: "POST|PUT"'], ['path: "/v1/request-landing"', 'path: "/v1/.*"']);
    const junit = join(dir, 'results.xml');
    const r = await cli(['test', dir, '-c', packageFile('portcullis.yaml'), '--junit', junit], dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const rule = `allowed by http rule spec.ingress[0].toPorts[0].rules.http[0] of CiliumNetworkPolicy default/rule1 (${policy()}:${ruleLine('method: "POST|PUT"')})`;
    assert.match(r.stdout, new RegExp(`^FAIL sw_l3_l4_l7_policy\\.expect\\.yaml:9 tiefighter -> deathstar PUT /v1/exhaust-port: expected denied \\(403\\), got allowed \\(FORWARDED\\)\\n {5}${escape(rule)}$`, 'm'));
    assert.match(r.stdout, /^PASS sw_l3_l4_l7_policy\.expect\.yaml:8 tiefighter -> deathstar POST \/v1\/request-landing: allowed$/m);
    assert.match(r.stdout, /^FAIL sw_l3_l4_l7_policy\.expect\.yaml:11 tiefighter -> deathstar POST \/v1\/request-landing\?ship=tie: expected denied \(403\), got allowed \(FORWARDED\)$/m);
    assert.match(r.stdout, /^PASS sw_l3_l4_l7_policy\.expect\.yaml:10 tiefighter -> deathstar GET \/v1\/: denied \(HTTP status 403\)$/m);
    assert.match(r.stdout, /^4 passed, 2 failed \(1 file\)$/m);

    // A real XML parser (Python's, as CI tools use) reads the report.
    const parsed = JSON.parse(execFileSync('python3', ['-c', `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print(json.dumps({"root": root.tag, "attrs": root.attrib, "suites": [
  {"attrs": s.attrib, "cases": [{"name": c.get("name"), "classname": c.get("classname"),
    "failure": None if c.find("failure") is None else {"message": c.find("failure").get("message"), "text": c.find("failure").text}}
    for c in s.findall("testcase")]} for s in root.findall("testsuite")]}))
`, junit], { encoding: 'utf8' })) as { root: string; attrs: Record<string, string>; suites: Array<{ attrs: Record<string, string>; cases: Array<{ name: string; classname: string; failure: { message: string; text: string } | null }> }> };
    assert.equal(parsed.root, 'testsuites');
    assert.deepEqual(parsed.attrs, { name: 'portcullis test', tests: '6', failures: '2', errors: '0' });
    assert.equal(parsed.suites.length, 1);
    const [suite] = parsed.suites;
    assert.deepEqual(suite!.attrs, { name: 'sw_l3_l4_l7_policy.expect.yaml', tests: '6', failures: '2', errors: '0' });
    const exhaust = suite!.cases.find((c) => c.name === 'tiefighter -> deathstar PUT /v1/exhaust-port')!;
    assert.equal(exhaust.classname, 'sw_l3_l4_l7_policy.expect.yaml');
    assert.equal(exhaust.failure!.message, 'expected denied (403), got allowed (FORWARDED)');
    assert.equal(exhaust.failure!.text, `sw_l3_l4_l7_policy.expect.yaml:9\n${rule}`);
    assert.equal(suite!.cases.find((c) => c.name === 'tiefighter -> deathstar POST /v1/request-landing')!.failure, null);
  });

  test('a narrowed method closes the landing: that case fails naming the port rule whose http rules did not match', async () => {
    edit(['method: "POST"', 'method: "GET"']);
    const r = await cli(['test', dir, '-c', packageFile('portcullis.yaml')], dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const reason = 'L7: no http rule matched POST /v1/request-landing (rules: GET /v1/request-landing) [ingress of default/deathstar]';
    const rule = `L7 rules not matched: CiliumNetworkPolicy default/rule1 spec.ingress[0].toPorts[0] (${policy()}:${ruleLine('- ports:')})`;
    assert.match(r.stdout, new RegExp(`^FAIL sw_l3_l4_l7_policy\\.expect\\.yaml:8 tiefighter -> deathstar POST /v1/request-landing: expected allowed, got denied \\(HTTP status 403\\) \\(DROPPED\\)\\n {5}${escape(reason)}\\n {5}${escape(rule)}$`, 'm'));
    assert.match(r.stdout, /^4 passed, 2 failed \(1 file\)$/m);
  });
});

describe('portcullis test refuses what it cannot run', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-policy-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a malformed expectation file: exit 1 with file:line:column and the field, nothing run', async () => {
    const file = join(dir, 'bad.expect.yaml');
    writeFileSync(file, 'from: tiefighter\nto: deathstar\ncases:\n  - {http: "POST /v1/request-landing", expect: allowd}\n');
    const r = await cli(['test', file, '-c', packageFile('portcullis.yaml')], dir);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `${file}:4:48: cases[0].expect: expected allowed, denied, reset, or {denied: <code>} (an HTTP status, gRPC status or Kafka error code)\n1 error\n`);
  });

  test('a JUnit file that cannot be written: exit 1 saying so', async () => {
    const r = await cli(['test', expectFile('kafka/kafka-sw-security-policy'), '--junit', join(dir, 'missing', 'results.xml')], dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^portcullis test: --junit: cannot write ${escape(join(dir, 'missing', 'results.xml'))}: ENOENT`));
  });

  test('an unknown peer or listener fails its case at its field; the other cases still run', async () => {
    const file = join(dir, 'peers.expect.yaml');
    writeFileSync(file, 'to: deathstar\ncases:\n  - {from: tiefigher, expect: allowed}\n  - {from: tiefighter, via: deathstar-grpc, expect: allowed}\n  - {from: tiefighter, expect: allowed}\n  - {from: "=empire", expect: allowed}\n  - {from: xwing, expect: reset}\n');
    const r = await cli(['test', file, '-c', packageFile('portcullis.yaml')], dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^FAIL peers\\.expect\\.yaml:3 tiefigher -> deathstar connection: ${escape(file)}:3:12: cases\\[0\\]\\.from: from "tiefigher": not an endpoint`, 'm'));
    assert.match(r.stdout, new RegExp(`^FAIL peers\\.expect\\.yaml:4 .*${escape(file)}:4:29: cases\\[1\\]\\.via: via "deathstar-grpc": not a listener of ${escape(packageFile('portcullis.yaml'))} nor one of http, kafka, tls, forward$`, 'm'));
    assert.match(r.stdout, /^PASS peers\.expect\.yaml:5 tiefighter -> deathstar connection: allowed$/m);
    assert.match(r.stdout, new RegExp(`^FAIL peers\\.expect\\.yaml:6 =empire -> deathstar connection: ${escape(file)}:6:12: cases\\[3\\]\\.from: "=empire": expected a label set like org=empire,class=tiefighter$`, 'm'));
    assert.match(r.stdout, /^PASS peers\.expect\.yaml:7 xwing -> deathstar connection: reset\n2 passed, 3 failed \(1 file\)\n$/m);
  });

  test('TLS SNI, HTTP host and headers, and Kafka client ids reach the engine (no config: label sets and policy ports)', async () => {
    const sub = mkdtempSync(join(dir, 'protocols-'));
    writeFileSync(join(sub, 'api.yaml'), `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: [api.example.com]
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http: [{method: GET, host: api.local, headers: ["X-Token: secret"]}]
    - ports: [{port: "9092", protocol: TCP}]
      rules:
        kafka: [{role: produce, topic: t1, clientID: good}]
`);
    writeFileSync(join(sub, 'api.expect.yaml'), `from: app=client
to: app=api
cases: [{port: 80, http: "GET /", expect: allowed}]
`);
    const none = await cli(['test', 'api.expect.yaml'], sub);
    assert.equal(none.code, 1, none.stdout + none.stderr);
    assert.equal(none.stderr, `api.expect.yaml:1:1: policies: no policies to test: name them here (\`policies:\`) or give a config that does (-c)\n1 error\n`);

    writeFileSync(join(sub, 'api.expect.yaml'), `policies: [api.yaml]
from: app=client
to: app=api
cases:
  - {port: 443, via: tls, sni: api.example.com, expect: allowed}
  - {port: 443, via: tls, sni: evil.example.com, expect: reset}
  - {port: 443, via: tls, expect: reset}
  - {port: 80, http: "GET /", host: api.local, headers: {X-Token: secret}, expect: allowed}
  - {port: 80, http: "GET /", host: api.local, expect: {denied: 403}}
  - {port: 80, http: "GET /", host: evil.local, headers: {X-Token: secret}, expect: {denied: 403}}
  - {port: 9092, kafka: "produce@9 t1", clientId: good, expect: allowed}
  - {port: 9092, kafka: "produce@9 t1", clientId: bad, expect: {denied: 29}}
  - {port: 9092, kafka: "produce@9 t1", clientId: bad, expect: allowed}
`);
    const r = await cli(['test', 'api.expect.yaml'], sub);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL api\.expect\.yaml:13 app=client -> app=api:9092 kafka produce@9 t1: expected allowed, got denied \(Kafka error 29\) \(DROPPED\)\n {5}L7: no kafka rule matched produce v9 client "bad" topics \[t1\]/m);
    assert.match(r.stdout, /\n8 passed, 1 failed \(1 file\)\n$/);
  });
});

describe('portcullis test routes world destinations as the forward proxy reaches them', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-policy-test-forward-'));
    // The rule names the address the forward proxy's `hosts` maps the name to, not the name.
    writeFileSync(join(dir, 'egress.yaml'), `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: tiefighter-egress}
spec:
  endpointSelector: {matchLabels: {class: tiefighter}}
  egress:
  - toCIDR: [127.0.0.40/32]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: GET, path: /get}]}
`);
    writeFileSync(join(dir, 'portcullis.yaml'), `policies: egress.yaml
endpoints:
  - {name: tiefighter, labels: {org: empire, class: tiefighter}, addresses: [127.0.0.2]}
listeners:
  - {name: egress, listen: "127.0.0.1:0", protocol: forward, forward: {hosts: {httpbin.local: [127.0.0.40]}}}
`);
    writeFileSync(join(dir, 'egress.expect.yaml'), `from: tiefighter
to: httpbin.local
port: 80
cases:
  - {http: "GET /get", expect: allowed}
  - {http: "POST /get", expect: {denied: 403}}
  - {via: egress, http: "GET /get", expect: allowed}
  - {to: example.com, http: "GET /get", expect: {denied: 403}}
`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a name in the forward listener's hosts is decided at its address, with or without via", async () => {
    const r = await cli(['test', 'egress.expect.yaml', '-c', 'portcullis.yaml'], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\n4 passed, 0 failed \(1 file\)\n$/);
  });
});
