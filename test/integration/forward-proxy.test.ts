// The forward proxy with real HTTP_PROXY / HTTPS_PROXY clients (curl --proxy, openssl s_client -proxy): absolute-form
// requests decided per request under the source's egress rules (toFQDNs, toCIDR, egressDeny, toEndpoints, toPorts,
// L7), names resolved through the listener's `hosts:` with every address checked (DNS rebinding onto an endpoint or a
// denied CIDR is refused), CONNECT refused with 403 before the tunnel opens, spliced when allowed, SNI checked inside.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { startEchoUpstream, type Echo, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { startHttpsUpstream, type HttpsUpstream, type UpstreamEcho } from '../helpers/tls-https-upstream.js';
import { runCommand } from '../helpers/tls-net.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const MEDIABOT = '127.0.0.101';
const DB = '127.0.0.110';
const METADATA = '127.0.0.120';

let store: TempStore;
let caFile: string;
let plain: EchoUpstream;
let https: HttpsUpstream;
let runtime: Runtime;
let proxyUrl: string;

function policy(httpPort: number, httpsPort: number): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: mediabot-egress, namespace: default}
spec:
  endpointSelector: {matchLabels: {org: empire, class: mediabot}}
  egress:
  - toFQDNs: [{matchName: api.example.local}, {matchPattern: "*.partner.local"}]
    toPorts:
    - ports: [{port: "${httpPort}", protocol: TCP}]
      rules:
        http:
        - {method: GET, path: "/get.*"}
  - toFQDNs: [{matchName: api.example.local}]
    toPorts:
    - ports: [{port: "${httpsPort}", protocol: TCP}]
  - toFQDNs: [{matchPattern: "*.partner.local"}]
    toPorts:
    - ports: [{port: "${httpsPort}", protocol: TCP}]
      serverNames: [good.partner.local]
  - toCIDR: [127.0.0.130/32]
    toPorts:
    - ports: [{port: "${httpPort}", protocol: TCP}]
  egressDeny:
  - toCIDR: [${METADATA}/32]
`;
}

before(async () => {
  store = await tempStoreWithCa();
  caFile = path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt');
  await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'external' }, names: ['api.example.local', '*.partner.local'] });
  plain = await startEchoUpstream();
  https = await startHttpsUpstream(store.root, { namespace: 'default', name: 'external' });
  runtime = await startRuntime({
    certs: store.root,
    policies: { 'mediabot.yaml': policy(plain.port, https.port) },
    endpoints: `
- {name: mediabot, namespace: default, labels: {org: empire, class: mediabot}, addresses: [${MEDIABOT}]}
- {name: db, namespace: default, labels: {app: db}, addresses: [${DB}]}`,
    listeners: `
- name: egress
  listen: "127.0.0.1:0"
  protocol: forward
  forward:
    systemResolver: false
    hosts:
      api.example.local: [127.0.0.1]
      other.example.local: [127.0.0.1]
      good.partner.local: [127.0.0.1]
      bad.partner.local: [127.0.0.1]
      rebind.partner.local: [${DB}]
      metadata.partner.local: [${METADATA}]
      mixed.partner.local: [${METADATA}, 127.0.0.1]`,
  });
  proxyUrl = `http://127.0.0.1:${runtime.port('egress')}`;
});

after(async () => {
  await runtime?.close();
  await plain?.close();
  await https?.close();
  store?.cleanup();
});

function curl(args: readonly string[]) {
  return runCommand('curl', ['-sS', '--max-time', '5', '--interface', MEDIABOT, '--proxy', proxyUrl, '-w', '\n%{http_code}', ...args]);
}

function reply(stdout: string): { body: string; status: number } {
  const cut = stdout.lastIndexOf('\n');
  return { body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)) };
}

