// TLS inspection on the forward proxy (Cilium's l7-visibility-tls): a CONNECT to a port whose rule has
// `terminatingTLS` is intercepted. The proxy answers the client's handshake with the stored certificate for the
// name (internal CA the clients trust), enforces the HTTP rules on the decrypted requests (403, gRPC 7 inside the
// tunnel) and re-originates TLS to the real server, verified with the `originatingTLS` CA bundle (the public CA).
// Clients: curl --proxy, undici ProxyAgent, Node https over a CONNECT socket, @grpc/grpc-js through grpc_proxy.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import grpc from '@grpc/grpc-js';
import { Pool, ProxyAgent, request } from 'undici';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { ECHO_SERVICE, unary, type EchoClient } from '../helpers/h2-grpc-echo.js';
import { startHttpsUpstream, type HttpsUpstream, type UpstreamEcho } from '../helpers/tls-https-upstream.js';
import { runCommand } from '../helpers/tls-net.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const MEDIABOT = '127.0.0.141';
/** Where the "internet" lives: not an endpoint's address (127.0.0.1 is the gRPC terminal's). */
const EXTERNAL = '127.0.0.150';

let store: TempStore;
let internalCa: Buffer;
let real: HttpsUpstream;
let impostor: HttpsUpstream;
let grpcServer: grpc.Server;
let grpcPort: number;
let runtime: Runtime;
let proxyPort: number;

function policy(): string {
  const intercept = (name: string, ports: number[], secret: string, rules: string) => `
  - toFQDNs: [{matchName: ${name}}]
    toPorts:
    - ports: [${ports.map((p) => `{port: "${p}", protocol: TCP}`).join(', ')}]
      terminatingTLS: {secret: {namespace: kube-system, name: ${secret}}}
      originatingTLS: {secret: {namespace: kube-system, name: tls-orig-data}}
      rules:
        http:
        - ${rules}`;
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l7-visibility-tls, namespace: default}
spec:
  endpointSelector: {matchLabels: {org: empire, class: mediabot}}
  egress:${intercept('api.example.local', [real.port, impostor.port], 'httpbin-tls-data', '{method: GET, path: "/anything.*"}')}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: grpc-visibility-tls, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: grpc-terminal}}
  egress:${intercept('grpc.example.local', [grpcPort], 'grpc-tls-data', '{method: POST, path: /test.Echo/Unary}')}
`;
}

before(async () => {
  store = await tempStoreWithCa();
  internalCa = readFileSync(path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt'));
  const publicCa = { namespace: 'kube-system', name: 'public-ca' };
  await createCa({ store: store.root, secret: publicCa, commonName: 'Public test CA' });
  mkdirSync(path.join(store.root, 'kube-system', 'tls-orig-data'));
  copyFileSync(path.join(store.root, 'kube-system', 'public-ca', 'ca.crt'), path.join(store.root, 'kube-system', 'tls-orig-data', 'ca.crt'));
  const issue = (namespace: string, name: string, ca: typeof publicCa, host: string) => issueCertificate({ store: store.root, ca, secret: { namespace, name }, names: [host] });
  await issue('kube-system', 'httpbin-tls-data', store.ca, 'api.example.local');
  await issue('kube-system', 'grpc-tls-data', store.ca, 'grpc.example.local');
  await issue('default', 'real-api', publicCa, 'api.example.local');
  await issue('default', 'real-grpc', publicCa, 'grpc.example.local');
  // Presents the right name, but from a CA the originatingTLS bundle does not hold.
  await issue('default', 'impostor', store.ca, 'api.example.local');
  real = await startHttpsUpstream(store.root, { namespace: 'default', name: 'real-api' }, EXTERNAL);
  impostor = await startHttpsUpstream(store.root, { namespace: 'default', name: 'impostor' }, EXTERNAL);
  grpcServer = new grpc.Server();
  grpcServer.addService(ECHO_SERVICE, { Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, call.request) });
  const dir = path.join(store.root, 'default', 'real-grpc');
  const credentials = grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(path.join(dir, 'tls.crt')), private_key: readFileSync(path.join(dir, 'tls.key')) }]);
  grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync(`${EXTERNAL}:0`, credentials, (err, port) => (err ? reject(err) : resolve(port))));
  runtime = await startRuntime({
    certs: store.root,
    policies: { 'visibility.yaml': policy() },
    // grpc-js connects to proxies from the default address, so the gRPC terminal is 127.0.0.1.
    endpoints: `
