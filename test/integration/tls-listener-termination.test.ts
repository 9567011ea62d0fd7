// A `tls` listener whose policy says `terminatingTLS`: the proxy completes the handshake with the stored
// certificate, applies the HTTP rules to the decrypted requests (HTTP/1.1 and h2 by ALPN), answers 421 when Host or
// :authority disagrees with the SNI, and re-originates TLS verified against the `originatingTLS` CA with the SNI as
// the name to check (plaintext when only terminatingTLS is set; HTTP/2 upstream with `upstreamProtocol: h2c`). Upstream certificate failures (wrong CA, wrong name,
// expired) give 503 and an ERROR flow saying why, never a plaintext retry. Clients: curl and Node.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { startEchoUpstream, type Echo, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { startHttpsUpstream, type HttpsUpstream, type UpstreamEcho } from '../helpers/tls-https-upstream.js';
import { runCommand } from '../helpers/tls-net.js';
import { startRuntime, type FlowRecord, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const CLIENT = '127.0.0.71';
const DAY = 86_400_000;

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-tls, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: [api.example.local]
      terminatingTLS: {secret: {name: api-front}}
      originatingTLS: {secret: {namespace: kube-system, name: public-trust}}
      rules:
        http:
        - {method: GET, path: "/public/.*"}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: plain-tls, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: plain}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      terminatingTLS: {secret: {name: api-front}}
      rules:
        http:
        - {method: GET}
`;

let store: TempStore;
let internalCaFile: string;
const upstreams: Record<string, HttpsUpstream> = {};
let plainUpstream: EchoUpstream;
let runtime: Runtime;

before(async () => {
  store = await tempStoreWithCa();
  internalCaFile = path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt');
  const publicCa = { namespace: 'kube-system', name: 'public-ca' };
  await createCa({ store: store.root, secret: publicCa, commonName: 'Public test CA' });
  // originatingTLS: a bundle holding only the public CA (as Cilium's tls-orig-data).
  mkdirSync(path.join(store.root, 'kube-system', 'public-trust'), { recursive: true });
  copyFileSync(path.join(store.root, 'kube-system', 'public-ca', 'ca.crt'), path.join(store.root, 'kube-system', 'public-trust', 'ca.crt'));
  const issue = (name: string, ca: typeof publicCa, names: string[], window: { validFrom?: Date; validTo?: Date } = {}) =>
    issueCertificate({ store: store.root, ca, secret: { namespace: 'default', name }, names, ...window });
  await issue('api-front', store.ca, ['api.example.local']);
  await issue('upstream-good', publicCa, ['api.example.local']);
  await issue('upstream-wrong-name', publicCa, ['other.example.local']);
  await issue('upstream-wrong-ca', store.ca, ['api.example.local']);
  await issue('upstream-expired', publicCa, ['api.example.local'], { validFrom: new Date(Date.now() - 10 * DAY), validTo: new Date(Date.now() - DAY) });
  for (const name of ['upstream-good', 'upstream-wrong-name', 'upstream-wrong-ca', 'upstream-expired']) {
    upstreams[name] = await startHttpsUpstream(store.root, { namespace: 'default', name });
  }
  plainUpstream = await startEchoUpstream();
  const tlsListener = (name: string, to: string, port: number, extra = '') =>
    `- {name: ${name}, listen: "127.0.0.1:0", protocol: tls, to: ${to}, upstream: "127.0.0.1:${port}", port: 443${extra}}`;
  runtime = await startRuntime({
    certs: store.root,
    policies: { 'tls.yaml': POLICY },
    endpoints: `
