// A `tls` listener without termination: the SNI of the ClientHello is checked against `serverNames` (exact and
// wildcard), then the raw stream is spliced to the HTTPS upstream, which completes the handshake itself. Denied
// names, missing SNI and unknown sources are reset before any byte is written; malformed, oversized and
// fragmented hellos are handled. Real clients: curl, openssl s_client, Node's TLS client.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { captureClientHello, nodeClient } from '../helpers/tls-capture-client-hello.js';
import { clientHelloBody, ext, handshake, records, unframe } from '../helpers/tls-client-hello-builder.js';
import { startHttpsUpstream, type HttpsUpstream, type UpstreamEcho } from '../helpers/tls-https-upstream.js';
import { runCommand } from '../helpers/tls-net.js';
import { startRuntime, type FlowRecord, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const CLIENT = '127.0.0.61';
const STRANGER = '127.0.0.62';

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-sni, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: [api.example.local, "*.wild.local"]
`;

let store: TempStore;
let upstream: HttpsUpstream;
let runtime: Runtime;
let port: number;
let caFile: string;

before(async () => {
  store = await tempStoreWithCa();
  caFile = path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt');
  await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'api-upstream' }, names: ['api.example.local', '*.wild.local'] });
  upstream = await startHttpsUpstream(store.root, { namespace: 'default', name: 'api-upstream' });
  runtime = await startRuntime({
    certs: store.root,
    policies: { 'api.yaml': POLICY },
    endpoints: `
- {name: api, namespace: default, labels: {app: api}, addresses: [127.0.0.60]}
- {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}]}`,
    listeners: `- {name: api-tls, listen: "127.0.0.1:0", protocol: tls, to: api, upstream: "127.0.0.1:${upstream.port}", port: 443}`,
  });
  port = runtime.port('api-tls');
});

after(async () => {
  await runtime?.close();
  await upstream?.close();
  store?.cleanup();
});

function curlHttps(from: string, name: string, extra: readonly string[] = []) {
  return runCommand('curl', ['-sS', '--max-time', '5', '--interface', from, '--cacert', caFile, '--resolve', `${name}:${port}:127.0.0.1`, ...extra, `https://${name}:${port}/hello?x=1`]);
}

function openssl(from: string, args: readonly string[]) {
  return runCommand('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-bind', `${from}:0`, '-CAfile', caFile, '-ign_eof', ...args], {
    input: 'GET /via-openssl HTTP/1.1\r\nHost: api.example.local\r\nConnection: close\r\n\r\n',
  });
}

/** The L3_L4 records of connections from `source`, newest last. */
async function connectionFlows(source: string): Promise<Array<FlowRecord['flow']>> {
  return (await runtime.flows()).map((r) => r.flow).filter((f) => f.Type === 'L3_L4' && f.IP?.source === source);
}