- {name: mediabot, namespace: default, labels: {org: empire, class: mediabot}, addresses: [${MEDIABOT}]}
- {name: grpc-terminal, namespace: default, labels: {app: grpc-terminal}, addresses: [127.0.0.1/32]}`,
    listeners: `
- name: egress
  listen: "127.0.0.1:0"
  protocol: forward
  forward: {systemResolver: false, hosts: {api.example.local: [${EXTERNAL}], grpc.example.local: [${EXTERNAL}]}}`,
  });
  proxyPort = runtime.port('egress');
});

after(async () => {
  await runtime?.close();
  await Promise.all([real?.close(), impostor?.close(), new Promise<void>((r) => (grpcServer ? grpcServer.tryShutdown(() => r()) : r()))]);
  store?.cleanup();
});

function curl(url: string, extra: readonly string[] = []) {
  return runCommand('curl', [
    '-sS', '--max-time', '5', '--interface', MEDIABOT, '--proxy', `http://127.0.0.1:${proxyPort}`,
    '--cacert', path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt'), '-w', '\n%{http_code} %{http_version}', ...extra, url,
  ]);
}

function reply(stdout: string): { body: string; status: number; version: string } {
  const cut = stdout.lastIndexOf('\n');
  const [status, version] = stdout.slice(cut + 1).split(' ');
  return { body: stdout.slice(0, cut), status: Number(status), version: version ?? '' };
}

