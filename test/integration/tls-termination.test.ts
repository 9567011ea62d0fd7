// Certificates issued by the certs tool, served from the cert store after a ClientHello peek, verified by curl,
// openssl and Node; mTLS client certificates mapped to identity names; certificate rotation picked up live.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type tls from 'node:tls';
import type { TlsSecretRef } from '../../src/policy/types.js';
import { CertStore, type CertStoreEvent } from '../../src/secrets/store.js';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { runCommand, tlsConnectFrom } from '../helpers/tls-net.js';
import { startTerminatingServer, type ConnectionReport, type TerminatingServer } from '../helpers/tls-terminating-server.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';
import { waitUntil } from '../helpers/wait.js';

let store: TempStore;
let certs: CertStore;
const events: CertStoreEvent[] = [];
const secret = (name: string): TlsSecretRef => ({ namespace: 'default', name });
const item = (name: string, file: string): string => path.join(store.root, 'default', name, file);
const deathstar = secret('deathstar');
const internalCA: TlsSecretRef = { namespace: 'kube-system', name: 'internal-ca' };

interface ClientResult {
  readonly report?: ConnectionReport;
  readonly peer?: tls.PeerCertificate;
  readonly authorized?: boolean;
  readonly resumed?: boolean;
  readonly error?: Error;
}

/** One HTTPS request with Node's TLS client; resolves with what the server reported, or the failure. */
function nodeRequest(port: number, from: string, options: tls.ConnectionOptions): Promise<ClientResult> {
  return new Promise((resolve) => {
    const socket = tlsConnectFrom(from, port, { ca: readFileSync(item('deathstar', 'ca.crt')), ...options });
    let peer: tls.PeerCertificate | undefined;
    let authorized: boolean | undefined;
    let resumed = false;
    let data = '';
    socket.on('secureConnect', () => {
      peer = socket.getPeerCertificate();
      authorized = socket.authorized;
      resumed = socket.isSessionReused();
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('error', (error) => resolve({ error }));
    socket.on('close', () => {
      const body = data.split('\r\n\r\n')[1];
      resolve(body ? { report: JSON.parse(body) as ConnectionReport, resumed, ...(peer && { peer }), ...(authorized !== undefined && { authorized }) } : { error: new Error(`no response (${data.length} bytes)`) });
    });
  });
}

function clientCert(name: string): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(item(name, 'tls.crt')), key: readFileSync(item(name, 'tls.key')) };
}

before(async () => {
  store = await tempStoreWithCa();
  const rogueCA = { namespace: 'kube-system', name: 'rogue-ca' };
  await createCa({ store: store.root, secret: rogueCA, commonName: 'Rogue CA' });
  const issue = (name: string, names: string[], extra: { uris?: string[]; client?: boolean; ca?: typeof rogueCA } = {}) =>
    issueCertificate({ store: store.root, ca: extra.ca ?? store.ca, secret: { namespace: 'default', name }, names, ...(extra.uris && { uris: extra.uris }), ...(extra.client && { client: true }) });
  await Promise.all([
    issue('deathstar', ['deathstar.empire.local', '127.0.0.1']),
    issue('other', ['other.empire.local']),
    issue('tiefighter', [], { uris: ['spiffe://empire.local/tiefighter'], client: true }),
    issue('mediabot', ['mediabot'], { client: true }),
    issue('intruder', [], { uris: ['spiffe://empire.local/tiefighter'], client: true, ca: rogueCA }),
  ]);
  certs = new CertStore(store.root, { debounceMs: 20, onEvent: (e) => events.push(e) });
  assert.deepEqual(certs.setServerNameSecrets([deathstar, secret('other')]), []);
});

after(() => {
  certs.close();
  store.cleanup();
});

