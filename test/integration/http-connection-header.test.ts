// Hop-by-hop fields a client nominates in `Connection` are removed before policy sees the request, so what policy
// decides on is what the upstream gets: a `headerMatches` ADD/REPLACE always reaches the upstream, and a header a rule
// required cannot be dropped after the rule let the request through. Framing and routing fields (Host,
// Content-Length, Transfer-Encoding) cannot be made to vanish by naming them. Every HTTP/1.x path: HTTP/1.1 and h2c
// upstreams, and the forward proxy's absolute-form requests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream, type Echo, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { startH2EchoUpstream, type H2Echo, type H2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { deathstarHttpPolicy, startProxy, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange } from '../helpers/http-raw-client.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';

const RULES = `
        - {path: "/tenant", headerMatches: [{name: X-Tenant, value: blue, mismatch: REPLACE}]}
        - {path: "/added", headerMatches: [{name: X-Added, value: yes, mismatch: ADD}]}
        - {path: "/token", headers: ["X-Token: abc"]}
        - {path: "/auth", headers: ["Authorization"]}
        - {path: "/hosted", headers: ["Host: trusted.local"]}
        - {path: "/open.*"}`;

const TENANT_POLICY = deathstarHttpPolicy('tenant', RULES);

/** `name: value` lines of a raw header list, names lower-cased. */
function headerLines(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) out.push(`${raw[i]!.toLowerCase()}: ${raw[i + 1]}`);
  return out;
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

function bodyOf(text: string): string {
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

/** The checks every path must pass; `send` makes one request and returns the status and the upstream's header lines. */
function hopByHopCases(send: (path: string, headers: string, body?: string) => Promise<{ status: number; upstream: string[] | undefined; body?: string }>) {
  test('Connection naming the header a REPLACE action sets: the upstream gets the policy value', async () => {
    const r = await send('/tenant', 'X-Tenant: red\r\nConnection: X-Tenant\r\n');
    assert.equal(r.status, 200);
    assert.deepEqual(r.upstream?.filter((h) => h.startsWith('x-tenant:')), ['x-tenant: blue']);
  });

  test('Connection naming the header an ADD action adds: the added value still arrives', async () => {
    const r = await send('/added', 'X-Added: no\r\nConnection: keep-alive, X-Added\r\n');
    assert.equal(r.status, 200);
    assert.deepEqual(r.upstream?.filter((h) => h.startsWith('x-added:')), ['x-added: yes']);
  });

  test('a header a rule requires, nominated in Connection, is gone before policy: 403, nothing forwarded', async () => {
    const r = await send('/token', 'X-Token: abc\r\nConnection: x-token\r\n');
    assert.equal(r.status, 403);
    assert.equal(r.upstream, undefined);
    const ok = await send('/token', 'X-Token: abc\r\n');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.upstream?.filter((h) => h.startsWith('x-token:')), ['x-token: abc']);
  });

  test('Connection: Authorization removes it for policy too (a rule requiring it denies)', async () => {
    const r = await send('/auth', 'Authorization: Bearer t\r\nConnection: Authorization\r\n');
    assert.equal(r.status, 403);
    const open = await send('/open', 'Authorization: Bearer t\r\nConnection: Authorization\r\n');
    assert.equal(open.status, 200);
    assert.equal(open.upstream?.some((h) => h.startsWith('authorization:')), false);
  });

  test('Connection naming Host, Content-Length or Transfer-Encoding is ignored: routing and framing stay intact', async () => {
    const length = await send('/open-length', 'Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: Host, Content-Length\r\n', 'hello');
    assert.equal(length.status, 200);
    assert.ok(length.upstream?.some((h) => h.startsWith('host: ')), 'Host still sent');
    assert.equal(length.body, 'hello');
    const chunked = await send('/open-chunked', 'Transfer-Encoding: chunked\r\nConnection: Transfer-Encoding, Host\r\n', '5\r\nhello\r\n0\r\n\r\n');
    assert.equal(chunked.status, 200);
    assert.equal(chunked.body, 'hello');
  });

  test('Connection naming X-Forwarded-For drops only the client value: the proxy still adds its own', async () => {
    const r = await send('/open', 'X-Forwarded-For: 10.9.9.9\r\nConnection: X-Forwarded-For, X-Forwarded-Proto\r\n');
    assert.equal(r.status, 200);
    const xff = r.upstream?.filter((h) => h.startsWith('x-forwarded-for:')) ?? [];
    assert.equal(xff.length, 1);
    assert.ok(!xff[0]!.includes('10.9.9.9'), xff[0]);
    assert.deepEqual(r.upstream?.filter((h) => h.startsWith('x-forwarded-proto:')), ['x-forwarded-proto: http']);
  });
}

