// TLS and mTLS on Portcullis' Hubble listener, with the real `hubble` CLI and `hubble-relay` (cilium v1.20.2,
// scripts/install-hubble.sh) and certificates from `portcullis certs` (issueCertificate) in a temporary store, named
// the way Cilium names Hubble servers (`*.default.hubble-grpc.cilium.io`). The CLI verifies the server with the CA;
// with a client CA it gets in only with a client certificate from that CA; a plaintext client gets nothing; Relay
// reaches two mTLS Portcullis nodes with its own client certificate and the server names they announce.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDeathstar, type Deathstar } from '../../src/demo/starwars/deathstar.js';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { freePort } from '../../bench/lib/processes.js';
import { HUBBLE_RELAY, hubble, hubbleAddress, landThrough, skipWithoutHubble, type Run } from '../helpers/hubble-tools.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';
import { waitUntil } from '../helpers/wait.js';

const skip = skipWithoutHubble();
const DEATHSTAR = '127.0.0.10';
/** Every node's server certificate covers this (Cilium's Helm chart issues the same wildcard). */
const SERVER_NAMES = '*.default.hubble-grpc.cilium.io';
let store: TempStore;
let deathstar: Deathstar;
/** Server TLS only (node-tls); mTLS nodes node-a and node-b, both announced by node-a to Relay. */
let tlsOnly: ProxyProcess;
let nodeA: ProxyProcess;
let nodeB: ProxyProcess;
let relay: ChildProcess | undefined;
let relayAddress: string;

const secretFile = (secret: string, item: string): string => path.join(store.root, 'kube-system', secret, item);
/** The CLI's flags for a client certificate from the store. */
const clientCert = (secret: string): string[] => ['--tls-client-cert-file', secretFile(secret, 'tls.crt'), '--tls-client-key-file', secretFile(secret, 'tls.key')];
/** TLS verifying `node`'s server name against the internal CA. */
const verified = (node: string): string[] => ['--tls', '--tls-ca-cert-files', secretFile('internal-ca', 'ca.crt'), '--tls-server-name', `${node}.default.hubble-grpc.cilium.io`];

function config(host: string, node: string, tls: string, peers = ''): string {
  return `policies: []
admin: off
flows: off
workers: 1
nodeName: ${node}
certs: ${store.root}
hubble:
  listen: "${host}:0"
  tls: ${tls}${peers}
endpoints:
  - {name: deathstar, namespace: default, labels: {class: deathstar}, addresses: [${DEATHSTAR}]}
listeners:
  - {name: web, listen: "${host}:0", protocol: http, to: deathstar, upstream: "${DEATHSTAR}:${deathstar.port}", port: 80}
`;
}

before(async () => {
  if (skip) return;
  store = await tempStoreWithCa();
  const issue = (name: string, ca: string, names: string[], client = false) =>
    issueCertificate({ store: store.root, ca: { namespace: 'kube-system', name: ca }, secret: { namespace: 'kube-system', name }, names, client });
  await createCa({ store: store.root, secret: { namespace: 'kube-system', name: 'hubble-client-ca' }, commonName: 'Hubble client CA' });
  await createCa({ store: store.root, secret: { namespace: 'kube-system', name: 'other-ca' }, commonName: 'Another CA' });
  await issue('hubble-server-certs', 'internal-ca', [SERVER_NAMES]);
  await issue('relay-client-certs', 'hubble-client-ca', ['hubble-relay-client.default.hubble-grpc.cilium.io'], true);
  await issue('other-client-certs', 'other-ca', ['hubble-relay-client.default.hubble-grpc.cilium.io'], true);
  deathstar = await startDeathstar(DEATHSTAR);
  const mutual = '{secret: kube-system/hubble-server-certs, clientCA: kube-system/hubble-client-ca}';
  tlsOnly = await startProxyProcess(config('127.0.0.1', 'node-tls', '{secret: kube-system/hubble-server-certs}'));
  nodeB = await startProxyProcess(config('127.0.0.5', 'node-b', mutual));
  nodeA = await startProxyProcess(config('127.0.0.1', 'node-a', mutual, `\n  peers: [{name: node-b, address: "${hubbleAddress(nodeB)}"}]`));
  for (const p of [tlsOnly, nodeA, nodeB]) assert.equal(await landThrough(p), '200');
  relayAddress = `127.0.0.1:${await freePort()}`;
  const health = `127.0.0.1:${await freePort()}`;
  relay = spawn(HUBBLE_RELAY, ['serve', '--peer-service', hubbleAddress(nodeA), '--listen-address', relayAddress, '--health-listen-address', health,
    '--tls-hubble-server-ca-files', secretFile('internal-ca', 'ca.crt'),
    '--tls-hubble-client-cert-file', secretFile('relay-client-certs', 'tls.crt'), '--tls-hubble-client-key-file', secretFile('relay-client-certs', 'tls.key'),
    '--disable-server-tls', '--gops=false', '--retry-timeout', '1s', '--sort-buffer-drain-timeout', '100ms'], { stdio: 'ignore' });
});
after(async () => {
  if (relay && relay.exitCode === null) {
    relay.kill();
    await once(relay, 'exit');
  }
  for (const p of [tlsOnly, nodeA, nodeB]) await p?.close();
  await deathstar?.close();
  store?.cleanup();
});

