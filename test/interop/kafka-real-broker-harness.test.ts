// Proves the real-Kafka harness before the proxy sits in front of it: a real Apache Kafka broker with the demo
// topics, and the three interop clients (the Java reference client, kafkajs, kcat) producing and consuming
// directly against it, each reading what the others wrote. The steps share one broker and run in order.
// A second broker runs Kafka's own authorizer, so the Java client's error lines are checked against real denials:
// the outcomes the proxy's denials will later be compared with.
// Two more serve TLS (certificates from our own cert tool): the Java client over SSL, with and without client auth.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { createCa, issueCertificate } from '../../src/secrets/certs-tool.js';
import { runJavaClient, startRealKafka, type JavaClientOutcome, type JavaClientTls, type KafkaAcl, type RealKafka } from '../helpers/kafka-broker-real.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

const ANNOUNCE = 'empire-announce';
const PLANS = 'deathstar-plans';
const values = (prefix: string, n = 10) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const ofType = (outcomes: JavaClientOutcome[], type: JavaClientOutcome['type']) => outcomes.filter((o) => o.type === type);
const summaryOf = (outcomes: JavaClientOutcome[]) => outcomes.at(-1)!;

function kcat(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kcat', args, { timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      err ? reject(new Error(`kcat ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
    child.stdin!.end(input);
  });
}