describe('forward proxy: absolute-form HTTP', () => {
  it('an allowed name and path is forwarded to the decided address with its Host; flows are EGRESS with the name', async () => {
    const result = await curl([`http://api.example.local:${plain.port}/get/./a/../b?x=1`]);
    assert.equal(result.code, 0, result.stderr);
    const { body, status } = reply(result.stdout);
    assert.equal(status, 200);
    const echo = JSON.parse(body) as Echo;
    assert.equal(echo.url, '/get/b?x=1', 'the normalised path is what policy saw and what is sent');
    const host = echo.rawHeaders[echo.rawHeaders.findIndex((h) => h.toLowerCase() === 'host') + 1];
    assert.equal(host, `api.example.local:${plain.port}`);
    assert.equal(echo.rawHeaders.map((h) => h.toLowerCase()).includes('proxy-connection'), false);
    const [request] = await runtime.waitForFlows((f) => f.Type === 'L7' && f.l7.type === 'REQUEST' && f.l7.http.url === `http://api.example.local:${plain.port}/get/b?x=1`);
    assert.equal(request?.verdict, 'FORWARDED');
    assert.equal(request?.traffic_direction, 'EGRESS');
    assert.deepEqual(request?.destination_names, ['api.example.local']);
    assert.equal(request?.source.pod_name, 'mediabot');
    assert.deepEqual(request?.destination.labels, ['reserved:world']);
  });

  it('L7: a method or path outside the rules is 403 Access denied', async () => {
    for (const args of [['-X', 'POST', `http://api.example.local:${plain.port}/get`], [`http://api.example.local:${plain.port}/admin`]]) {
      const result = await curl(args);
      assert.deepEqual(reply(result.stdout), { body: 'Access denied\r\n', status: 403 });
    }
  });

  it('a name outside toFQDNs is 403, decided before anything is sent', async () => {
    const before = plain.seen.length;
    const result = await curl([`http://other.example.local:${plain.port}/get`]);
    assert.equal(reply(result.stdout).status, 403);
    assert.equal(plain.seen.length, before);
    const [denied] = await runtime.waitForFlows((f) => f.Type === 'L7' && f.verdict === 'DROPPED' && f.l7.http.url.startsWith('http://other.example.local'));
    assert.match(denied?.portcullis.reason ?? '', /connection dropped: no egress rule/);
  });

  it('DNS rebinding: an allowed name resolving to a registered endpoint, or into a denied CIDR, is refused', async () => {
    for (const name of ['rebind.partner.local', 'metadata.partner.local']) {
      const result = await curl([`http://${name}:${plain.port}/get`]);
      assert.equal(reply(result.stdout).status, 403, name);
    }
    const flows = await runtime.waitForFlows((f) => f.Type === 'L7' && f.verdict === 'DROPPED' && /(rebind|metadata)\.partner/.test(f.l7.http.url), 2);
    const byName = Object.fromEntries(flows.map((f) => [f.l7.http.url.split('/')[2]!.split(':')[0], f]));
    assert.equal(byName['rebind.partner.local']?.destination.pod_name, 'db', 'the address is the db endpoint, not an FQDN peer');
    assert.match(byName['metadata.partner.local']?.portcullis.reason ?? '', /egressDeny/);
  });

  it('every resolved address is checked: of [denied, allowed] only the allowed address is used', async () => {
    const result = await curl([`http://mixed.partner.local:${plain.port}/get`]);
    assert.equal(reply(result.stdout).status, 200);
    const [request] = await runtime.waitForFlows((f) => f.Type === 'L7' && f.l7.type === 'REQUEST' && f.l7.http.url.startsWith('http://mixed.partner.local'));
    assert.equal(request?.IP.destination, '127.0.0.1');
  });

  it('toCIDR: an IP-literal target is decided by its address (no names)', async () => {
    const allowed = await curl([`http://127.0.0.130:${plain.port}/anything`]);
    // The CIDR rule has no L7 rules: any request; nothing listens on 127.0.0.130, so the proxy answers 503.
    assert.equal(reply(allowed.stdout).status, 503);
    const denied = await curl([`http://127.0.0.131:${plain.port}/get`]);
    assert.equal(reply(denied.stdout).status, 403);
  });

  it('unresolvable names are 502, malformed targets 400, origin-form requests to the proxy 400', async () => {
    assert.equal(reply((await curl([`http://nowhere.example.local:${plain.port}/get`])).stdout).status, 502);
    const port = runtime.port('egress');
    const origin = await runCommand('curl', ['-sS', '--max-time', '5', '--interface', MEDIABOT, '-w', '\n%{http_code}', `http://127.0.0.1:${port}/get`]);
    assert.equal(reply(origin.stdout).status, 400);
    assert.match(reply(origin.stdout).body, /absolute-form/);
  });
});

