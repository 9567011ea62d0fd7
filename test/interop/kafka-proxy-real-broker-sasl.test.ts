// SASL through Portcullis in front of a real Apache Kafka broker's SASL_PLAINTEXT listener (PLAIN): the broker
// authenticates, Portcullis enforces policy by source as ever. SaslHandshake and SaslAuthenticate are in no Cilium
// role, so the policy names them with `apiKey`; a source whose rules leave them out cannot log in at all. A second
// listener terminates TLS: clients speak SASL_SSL to Portcullis, which speaks SASL_PLAINTEXT to the broker. A third
// originates it: clients speak SASL_PLAINTEXT to Portcullis, which speaks SASL_SSL to the broker (`originatingTLS`).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { runJavaClient, startRealKafka, type JavaClientOutcome, type RealKafka } from '../helpers/kafka-broker-real.js';
import { kafkajsClient, kafkajsConsume, kafkajsProduce, runKcat } from '../helpers/kafka-clients.js';
import { ANNOUNCE, PLANS } from '../helpers/kafka-proxy-fixture.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const TIMEOUT_MS = 20_000;
const USERS = { 'empire-hq': 'hq-secret', outpost: 'outpost-secret' };
const HQ = '127.0.0.91';
const OUTPOST = '127.0.0.92';
/** app=empire-probe: may consume announcements, but its rules do not name the SASL APIs. */
const PROBE = '127.0.0.93';
const SASL_RULES = `          - {apiKey: saslhandshake}\n          - {apiKey: saslauthenticate}\n`;

/** A source's rules on a broker port; 9095 is the broker's SASL_SSL listener, reached with `originatingTLS`. */
const ingress = (app: string, port: 9094 | 9095, rules: string) => `    - fromEndpoints: [{matchLabels: {app: ${app}}}]
      toPorts:
      - ports: [{port: "${port}", protocol: TCP}]
${port === 9095 ? '        originatingTLS: {secret: {namespace: kube-system, name: internal-ca}}\n' : ''}        rules:
          kafka:
${rules}`;
const HQ_RULES = `${SASL_RULES}          - {role: produce, topic: ${ANNOUNCE}}\n          - {role: produce, topic: ${PLANS}}\n`;
const OUTPOST_RULES = `${SASL_RULES}          - {role: consume, topic: ${ANNOUNCE}}\n`;

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: kafka-sasl-broker}
specs:
  - endpointSelector: {matchLabels: {app: kafka-sasl}}
    ingress:
${([9094, 9095] as const).map((port) => ingress('empire-hq', port, HQ_RULES) + ingress('empire-outpost', port, OUTPOST_RULES)).join('')}${ingress('empire-probe', 9094, `          - {role: consume, topic: ${ANNOUNCE}}\n`)}`;

const ofType = (outcomes: JavaClientOutcome[], type: JavaClientOutcome['type']) => outcomes.filter((o) => o.type === type);

describe('Portcullis in front of a real Kafka broker’s SASL listeners', { timeout: 300_000 }, () => {
  let store: TempStore;
  let kafka: RealKafka;
  let runtime: Runtime;
  let bootstrap: string;
  const java = (command: string, from: string, user: string, password: string, args: string[]) =>
    runJavaClient([command, '--bootstrap', bootstrap, '--timeout-ms', String(TIMEOUT_MS), '--local-address', from, '--sasl-user', user, '--sasl-password', password, ...args]);
  /** The SASL requests of one source endpoint (to one broker port, when given), as "api_key VERDICT". */
  const saslFlows = async (endpoint: string, port?: number) =>
    (await runtime.flows())
      .map((r) => r.flow)
      .filter((f) => f.l7?.type === 'REQUEST' && /^sasl/.test(f.l7.kafka?.api_key ?? '') && f.source?.pod_name === endpoint)
      .filter((f) => port === undefined || f.l4?.TCP?.destination_port === port)
      .map((f) => `${f.l7.kafka.api_key} ${f.verdict}`);

  before(async () => {
    store = await tempStoreWithCa();
    for (const name of ['kafka-proxy', 'kafka-broker']) {
      await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name }, names: ['127.0.0.1'], uris: [], client: false });
    }
    const broker = (item: string) => join(store.root, 'default', 'kafka-broker', item);
    kafka = await startRealKafka({ topics: [ANNOUNCE, PLANS], sasl: { users: USERS }, tls: { certFile: broker('tls.crt'), keyFile: broker('tls.key') } });
    runtime = await startRuntime({
      certs: store.root,
      policies: { 'kafka-sasl.yaml': POLICY },
      endpoints: `