- {name: api, namespace: default, labels: {app: api}, addresses: [127.0.0.70]}
- {name: plain, namespace: default, labels: {app: plain}, addresses: [127.0.0.72]}
- {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}]}`,
    listeners: [
      tlsListener('good', 'api', upstreams['upstream-good']!.port, ', upstreamProtocol: h2c'),
      tlsListener('wrong-name', 'api', upstreams['upstream-wrong-name']!.port),
      tlsListener('wrong-ca', 'api', upstreams['upstream-wrong-ca']!.port),
      tlsListener('expired', 'api', upstreams['upstream-expired']!.port),
      tlsListener('plain', 'plain', plainUpstream.port),
      tlsListener('impatient', 'api', upstreams['upstream-good']!.port, ', tls: {handshakeTimeoutMs: 300}'),
    ].join('\n'),
  });
});

after(async () => {
  await runtime?.close();
  await Promise.all(Object.values(upstreams).map((u) => u.close()));
  await plainUpstream?.close();
  store?.cleanup();
});

function curl(listener: string, urlPath: string, extra: readonly string[] = []) {
  const port = runtime.port(listener);
  return runCommand('curl', [
    '-sS', '--max-time', '5', '--interface', CLIENT, '--cacert', internalCaFile,
    '--resolve', `api.example.local:${port}:127.0.0.1`, '-w', '\n%{http_code} %{http_version}', ...extra, `https://api.example.local:${port}${urlPath}`,
  ]);
}

/** Body and status of a `curl -w '\n%{http_code} %{http_version}'` run. */
function split(stdout: string): { body: string; status: number; version: string } {
  const cut = stdout.lastIndexOf('\n');
  const [status, version] = stdout.slice(cut + 1).split(' ');
  return { body: stdout.slice(0, cut), status: Number(status), version: version ?? '' };
}

async function l7Flows(listener: string): Promise<Array<FlowRecord['flow']>> {
  return (await runtime.flows()).map((r) => r.flow).filter((f) => f.Type === 'L7' && f.portcullis?.listener === listener);
}