describe('reverse proxy, HTTP/1.1 client and upstream', () => {
  let proxy: ProxyFixture;
  before(async () => {
    proxy = await startProxy({ policy: TENANT_POLICY });
  });
  after(() => proxy.close());

  hopByHopCases(async (path, headers, body = '') => {
    const seen = proxy.upstream.seen.length;
    const res = await rawExchange(proxy.port, `${body ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: deathstar\r\nConnection: close\r\n${headers}\r\n${body}`, {
      localAddress: TIEFIGHTER,
    });
    const status = statusOf(res.text);
    const upstream = proxy.upstream.seen.length > seen ? headerLines(proxy.upstream.seen.at(-1)!.rawHeaders) : undefined;
    const echoBody = status === 200 ? (JSON.parse(bodyOf(res.text)) as Echo).body : undefined;
    return { status, upstream, ...(echoBody === undefined ? {} : { body: echoBody }) };
  });
});

describe('reverse proxy, HTTP/1.1 client, h2c upstream', () => {
  let proxy: ProxyFixture;
  let upstream: H2EchoUpstream;
  before(async () => {
    upstream = await startH2EchoUpstream('127.0.0.1');
    proxy = await startProxy({ policy: TENANT_POLICY, upstreamPort: upstream.port, upstreamProtocol: 'h2c' });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  hopByHopCases(async (path, headers, body = '') => {
    const res = await rawExchange(proxy.port, `${body ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: deathstar\r\nConnection: close\r\n${headers}\r\n${body}`, {
      localAddress: TIEFIGHTER,
    });
    const status = statusOf(res.text);
    if (status !== 200) return { status, upstream: undefined };
    const text = bodyOf(res.text);
    // Chunked from the proxy: the JSON sits between the chunk size line and the last chunk.
    const echo = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)) as H2Echo;
    const lines = headerLines(echo.rawHeaders);
    lines.push(`host: ${echo.authority}`);
    return { status, upstream: lines, body: echo.body };
  });
});

describe('forward proxy, absolute-form requests', () => {
  const SHIP = '127.0.0.101';
  let plain: EchoUpstream;
  let runtime: Runtime;
  before(async () => {
    plain = await startEchoUpstream();
    runtime = await startRuntime({
      policies: {
        'ship.yaml': `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ship-egress, namespace: default}
spec:
  endpointSelector: {matchLabels: {class: ship}}
  egress:
  - toFQDNs: [{matchName: api.example.local}]
    toPorts:
    - ports: [{port: "${plain.port}", protocol: TCP}]
      rules:
        http:${RULES}
`,
      },
      endpoints: `- {name: ship, namespace: default, labels: {class: ship}, addresses: [${SHIP}]}`,
      listeners: `
- name: egress
  listen: "127.0.0.1:0"
  protocol: forward
  forward:
    systemResolver: false
    hosts:
      api.example.local: [127.0.0.1]`,
    });
  });
  after(async () => {
    await runtime?.close();
    await plain?.close();
  });

  test('a Host header beside an absolute-form target is not what policy matches: the target authority is', async () => {
    const seen = plain.seen.length;
    const res = await rawExchange(
      runtime.port('egress'),
      `GET http://api.example.local:${plain.port}/hosted HTTP/1.1\r\nHost: trusted.local\r\nConnection: close\r\n\r\n`,
      { localAddress: SHIP },
    );
    assert.equal(statusOf(res.text), 403);
    assert.equal(plain.seen.length, seen);
  });

  hopByHopCases(async (path, headers, body = '') => {
    const seen = plain.seen.length;
    const target = `http://api.example.local:${plain.port}${path}`;
    const res = await rawExchange(
      runtime.port('egress'),
      `${body ? 'POST' : 'GET'} ${target} HTTP/1.1\r\nHost: api.example.local:${plain.port}\r\nConnection: close\r\n${headers}\r\n${body}`,
      { localAddress: SHIP },
    );
    const status = statusOf(res.text);
    const upstream = plain.seen.length > seen ? headerLines(plain.seen.at(-1)!.rawHeaders) : undefined;
    const echoBody = status === 200 ? (JSON.parse(bodyOf(res.text)) as Echo).body : undefined;
    return { status, upstream, ...(echoBody === undefined ? {} : { body: echoBody }) };
  });
});
