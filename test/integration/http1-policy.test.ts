// Policy enforcement on HTTP/1.1 under the Star Wars L7 policy (empire ships may only
// `POST /v1/request-landing`): L7 denials answer 403 and keep the connection, L3/L4 denials reset it,
// paths are matched after normalisation, reloads apply to the next request of a keep-alive connection,
// and audit mode forwards what it would have dropped.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { curl, startProxy, STAR_WARS_L4, STAR_WARS_L7, TIEFIGHTER, XWING, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange, withoutDates } from '../helpers/http-raw-client.js';

const DENIED =
  'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 15\r\nDate: <date>\r\n' +
  'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nAccess denied\r\n';

/** Denies every ingress to the deathstar (default deny with no allow rule). */
const DENY_ALL = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: lockdown}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  ingress:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: "9999", protocol: TCP}]}]
`;

/** The Star Wars L7 rule in a default-allow policy: xwing is selected by no rule, tiefighter is. */
const STAR_WARS_L7_DEFAULT_ALLOW = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: visibility}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  enableDefaultDeny: {ingress: false}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: POST, path: /v1/request-landing}]}
`;

let proxy: ProxyFixture | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

test('curl as tiefighter: request-landing is allowed, exhaust-port gets the exact 403', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7 });
  const landing = await curl(['--interface', TIEFIGHTER, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.deepEqual([landing.code, landing.stdout], [0, 'Ship landed\n']);
  const exhaust = await curl(['-i', '--interface', TIEFIGHTER, '-X', 'PUT', `${proxy.url}/v1/exhaust-port`]);
  assert.equal(exhaust.code, 0, exhaust.stderr);
  assert.equal(withoutDates(exhaust.stdout), DENIED);
  assert.deepEqual(
    proxy.upstream.seen.map((r) => `${r.method} ${r.url}`),
    ['POST /v1/request-landing'],
  );
});

test('after a 403 the connection stays usable: a denied then an allowed request on one socket', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7 });
  const res = await rawExchange(
    proxy.port,
    'PUT /v1/exhaust-port HTTP/1.1\r\nHost: deathstar\r\nContent-Length: 4\r\n\r\nboom' +
      'POST /v1/request-landing HTTP/1.1\r\nHost: deathstar\r\nConnection: close\r\n\r\n',
    { localAddress: TIEFIGHTER },
  );
  assert.equal(
    withoutDates(res.text),
    DENIED + 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nDate: <date>\r\nConnection: close\r\n\r\nShip landed\n',
  );
  assert.deepEqual(proxy.upstream.seen.map((r) => r.method), ['POST']);
});

test('undici keeps one connection across a 403 and the next request', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7 });
  const agent = new Agent({ localAddress: TIEFIGHTER, connections: 1 });
  try {
    const denied = await request(`${proxy.url}/v1/exhaust-port`, { method: 'PUT', body: 'x', dispatcher: agent });
    assert.equal(denied.statusCode, 403);
    assert.equal(await denied.body.text(), 'Access denied\r\n');
    const allowed = await request(`${proxy.url}/v1/request-landing`, { method: 'POST', dispatcher: agent });
    assert.equal(await allowed.body.text(), 'Ship landed\n');
    assert.deepEqual(proxy.metrics.of('connectionOpened'), [['deathstar-http']], 'one downstream connection');
  } finally {
    await agent.close();
  }
});

