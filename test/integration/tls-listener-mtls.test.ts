// Client certificates on TLS listeners: a certificate verified against the listener's `clientCA` whose URI SAN (or
// CN) an endpoint lists in `identities` makes that endpoint the source, before address matching; an unverified
// certificate counts for nothing; `require` refuses clients without one. Clients: curl with --cert/--key.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { startEchoUpstream, type Echo, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { runCommand } from '../helpers/tls-net.js';
import { startRuntime, type FlowRecord, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const TIEFIGHTER_ADDRESS = '127.0.0.81';
const XWING_ADDRESS = '127.0.0.82';

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-empire-only, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      rules:
        http:
        - {method: GET, path: "/v1/.*"}
`;

let store: TempStore;
let upstream: EchoUpstream;
let runtime: Runtime;
let caFile: string;
const item = (name: string, file: string) => path.join(store.root, 'default', name, file);

before(async () => {
  store = await tempStoreWithCa();
  caFile = path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt');
  await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'web' }, names: ['web.example.local'] });
  await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'tie-client' }, names: [], uris: ['spiffe://empire.local/tiefighter'], client: true });
  await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'nobody-client' }, names: [], uris: ['spiffe://empire.local/nobody'], client: true });
  const rogue = { namespace: 'default', name: 'rogue-ca' };
  await createCa({ store: store.root, secret: rogue, commonName: 'Rogue CA' });
  await issueCertificate({ store: store.root, ca: rogue, secret: { namespace: 'default', name: 'rogue-client' }, names: [], uris: ['spiffe://empire.local/tiefighter'], client: true });
  upstream = await startEchoUpstream();
  const listener = (name: string, protocol: string, tls: string) =>
    `- {name: ${name}, listen: "127.0.0.1:0", protocol: ${protocol}, to: web, upstream: "127.0.0.1:${upstream.port}", port: 443, tls: ${tls}}`;
  runtime = await startRuntime({
    certs: store.root,
    policies: { 'web.yaml': POLICY },
    endpoints: `
- {name: web, namespace: default, labels: {app: web}, addresses: [127.0.0.80]}
- {name: tiefighter, namespace: default, labels: {org: empire, class: tiefighter}, addresses: [${TIEFIGHTER_ADDRESS}], identities: ["spiffe://empire.local/tiefighter"]}
- {name: xwing, namespace: default, labels: {org: alliance, class: xwing}, addresses: [${XWING_ADDRESS}]}`,
    listeners: [
      listener('https-request', 'http', '{secret: default/web, clientCA: kube-system/internal-ca}'),
      listener('https-require', 'http', '{secret: default/web, clientCA: kube-system/internal-ca, clientCertificates: require}'),
      listener('tls-request', 'tls', '{secret: default/web, clientCA: kube-system/internal-ca}'),
    ].join('\n'),
  });
});

after(async () => {
  await runtime?.close();
  await upstream?.close();
  store?.cleanup();
});

function curl(listener: string, from: string, client: string | undefined, urlPath = '/v1/ships') {
  const port = runtime.port(listener);
  const cert = client === undefined ? [] : ['--cert', item(client, 'tls.crt'), '--key', item(client, 'tls.key')];
  return runCommand('curl', [
    '-sS', '--max-time', '5', '--interface', from, '--cacert', caFile, '--resolve', `web.example.local:${port}:127.0.0.1`, ...cert,
    '-w', '\n%{http_code}', `https://web.example.local:${port}${urlPath}`,
  ]);
}

const status = (stdout: string): number => Number(stdout.slice(stdout.lastIndexOf('\n') + 1));

async function requestFlows(listener: string): Promise<Array<FlowRecord['flow']>> {
  return (await runtime.flows()).map((r) => r.flow).filter((f) => f.Type === 'L7' && f.l7.type === 'REQUEST' && f.portcullis?.listener === listener);
}

describe('client certificates select the source identity', () => {
  it('the tiefighter certificate from the xwing address is the tiefighter: allowed, and flows name it', async () => {
    const result = await curl('https-request', XWING_ADDRESS, 'tie-client');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(status(result.stdout), 200);
    const echo = JSON.parse(result.stdout.slice(0, result.stdout.lastIndexOf('\n'))) as Echo;
    assert.equal(echo.url, '/v1/ships');
    const flow = (await requestFlows('https-request')).at(-1);
    assert.ok(flow);
    assert.equal(flow.source.pod_name, 'tiefighter');
    assert.ok(flow.source.labels.includes('k8s:org=empire'));
    assert.equal(flow.IP.source, XWING_ADDRESS);
  });

  it('L7 rules still apply to the certificate identity: a path outside the rules is 403', async () => {
    const result = await curl('https-request', XWING_ADDRESS, 'tie-client', '/admin');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(status(result.stdout), 403);
  });

  it('without a certificate the xwing address decides: the connection is reset after the handshake', async () => {
    const result = await curl('https-request', XWING_ADDRESS, undefined);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /reset|Recv failure|SSL_read|unexpected eof/i);
    const dropped = await runtime.waitForFlows((f) => f.Type === 'L3_L4' && f.verdict === 'DROPPED' && f.portcullis.listener === 'https-request');
    assert.equal(dropped.at(-1)?.source.pod_name, 'xwing');
  });

  it('a verified certificate that no endpoint lists leaves the address identity in place', async () => {
    const fromTie = await curl('https-request', TIEFIGHTER_ADDRESS, 'nobody-client');
    assert.equal(status(fromTie.stdout), 200, fromTie.stderr);
    const fromXwing = await curl('https-request', XWING_ADDRESS, 'nobody-client');
    assert.notEqual(fromXwing.code, 0);
  });

  it('a certificate from an untrusted CA is not an identity (request mode): the xwing address decides', async () => {
    const result = await curl('https-request', XWING_ADDRESS, 'rogue-client');
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /\n200$/);
  });

  it('require: a client without a certificate fails the handshake and the failure is recorded', async () => {
    const result = await curl('https-require', TIEFIGHTER_ADDRESS, undefined);
    assert.notEqual(result.code, 0);
    const errors = await runtime.waitForFlows((f) => f.Type === 'L3_L4' && f.verdict === 'ERROR' && f.portcullis.listener === 'https-require');
    assert.match(errors.at(-1)?.Summary ?? '', /TLS termination with secret default\/web failed/);
    const withCert = await curl('https-require', XWING_ADDRESS, 'tie-client');
    assert.equal(status(withCert.stdout), 200, withCert.stderr);
  });

  it('a tls listener requesting client certificates terminates, then decides with the certificate identity', async () => {
    const allowed = await curl('tls-request', XWING_ADDRESS, 'tie-client');
    assert.equal(status(allowed.stdout), 200, allowed.stderr);
    const denied = await curl('tls-request', XWING_ADDRESS, undefined);
    assert.notEqual(denied.code, 0);
  });
});