/** `hubble <command> --server <p's Hubble address>` with `args`, failing fast (the refusals below would retry). */
const run = (command: string, p: ProxyProcess, ...args: string[]): Promise<Run> => hubble([command, '--server', hubbleAddress(p), '--timeout', '3s', '--request-timeout', '3s', ...args]);

test('TLS: hubble status and observe verify the server with the CA and its Hubble server name', { skip }, async () => {
  const status = await run('status', tlsOnly, ...verified('node-tls'));
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /Healthcheck \(via [\d.:]+\): Ok/);
  assert.match(status.stdout, /Current\/Max Flows: 2\/4,095/);
  const observe = await run('observe', tlsOnly, ...verified('node-tls'), '-o', 'json');
  assert.equal(observe.code, 0, observe.stderr);
  const flows = observe.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual(flows.map((f) => `${f.node_name} ${f.flow.l7.type} ${f.flow.IP.destination}`), ['node-tls REQUEST 127.0.0.10', 'node-tls RESPONSE 127.0.0.2']);
});

test('TLS: a plaintext client, a client that does not trust the CA and a wrong server name get nothing', { skip }, async () => {
  const plaintext = await run('status', tlsOnly);
  assert.notEqual(plaintext.code, 0, plaintext.stdout);
  const untrusted = await run('status', tlsOnly, '--tls', '--tls-ca-cert-files', secretFile('other-ca', 'ca.crt'), '--tls-server-name', 'node-tls.default.hubble-grpc.cilium.io');
  assert.notEqual(untrusted.code, 0, untrusted.stdout);
  assert.match(untrusted.stderr, /certificate signed by unknown authority/);
  const wrongName = await run('status', tlsOnly, '--tls', '--tls-ca-cert-files', secretFile('internal-ca', 'ca.crt'), '--tls-server-name', 'node-tls.tatooine.hubble-grpc.cilium.io');
  assert.notEqual(wrongName.code, 0, wrongName.stdout);
  assert.match(wrongName.stderr, /certificate is valid for \*\.default\.hubble-grpc\.cilium\.io, not node-tls\.tatooine\.hubble-grpc\.cilium\.io/);
});

test('mTLS: a client certificate from the client CA gets in; none, or one from another CA, is refused', { skip }, async () => {
  const status = await run('status', nodeA, ...verified('node-a'), ...clientCert('relay-client-certs'));
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /Current\/Max Flows: 2\/4,095/);
  const observe = await run('observe', nodeA, ...verified('node-a'), ...clientCert('relay-client-certs'), '-o', 'json');
  assert.equal(observe.code, 0, observe.stderr);
  assert.equal(observe.stdout.split('\n').filter(Boolean).length, 2);
  for (const refused of [[], clientCert('other-client-certs')]) {
    for (const command of ['status', 'observe']) {
      const denied = await run(command, nodeA, ...verified('node-a'), ...refused);
      assert.notEqual(denied.code, 0, `${command} ${refused.join(' ')}: ${denied.stdout}`);
      assert.doesNotMatch(denied.stdout, /Current\/Max Flows|REQUEST/);
    }
  }
});

test('Relay with mTLS to two Portcullis nodes: both connected, both nodes\' flows in one stream', { skip }, async () => {
  const status = await waitUntil('relay to connect both nodes over mTLS', async () => {
    const run = await hubble(['status', '--server', relayAddress]);
    return run.code === 0 && /Connected Nodes: 2\/2/.test(run.stdout) && run.stdout;
  }, 30_000, 500);
  assert.match(status, /Current\/Max Flows: 4\/8,190/);
  const flows = await hubble(['observe', '--server', relayAddress, '-o', 'json', '--last', '100']);
  assert.equal(flows.code, 0, flows.stderr);
  const nodes = flows.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).node_name as string);
  assert.deepEqual([...new Set(nodes)].sort(), ['node-a', 'node-b']);
  assert.equal(nodes.length, 4);
});