async function kafkajsConsume(broker: string, topic: string, groupId: string, count: number): Promise<string[]> {
  const consumer = new Kafka({ clientId: 'harness-kafkajs', brokers: [broker], logLevel: logLevel.ERROR }).consumer({ groupId, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kafkajs consumed ${got.length}/${count} of ${topic} in 30 s`)), 30_000);
      consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
      consumer
        .run({
          eachMessage: async ({ message }) => {
            got.push(message.value!.toString());
            if (got.length === count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return got;
  } finally {
    await consumer.disconnect();
  }
}

describe('real Kafka broker harness', { timeout: 300_000 }, () => {
  let kafka: RealKafka;

  before(async () => {
    kafka = await startRealKafka({ topics: [ANNOUNCE, PLANS] });
  });
  after(() => kafka?.stop());

  test('the topics exist and nothing else is auto-created', async () => {
    const listed = await runJavaClient(['topics', '--bootstrap', kafka.bootstrap]);
    const names = ofType(listed, 'topic').map((t) => t['name']);
    assert.ok(names.includes(ANNOUNCE) && names.includes(PLANS), JSON.stringify(listed));

    // auto.create.topics.enable=false: the producer never gets metadata for an unknown topic.
    const missing = await runJavaClient(['produce', '--bootstrap', kafka.bootstrap, '--topic', 'no-such-topic', '--timeout-ms', '3000']);
    const [error] = ofType(missing, 'error');
    assert.equal(error?.['exception'], 'TimeoutException', JSON.stringify(missing));
    assert.equal(error?.['class'], 'org.apache.kafka.common.errors.TimeoutException');
    assert.match(String(error?.['message']), /no-such-topic not present in metadata/);
    assert.deepEqual(summaryOf(missing), { ...summaryOf(missing), ok: false, count: 0, failed: 1 });
  });

  test('Java client: produce 10, consume them back with a consumer group', async () => {
    const produced = await runJavaClient(['produce', '--bootstrap', kafka.bootstrap, '--client-id', 'empire-hq', '--topic', ANNOUNCE, '--count', '10', '--prefix', 'java']);
    assert.equal(summaryOf(produced)['ok'], true, JSON.stringify(produced));
    assert.deepEqual(ofType(produced, 'produced').map((p) => p['offset']), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const consumed = await runJavaClient(['consume', '--bootstrap', kafka.bootstrap, '--client-id', 'empire-outpost', '--topic', ANNOUNCE, '--group', 'java-outposts', '--count', '10']);
    assert.equal(summaryOf(consumed)['ok'], true, JSON.stringify(consumed));
    assert.deepEqual(ofType(consumed, 'consumed').map((c) => c['value']), values('java'));
    assert.deepEqual(ofType(consumed, 'consumed').map((c) => c['key']), values('java').map((_, i) => String(i)));

    // The group committed its offsets: after one more record, the same group reads only that one.
    const late = await runJavaClient(['produce', '--bootstrap', kafka.bootstrap, '--topic', ANNOUNCE, '--prefix', 'java-late']);
    assert.equal(summaryOf(late)['ok'], true, JSON.stringify(late));
    const resumed = await runJavaClient(['consume', '--bootstrap', kafka.bootstrap, '--topic', ANNOUNCE, '--group', 'java-outposts', '--count', '1']);
    assert.deepEqual(ofType(resumed, 'consumed').map((c) => [c['offset'], c['value']]), [[10, 'java-late-0']]);
  });

  test('kafkajs: produce 10, consume them back with a consumer group', async () => {
    const producer = new Kafka({ clientId: 'empire-hq', brokers: [kafka.bootstrap], logLevel: logLevel.ERROR }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      const [meta] = await producer.send({ topic: PLANS, messages: values('kafkajs').map((value) => ({ value })) });
      assert.equal(meta?.errorCode, 0);
      assert.equal(meta?.baseOffset, '0');
    } finally {
      await producer.disconnect();
    }
    assert.deepEqual(await kafkajsConsume(kafka.bootstrap, PLANS, 'kafkajs-backups', 10), values('kafkajs'));
  });

  test('kcat: produce 10, a balanced consumer group reads them after the kafkajs ones', async () => {
    await kcat(['-b', kafka.bootstrap, '-X', 'client.id=empire-hq', '-P', '-t', PLANS], values('kcat').join('\n') + '\n');
    const out = await kcat([
      '-b', kafka.bootstrap, '-X', 'client.id=empire-backup', '-X', 'auto.offset.reset=earliest',
      '-G', 'kcat-backups', PLANS, '-e', '-q', '-f', '%o %s\\n',
    ]);
    const lines = out.trim().split('\n');
    assert.deepEqual(lines, [...values('kafkajs'), ...values('kcat')].map((v, i) => `${i} ${v}`));
  });

  test('each client reads what another wrote', async () => {
    // Java without a group (assign + seek, no group APIs) reads kafkajs' and kcat's records.
    const java = await runJavaClient(['consume', '--bootstrap', kafka.bootstrap, '--topic', PLANS, '--count', '20']);
    assert.equal(summaryOf(java)['ok'], true, JSON.stringify(summaryOf(java)));
    assert.deepEqual(ofType(java, 'consumed').map((c) => c['value']), [...values('kafkajs'), ...values('kcat')]);
    // kafkajs and kcat read the Java client's records (keys are the record's index in its run).
    const javaRecords = [...values('java'), 'java-late-0'];
    assert.deepEqual(await kafkajsConsume(kafka.bootstrap, ANNOUNCE, 'kafkajs-outposts', 11), javaRecords);
    const out = await kcat(['-b', kafka.bootstrap, '-C', '-t', ANNOUNCE, '-o', 'beginning', '-e', '-q', '-f', '%k=%s\\n']);
    assert.deepEqual(out.trim().split('\n'), javaRecords.map((v) => `${v.split('-').at(-1)}=${v}`));
  });

  test('--local-address gives the Java client its own source address', async () => {
    // A TCP relay in front of the broker records where the client's bootstrap connection comes from.
    const peers: string[] = [];
    const relay = createServer((socket) => {
      peers.push(socket.remoteAddress!);
      const upstream = connect({ host: kafka.host, port: kafka.port });
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const bootstrap = `127.0.0.1:${(relay.address() as AddressInfo).port}`;
      const listed = await runJavaClient(['topics', '--bootstrap', bootstrap, '--local-address', '127.0.0.7']);
      assert.equal(summaryOf(listed)['ok'], true, JSON.stringify(listed));
      assert.ok(peers.length > 0 && peers.every((p) => p === '127.0.0.7'), `relay saw ${peers.join(', ')}`);
    } finally {
      relay.close();
    }
  });
});

describe('real Kafka broker with ACLs: the Java client reports Kafka\'s own authorization errors', { timeout: 300_000 }, () => {
  const HQ = '127.0.0.8';
  const OUTPOST = '127.0.0.9';
  const acls: KafkaAcl[] = [
    { permission: 'allow', host: '*', operation: 'ALL', resource: 'topic', name: PLANS },
    { permission: 'deny', host: OUTPOST, operation: 'WRITE', resource: 'topic', name: PLANS },
    { permission: 'allow', host: '*', operation: 'ALL', resource: 'group', name: 'outposts' },
    { permission: 'deny', host: OUTPOST, operation: 'READ', resource: 'group', name: 'outposts' },
  ];
  let kafka: RealKafka;

  before(async () => {
    kafka = await startRealKafka({ topics: [PLANS], acls });
  });
  after(() => kafka?.stop());

  test('a producer denied WRITE gets TopicAuthorizationException naming the topic; an allowed one delivers', async () => {
    const allowed = await runJavaClient(['produce', '--bootstrap', kafka.bootstrap, '--local-address', HQ, '--topic', PLANS, '--count', '3', '--prefix', 'hq']);
    assert.equal(summaryOf(allowed)['ok'], true, JSON.stringify(allowed));

    const denied = await runJavaClient(['produce', '--bootstrap', kafka.bootstrap, '--local-address', OUTPOST, '--topic', PLANS, '--count', '3']);
    assert.deepEqual(ofType(denied, 'produced'), []);
    const [error, ...more] = ofType(denied, 'error');
    assert.deepEqual(more, [], 'one distinct error for the three records');
    assert.deepEqual(error, {
      type: 'error',
      op: 'produce',
      exception: 'TopicAuthorizationException',
      class: 'org.apache.kafka.common.errors.TopicAuthorizationException',
      message: `Not authorized to access topics: [${PLANS}]`,
      retriable: false,
      unauthorizedTopics: [PLANS],
      records: 3,
    });
    assert.deepEqual(summaryOf(denied), { ...summaryOf(denied), ok: false, count: 0, failed: 3 });
  });

  test('a consumer denied READ on its group gets GroupAuthorizationException naming the group', async () => {
    const denied = await runJavaClient(['consume', '--bootstrap', kafka.bootstrap, '--local-address', OUTPOST, '--topic', PLANS, '--group', 'outposts', '--count', '3']);
    const [error] = ofType(denied, 'error');
    assert.equal(error?.['exception'], 'GroupAuthorizationException', JSON.stringify(denied));
    assert.equal(error?.['class'], 'org.apache.kafka.common.errors.GroupAuthorizationException');
    assert.equal(error?.['groupId'], 'outposts');
    assert.deepEqual(summaryOf(denied), { ...summaryOf(denied), ok: false, count: 0, timedOut: false });

    const allowed = await runJavaClient(['consume', '--bootstrap', kafka.bootstrap, '--local-address', HQ, '--topic', PLANS, '--group', 'outposts', '--count', '3']);
    assert.deepEqual(ofType(allowed, 'consumed').map((c) => c['value']), values('hq', 3));
  });
});

/** A CA, the broker's server certificate (IP SAN 127.0.0.1) and a client certificate, all in a temp store. */
async function kafkaCerts(): Promise<{ store: TempStore; caFile: string; server: { certFile: string; keyFile: string }; client: { certFile: string; keyFile: string } }> {
  const store = await tempStoreWithCa();
  const files = (dir: string) => ({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') });
  const server = await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'kafka-broker' }, names: ['127.0.0.1', 'localhost'] });
  const client = await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'empire-hq' }, names: ['empire-hq'], client: true });
  return { store, caFile: join(server.dir, 'ca.crt'), server: files(server.dir), client: files(client.dir) };
}

/** The Java client's view of a failed TLS handshake: Kafka wraps the JDK's SSLHandshakeException. */
function assertHandshakeFailed(outcomes: JavaClientOutcome[], timeoutMs: number): void {
  const [error] = ofType(outcomes, 'error');
  assert.equal(error?.['exception'], 'SslAuthenticationException', JSON.stringify(outcomes));
  assert.equal(error?.['class'], 'org.apache.kafka.common.errors.SslAuthenticationException');
  assert.equal(error?.['cause'], 'javax.net.ssl.SSLHandshakeException');
  assert.equal(summaryOf(outcomes)['ok'], false);
  // A failed handshake is fatal, not retried until --timeout-ms.
  assert.ok(Number(summaryOf(outcomes)['elapsedMs']) < timeoutMs, JSON.stringify(summaryOf(outcomes)));
}

describe('real Kafka broker with an SSL listener: the Java client over TLS', { timeout: 300_000 }, () => {
  let certs: Awaited<ReturnType<typeof kafkaCerts>>;
  let kafka: RealKafka;
  let bootstrap: string;

  before(async () => {
    certs = await kafkaCerts();
    kafka = await startRealKafka({ topics: [PLANS], tls: certs.server });
    bootstrap = `${kafka.host}:${kafka.tlsPort}`;
  });
  after(async () => {
    await kafka?.stop();
    certs?.store.cleanup();
  });

  test('produce and consume with a consumer group over SSL, trusting the CA (hostname verification on)', async () => {
    const tls: JavaClientTls = { caFile: certs.caFile };
    const produced = await runJavaClient(['produce', '--bootstrap', bootstrap, '--topic', PLANS, '--count', '5', '--prefix', 'tls'], { tls });
    assert.equal(summaryOf(produced)['ok'], true, JSON.stringify(produced));
    assert.deepEqual(ofType(produced, 'produced').map((p) => p['offset']), [0, 1, 2, 3, 4]);

    const consumed = await runJavaClient(['consume', '--bootstrap', bootstrap, '--topic', PLANS, '--group', 'tls-readers', '--count', '5'], { tls });
    assert.equal(summaryOf(consumed)['ok'], true, JSON.stringify(consumed));
    assert.deepEqual(ofType(consumed, 'consumed').map((c) => c['value']), values('tls', 5));
  });

  test('a client trusting another CA fails the handshake with an error line, well within --timeout-ms', async () => {
    const other = { namespace: 'default', name: 'other-ca' };
    await createCa({ store: certs.store.root, secret: other, commonName: 'Some other CA' });
    const timeoutMs = 20_000;
    const outcomes = await runJavaClient(['topics', '--bootstrap', bootstrap, '--timeout-ms', String(timeoutMs)], {
      tls: { caFile: join(certs.store.root, other.namespace, other.name, 'ca.crt') },
    });
    assertHandshakeFailed(outcomes, timeoutMs);
    assert.deepEqual(ofType(outcomes, 'topic'), []);
  });
});

describe('real Kafka broker requiring client certificates', { timeout: 300_000 }, () => {
  let certs: Awaited<ReturnType<typeof kafkaCerts>>;
  let kafka: RealKafka;
  let bootstrap: string;

  before(async () => {
    certs = await kafkaCerts();
    kafka = await startRealKafka({ topics: [PLANS], tls: { ...certs.server, caFile: certs.caFile, clientAuth: 'required' } });
    bootstrap = `${kafka.host}:${kafka.tlsPort}`;
  });
  after(async () => {
    await kafka?.stop();
    certs?.store.cleanup();
  });

  test('a client with a certificate from the CA produces and consumes', async () => {
    const tls: JavaClientTls = { caFile: certs.caFile, ...certs.client };
    const produced = await runJavaClient(['produce', '--bootstrap', bootstrap, '--topic', PLANS, '--count', '3', '--prefix', 'mtls'], { tls });
    assert.equal(summaryOf(produced)['ok'], true, JSON.stringify(produced));
    const consumed = await runJavaClient(['consume', '--bootstrap', bootstrap, '--topic', PLANS, '--count', '3'], { tls });
    assert.deepEqual(ofType(consumed, 'consumed').map((c) => c['value']), values('mtls', 3));
  });

  test('a client without a certificate fails the handshake', async () => {
    const timeoutMs = 20_000;
    const outcomes = await runJavaClient(['produce', '--bootstrap', bootstrap, '--topic', PLANS, '--timeout-ms', String(timeoutMs)], {
      tls: { caFile: certs.caFile },
    });
    assertHandshakeFailed(outcomes, timeoutMs);
    assert.deepEqual(ofType(outcomes, 'produced'), []);
  });
});
