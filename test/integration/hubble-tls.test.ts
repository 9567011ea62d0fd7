// The Hubble server over TLS, through grpc-js and node:tls clients: Notify announces each peer's Hubble TLS server
// name (Cilium's form, dots turned into "-"); a certificate rotated in the store is served to new connections while
// an open one keeps working; a certificate that does not cover the node's server name is served with a warning; a
// hubble.tls secret missing from the store stops the start, naming file and line.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';
import { decode, encode, types } from '../../src/observe/hubble/protos.js';
import { FlowRing } from '../../src/observe/hubble/ring.js';
import { startHubbleServer, type RunningHubbleServer } from '../../src/observe/hubble/server.js';
import { hubbleServerName } from '../../src/observe/hubble/tls.js';
import { startPortcullis } from '../../src/runtime/server.js';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { CertStore } from '../../src/secrets/store.js';
import { captureLog } from '../helpers/observe-log-capture.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';
import { waitUntil } from '../helpers/wait.js';

const SECRET = { namespace: 'kube-system', name: 'hubble-server-certs' };
const SERVER_NAME = 'node-a.tatooine.hubble-grpc.cilium.io';
const raw = (b: Buffer): Buffer => b;
let store: TempStore;
let certs: CertStore;
let server: RunningHubbleServer;
const logged = captureLog();
const messages = (): string[] => logged.lines().map((l) => String(l.msg));

const issue = (ca: string) => issueCertificate({ store: store.root, ca: { namespace: 'kube-system', name: ca }, secret: SECRET, names: ['*.tatooine.hubble-grpc.cilium.io'] });
const caPem = (ca: string): Buffer => readFileSync(path.join(store.root, 'kube-system', ca, 'ca.crt'));

/** node-a of cluster `clusterName`, announcing node-b.example.org, logging into `logged`. */
function startServer(clusterName: string): Promise<RunningHubbleServer> {
  return startHubbleServer({
    listen: { host: '127.0.0.1', port: 0 },
    ring: new FlowRing(8),
    nodeName: 'node-a',
    peers: [{ name: 'node-b.example.org', address: { host: '127.0.0.5', port: 4245 } }],
    tls: { secret: SECRET, clusterName, certs, file: 'portcullis.yaml', line: 1 },
    log: createLogger({ level: 'info', destination: logged.stream }),
  });
}

before(async () => {
  store = await tempStoreWithCa();
  await createCa({ store: store.root, secret: { namespace: 'kube-system', name: 'next-ca' } });
  await issue('internal-ca');
  certs = new CertStore(store.root, { debounceMs: 20 });
  server = await startServer('tatooine');
});
after(async () => {
  await server?.close();
  certs?.close();
  store?.cleanup();
});

function client(ca: string): grpc.Client {
  return new grpc.Client(`127.0.0.1:${server.address.port}`, grpc.credentials.createSsl(caPem(ca)), { 'grpc.ssl_target_name_override': SERVER_NAME });
}

function serverStatus(c: grpc.Client): Promise<{ max_flows: number }> {
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest('/observer.Observer/ServerStatus', raw, raw, encode(types.ServerStatusRequest, {}), (err, value) => (err ? reject(err) : resolve(decode(types.ServerStatusResponse, value!))));
  });
}

/** The certificate a new TLS connection is served, as an h2 client (Relay, the CLI) asks for it. */
function servedFingerprint(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.address.port, servername: SERVER_NAME, ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

test('hubbleServerName is Cilium\'s peer.TLSServerName', () => {
  assert.equal(hubbleServerName('moseisley', 'tatooine'), 'moseisley.tatooine.hubble-grpc.cilium.io');
  assert.equal(hubbleServerName('ip-10-0-0-1.ec2.internal', 'prod.eu'), 'ip-10-0-0-1-ec2-internal.prod-eu.hubble-grpc.cilium.io');
  assert.equal(hubbleServerName('hubble-peer', 'default'), 'hubble-peer.default.hubble-grpc.cilium.io');
});

/** Why a TLS 1.2 handshake failed; undefined when it succeeded. */
function tls12Refusal(): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.address.port, servername: SERVER_NAME, ALPNProtocols: ['h2'], rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.on('error', resolve);
  });
}