describe('terminating TLS with certificates from the store', () => {
  let server: TerminatingServer;
  before(async () => {
    server = await startTerminatingServer(certs, deathstar);
  });
  after(() => server.close());

  it('curl --cacert verifies the issued certificate', async () => {
    const result = await runCommand('curl', ['-sS', '--max-time', '5', '--interface', '127.0.0.61', '--cacert', item('deathstar', 'ca.crt'), '--resolve', `deathstar.empire.local:${server.port}:127.0.0.1`, `https://deathstar.empire.local:${server.port}/`]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as ConnectionReport;
    assert.equal(report.sni, 'deathstar.empire.local');
    assert.equal(report.alpn, 'http/1.1');
    assert.equal(server.hellos.at(-1)?.sni, 'deathstar.empire.local');
  });

  it('curl without the CA refuses the certificate', async () => {
    const result = await runCommand('curl', ['-sS', '--max-time', '5', '--interface', '127.0.0.61', '--resolve', `deathstar.empire.local:${server.port}:127.0.0.1`, `https://deathstar.empire.local:${server.port}/`]);
    assert.equal(result.code, 60, result.stderr); // CURLE_PEER_FAILED_VERIFICATION
  });

  it('openssl s_client -servername -verify_return_error succeeds with the CA, fails with another', async () => {
    const args = (caFile: string): string[] => ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'deathstar.empire.local', '-verify_hostname', 'deathstar.empire.local', '-CAfile', caFile, '-verify_return_error', '-ign_eof'];
    const ok = await runCommand('openssl', args(item('deathstar', 'ca.crt')), { input: 'GET / HTTP/1.1\r\n\r\n' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Verify return code: 0 \(ok\)/);
    assert.match(ok.stdout, /"sni":"deathstar.empire.local"/);
    const bad = await runCommand('openssl', args(path.join(store.root, 'kube-system', 'rogue-ca', 'ca.crt')), { input: 'GET / HTTP/1.1\r\n\r\n' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout + bad.stderr, /self-signed certificate in certificate chain|unable to get local issuer certificate/);
    assert.match(bad.stderr, /certificate verify failed/);
  });

  it('Node tls.connect: the certificate is chosen by SNI', async () => {
    const main = await nodeRequest(server.port, '127.0.0.62', { servername: 'deathstar.empire.local' });
    assert.equal(main.authorized, true);
    assert.equal(main.peer?.subject.CN, 'deathstar.empire.local');
    const other = await nodeRequest(server.port, '127.0.0.62', { servername: 'other.empire.local' });
    assert.equal(other.authorized, true, String(other.error));
    assert.equal(other.peer?.subject.CN, 'other.empire.local');
    assert.equal(other.report?.sni, 'other.empire.local');
  });

  it('Node tls.connect without SNI gets the default certificate (IP SAN)', async () => {
    const result = await nodeRequest(server.port, '127.0.0.62', {});
    assert.equal(result.authorized, true, String(result.error));
    assert.equal(result.peer?.subject.CN, 'deathstar.empire.local');
    assert.equal(result.report?.sni, null);
    assert.equal(server.hellos.at(-1)?.sni, undefined);
  });

  it('a name no certificate covers falls back to the default, which the client rejects', async () => {
    const result = await nodeRequest(server.port, '127.0.0.62', { servername: 'unknown.empire.local' });
    assert.match(String(result.error), /Hostname\/IP does not match certificate's altnames/);
  });

  it('a re-issued certificate is served to new connections, with and without SNI', async () => {
    const before = await nodeRequest(server.port, '127.0.0.63', { servername: 'deathstar.empire.local' });
    const reloaded = events.length;
    await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'deathstar' }, names: ['deathstar.empire.local', '127.0.0.1'] });
    await waitUntil('the reload event', () => events.slice(reloaded).some((e) => e.kind === 'reloaded' && e.secret === 'default/deathstar'));
    server.refreshDefault();
    const viaSni = await nodeRequest(server.port, '127.0.0.63', { servername: 'deathstar.empire.local' });
    const noSni = await nodeRequest(server.port, '127.0.0.63', {});
    assert.ok(before.peer && viaSni.peer && noSni.peer);
    assert.notEqual(viaSni.peer.fingerprint256, before.peer.fingerprint256);
    assert.equal(noSni.peer.fingerprint256, viaSni.peer.fingerprint256);
  });
});

describe('mTLS: client certificates become identity names', () => {
  let server: TerminatingServer;
  before(async () => {
    server = await startTerminatingServer(certs, deathstar, internalCA);
  });
  after(() => server.close());

  it('a spiffe:// URI SAN is the peer identity (Node client)', async () => {
    const result = await nodeRequest(server.port, '127.0.0.64', { servername: 'deathstar.empire.local', ...clientCert('tiefighter') });
    assert.equal(result.report?.authorized, true, String(result.error));
    assert.deepEqual(result.report?.peerNames, ['spiffe://empire.local/tiefighter']);
  });

  it('curl --cert/--key with a CN-only client certificate', async () => {
    const result = await runCommand('curl', ['-sS', '--max-time', '5', '--interface', '127.0.0.65', '--cacert', item('deathstar', 'ca.crt'), '--cert', item('mediabot', 'tls.crt'), '--key', item('mediabot', 'tls.key'), '--resolve', `deathstar.empire.local:${server.port}:127.0.0.1`, `https://deathstar.empire.local:${server.port}/`]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as ConnectionReport;
    assert.equal(report.authorized, true);
    assert.deepEqual(report.peerNames, ['mediabot']);
  });

  it('a certificate from another CA claiming the same SPIFFE ID is refused', async () => {
    const errors = server.clientErrors.length;
    const result = await nodeRequest(server.port, '127.0.0.66', { servername: 'deathstar.empire.local', ...clientCert('intruder') });
    assert.equal(result.report, undefined, 'no request was answered');
    assert.ok(result.error);
    assert.ok(server.clientErrors.length > errors, 'the server saw a handshake failure');
  });

  it('no client certificate is refused', async () => {
    const result = await nodeRequest(server.port, '127.0.0.66', { servername: 'deathstar.empire.local' });
    assert.equal(result.report, undefined);
    assert.match(String(result.error), /certificate required|CERTIFICATE_REQUIRED/i);
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`a resumed ${version} session keeps the verified identity`, async () => {
      const options = { servername: 'deathstar.empire.local', maxVersion: version, ...clientCert('tiefighter') };
      const session = await new Promise<Buffer>((resolve, reject) => {
        const socket = tlsConnectFrom('127.0.0.67', server.port, { ...options, ca: readFileSync(item('deathstar', 'ca.crt')) });
        socket.once('session', (ticket: Buffer) => {
          socket.end();
          resolve(ticket);
        });
        socket.on('error', reject);
      });
      const resumed = await nodeRequest(server.port, '127.0.0.67', { ...options, session });
      assert.equal(resumed.report?.authorized, true, String(resumed.error));
      assert.equal(resumed.resumed, true, 'the session was resumed');
      assert.deepEqual(resumed.report?.peerNames, ['spiffe://empire.local/tiefighter']);
    });
  }
});