describe('forward proxy: TLS inspection', () => {
  it('curl: intercepted with the internal-CA certificate, L7 allowed, the real server verified and reached with SNI', async () => {
    const result = await curl(`https://api.example.local:${real.port}/anything/curl?q=1`, ['--http1.1']);
    assert.equal(result.code, 0, result.stderr);
    const { body, status } = reply(result.stdout);
    assert.equal(status, 200);
    const echo = JSON.parse(body) as UpstreamEcho;
    assert.equal(echo.path, '/anything/curl?q=1');
    assert.equal(echo.sni, 'api.example.local');
    const [request] = await runtime.waitForFlows((f) => f.Type === 'L7' && f.l7.type === 'REQUEST' && f.l7.http.url === `https://api.example.local:${real.port}/anything/curl?q=1`);
    assert.equal(request?.verdict, 'FORWARDED');
    assert.equal(request?.traffic_direction, 'EGRESS');
    assert.equal(request?.l7.http.method, 'GET');
    assert.equal(request?.source.pod_name, 'mediabot');
    assert.deepEqual(request?.destination_names, ['api.example.local']);
  });

  it('curl: POST and paths outside the rules are 403 inside TLS, recorded with method and path', async () => {
    const post = await curl(`https://api.example.local:${real.port}/anything/post`, ['-X', 'POST', '-d', 'x']);
    assert.deepEqual(reply(post.stdout).status, 403);
    assert.equal(reply(post.stdout).body, 'Access denied\r\n');
    const other = await curl(`https://api.example.local:${real.port}/status/200`);
    assert.equal(reply(other.stdout).status, 403);
    const denied = await runtime.waitForFlows((f) => f.Type === 'L7' && f.l7.type === 'REQUEST' && f.verdict === 'DROPPED', 2);
    assert.deepEqual(
      denied.map((f) => `${f.l7.http.method} ${f.l7.http.url}`),
      [`POST https://api.example.local:${real.port}/anything/post`, `GET https://api.example.local:${real.port}/status/200`],
    );
  });

  it('curl --http2: h2 inside the tunnel, h2 to the real server', async () => {
    const result = await curl(`https://api.example.local:${real.port}/anything/h2`, ['--http2']);
    assert.equal(result.code, 0, result.stderr);
    const { body, status, version } = reply(result.stdout);
    assert.equal(status, 200);
    assert.equal(version, '2');
    const echo = JSON.parse(body) as UpstreamEcho;
    assert.equal(echo.alpn, 'h2');
    assert.equal(echo.httpVersion, '2.0');
  });

  it('undici ProxyAgent (HTTPS_PROXY client): allowed GET reaches the server, POST is 403', async () => {
    const agent = new ProxyAgent({
      uri: `http://127.0.0.1:${proxyPort}`,
      requestTls: { ca: internalCa },
      clientFactory: (origin: URL, opts: object) => new Pool(origin, { ...opts, localAddress: MEDIABOT }),
    });
    try {
      const get = await request(`https://api.example.local:${real.port}/anything/undici`, { dispatcher: agent });
      assert.equal(get.statusCode, 200);
      assert.equal(((await get.body.json()) as UpstreamEcho).path, '/anything/undici');
      const post = await request(`https://api.example.local:${real.port}/anything/undici`, { dispatcher: agent, method: 'POST', body: 'x' });
      assert.equal(post.statusCode, 403);
      assert.equal(await post.body.text(), 'Access denied\r\n');
    } finally {
      await agent.close();
    }
  });

  it('Node https over a CONNECT socket (http.request CONNECT, then tls with the internal CA)', async () => {
    const socket = await new Promise<import('node:net').Socket>((resolve, reject) => {
      const connect = http.request({ host: '127.0.0.1', port: proxyPort, method: 'CONNECT', path: `api.example.local:${real.port}`, localAddress: MEDIABOT });
      connect.once('connect', (res, s) => (res.statusCode === 200 ? resolve(s) : reject(new Error(`CONNECT ${res.statusCode}`))));
      connect.once('error', reject);
      connect.end();
    });
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.get(
        // No agent: the request then runs on the socket createConnection returns.
        { host: 'api.example.local', path: '/anything/node', createConnection: () => tls.connect({ socket, servername: 'api.example.local', ca: internalCa }) },
        (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c));
          res.on('end', () => resolve(`${res.statusCode} ${data}`));
        },
      );
      req.on('error', reject);
    });
    assert.match(body, /^200 /);
    assert.equal((JSON.parse(body.slice(4)) as UpstreamEcho).path, '/anything/node');
  });

  it('a real server whose certificate the originatingTLS bundle does not trust: 503 inside TLS and an ERROR flow', async () => {
    const before = impostor.seen.length;
    const result = await curl(`https://api.example.local:${impostor.port}/anything/x`, ['--http1.1']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(reply(result.stdout).status, 503);
    assert.equal(impostor.seen.length, before);
    const [error] = await runtime.waitForFlows((f) => f.Type === 'L7' && f.verdict === 'ERROR' && f.l7.http.url.includes(`:${impostor.port}/`));
    assert.deepEqual([error?.l7.type, error?.is_reply, error?.portcullis.local_reply], ['REQUEST', false, { code: 503 }]);
    assert.match(error?.portcullis.reason ?? '', /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it('gRPC through grpc_proxy: an allowed call reaches the server, another is PERMISSION_DENIED inside the tunnel', async () => {
    process.env.grpc_proxy = `http://127.0.0.1:${proxyPort}`;
    const Ctor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
    const client = new Ctor(`dns:///grpc.example.local:${grpcPort}`, grpc.credentials.createSsl(internalCa)) as unknown as EchoClient;
    try {
      const allowed = await unary(client, 'Unary', Buffer.from('through the inspector'), new grpc.Metadata(), { deadline: Date.now() + 5000 });
      assert.equal(allowed.error, undefined, allowed.error?.message);
      assert.equal(allowed.reply?.toString(), 'through the inspector');
      const denied = await unary(client, 'Hang', Buffer.from('x'), new grpc.Metadata(), { deadline: Date.now() + 5000 });
      assert.equal(denied.error?.code, grpc.status.PERMISSION_DENIED);
      const [flow] = await runtime.waitForFlows((f) => f.Type === 'L7' && f.l7.type === 'REQUEST' && f.l7.http.url.endsWith('/test.Echo/Hang'));
      assert.equal(flow?.verdict, 'DROPPED');
      assert.equal(flow?.l7.http.protocol, 'HTTP/2');
    } finally {
      client.close();
      delete process.env.grpc_proxy;
    }
  });
});
