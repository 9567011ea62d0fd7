// With two workers: a `tls` listener checks the SNI on connections held on both workers (allowed names spliced to
// the HTTPS upstream, others reset), and a session from one worker resumes on the other, because every worker's
// terminating TLS uses the ticket keys the primary made (openssl s_client -sess_out once, then -sess_in on new
// connections, which round-robin puts on both workers; TLSv1.3 and TLSv1.2).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type tls from 'node:tls';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { startHttpsUpstream, type HttpsUpstream, type UpstreamEcho } from '../helpers/tls-https-upstream.js';
import { runCommand, tlsConnectFrom } from '../helpers/tls-net.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';
import { assertBothWorkersHold, openInTurn, startWorkersProxy, waitUntilIdle, workersConfig, type WorkersProxy } from '../helpers/workers-proxy.js';

const API = '127.0.0.60';
const CLIENT = '127.0.0.61';
const NAME = 'api.example.local';
const CONNECTIONS = 6;

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: [${NAME}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8443", protocol: TCP}]
      rules:
        http: [{method: GET, path: /resume}]
`;

describe('workers: TLS', { timeout: 60_000 }, () => {
  let store: TempStore;
  let caFile: string;
  let https: HttpsUpstream;
  let plain: EchoUpstream;
  let proxy: WorkersProxy;
  let sni: number;
  let terminating: number;
  let sessionDir: string;

  before(async () => {
    store = await tempStoreWithCa();
    caFile = path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt');
    await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'api' }, names: [NAME] });
    https = await startHttpsUpstream(store.root, { namespace: 'default', name: 'api' });
    plain = await startEchoUpstream();
    const config = workersConfig({
      certs: store.root,
      policies: ['api.yaml'],
      endpoints: `
- {name: api, labels: {app: api}, addresses: [${API}]}
- {name: client, labels: {app: client}, addresses: [${CLIENT}]}`,
      listeners: `
- {name: sni, listen: "127.0.0.1:0", protocol: tls, to: api, upstream: "127.0.0.1:${https.port}", port: 443}
- {name: terminating, listen: "127.0.0.1:0", protocol: http, to: api, upstream: "127.0.0.1:${plain.port}", port: 8443, tls: {secret: default/api}}`,
    });
    proxy = await startWorkersProxy(config, { 'api.yaml': POLICY });
    sni = await proxy.listenerPort('sni');
    terminating = await proxy.listenerPort('terminating');
    sessionDir = proxy.proc.dir;
  });
  after(async () => {
    await proxy?.close();
    await https?.close();
    await plain?.close();
    store?.cleanup();
  });

  test('tls listener: an allowed SNI is spliced on connections held on both workers; another name is reset on each', async () => {
    await waitUntilIdle(proxy);
    const ca = readFileSync(caFile);
    const sockets = await openInTurn(CONNECTIONS, async () => {
      const socket = tlsConnectFrom(CLIENT, sni, { servername: NAME, ca });
      // The handshake is the upstream's: verifying its certificate for NAME proves the splice.
      await once(socket, 'secureConnect');
      return socket;
    });
    try {
      await assertBothWorkersHold(proxy, 'the spliced TLS connections');
      const echo = await httpsGet(sockets[0]!, '/through-the-splice');
      assert.equal(echo.sni, NAME);
      assert.equal(echo.path, '/through-the-splice');
    } finally {
      for (const s of sockets) s.destroy();
    }
    // In turn, so both workers refuse some.
    for (let i = 0; i < 4; i++) {
      const socket = tlsConnectFrom(CLIENT, sni, { servername: 'evil.example.local', ca });
      const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNRESET', err.message);
    }
  });

  for (const version of ['1_3', '1_2'] as const) {
    test(`terminating TLSv${version.replace('_', '.')}: a session made on one worker resumes on both (shared ticket keys)`, async () => {
      const session = path.join(sessionDir, `session-${version}.pem`);
      const first = await opensslGet([`-tls${version}`, '-sess_out', session]);
      assert.match(first, /^New, TLSv1\.[23]/m);
      for (let i = 0; i < 4; i++) {
        // A new connection each time: round-robin alternates the workers, so half of them land on the other one.
        const again = await opensslGet([`-tls${version}`, '-sess_in', session]);
        assert.match(again, /^Reused, TLSv1\.[23]/m, `connection ${i + 1} with the saved session was not resumed`);
      }
    });
  }

  /** One request with openssl s_client to the terminating listener; its output, checked for the 200 answer. */
  async function opensslGet(args: readonly string[]): Promise<string> {
    const result = await runCommand(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${terminating}`, '-bind', `${CLIENT}:0`, '-servername', NAME, '-CAfile', caFile, '-verify_return_error', '-ign_eof', ...args],
      { input: `GET /resume HTTP/1.1\r\nHost: ${NAME}\r\nConnection: close\r\n\r\n`, timeoutMs: 5000 },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /HTTP\/1\.1 200/);
    return result.stdout;
  }
});

/** One HTTP/1.1 request over an established TLS connection to the HTTPS upstream; its echo. */
async function httpsGet(socket: tls.TLSSocket, path: string): Promise<UpstreamEcho> {
  let text = '';
  socket.setEncoding('utf8').on('data', (d: string) => (text += d));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${NAME}\r\nConnection: close\r\n\r\n`);
  await once(socket, 'end');
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as UpstreamEcho;
}
