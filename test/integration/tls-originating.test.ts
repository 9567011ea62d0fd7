// originatingContext as a TLS client context: an upstream serving a certificate from a separate "public" CA is
// verified against the CA bundle in the store, with hostname checks, and every failure mode is refused.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { CertStore } from '../../src/secrets/store.js';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { closeServer, listenLocal, tlsConnectFrom } from '../helpers/tls-net.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

let store: TempStore;
let certs: CertStore;
const upstreams = new Map<string, number>();
const servers: tls.Server[] = [];
const publicCA = { namespace: 'kube-system', name: 'public-ca' };
// What Cilium's TLS-inspection guide calls tls-orig-data: only the public CA bundle.
const origData = { namespace: 'kube-system', name: 'tls-orig-data' };

function connect(upstream: string, servername: string, secureContext: tls.SecureContext): Promise<{ ok: true; body: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnectFrom('127.0.0.71', upstreams.get(upstream)!, { servername, secureContext });
    let body = '';
    socket.on('secureConnect', () => socket.write('GET /\r\n\r\n'));
    socket.on('data', (d: Buffer) => (body += d.toString()));
    socket.on('end', () => resolve({ ok: true, body }));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ?? err.message }));
  });
}

before(async () => {
  store = await tempStoreWithCa();
  await createCa({ store: store.root, secret: publicCA, commonName: 'Public Root CA' });
  const issue = (name: string, names: string[], extra: { validFrom?: Date; validTo?: Date; ca?: typeof publicCA } = {}) =>
    issueCertificate({ store: store.root, ca: extra.ca ?? publicCA, secret: { namespace: 'upstreams', name }, names, ...extra });
  await Promise.all([
    issue('httpbin', ['httpbin.org']),
    issue('expired', ['httpbin.org'], { validFrom: new Date(Date.now() - 10 * 86_400_000), validTo: new Date(Date.now() - 86_400_000) }),
    issue('internal', ['httpbin.org'], { ca: store.ca }),
  ]);
  const bundleDir = path.join(store.root, origData.namespace, origData.name);
  mkdirSync(bundleDir, { recursive: true });
  writeFileSync(path.join(bundleDir, 'ca.crt'), readFileSync(path.join(store.root, publicCA.namespace, publicCA.name, 'ca.crt')));
  certs = new CertStore(store.root, { watch: false });
  // Upstreams serve straight from their own files: they are the "real" destinations, not Portcullis.
  for (const name of ['httpbin', 'expired', 'internal']) {
    const dir = path.join(store.root, 'upstreams', name);
    const server = tls.createServer({ cert: readFileSync(path.join(dir, 'tls.crt')), key: readFileSync(path.join(dir, 'tls.key')) }, (socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.end(`hello from ${name}`));
    });
    servers.push(server);
    upstreams.set(name, await listenLocal(server));
  }
});

after(async () => {
  await Promise.all(servers.map(closeServer));
  store.cleanup();
});

describe('originating TLS with the CA from the store', () => {
  it('verifies an upstream signed by the trusted CA, for its name', async () => {
    const result = await connect('httpbin', 'httpbin.org', certs.originatingContext(origData));
    assert.deepEqual(result, { ok: true, body: 'hello from httpbin' });
  });

  it('refuses a certificate from another CA (only the secret CA is trusted, not the system roots)', async () => {
    assert.deepEqual(await connect('internal', 'httpbin.org', certs.originatingContext(origData)), { ok: false, error: 'SELF_SIGNED_CERT_IN_CHAIN' });
  });

  it('refuses a certificate for another name', async () => {
    assert.deepEqual(await connect('httpbin', 'api.github.com', certs.originatingContext(origData)), { ok: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('refuses an expired upstream certificate', async () => {
    assert.deepEqual(await connect('expired', 'httpbin.org', certs.originatingContext(origData)), { ok: false, error: 'CERT_HAS_EXPIRED' });
  });
});