test('TLS 1.2 is refused, as by Cilium\'s Hubble server (TLS 1.3 at least)', async () => {
  assert.match(String(await tls12Refusal()), /protocol version|ssl\/tls alert/i);
});

test('Notify over TLS announces this node and its peers with their TLS server names', async () => {
  const c = client('internal-ca');
  const call = c.makeServerStreamRequest('/peer.Peer/Notify', raw, raw, encode(types.NotifyRequest, {}));
  const seen: any[] = [];
  call.on('data', (b: Buffer) => seen.push(decode(types.ChangeNotification, b)));
  call.on('error', () => {}); // cancelled below
  await waitUntil('both notifications', async () => seen.length === 2);
  call.cancel();
  c.close();
  assert.deepEqual(seen.map((n) => [n.name, n.tls?.server_name]), [
    ['node-a', SERVER_NAME],
    ['node-b.example.org', 'node-b-example-org.tatooine.hubble-grpc.cilium.io'],
  ]);
});

test('a certificate rotated in the store is served to new connections; an open connection goes on', async () => {
  const before = await issue('internal-ca');
  await waitUntil('the re-issued certificate to be served', async () => (await servedFingerprint()) === before.fingerprint256);
  const open = client('internal-ca');
  assert.equal((await serverStatus(open)).max_flows, 8);
  const rotated = await issue('next-ca');
  await waitUntil('the rotated certificate to be served', async () => (await servedFingerprint()) === rotated.fingerprint256);
  assert.equal((await serverStatus(open)).max_flows, 8, 'the connection opened before the rotation still works');
  open.close();
  const trustingNext = client('next-ca');
  assert.equal((await serverStatus(trustingNext)).max_flows, 8);
  trustingNext.close();
  const trustingOld = client('internal-ca');
  await assert.rejects(serverStatus(trustingOld), /UNAVAILABLE/);
  trustingOld.close();
  assert.ok(messages().includes('hubble server certificate reloaded'));
  assert.match(String(await tls12Refusal()), /protocol version|ssl\/tls alert/i, 'still TLS 1.3 at least');
});

test('a certificate that does not cover the server name Relay verifies is served, with a warning', async () => {
  const warning = 'the hubble server certificate does not cover the server name Hubble Relay verifies';
  assert.ok(!messages().includes(warning), '*.tatooine.hubble-grpc.cilium.io covers node-a of tatooine');
  const other = await startServer('default');
  await other.close();
  const warned = logged.lines().filter((l) => l.msg === warning);
  assert.deepEqual(warned.map((l) => [l.secret, l.serverName]), [['kube-system/hubble-server-certs', 'node-a.default.hubble-grpc.cilium.io']]);
});

test('a hubble.tls secret missing from the store stops the start, naming file and line', async () => {
  const config = path.join(store.root, 'portcullis.yaml');
  writeFileSync(config, `policies: []\nadmin: off\nflows: off\nworkers: 1\ncerts: ${store.root}\nhubble:\n  listen: 127.0.0.1:0\n  tls: {secret: kube-system/no-such-secret}\n`);
  await assert.rejects(startPortcullis(config, { watch: false, log: createLogger({ level: 'silent' }) }), (err: Error) => {
    assert.match(err.message, new RegExp(`^cannot start: ${config.replaceAll('.', '\\.')}:8: hubble\\.tls: Secret kube-system/no-such-secret not found`));
    return true;
  });
  writeFileSync(config, `policies: []\nadmin: off\nflows: off\nworkers: 1\ncerts: ${store.root}\nhubble:\n  listen: 127.0.0.1:0\n  tls:\n    secret: ${SECRET.namespace}/${SECRET.name}\n    clientCA: kube-system/no-such-ca\n`);
  await assert.rejects(startPortcullis(config, { watch: false, log: createLogger({ level: 'silent' }) }), /:9: hubble\.tls: Secret kube-system\/no-such-ca not found/);
});