test('xwing is reset at L3/L4: curl exit 56, undici ECONNRESET, nothing reaches the upstream', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7 });
  const res = await curl(['--interface', XWING, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.equal(res.code, 56, res.stderr);
  assert.match(res.stderr, /Recv failure: Connection reset by peer/);
  const agent = new Agent({ localAddress: XWING });
  try {
    await assert.rejects(request(`${proxy.url}/v1/request-landing`, { method: 'POST', dispatcher: agent }), (err: Error & { code?: string }) => {
      assert.match(`${err.code} ${err.message}`, /ECONNRESET|UND_ERR_SOCKET|other side closed/);
      return true;
    });
  } finally {
    await agent.close();
  }
  const raw = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: d\r\n\r\n', { localAddress: XWING });
  assert.deepEqual([raw.text, raw.ending], ['', 'reset']);
  assert.equal(proxy.upstream.seen.length, 0);
  assert.deepEqual(proxy.metrics.of('drop'), [['POLICY_DENIED', 'TCP'], ['POLICY_DENIED', 'TCP'], ['POLICY_DENIED', 'TCP']]);
});

test('a denied client that sends nothing is still reset, without a byte written', async () => {
  // It is reset after this long without a byte (production: a second).
  proxy = await startProxy({ policy: STAR_WARS_L7, timings: { deniedWaitMs: 100 } });
  const res = await rawExchange(proxy.port, '', { localAddress: XWING, waitMs: 3000 });
  assert.deepEqual([res.text, res.ending], ['', 'reset']);
});

test('paths are matched after normalisation and forwarded normalised', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7 });
  for (const path of ['/v1/../v1/request-landing', '/v1/%2e%2e/v1/request-landing', '/v1//request-landing', '/v1/./request-landing', '/v1/bay\\..\\request-landing', '/v1/%72equest-landing']) {
    const res = await rawExchange(proxy.port, `POST ${path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`, { localAddress: TIEFIGHTER });
    assert.match(res.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Ship landed\n$/, path);
  }
  assert.deepEqual(new Set(proxy.upstream.seen.map((r) => r.url)), new Set(['/v1/request-landing']));
  // Normalisation cannot be used to reach a denied path either.
  const sneaky = await rawExchange(proxy.port, 'PUT /v1/request-landing/../exhaust-port HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n', { localAddress: TIEFIGHTER });
  assert.match(sneaky.text, /^HTTP\/1\.1 403 Forbidden\r\n/);
});

test('encoded slashes are refused with 400 before policy, and the query is part of the matched path', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7 });
  const slash = await rawExchange(proxy.port, 'POST /v1%2Frequest-landing HTTP/1.1\r\nHost: d\r\n\r\n', { localAddress: TIEFIGHTER });
  assert.equal(
    withoutDates(slash.text),
    'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 36\r\nconnection: close\r\nDate: <date>\r\n\r\n' +
      'escaped slash (%2F or %5C) in path\r\n',
  );
  assert.equal(slash.ending, 'closed');
  // The policy path has no query, so a query makes the full-match regex fail (as with Envoy's :path).
  const query = await rawExchange(proxy.port, 'POST /v1/request-landing?x=1 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n', { localAddress: TIEFIGHTER });
  assert.match(query.text, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.equal(proxy.upstream.seen.length, 0);
});

test('a reload applies to the next request of a keep-alive connection, down to an L3/L4 reset', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7 });
  const agent = new Agent({ localAddress: TIEFIGHTER, connections: 1 });
  try {
    const put = () => request(`${proxy!.url}/v1/exhaust-port`, { method: 'PUT', dispatcher: agent });
    const first = await put();
    await first.body.dump();
    assert.equal(first.statusCode, 403);
    proxy.usePolicy(STAR_WARS_L4);
    const second = await put();
    await second.body.dump();
    assert.equal(second.statusCode, 200, 'the L4 policy lifts the L7 restriction on the same connection');
    proxy.usePolicy(DENY_ALL);
    await assert.rejects(put(), /ECONNRESET|other side closed|socket/i);
    assert.equal(proxy.metrics.of('connectionOpened').length, 1, 'all three requests used one connection');
    assert.equal(proxy.flows.l3l4().at(-1)?.verdict, 'DROPPED');
  } finally {
    await agent.close();
  }
});

