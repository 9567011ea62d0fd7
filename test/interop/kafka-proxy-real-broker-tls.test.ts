// TLS on both hops in front of a real Apache Kafka broker: the Java client and kcat connect to Portcullis over TLS
// with client certificates (which select their source endpoint), and Portcullis connects to the broker's SSL
// listener as the policy's `originatingTLS` says, verifying the broker's certificate against the internal CA.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { runJavaClient, startRealKafka, type JavaClientOutcome, type JavaClientTls, type RealKafka } from '../helpers/kafka-broker-real.js';
import { runKcat } from '../helpers/kafka-clients.js';
import { ANNOUNCE, empireTlsPolicy, PLANS } from '../helpers/kafka-proxy-fixture.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const TIMEOUT_MS = 20_000;
const ofType = (outcomes: JavaClientOutcome[], type: JavaClientOutcome['type']) => outcomes.filter((o) => o.type === type);

describe('Portcullis with TLS to clients and to a real Kafka broker', { timeout: 300_000 }, () => {
  let store: TempStore;
  let kafka: RealKafka;
  let runtime: Runtime;
  let bootstrap: string;
  const file = (secret: string, item: string) => join(store.root, 'default', secret, item);
  const caFile = () => join(store.root, 'kube-system', 'internal-ca', 'ca.crt');
  const javaTls = (certificate: string): JavaClientTls => ({ caFile: caFile(), certFile: file(certificate, 'tls.crt'), keyFile: file(certificate, 'tls.key') });
  const java = (command: string, certificate: string, args: string[]) =>
    runJavaClient([command, '--bootstrap', bootstrap, '--timeout-ms', String(TIMEOUT_MS), ...args], { tls: javaTls(certificate) });

  before(async () => {
    store = await tempStoreWithCa();
    const issue = (name: string, names: string[], uris: string[] = []) =>
      issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name }, names, uris, client: uris.length > 0 });
    await issue('kafka-broker', ['127.0.0.1']);
    await issue('kafka-proxy', ['127.0.0.1']);
    await issue('hq-client', [], ['spiffe://empire.local/empire-hq']);
    await issue('outpost-client', [], ['spiffe://empire.local/outpost-8888']);
    kafka = await startRealKafka({ topics: [ANNOUNCE, PLANS], tls: { certFile: file('kafka-broker', 'tls.crt'), keyFile: file('kafka-broker', 'tls.key') } });
    runtime = await startRuntime({
      certs: store.root,
      policies: { 'kafka-tls.yaml': empireTlsPolicy('internal-ca') },
      endpoints: `
- {name: kafka-tls, labels: {app: kafka-tls}, addresses: [127.0.0.77]}
- {name: empire-hq, labels: {app: empire-hq}, addresses: [127.0.0.71], identities: ["spiffe://empire.local/empire-hq"]}
- {name: empire-outpost-8888, labels: {app: empire-outpost, outpostid: "8888"}, addresses: [127.0.0.72], identities: ["spiffe://empire.local/outpost-8888"]}`,
      listeners: `- {name: kafka-tls, listen: "127.0.0.1:0", protocol: kafka, to: kafka-tls, upstream: "127.0.0.1:${kafka.tlsPort}", port: 9093, tls: {secret: kafka-proxy, clientCA: kube-system/internal-ca, clientCertificates: require}}`,
    });
    bootstrap = `127.0.0.1:${runtime.port('kafka-tls')}`;
  });

  after(async () => {
    await runtime?.close();
    await kafka?.stop();
    store?.cleanup();
  });

  test('Java client: hq produces to both topics, an outpost consumes announcements in a group', async () => {
    for (const topic of [PLANS, ANNOUNCE]) {
      const out = await java('produce', 'hq-client', ['--client-id', 'empire-hq', '--topic', topic, '--count', '3', '--prefix', `tls-${topic}`]);
      assert.equal(out.at(-1)?.['ok'], true, JSON.stringify(out));
      assert.equal(ofType(out, 'produced').length, 3);
    }
    const consumed = await java('consume', 'outpost-client', ['--client-id', 'empire-outpost', '--topic', ANNOUNCE, '--group', 'outposts-tls', '--count', '3']);
    assert.equal(consumed.at(-1)?.['ok'], true, JSON.stringify(consumed));
    assert.deepEqual(ofType(consumed, 'consumed').map((c) => c['value']), [0, 1, 2].map((i) => `tls-${ANNOUNCE}-${i}`));
    const produced = (await runtime.flows()).map((r) => r.flow).filter((f) => f.l7?.type === 'REQUEST' && f.l7.kafka?.api_key === 'produce');
    assert.ok(produced.length >= 2 && produced.every((f) => f.source.pod_name === 'empire-hq' && f.verdict === 'FORWARDED'), JSON.stringify(produced));
  });

  test('Java client: the outpost certificate gets TopicAuthorizationException for a produce and for the plans', async () => {
    const produce = await java('produce', 'outpost-client', ['--topic', ANNOUNCE, '--count', '1']);
    const [denied] = ofType(produce, 'error');
    assert.deepEqual([denied?.['exception'], denied?.['unauthorizedTopics']], ['TopicAuthorizationException', [ANNOUNCE]], JSON.stringify(produce));
    const plans = await java('consume', 'outpost-client', ['--topic', PLANS, '--group', 'outposts-tls']);
    const [refused] = ofType(plans, 'error');
    assert.deepEqual([refused?.['exception'], refused?.['unauthorizedTopics']], ['TopicAuthorizationException', [PLANS]], JSON.stringify(plans));
  });

  test('kcat over TLS with the outpost certificate reads what hq wrote', async () => {
    const consumed = await runKcat(bootstrap, [
      '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${caFile()}`,
      '-X', `ssl.certificate.location=${file('outpost-client', 'tls.crt')}`, '-X', `ssl.key.location=${file('outpost-client', 'tls.key')}`,
      '-C', '-t', ANNOUNCE, '-o', 'beginning', '-e', '-q', '-f', '%s\\n',
    ], { clientId: 'empire-outpost' });
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), [0, 1, 2].map((i) => `tls-${ANNOUNCE}-${i}`));
  });
});