describe('tls listener: terminating and originating TLS', () => {
  it('HTTP/1.1: terminated with the stored certificate, L7 allowed, re-originated with SNI to the verified upstream', async () => {
    const result = await curl('good', '/public/a?b=1', ['--http1.1']);
    assert.equal(result.code, 0, result.stderr);
    const { body, status } = split(result.stdout);
    assert.equal(status, 200);
    const echo = JSON.parse(body) as UpstreamEcho;
    assert.equal(echo.sni, 'api.example.local', 'the upstream hop is TLS with the downstream SNI');
    assert.equal(echo.path, '/public/a?b=1');
    assert.equal(echo.httpVersion, '1.1');
    const url = `https://api.example.local:${runtime.port('good')}/public/a?b=1`;
    const request = (await l7Flows('good')).find((f) => f.l7.type === 'REQUEST' && f.l7.http.url === url);
    assert.ok(request);
    assert.equal(request.verdict, 'FORWARDED');
    assert.equal(request.l7.http.method, 'GET');
  });

  it('h2 by ALPN: the decrypted stream is HTTP/2 and goes upstream as h2 over verified TLS (upstreamProtocol h2c)', async () => {
    const result = await curl('good', '/public/h2', ['--http2']);
    assert.equal(result.code, 0, result.stderr);
    const { body, status, version } = split(result.stdout);
    assert.equal(status, 200);
    assert.equal(version, '2');
    const echo = JSON.parse(body) as UpstreamEcho;
    assert.equal(echo.httpVersion, '2.0');
    assert.equal(echo.alpn, 'h2');
    assert.equal(echo.sni, 'api.example.local');
  });

  it('an L7 denial inside TLS is a 403 and a DROPPED request flow (HTTP/1.1 and h2)', async () => {
    for (const version of ['--http1.1', '--http2']) {
      const result = await curl('good', '/private', [version]);
      assert.equal(result.code, 0, result.stderr);
      const { body, status } = split(result.stdout);
      assert.equal(status, 403);
      assert.equal(body, 'Access denied\r\n');
    }
    const denied = (await l7Flows('good')).filter((f) => f.l7.type === 'REQUEST' && f.verdict === 'DROPPED');
    const url = `https://api.example.local:${runtime.port('good')}/private`;
    assert.deepEqual(denied.map((f) => [f.l7.http.url, f.l7.http.protocol]), [[url, 'HTTP/1.1'], [url, 'HTTP/2']]);
  });

  it('Host or :authority naming another server than the SNI is answered 421 (HTTP/1.1 and h2)', async () => {
    for (const version of ['--http1.1', '--http2']) {
      const result = await curl('good', '/public/x', [version, '-H', 'Host: other.example.local']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(split(result.stdout).status, 421, version);
    }
    const refused = await runtime.waitForFlows((f) => f.Type === 'L7' && f.verdict === 'ERROR' && /does not match the TLS server name/.test(f.portcullis.reason ?? ''), 2);
    assert.deepEqual(refused.map((f) => f.portcullis.local_reply), [{ code: 421 }, { code: 421 }]);
    assert.equal(refused.length, 2);
    // A Host with the same name and an explicit port is the same server.
    const port = runtime.port('good');
    const same = await curl('good', '/public/x', ['--http1.1', '-H', `Host: API.example.local:${port}`]);
    assert.equal(split(same.stdout).status, 200);
  });

  for (const [listener, why] of [
    ['wrong-name', /ERR_TLS_CERT_ALTNAME_INVALID|does not match|altnames/i],
    ['wrong-ca', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify|self.signed/i],
    ['expired', /CERT_HAS_EXPIRED|expired/i],
  ] as const) {
    it(`upstream certificate ${listener}: 503 and an ERROR flow saying why, for HTTP/1.1 and h2`, async () => {
      const before = upstreams[`upstream-${listener}`]!.seen.length;
      for (const version of ['--http1.1', '--http2']) {
        const result = await curl(listener, '/public/x', [version]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(split(result.stdout).status, 503, version);
      }
      assert.equal(upstreams[`upstream-${listener}`]!.seen.length, before, 'no request reached the unverified upstream');
      // The proxy's 503, not the upstream's: ERROR records in the request's direction (the client is the source).
      const errors = await runtime.waitForFlows((f) => f.Type === 'L7' && f.portcullis.listener === listener && f.verdict === 'ERROR', 2);
      assert.equal(errors.length, 2);
      for (const e of errors) {
        assert.deepEqual([e.l7.type, e.is_reply, e.portcullis.local_reply], ['REQUEST', false, { code: 503 }]);
        assert.match(e.portcullis.reason, why);
      }
    });
  }

  it('terminatingTLS without originatingTLS: the upstream hop is plaintext HTTP', async () => {
    const result = await curl('plain', '/anything', ['--http1.1']);
    assert.equal(result.code, 0, result.stderr);
    const { body, status } = split(result.stdout);
    assert.equal(status, 200);
    const echo = JSON.parse(body) as Echo;
    assert.equal(echo.url, '/anything');
    assert.equal(plainUpstream.seen.at(-1)?.url, '/anything');
  });

  it('a client that starts a hello and stalls is closed after tls.handshakeTimeoutMs, with a flow', async () => {
    const socket = net.connect({ port: runtime.port('impatient'), host: '127.0.0.1', localAddress: CLIENT });
    const started = Date.now();
    const closed = await new Promise<number>((resolve) => {
      socket.on('error', () => {});
      socket.on('connect', () => socket.write(Buffer.from([22, 3, 1, 0, 200, 1])));
      socket.on('close', () => resolve(Date.now() - started));
    });
    assert.ok(closed >= 250 && closed < 3000, `closed after ${closed} ms`);
    const dropped = (await runtime.flows()).map((r) => r.flow).filter((f) => f.Type === 'L3_L4' && f.portcullis?.listener === 'impatient');
    assert.match(dropped.at(-1)?.Summary ?? '', /TLS ClientHello timeout/);
  });
});
