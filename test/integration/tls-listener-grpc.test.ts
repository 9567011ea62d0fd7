// gRPC over TLS with @grpc/grpc-js TLS credentials: through an `http` listener that terminates TLS with its own
// certificate (h2 by ALPN), and through a `tls` listener whose policy terminates; per-call HTTP rules decide,
// denied calls get PERMISSION_DENIED (7) inside TLS, allowed ones reach the h2c upstream with metadata and trailers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import grpc from '@grpc/grpc-js';
import { fromAddress } from '../../src/demo/cloudcity/grpc-source-address.js';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { ECHO_SERVICE, startEchoServer, unary, type EchoClient, type EchoServer } from '../helpers/h2-grpc-echo.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const CLIENT = '127.0.0.91';
const NAME = 'door.example.local';

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: door-grpc, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: door}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: terminal}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      terminatingTLS: {secret: {name: door}}
      rules:
        http:
        - {method: POST, path: /test.Echo/Unary}
`;

let store: TempStore;
let echo: EchoServer;
let runtime: Runtime;
const clients: EchoClient[] = [];

before(async () => {
  store = await tempStoreWithCa();
  await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'door' }, names: [NAME] });
  echo = await startEchoServer('127.0.0.1');
  const listener = (name: string, protocol: string, tls: string) =>
    `- {name: ${name}, listen: "127.0.0.1:0", protocol: ${protocol}, to: door, upstream: "127.0.0.1:${echo.port}", port: 443, upstreamProtocol: h2c${tls}}`;
  runtime = await startRuntime({
    certs: store.root,
    policies: { 'door.yaml': POLICY },
    endpoints: `
- {name: door, namespace: default, labels: {app: door}, addresses: [127.0.0.90]}
- {name: terminal, namespace: default, labels: {app: terminal}, addresses: [${CLIENT}]}`,
    listeners: [listener('https', 'http', ', tls: {secret: default/door}'), listener('tls', 'tls', '')].join('\n'),
  });
});

after(async () => {
  for (const c of clients) c.close();
  await runtime?.close();
  await echo?.close();
  store?.cleanup();
});

/** A grpc-js client with TLS credentials trusting the internal CA, from CLIENT, checking the name NAME. */
function tlsClient(listener: string): EchoClient {
  const Ctor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const { target, options } = fromAddress(CLIENT, '127.0.0.1', runtime.port(listener));
  const credentials = grpc.credentials.createSsl(readFileSync(path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt')));
  const client = new Ctor(target, credentials, { ...options, 'grpc.ssl_target_name_override': NAME, 'grpc.default_authority': NAME }) as unknown as EchoClient;
  clients.push(client);
  return client;
}

for (const listener of ['https', 'tls']) {
  describe(`gRPC over TLS through the ${listener} listener`, () => {
    it('an allowed unary call reaches the upstream and returns its reply, metadata and trailers', async () => {
      const metadata = new grpc.Metadata();
      metadata.set('x-ship', 'falcon');
      const result = await unary(tlsClient(listener), 'Unary', Buffer.from('open the door'), metadata, { deadline: Date.now() + 5000 });
      assert.equal(result.error, undefined, result.error?.message);
      assert.equal(result.reply?.toString(), 'open the door');
      assert.deepEqual(result.headers?.get('x-ship'), ['falcon']);
      assert.deepEqual(result.trailers?.get('x-trailer'), ['sent-after-body']);
      const flows = (await runtime.flows()).map((r) => r.flow);
      const request = flows.filter((f) => f.Type === 'L7' && f.l7.type === 'REQUEST' && f.portcullis.listener === listener).at(-1);
      assert.equal(request?.l7.http.url, `https://${NAME}/test.Echo/Unary`);
      assert.equal(request?.l7.http.protocol, 'HTTP/2');
    });

    it('a call the rules do not allow is PERMISSION_DENIED inside TLS', async () => {
      const result = await unary(tlsClient(listener), 'Hang', Buffer.from('x'), new grpc.Metadata(), { deadline: Date.now() + 5000 });
      assert.equal(result.error?.code, grpc.status.PERMISSION_DENIED);
      assert.equal(result.error?.details, 'Access denied');
    });
  });
}
