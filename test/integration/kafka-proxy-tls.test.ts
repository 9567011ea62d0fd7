// Kafka listeners with `tls:`: clients speak TLS to the proxy (kafkajs and kcat), which terminates it with the
// listener's certificate and enforces the Kafka rules on the decrypted stream; client certificates select the source
// endpoint (kcat cannot bind a source address, so this is how it gets an identity); with `originatingTLS` the hop to
// the broker is TLS too, verified against the secret's CA and the broker's advertised address. Brokers: the embedded
// demo broker, in plaintext and serving TLS itself.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EMPIRE_TOPICS, startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { kafkajsClient, kafkajsConsume, kafkajsProduce, runKcat, type KafkajsOptions } from '../helpers/kafka-clients.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, empireTlsPolicy, PLANS } from '../helpers/kafka-proxy-fixture.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

let store: TempStore;
let plainBroker: DemoBroker;
let tlsBroker: DemoBroker;
let runtime: Runtime;
const pem = (secret: string, item: string) => readFileSync(path.join(store.root, 'default', secret, item), 'utf8');
const caFile = () => path.join(store.root, 'kube-system', 'internal-ca', 'ca.crt');
const caPem = () => readFileSync(caFile(), 'utf8');
const bootstrap = (listener: string) => `127.0.0.1:${runtime.port(listener)}`;
/** TLS options of an Empire client: trusts the internal CA, connects from `localAddress`, shows `certificate` if given. */
const clientTls = (o: { localAddress?: string; certificate?: string }): KafkajsOptions => ({
  ssl: { ca: [caPem()], ...(o.certificate === undefined ? {} : { cert: pem(o.certificate, 'tls.crt'), key: pem(o.certificate, 'tls.key') }) },
  ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }),
});
const client = (listener: string, clientId: string, options: KafkajsOptions) => kafkajsClient(bootstrap(listener), clientId, options);

before(async () => {
  store = await tempStoreWithCa();
  const issue = (name: string, names: string[], uris: string[] = []) =>
    issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name }, names, uris, client: uris.length > 0 });
  await issue('kafka-proxy', ['127.0.0.1', 'localhost']);
  await issue('kafka-broker', ['127.0.0.1', 'localhost']);
  await issue('hq-client', [], ['spiffe://empire.local/empire-hq']);
  await issue('outpost-client', [], ['spiffe://empire.local/outpost-8888']);
  await createCa({ store: store.root, secret: { namespace: 'kube-system', name: 'other-ca' }, commonName: 'Some other CA' });

  plainBroker = await startDemoBroker({ topics: EMPIRE_TOPICS });
  // Reached as localhost, advertised as 127.0.0.1: clients are sent to a per-broker listener, which is TLS too.
  tlsBroker = await startDemoBroker({ topics: EMPIRE_TOPICS, advertisedHost: '127.0.0.1', tls: { cert: pem('kafka-broker', 'tls.crt'), key: pem('kafka-broker', 'tls.key') } });
  const listener = (name: string, to: string, port: number, upstream: string, tls: string) =>
    `- {name: ${name}, listen: "127.0.0.1:0", protocol: kafka, to: ${to}, upstream: "${upstream}", port: ${port}, tls: ${tls}}`;
  runtime = await startRuntime({
    certs: store.root,
    policies: { 'empire.yaml': EMPIRE_POLICY, 'tls-broker.yaml': empireTlsPolicy('internal-ca') },
    endpoints: `
- {name: kafka-broker, labels: {app: kafka}, addresses: [${EMPIRE.broker}]}
- {name: kafka-tls, labels: {app: kafka-tls}, addresses: [127.0.0.77]}
- {name: empire-hq, labels: {app: empire-hq}, addresses: [${EMPIRE.hq}], identities: ["spiffe://empire.local/empire-hq"]}
- {name: empire-outpost-8888, labels: {app: empire-outpost, outpostid: "8888"}, addresses: [${EMPIRE.outpost}], identities: ["spiffe://empire.local/outpost-8888"]}`,
    listeners: [
      listener('kafka-tls-front', 'kafka-broker', 9092, `127.0.0.1:${plainBroker.port}`, '{secret: kafka-proxy}'),
      listener('kafka-tls-both', 'kafka-tls', 9093, `localhost:${tlsBroker.port}`, '{secret: kafka-proxy, clientCA: kube-system/internal-ca, clientCertificates: require}'),
    ].join('\n'),
  });
});

