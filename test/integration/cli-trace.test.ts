// `portcullis trace` as an operator types it: --port checked, endpoint typos answered with close names, and a
// destination behind a forward proxy traced through it (what the proxy answers is 403, not a reset).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../../src/package-root.js';
import { cli } from '../helpers/runtime-fixture.js';

describe('portcullis trace: arguments', () => {
  for (const port of ['abc', '0', '65536', '80x', '-1', '8.5']) {
    test(`--port ${port}: one line, exit 1, before anything is traced`, async () => {
      const r = await cli(['trace', '--from', 'tiefighter', '--to', 'deathstar', '--port', port], packageRoot);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `portcullis trace: --port "${port}": expected a port number from 1 to 65535\n`);
      assert.equal(r.stdout, '');
    });
  }

  test('--port 65535 is a port', async () => {
    const r = await cli(['trace', '--from', 'tiefighter', '--to', 'deathstar', '--port', '65535'], packageRoot);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, /port 65535\/TCP/);
  });

  test('a mistyped endpoint name suggests the close one', async () => {
    const from = await cli(['trace', '--from', 'tiefigher', '--to', 'deathstar'], packageRoot);
    assert.equal(from.code, 1);
    assert.equal(from.stderr, 'portcullis trace: --from "tiefigher": not an endpoint, label set, IP address, entity ' +
      '(world, host, unmanaged, health, init, remote-node, kube-apiserver, ingress) or DNS name (did you mean "tiefighter"?)\n');
    const to = await cli(['trace', '--from', 'tiefighter', '--to', 'deathstr'], packageRoot);
    assert.equal(to.code, 1);
    assert.match(to.stderr, /^portcullis trace: --to "deathstr": .* \(did you mean "deathstar"\?\)\n$/);
    const far = await cli(['trace', '--from', 'nobody', '--to', 'deathstar'], packageRoot);
    assert.equal(far.code, 1);
    assert.doesNotMatch(far.stderr, /did you mean/);
  });
});

describe('portcullis trace: a destination behind a forward proxy', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-trace-'));
    writeFileSync(join(dir, 'egress.yaml'), `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: tiefighter-egress}
spec:
  endpointSelector: {matchLabels: {class: tiefighter}}
  egress:
  - toFQDNs: [{matchName: httpbin.local}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: GET, path: /get}]}
`);
    writeFileSync(join(dir, 'portcullis.yaml'), `policies: egress.yaml
endpoints:
  - {name: tiefighter, labels: {org: empire, class: tiefighter}, addresses: [127.0.0.2]}
  - {name: xwing, labels: {org: alliance, class: xwing}, addresses: [127.0.0.3]}
listeners:
  - {name: egress, listen: "127.0.0.1:0", protocol: forward, forward: {hosts: {httpbin.local: [127.0.0.40]}}}
`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('allowed: through the forward listener, at the address its hosts map gives, port 80 by default', async () => {
    const r = await cli(['trace', '--from', 'tiefighter', '--to', 'httpbin.local', '--http', 'GET /get'], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^to {3}world at 127\.0\.0\.40 \(identity 2: reserved:world\) port 80\/TCP via forward listener egress$/m);
    assert.match(r.stdout, /L7 http GET \/get: FORWARDED/);
  });

  test('a name no rule allows: the proxy answers 403, it resets nothing', async () => {
    const r = await cli(['trace', '--from', 'tiefighter', '--to', 'example.com', '--http', 'GET /get'], dir);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^L3\/L4: DROPPED$/m);
    assert.match(r.stdout, /^L7: not reached \(the forward proxy "egress" answers 403 Access denied to the request or CONNECT\)$/m);
    assert.doesNotMatch(r.stdout, /reset/);
  });

  test('a client no policy selects for egress is refused with 403 (forward.allowUnselectedClients is false)', async () => {
    const r = await cli(['trace', '--from', 'xwing', '--to', 'httpbin.local', '--json'], dir);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.listener, 'egress');
    assert.equal(out.answer, 'the forward proxy "egress" answers 403 Access denied to the request or CONNECT');
    assert.match(out.connection.reason, /^forward proxy client refused: no policy selects default\/xwing for egress/);
  });

  test('a reverse-proxy listener still resets a denied connection', async () => {
    const r = await cli(['trace', '--from', 'org=alliance,class=xwing', '--to', 'deathstar', '--port', '80'], packageRoot);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^L7: not reached \(the connection is reset\)$/m);
  });
});
