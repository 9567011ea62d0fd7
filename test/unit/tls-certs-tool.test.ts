import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertToolError, createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { parseSecretName, SecretNameError } from '../../src/secrets/secret-path.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
let store: TempStore;

const read = (ns: string, name: string, item: string): string => readFileSync(path.join(store.root, ns, name, item), 'utf8');
const certsIn = (pem: string): X509Certificate[] => (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
const issue = (name: string, options: Partial<Parameters<typeof issueCertificate>[0]>) =>
  issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name }, names: [], ...options });

async function rejectsWith(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CertToolError || err instanceof SecretNameError, String(err));
    assert.match((err as Error).message, message);
    return true;
  });
}

before(async () => {
  store = await tempStoreWithCa();
});
after(() => store.cleanup());

describe('certs ca', () => {
  it('writes a self-signed CA: tls.crt = ca.crt, key 0600 and matching', () => {
    const crt = read('kube-system', 'internal-ca', 'tls.crt');
    assert.equal(read('kube-system', 'internal-ca', 'ca.crt'), crt);
    const ca = new X509Certificate(crt);
    assert.equal(ca.ca, true);
    assert.ok(ca.verify(ca.publicKey), 'self-signed');
    assert.match(ca.subject, /CN=Portcullis test CA/);
    const keyFile = path.join(store.root, 'kube-system', 'internal-ca', 'tls.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.ok(ca.checkPrivateKey(createPrivateKey(readFileSync(keyFile))));
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', path.join(store.root, 'kube-system', 'internal-ca', 'tls.crt')], { encoding: 'utf8' });
    assert.match(text, /Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
  });

  it('refuses to replace a CA unless forced', async () => {
    const before = read('kube-system', 'internal-ca', 'tls.crt');
    await rejectsWith(createCa({ store: store.root, secret: store.ca }), /already holds a key; refusing to replace a CA/);
    assert.equal(read('kube-system', 'internal-ca', 'tls.crt'), before);
    const other = { namespace: 'kube-system', name: 'second-ca' };
    await createCa({ store: store.root, secret: other });
    const first = read('kube-system', 'second-ca', 'tls.crt');
    await createCa({ store: store.root, secret: other, force: true });
    assert.notEqual(read('kube-system', 'second-ca', 'tls.crt'), first);
  });
});

describe('certs issue', () => {
  it('server certificate: DNS and IP SANs, serverAuth, chain leaf + CA, signed by the CA', async () => {
    const result = await issue('web', { names: ['web.example.com', '*.web.example.com', '127.0.0.1', '::1'] });
    assert.equal(result.secret, 'default/web');
    assert.equal(result.subjectAltName, 'DNS:web.example.com, DNS:*.web.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.doesNotMatch(JSON.stringify(result), /PRIVATE KEY/);
    const [leaf, ca, extra] = certsIn(read('default', 'web', 'tls.crt'));
    assert.equal(extra, undefined);
    assert.equal(ca!.fingerprint256, new X509Certificate(read('default', 'web', 'ca.crt')).fingerprint256);
    assert.ok(leaf!.checkIssued(ca!) && leaf!.verify(ca!.publicKey));
    assert.equal(leaf!.ca, false);
    assert.deepEqual(leaf!.keyUsage, [SERVER_AUTH]);
    assert.equal(leaf!.checkHost('x.web.example.com'), '*.web.example.com');
    assert.equal(leaf!.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(statSync(path.join(store.root, 'default', 'web', 'tls.key')).mode & 0o777, 0o600);
    execFileSync('openssl', ['verify', '-CAfile', path.join(store.root, 'default', 'web', 'ca.crt'), '-purpose', 'sslserver', path.join(store.root, 'default', 'web', 'tls.crt')]);
  });

  it('client certificate: URI SAN, clientAuth, CN from the SPIFFE ID', async () => {
    const result = await issue('tie', { uris: ['spiffe://empire.local/tiefighter'], client: true });
    const leaf = new X509Certificate(read('default', 'tie', 'tls.crt'));
    assert.equal(result.subjectAltName, 'URI:spiffe://empire.local/tiefighter');
    assert.deepEqual(leaf.keyUsage, [CLIENT_AUTH]);
    assert.match(leaf.subject, /CN=spiffe:\/\/empire\.local\/tiefighter/);
  });

  it('a URI longer than a CN allows: no CN, SAN critical', async () => {
    const uri = `spiffe://empire.local/${'x'.repeat(80)}`;
    await issue('long', { uris: [uri], client: true });
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', path.join(store.root, 'default', 'long', 'tls.crt')], { encoding: 'utf8' });
    assert.match(text, /Subject: O ?= ?Portcullis\n/);
    assert.match(text, /Subject Alternative Name: critical\s+URI:spiffe/);
  });

  it('validity: days, capped at the CA expiry, explicit windows', async () => {
    const ca = new X509Certificate(read('kube-system', 'internal-ca', 'tls.crt'));
    const short = await issue('short', { names: ['s.example'], days: 2 });
    const days = (Date.parse(short.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 1.9 && days <= 2, String(days));
    const capped = await issue('capped', { names: ['c.example'], days: 36500 });
    assert.equal(Date.parse(capped.validTo), Date.parse(ca.validTo));
    const past = await issue('past', { names: ['p.example'], validFrom: new Date('2020-01-01T00:00:00Z'), validTo: new Date('2020-02-01T00:00:00Z') });
    assert.equal(new Date(past.validTo).toISOString(), '2020-02-01T00:00:00.000Z');
  });

  it('bad input gets a clear error and writes nothing', async () => {
    await rejectsWith(issue('bad1', { names: ['not a name'] }), /"not a name" is neither a DNS name nor an IP address/);
    await rejectsWith(issue('bad2', { names: ['a..b'] }), /neither a DNS name/);
    await rejectsWith(issue('bad3', {}), /a server certificate needs at least one DNS name or IP address/);
    await rejectsWith(issue('bad4', { client: true }), /a client certificate needs a name or a --uri/);
    await rejectsWith(issue('bad5', { uris: ['spiffe://'] }), /not a (URI|SPIFFE ID)/);
    await rejectsWith(issue('bad6', { uris: ['spiffe://td/x?q=1'] }), /not a SPIFFE ID/);
    await rejectsWith(issue('bad7', { names: ['a.example'], days: 0 }), /days must be an integer from 1 to 36500/);
    await rejectsWith(issue('bad8', { names: ['a.example'], commonName: 'x'.repeat(65) }), /common name must be 1\.\.64/);
    await rejectsWith(issue('bad9', { names: ['a.example'], validFrom: new Date(), validTo: new Date(Date.now() - 1000) }), /expire before it becomes valid/);
    await rejectsWith(issueCertificate({ store: store.root, ca: { namespace: 'kube-system', name: 'nope' }, secret: { namespace: 'default', name: 'x' }, names: ['a.example'] }), /CA secret kube-system\/nope has no tls\.crt/);
    await rejectsWith(issueCertificate({ store: store.root, ca: { namespace: 'default', name: 'web' }, secret: { namespace: 'default', name: 'x' }, names: ['a.example'] }), /tls\.crt in default\/web is not a CA certificate/);
    await rejectsWith(issue('../escape', { names: ['a.example'] }), /not a valid Kubernetes secret name/);
    for (const name of ['bad1', 'bad3', 'x']) assert.throws(() => statSync(path.join(store.root, 'default', name)), /ENOENT/);
  });

  it('an EC CA (made by openssl) is refused clearly', async () => {
    const dir = path.join(store.root, 'kube-system', 'ec-ca');
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=ec', '-days', '2', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    await rejectsWith(issueCertificate({ store: store.root, ca: { namespace: 'kube-system', name: 'ec-ca' }, secret: { namespace: 'default', name: 'x' }, names: ['a.example'] }), /has a ec key; only RSA CAs can sign here/);
  });
});

describe('secret names', () => {
  it('ns/name, bare name in the default namespace, and invalid forms', () => {
    assert.deepEqual(parseSecretName('kube-system/tls-orig-data'), { namespace: 'kube-system', name: 'tls-orig-data' });
    assert.deepEqual(parseSecretName('api', 'prod'), { namespace: 'prod', name: 'api' });
    assert.throws(() => parseSecretName('a/b/c'), /must be <namespace>\/<name> or <name>/);
    assert.throws(() => parseSecretName('../x'), /namespace "\.\." is not a valid/);
    assert.throws(() => parseSecretName('ns/'), /Missing Secret name/);
    assert.throws(() => parseSecretName('NS/x'), /not a valid Kubernetes namespace/);
  });
});