after(async () => {
  await runtime?.close();
  await plainBroker?.close();
  await tlsBroker?.close();
  store?.cleanup();
});

const kafkaFlows = async (listener: string) => (await runtime.flows()).map((r) => r.flow).filter((f) => f.Type === 'L7' && f.l7?.kafka && f.portcullis?.listener === listener);

describe('kafka listener with tls: clients speak TLS, policy applies to what they send', () => {
  it('hq (by address) produces to both topics over TLS', async () => {
    const hq = client('kafka-tls-front', 'empire-hq', clientTls({ localAddress: EMPIRE.hq }));
    await kafkajsProduce(hq, PLANS, ['plans over TLS']);
    await kafkajsProduce(hq, ANNOUNCE, ['announcement over TLS']);
    const flows = await kafkaFlows('kafka-tls-front');
    const produced = flows.filter((f) => f.l7.type === 'REQUEST' && f.l7.kafka.api_key === 'produce');
    assert.deepEqual(produced.map((f) => [f.l7.kafka.topic, f.verdict]).sort(), [[PLANS, 'FORWARDED'], [ANNOUNCE, 'FORWARDED']]);
    assert.ok(produced.every((f) => f.source.pod_name === 'empire-hq'));
  });

  it('an outpost (by address) consumes announcements in a group, and is refused the plans with TOPIC_AUTHORIZATION_FAILED', async () => {
    const outpost = () => client('kafka-tls-front', 'empire-outpost', clientTls({ localAddress: EMPIRE.outpost }));
    assert.deepEqual(await kafkajsConsume(outpost(), ANNOUNCE, 'outposts-tls', 1), ['announcement over TLS']);
    await assert.rejects(kafkajsProduce(outpost(), ANNOUNCE, ['forged']), /not authorized|TOPIC_AUTHORIZATION_FAILED/i);
    const denied = (await kafkaFlows('kafka-tls-front')).filter((f) => f.verdict === 'DROPPED');
    assert.ok(denied.some((f) => f.l7.kafka.api_key === 'produce' && f.l7.kafka.topic === ANNOUNCE && f.source.pod_name === 'empire-outpost-8888'));
  });

  it('a plaintext Kafka client is reset before a byte is forwarded, and the drop is recorded', async () => {
    const socket = connect({ host: '127.0.0.1', port: runtime.port('kafka-tls-front'), localAddress: EMPIRE.hq });
    // ApiVersions v0, correlation id 1, client id "plain": a Kafka frame, not a ClientHello.
    const body = Buffer.concat([Buffer.from('0012000000000001', 'hex'), Buffer.from([0, 5]), Buffer.from('plain')]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    socket.write(Buffer.concat([size, body]));
    const closed = await new Promise<{ bytes: number; error?: string }>((resolve) => {
      let bytes = 0;
      socket.on('data', (d: Buffer) => (bytes += d.length));
      socket.on('error', (e: NodeJS.ErrnoException) => resolve({ bytes, error: e.code ?? e.message }));
      socket.on('close', () => resolve({ bytes }));
    });
    assert.equal(closed.bytes, 0);
    const drops = await runtime.waitForFlows((f) => f.Type === 'L3_L4' && f.verdict === 'DROPPED' && f.portcullis.listener === 'kafka-tls-front');
    assert.match(drops.at(-1)?.Summary ?? '', /TLS ClientHello/);
  });
});

describe('kafka listener with client certificates and TLS to the broker (originatingTLS)', () => {
  it('the hq certificate is empire-hq, whatever the address: kafkajs produces through the per-broker listener to the TLS broker', async () => {
    const hq = client('kafka-tls-both', 'empire-hq', clientTls({ certificate: 'hq-client' }));
    await kafkajsProduce(hq, PLANS, ['plans, TLS both ways']);
    const produced = (await kafkaFlows('kafka-tls-both')).filter((f) => f.l7.type === 'REQUEST' && f.l7.kafka.api_key === 'produce');
    assert.equal(produced.at(-1)?.source.pod_name, 'empire-hq');
    assert.equal(produced.at(-1)?.verdict, 'FORWARDED');
  });

  it('kcat, which cannot bind a source address, gets its identity from its certificate: outpost consumes, hq produces', async () => {
    const ssl = (certificate: string) => [
      '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${caFile()}`,
      '-X', `ssl.certificate.location=${path.join(store.root, 'default', certificate, 'tls.crt')}`,
      '-X', `ssl.key.location=${path.join(store.root, 'default', certificate, 'tls.key')}`,
    ];
    // The broker advertises 127.0.0.1, the listener reaches it as localhost: Metadata names a per-broker listener of the proxy.
    const listed = await runKcat(bootstrap('kafka-tls-both'), [...ssl('hq-client'), '-L', '-t', ANNOUNCE], { clientId: 'empire-hq' });
    assert.equal(listed.code, 0, listed.stderr);
    const advertised = Number(/broker 1 at 127\.0\.0\.1:(\d+)/.exec(listed.stdout)?.[1]);
    assert.ok(advertised > 0 && advertised !== runtime.port('kafka-tls-both') && advertised !== tlsBroker.port, listed.stdout);
    const produced = await runKcat(bootstrap('kafka-tls-both'), [...ssl('hq-client'), '-P', '-t', ANNOUNCE], { input: 'kcat over TLS\n', clientId: 'empire-hq' });
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await runKcat(bootstrap('kafka-tls-both'), [...ssl('outpost-client'), '-C', '-t', ANNOUNCE, '-o', 'beginning', '-e', '-q'], { clientId: 'empire-outpost' });
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), ['kcat over TLS']);
    const plans = await runKcat(bootstrap('kafka-tls-both'), [...ssl('outpost-client'), '-C', '-t', PLANS, '-o', 'beginning', '-e', '-q'], { clientId: 'empire-outpost' });
    assert.notEqual(plans.code, 0);
    assert.match(plans.stderr, /not authorized|Topic authorization failed|TOPIC_AUTHORIZATION_FAILED/i);
  });

  it('the outpost certificate may not produce announcements: the client reports the authorization error', async () => {
    const outpost = client('kafka-tls-both', 'empire-outpost', clientTls({ certificate: 'outpost-client' }));
    await assert.rejects(kafkajsProduce(outpost, ANNOUNCE, ['forged']), /not authorized|TOPIC_AUTHORIZATION_FAILED/i);
  });

  it('without a client certificate the handshake fails and the failure is recorded', async () => {
    const anonymous = client('kafka-tls-both', 'anonymous', clientTls({}));
    await assert.rejects(kafkajsProduce(anonymous, ANNOUNCE, ['x']));
    const errors = await runtime.waitForFlows((f) => f.Type === 'L3_L4' && f.verdict === 'ERROR' && f.portcullis.listener === 'kafka-tls-both');
    assert.match(errors.at(-1)?.Summary ?? '', /TLS termination with secret default\/kafka-proxy failed/);
  });

  it('a broker certificate the originatingTLS CA did not sign: the client connection is closed with an ERROR flow, nothing reaches the broker', async () => {
    runtime.setPolicy('tls-broker.yaml', empireTlsPolicy('other-ca'));
    try {
      const hq = client('kafka-tls-both', 'empire-hq', clientTls({ certificate: 'hq-client' }));
      await assert.rejects(kafkajsProduce(hq, PLANS, ['must not arrive']));
      const [refused] = await runtime.waitForFlows((f) => f.verdict === 'ERROR' && f.Type === 'L3_L4' && /^broker [^:]+:\d+: .*certificate/.test(f.portcullis?.reason ?? ''));
      assert.ok(refused, 'an ERROR flow names the broker that failed verification');
      assert.equal(refused.source.pod_name, 'empire-hq');
    } finally {
      runtime.setPolicy('tls-broker.yaml', empireTlsPolicy('internal-ca'));
    }
    // Read straight from the broker: only what was produced while the proxy trusted it.
    const direct = await runKcat(`127.0.0.1:${tlsBroker.port}`, ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${caFile()}`, '-C', '-t', PLANS, '-o', 'beginning', '-e', '-q']);
    assert.equal(direct.code, 0, direct.stderr);
    assert.deepEqual(direct.stdout.trim().split('\n'), ['plans, TLS both ways']);
  });
});
