// TLS state that changes while the proxy runs: a rotated terminating certificate is served to new connections
// without a restart, /metrics reports each loaded secret's expiry, and a policy reload that drops terminatingTLS
// turns termination into passthrough for new connections. Client: Node's TLS client, which reports the certificate.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type tls from 'node:tls';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/tls-https-upstream.js';
import { tlsConnectFrom } from '../helpers/tls-net.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';
import { waitUntil } from '../helpers/wait.js';

const CLIENT = '127.0.0.161';
const NAME = 'api.example.local';

const policy = (terminate: boolean) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-tls, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: [${NAME}]
${terminate ? `      terminatingTLS: {secret: {name: api-front}}
      originatingTLS: {secret: {namespace: kube-system, name: public-ca}}
` : ''}`;

let store: TempStore;
let upstream: HttpsUpstream;
let runtime: Runtime;
/** The same proxy without watching (`run --no-watch`): only SIGHUP re-reads. */
let unwatched: Runtime;
let trusted: Buffer[];

before(async () => {
  store = await tempStoreWithCa();
  const publicCa = { namespace: 'kube-system', name: 'public-ca' };
  await createCa({ store: store.root, secret: publicCa, commonName: 'Public test CA' });
  await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'api-front' }, names: [NAME] });
  await issueCertificate({ store: store.root, ca: publicCa, secret: { namespace: 'default', name: 'api-upstream' }, names: [NAME] });
  trusted = ['internal-ca', 'public-ca'].map((ca) => readFileSync(path.join(store.root, 'kube-system', ca, 'ca.crt')));
  upstream = await startHttpsUpstream(store.root, { namespace: 'default', name: 'api-upstream' });
  runtime = await startRuntime({
    certs: store.root,
    admin: true,
    watch: true,
    policies: { 'api.yaml': policy(true) },
    endpoints: `
- {name: api, namespace: default, labels: {app: api}, addresses: [127.0.0.160]}
- {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}]}`,
    listeners: `- {name: api-tls, listen: "127.0.0.1:0", protocol: tls, to: api, upstream: "127.0.0.1:${upstream.port}", port: 443}`,
  });
  unwatched = await startRuntime({
    certs: store.root,
    policies: { 'api.yaml': policy(true) },
    endpoints: `
- {name: api, namespace: default, labels: {app: api}, addresses: [127.0.0.160]}
- {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}]}`,
    listeners: `- {name: api-tls, listen: "127.0.0.1:0", protocol: tls, to: api, upstream: "127.0.0.1:${upstream.port}", port: 443}`,
  });
});

after(async () => {
  await runtime?.close();
  await unwatched?.close();
  await upstream?.close();
  store?.cleanup();
});

/** The certificate a new connection is served (verified against both CAs), and the answer to one request. */
function connect(to: Runtime = runtime): Promise<{ cert: tls.PeerCertificate; status: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnectFrom(CLIENT, to.port('api-tls'), { servername: NAME, ca: trusted, ALPNProtocols: ['http/1.1'] });
    let cert: tls.PeerCertificate | undefined;
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('secureConnect', () => {
      cert = socket.getPeerCertificate();
      socket.write(`GET /reload HTTP/1.1\r\nHost: ${NAME}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (c: Buffer) => (data += c.toString()));
    socket.on('error', reject);
    socket.on('close', () => (cert ? resolve({ cert, status: data.split('\r\n')[0] ?? '' }) : reject(new Error('no handshake'))));
  });
}

/** The issuer CN of a peer certificate (Node gives an array when the subject repeats CN). */
const issuerCn = (cert: tls.PeerCertificate): string => String(cert.issuer.CN ?? '');

describe('tls listener: rotation, expiry metrics, policy reload', () => {
  it('/metrics reports days to expiry of the secrets in use', async () => {
    const first = await connect();
    assert.equal(first.status, 'HTTP/1.1 200 OK');
    const admin = runtime.proxy.admin!.address;
    const metrics = await (await fetch(`http://${admin.host}:${admin.port}/metrics`)).text();
    for (const secret of ['default/api-front', 'kube-system/public-ca']) {
      const line = metrics.split('\n').find((l) => l.startsWith(`portcullis_certificate_expiry_seconds{secret="${secret}"}`));
      assert.ok(line, `expiry of ${secret} in:\n${metrics.split('\n').filter((l) => l.includes('certificate')).join('\n')}`);
      assert.ok(Number(line.split(' ')[1]) > 300 * 86_400, line);
    }
  });

  it('a rotated terminating certificate is served to the next connections without a restart', async () => {
    const before = await connect();
    await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'api-front' }, names: [NAME], days: 30 });
    const after = await waitUntil('the rotated certificate', async () => {
      const next = await connect();
      return next.cert.serialNumber !== before.cert.serialNumber && next;
    }, 5000, 100);
    assert.equal(after.status, 'HTTP/1.1 200 OK');
    assert.match(issuerCn(after.cert), /Portcullis test CA/);
  });

  it('a reload without terminatingTLS makes new connections passthrough: the client meets the real server', async () => {
    assert.match(issuerCn((await connect()).cert), /Portcullis test CA/, 'terminated by the proxy');
    runtime.setPolicy('api.yaml', policy(false));
    const spliced = await connect();
    assert.match(issuerCn(spliced.cert), /Public test CA/, "the upstream's own certificate");
    assert.equal(spliced.status, 'HTTP/1.1 200 OK');
  });
});

describe('tls listener without watching (run --no-watch)', () => {
  it('SIGHUP re-reads a rotated certificate: the next connection is served it', async () => {
    const before = await connect(unwatched);
    await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'api-front' }, names: [NAME], days: 20 });
    assert.equal((await connect(unwatched)).cert.serialNumber, before.cert.serialNumber, 'nothing watches: still the old one');
    unwatched.proxy.reload('SIGHUP');
    const after = await connect(unwatched);
    assert.notEqual(after.cert.serialNumber, before.cert.serialNumber);
    assert.equal(after.status, 'HTTP/1.1 200 OK');
  });
});