describe('forward proxy: what it does not forward', () => {
  it('an Upgrade (WebSocket) request in absolute form is answered 501: tunnels go through CONNECT', async () => {
    const socket = net.connect({ port: runtime.port('egress'), host: '127.0.0.1', localAddress: MEDIABOT });
    const answer = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('connect', () =>
        socket.write(`GET http://api.example.local:${plain.port}/get HTTP/1.1\r\nHost: api.example.local\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`),
      );
      socket.on('data', (c: Buffer) => (data += c.toString()));
      socket.on('error', () => resolve(data));
      socket.on('close', () => resolve(data));
    });
    assert.match(answer, /^HTTP\/1\.1 501 /);
  });
});

describe('forward proxy: CONNECT', () => {
  it('a CONNECT no rule allows is answered 403 before the tunnel opens', async () => {
    const result = await curl(['--cacert', caFile, `https://other.example.local:${https.port}/`]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /CONNECT tunnel failed, response 403/);
    const [denied] = await runtime.waitForFlows((f) => f.Type === 'L7' && f.l7.http.method === 'CONNECT' && f.verdict === 'DROPPED');
    assert.equal(denied?.l7.http.url, `other.example.local:${https.port}`);
    assert.equal(denied?.traffic_direction, 'EGRESS');
  });

  it('an allowed CONNECT without terminatingTLS is spliced: the client verifies the real server', async () => {
    const result = await curl(['--cacert', caFile, `https://api.example.local:${https.port}/through-tunnel`]);
    assert.equal(result.code, 0, result.stderr);
    const { body, status } = reply(result.stdout);
    assert.equal(status, 200);
    const echo = JSON.parse(body) as UpstreamEcho;
    assert.equal(echo.sni, 'api.example.local');
    assert.equal(echo.path, '/through-tunnel');
  });

  it('serverNames inside the tunnel: the allowed SNI passes, another SNI through the same CONNECT is reset', async () => {
    const ok = await curl(['--cacert', caFile, `https://good.partner.local:${https.port}/sni-ok`]);
    assert.equal(reply(ok.stdout).status, 200, ok.stderr);
    const port = runtime.port('egress');
    const fronted = await runCommand(
      'openssl',
      ['s_client', '-bind', `${MEDIABOT}:0`, '-proxy', `127.0.0.1:${port}`, '-connect', `good.partner.local:${https.port}`, '-servername', 'bad.partner.local', '-CAfile', caFile],
      { input: '' },
    );
    assert.notEqual(fronted.code, 0);
    assert.doesNotMatch(fronted.stdout, /BEGIN CERTIFICATE/);
    const [dropped] = await runtime.waitForFlows((f) => f.Type === 'L3_L4' && f.verdict === 'DROPPED' && /SNI bad\.partner\.local/.test(f.portcullis.reason ?? ''));
    assert.ok(dropped, 'the SNI denial is recorded');
    const denied = await curl(['--cacert', caFile, `https://bad.partner.local:${https.port}/`]);
    assert.match(denied.stderr, /CONNECT tunnel failed, response 403/, 'a CONNECT whose name cannot pass serverNames is refused up front');
  });
});