describe('tls listener: SNI policy and passthrough', () => {
  it('curl: an allowed SNI is spliced to the upstream, which terminates TLS itself', async () => {
    const result = await curlHttps(CLIENT, 'api.example.local', ['--http1.1']);
    assert.equal(result.code, 0, result.stderr);
    const echo = JSON.parse(result.stdout) as UpstreamEcho;
    assert.equal(echo.sni, 'api.example.local');
    assert.equal(echo.path, '/hello?x=1');
    const flows = await connectionFlows(CLIENT);
    const forwarded = flows.find((f) => f.verdict === 'FORWARDED');
    assert.ok(forwarded, JSON.stringify(flows));
    assert.match(forwarded.Summary, /SNI api\.example\.local: passthrough/);
    assert.equal(forwarded.traffic_direction, 'INGRESS');
  });

  it('openssl: a wildcard serverName (*.wild.local) is allowed and the upstream certificate verifies', async () => {
    const result = await openssl(CLIENT, ['-servername', 'foo.wild.local', '-verify_return_error', '-verify_hostname', 'foo.wild.local']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Verify return code: 0 \(ok\)/);
    assert.match(result.stdout, /"path":"\/via-openssl"/);
    assert.equal(upstream.seen.at(-1)?.sni, 'foo.wild.local');
  });

  it('openssl: an SNI outside serverNames is reset before any byte is written', async () => {
    const before = upstream.seen.length;
    const result = await openssl(CLIENT, ['-servername', 'evil.example.local']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr + result.stdout, /errno=104|Connection reset by peer/);
    assert.doesNotMatch(result.stdout, /BEGIN CERTIFICATE|Server certificate/);
    assert.match(result.stdout, /read 0 bytes/);
    assert.equal(upstream.seen.length, before);
    const dropped = (await connectionFlows(CLIENT)).filter((f) => f.verdict === 'DROPPED').at(-1);
    assert.ok(dropped);
    assert.equal(dropped.drop_reason_desc, 'POLICY_DENIED');
  });

  it('openssl -noservername: no SNI where serverNames require one is reset', async () => {
    const result = await openssl(CLIENT, ['-noservername']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr + result.stdout, /errno=104|Connection reset by peer/);
    assert.doesNotMatch(result.stdout, /BEGIN CERTIFICATE/);
  });

  it('curl from an address no rule allows is reset even with an allowed SNI', async () => {
    const result = await curlHttps(STRANGER, 'api.example.local');
    assert.equal(result.code, 35, result.stderr); // CURLE_SSL_CONNECT_ERROR: reset during the handshake
    assert.match(result.stderr, /reset by peer/i);
  });

  it('a ClientHello in several TLS records (openssl -max_send_frag 512, 120 ALPN names) is read and spliced', async () => {
    const alpn = [...Array.from({ length: 120 }, (_, i) => `proto-${i}`), 'http/1.1'].join(',');
    const result = await openssl(CLIENT, ['-servername', 'api.example.local', '-verify_return_error', '-max_send_frag', '512', '-alpn', alpn]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /"path":"\/via-openssl"/);
  });

  it('a hello re-framed into 3 records and dribbled over many TCP segments is still decided by its SNI', async () => {
    const hello = unframe(await captureClientHello(nodeClient({ servername: 'api.example.local' })));
    const bytes = records(hello, [5, 100]);
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: CLIENT, noDelay: true });
    socket.on('error', () => {});
    const upstreamReply = new Promise<Buffer>((resolve) => {
      socket.once('data', resolve);
      socket.once('close', () => resolve(Buffer.alloc(0)));
    });
    await new Promise((r) => socket.once('connect', r));
    for (let at = 0; at < bytes.length; at += 37) {
      socket.write(bytes.subarray(at, at + 37));
      await new Promise((r) => setTimeout(r, 2));
    }
    // The upstream answers the (stale) hello with its ServerHello: a TLS handshake record, proof of the splice.
    const reply = await Promise.race([upstreamReply, new Promise<Buffer>((r) => setTimeout(() => r(Buffer.alloc(0)), 1500))]);
    socket.destroy();
    assert.ok(reply.length > 0, 'the upstream answered');
    assert.equal(reply[0], 22, 'a TLS handshake record from the upstream');
  });

  for (const [what, bytes, code] of [
    ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: api.example.local\r\n\r\n'), 'not-tls'],
    ['an oversized ClientHello (40 KB of ALPN)', records(handshake(clientHelloBody({ extensions: [ext.sni('api.example.local'), ext.alpn(Array.from({ length: 4000 }, (_, i) => `p${i}xxxxx`))] })), [16000, 32000]), 'too-large'],
    ['a ClientHello whose extensions overrun', records(handshake(Buffer.concat([clientHelloBody({ extensions: [ext.sni('api.example.local')] }).subarray(0, -3)]))), 'malformed'],
  ] as const) {
    it(`${what} is reset and recorded as a dropped connection`, async () => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress: CLIENT });
      const outcome = await new Promise<{ data: number; error?: string }>((resolve) => {
        let data = 0;
        socket.on('data', (c: Buffer) => (data += c.length));
        socket.on('error', (e: NodeJS.ErrnoException) => resolve({ data, error: e.code ?? e.message }));
        socket.on('close', () => resolve({ data }));
        socket.on('connect', () => socket.write(bytes));
      });
      assert.equal(outcome.data, 0, 'nothing written to the client');
      assert.equal(outcome.error, 'ECONNRESET');
      const dropped = (await connectionFlows(CLIENT)).filter((f) => f.verdict === 'DROPPED').at(-1);
      assert.ok(dropped);
      assert.match(dropped.Summary, new RegExp(`TLS ClientHello ${code}`));
    });
  }
});