- {name: kafka-sasl, labels: {app: kafka-sasl}, addresses: [127.0.0.90]}
- {name: empire-hq, labels: {app: empire-hq}, addresses: [${HQ}]}
- {name: empire-outpost, labels: {app: empire-outpost, outpostid: "8888"}, addresses: [${OUTPOST}, 127.0.0.1]}
- {name: empire-probe, labels: {app: empire-probe}, addresses: [${PROBE}]}`,
      listeners: `- {name: kafka-sasl, listen: "127.0.0.1:0", protocol: kafka, to: kafka-sasl, upstream: "127.0.0.1:${kafka.saslPort}", port: 9094}
- {name: kafka-sasl-tls, listen: "127.0.0.1:0", protocol: kafka, to: kafka-sasl, upstream: "127.0.0.1:${kafka.saslPort}", port: 9094, tls: {secret: kafka-proxy}}
- {name: kafka-sasl-ssl-broker, listen: "127.0.0.1:0", protocol: kafka, to: kafka-sasl, upstream: "127.0.0.1:${kafka.saslSslPort}", port: 9095}`,
    });
    bootstrap = `127.0.0.1:${runtime.port('kafka-sasl')}`;
  });

  after(async () => {
    await runtime?.close();
    await kafka?.stop();
    store?.cleanup();
  });

  test('Java client: hq logs in and produces, an outpost logs in and consumes in a group', async () => {
    const produced = await java('produce', HQ, 'empire-hq', USERS['empire-hq'], ['--client-id', 'empire-hq', '--topic', ANNOUNCE, '--count', '3', '--prefix', 'sasl']);
    assert.equal(produced.at(-1)?.['ok'], true, JSON.stringify(produced));
    assert.equal(ofType(produced, 'produced').length, 3);
    const consumed = await java('consume', OUTPOST, 'outpost', USERS.outpost, ['--client-id', 'empire-outpost', '--topic', ANNOUNCE, '--group', 'outposts-sasl', '--count', '3']);
    assert.equal(consumed.at(-1)?.['ok'], true, JSON.stringify(consumed));
    assert.deepEqual(ofType(consumed, 'consumed').map((c) => c['value']), ['sasl-0', 'sasl-1', 'sasl-2']);
    const hq = await saslFlows('empire-hq');
    assert.ok(hq.includes('saslhandshake FORWARDED') && hq.includes('saslauthenticate FORWARDED'), JSON.stringify(hq));
  });

  test('Java client: a wrong password gets the broker’s own SaslAuthenticationException through the proxy', async () => {
    const out = await java('produce', HQ, 'empire-hq', 'not-the-password', ['--topic', ANNOUNCE, '--count', '1']);
    const [failed] = ofType(out, 'error');
    assert.equal(failed?.['exception'], 'SaslAuthenticationException', JSON.stringify(out));
    assert.match(String(failed?.['message']), /Invalid username or password/);
  });

  test('Java client: policy still decides after login — an outpost may not produce, nor read the plans', async () => {
    const produce = await java('produce', OUTPOST, 'outpost', USERS.outpost, ['--topic', ANNOUNCE, '--count', '1']);
    const [denied] = ofType(produce, 'error');
    assert.deepEqual([denied?.['exception'], denied?.['unauthorizedTopics']], ['TopicAuthorizationException', [ANNOUNCE]], JSON.stringify(produce));
    const plans = await java('consume', OUTPOST, 'outpost', USERS.outpost, ['--topic', PLANS, '--group', 'outposts-sasl']);
    const [refused] = ofType(plans, 'error');
    assert.deepEqual([refused?.['exception'], refused?.['unauthorizedTopics']], ['TopicAuthorizationException', [PLANS]], JSON.stringify(plans));
  });

  test('Java client: rules without the SASL APIs refuse the handshake, and the client reports an authentication error', async () => {
    const out = await java('consume', PROBE, 'outpost', USERS.outpost, ['--topic', ANNOUNCE, '--count', '1']);
    const [failed] = ofType(out, 'error');
    assert.equal(failed?.['exception'], 'IllegalSaslStateException', JSON.stringify(out)); // an AuthenticationException
    assert.match(String(failed?.['message']), /CLUSTER_AUTHORIZATION_FAILED/);
    assert.deepEqual([...new Set(await saslFlows('empire-probe'))], ['saslhandshake DROPPED']);
  });

  /** Through `listener`, hq logs in and produces two plans; an outpost, logged in the same way, is refused them. */
  const hqProducesOutpostRefused = async (listener: string, prefix: string, clientArgs: string[] = []) => {
    const produce = (from: string, user: keyof typeof USERS, args: string[]) =>
      runJavaClient([
        'produce', '--bootstrap', `127.0.0.1:${runtime.port(listener)}`, '--timeout-ms', String(TIMEOUT_MS), '--local-address', from,
        '--sasl-user', user, '--sasl-password', USERS[user], ...clientArgs, ...args,
      ]);
    const produced = await produce(HQ, 'empire-hq', ['--client-id', 'empire-hq', '--topic', PLANS, '--count', '2', '--prefix', prefix]);
    assert.equal(produced.at(-1)?.['ok'], true, JSON.stringify(produced));
    assert.equal(ofType(produced, 'produced').length, 2);
    const denied = await produce(OUTPOST, 'outpost', ['--topic', PLANS, '--count', '1']);
    const [refused] = ofType(denied, 'error');
    assert.deepEqual([refused?.['exception'], refused?.['unauthorizedTopics']], ['TopicAuthorizationException', [PLANS]], JSON.stringify(denied));
  };

  test('Java client over SASL_SSL to a listener that terminates TLS: hq logs in and produces, policy still refuses an outpost', async () => {
    await hqProducesOutpostRefused('kafka-sasl-tls', 'sasl-ssl', ['--tls-ca', join(store.root, 'kube-system', 'internal-ca', 'ca.crt')]);
  });

  test('Java client to a broker’s SASL_SSL listener, Portcullis originating TLS: hq logs in and produces, policy still refuses an outpost', async () => {
    await hqProducesOutpostRefused('kafka-sasl-ssl-broker', 'to-sasl-ssl');
    // The login went to the SASL_SSL listener, which accepts nothing but TLS.
    const hq = await saslFlows('empire-hq', 9095);
    assert.ok(hq.includes('saslhandshake FORWARDED') && hq.includes('saslauthenticate FORWARDED'), JSON.stringify(hq));
  });

  test('kafkajs logs in with PLAIN through the proxy: hq produces, an outpost consumes in a group', async () => {
    const hq = kafkajsClient(bootstrap, 'empire-hq', { sasl: { username: 'empire-hq', password: USERS['empire-hq'] }, localAddress: HQ });
    await kafkajsProduce(hq, ANNOUNCE, ['kafkajs-sasl']);
    const outpost = kafkajsClient(bootstrap, 'empire-outpost', { sasl: { username: 'outpost', password: USERS.outpost }, localAddress: OUTPOST });
    const values = await kafkajsConsume(outpost, ANNOUNCE, 'outposts-sasl-kafkajs', 4);
    assert.deepEqual(values, ['sasl-0', 'sasl-1', 'sasl-2', 'kafkajs-sasl']);
  });

  test('kcat (librdkafka) logs in with PLAIN through the proxy and reads the announcements', async () => {
    // kcat cannot choose its source address: 127.0.0.1 is an outpost in this test's endpoints.
    const sasl = ['-X', 'security.protocol=sasl_plaintext', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=outpost', '-X', `sasl.password=${USERS.outpost}`];
    const consumed = await runKcat(bootstrap, [...sasl, '-C', '-t', ANNOUNCE, '-o', 'beginning', '-e', '-q', '-f', '%s\\n'], { clientId: 'empire-outpost' });
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), ['sasl-0', 'sasl-1', 'sasl-2', 'kafkajs-sasl']);
  });
});