test('audit mode forwards what policy would drop, with verdict AUDIT at L7 and at L3/L4', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7, audit: true });
  const exhaust = await curl(['--interface', TIEFIGHTER, '-X', 'PUT', `${proxy.url}/v1/exhaust-port`]);
  assert.equal(exhaust.code, 0, exhaust.stderr);
  const xwing = await curl(['--interface', XWING, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.deepEqual([xwing.code, xwing.stdout], [0, 'Ship landed\n']);
  assert.deepEqual(proxy.upstream.seen.map((r) => `${r.method} ${r.url}`), ['PUT /v1/exhaust-port', 'POST /v1/request-landing']);
  assert.deepEqual(
    proxy.flows.l7('REQUEST').map((e) => e.verdict),
    ['AUDIT', 'AUDIT'],
  );
  assert.deepEqual(
    proxy.flows.l3l4().map((e) => [e.verdict, e.source.identity.name]),
    [['AUDIT', 'xwing']],
  );
  assert.deepEqual(proxy.metrics.of('drop'), []);
});

test('headerMatches mismatch actions rewrite the forwarded request, and the flow shows the result', async () => {
  proxy = await startProxy({
    policy: `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: header-actions}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http:
        - method: POST
          path: /echo
          headerMatches:
          - {name: X-Fleet, value: imperial, mismatch: ADD}
          - {name: X-Clearance, value: top, mismatch: REPLACE}
          - {name: X-Debug, value: "off", mismatch: DELETE}
`,
  });
  const res = await rawExchange(
    proxy.port,
    'POST /echo HTTP/1.1\r\nHost: d\r\nX-Clearance: low\r\nX-Clearance: lower\r\nX-Debug: on\r\nConnection: close\r\n\r\n',
    { localAddress: TIEFIGHTER },
  );
  const echo = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as { rawHeaders: string[] };
  const seen = echo.rawHeaders.filter((_, i) => /^x-(fleet|clearance|debug)$/.test(echo.rawHeaders[i - (i % 2)]!));
  assert.deepEqual(seen, ['x-fleet', 'imperial', 'x-clearance', 'top']);
  const [request] = proxy.flows.l7('REQUEST');
  assert.deepEqual(
    request?.l7?.http?.headers.filter(([name]) => name.startsWith('x-')),
    [['x-fleet', 'imperial'], ['x-clearance', 'top']],
  );
});

test('enableDefaultDeny {ingress: false}: the selected peer is L7-restricted (h1 and h2c), an unselected peer is not', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7_DEFAULT_ALLOW });
  for (const h2 of [[], ['--http2-prior-knowledge']]) {
    const landing = await curl([...h2, '--interface', TIEFIGHTER, '-X', 'POST', '-w', '%{http_code}', '-o', '/dev/null', `${proxy.url}/v1/request-landing`]);
    assert.deepEqual([landing.code, landing.stdout], [0, '200'], landing.stderr);
    const exhaust = await curl([...h2, '--interface', TIEFIGHTER, '-X', 'PUT', `${proxy.url}/v1/exhaust-port`]);
    assert.deepEqual([exhaust.code, exhaust.stdout], [0, 'Access denied\r\n'], exhaust.stderr);
    const xwing = await curl([...h2, '--interface', XWING, '-X', 'PUT', '-w', '%{http_code}', '-o', '/dev/null', `${proxy.url}/v1/exhaust-port`]);
    assert.deepEqual([xwing.code, xwing.stdout], [0, '200'], xwing.stderr);
  }
  assert.deepEqual(
    proxy.upstream.seen.map((r) => `${r.method} ${r.url}`),
    ['POST /v1/request-landing', 'PUT /v1/exhaust-port', 'POST /v1/request-landing', 'PUT /v1/exhaust-port'],
  );
  const dropped = proxy.flows.events.filter((f) => f.verdict === 'DROPPED');
  assert.equal(dropped.length, 2);
  for (const f of dropped) assert.match(f.decision?.reason ?? '', /^L7: no http rule matched PUT \/v1\/exhaust-port/);
});
