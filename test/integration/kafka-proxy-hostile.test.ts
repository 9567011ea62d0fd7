// Bytes that are not Kafka the proxy can read: garbage, HTTP, a real TLS handshake, negative and oversized
// frame sizes, truncated bodies, unknown API keys and versions the proxy does not offer. Each closes that
// connection with a logged reason and is counted; nothing is forwarded; everyone else keeps being served.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { pino } from 'pino';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, encodeRequest } from '../../src/protocols/kafka/codec/index.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { ANNOUNCE, EMPIRE, EMPIRE_POLICY, startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { fetchBody, logEndOffset, metadataBody, produceBody, rows } from '../helpers/kafka-proxy-requests.js';
import { seededRandom } from '../helpers/kafka-random-message.js';
import { captureLog } from '../helpers/observe-log-capture.js';

const MAX_FRAME = 4096;

/** Sends `bytes` from hq's address; resolves with whatever came back once the proxy closed the connection. */
async function sendUntilClosed(port: number, bytes: Buffer): Promise<Buffer> {
  const socket: Socket = connect({ host: '127.0.0.1', port, localAddress: EMPIRE.hq });
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(bytes);
  await once(socket, 'close');
  return Buffer.concat(received);
}

function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

describe('kafka proxy: broker unreachable', { timeout: 30_000 }, () => {
  test('the client connection is closed with the reason logged and an ERROR flow; the listener keeps accepting', async () => {
    const log = captureLog();
    const dead = await new Promise<number>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: 9 }); // nothing listens on the discard port here
      s.on('error', () => resolve(9));
      s.on('connect', () => {
        s.destroy();
        resolve(-1);
      });
    });
    assert.equal(dead, 9, 'port 9 must be closed for this test');
    const proxy = await startKafkaProxy({ upstream: { host: '127.0.0.1', port: 9 }, log: pino({ level: 'info' }, log.stream) });
    try {
      for (let i = 0; i < 2; i++) {
        const c = await KafkaWireClient.connect(proxy.port, EMPIRE.hq);
        await assert.rejects(c.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE])), /connection closed/);
      }
      const reasons = log.lines().filter((l) => l.msg === 'closing Kafka connection').map((l) => String(l.reason));
      assert.equal(reasons.length, 2);
      assert.match(reasons[0]!, /broker 127\.0\.0\.1:9: connect ECONNREFUSED/);
      const errors = proxy.flows.l3l4().map((f) => [f.verdict, /^broker 127\.0\.0\.1:9: connect ECONNREFUSED/.test(f.reason ?? ''), f.source.address]);
      assert.deepEqual(errors, [['ERROR', true, EMPIRE.hq], ['ERROR', true, EMPIRE.hq]]);
    } finally {
      await proxy.close();
    }
  });
});

describe('kafka proxy: hostile and unreadable input', { timeout: 60_000 }, () => {
  let broker: DemoBroker;
  let proxy: KafkaProxy;
  const log = captureLog();
  let bystander: KafkaWireClient;

  before(async () => {
    broker = await startDemoBroker();
    proxy = await startKafkaProxy({
      upstream: { host: broker.host, port: broker.port },
      policies: [EMPIRE_POLICY],
      kafka: `maxFrameSize: ${MAX_FRAME}`,
      log: pino({ level: 'info' }, log.stream),
    });
    // Connected before any of the trouble, and used after each case: it must never notice.
    bystander = await KafkaWireClient.connect(proxy.port, EMPIRE.outpost);
  });
  after(async () => {
    bystander?.close();
    await proxy?.close();
    await broker?.close();
  });

  const reasons = () => log.lines().filter((l) => l.msg === 'closing Kafka connection').map((l) => String(l.reason));
  const bystanderStillServed = async () => {
    const r = await bystander.request(ApiKey.Metadata, 6, metadataBody([ANNOUNCE]));
    assert.equal(rows(r.topics)[0]!.errorCode, 0);
  };

  const framingCases: Array<[string, Buffer, RegExp]> = [
    ['text garbage (reads as a huge size)', Buffer.from('hello, is this the Death Star?\r\n'), /exceeds the maximum of 4096 bytes/],
    ['an HTTP request', Buffer.from('GET /topics HTTP/1.1\r\nHost: kafka\r\n\r\n'), /HTTP request received on a Kafka listener/],
    ['a negative frame size', Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0]), /negative Kafka frame size -16/],
    ['a frame larger than the configured maximum (before its body arrives)', Buffer.from([0, 0, 0x13, 0x88]), /Kafka frame size 5000 exceeds the maximum of 4096/],
  ];
  for (const [what, bytes, reason] of framingCases) {
    test(`${what}: closed with the reason logged, counted, nothing answered`, async () => {
      proxy.metrics.clear();
      const answer = await sendUntilClosed(proxy.port, bytes);
      assert.equal(answer.length, 0);
      assert.match(reasons().at(-1) ?? '', reason);
      assert.deepEqual(proxy.metrics.of('policyL7'), [['parse_errors', 'kafka']]);
      await bystanderStillServed();
    });
  }

  test('a real TLS client on the plaintext port is recognised and refused', async () => {
    const tcp = connect({ host: '127.0.0.1', port: proxy.port, localAddress: EMPIRE.hq });
    const socket = tlsConnect({ socket: tcp, rejectUnauthorized: false, servername: 'kafka.empire' });
    const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    assert.match(String(err.code ?? err.message), /ECONNRESET|EPIPE|disconnected/i);
    assert.match(reasons().at(-1) ?? '', /TLS ClientHello received on a plaintext Kafka listener/);
    await bystanderStillServed();
  });

  test('seeded random request frames never crash the proxy: each is refused, its connection closed, nothing answered', async () => {
    const random = seededRandom(4242);
    const refusedBefore = reasons().length;
    for (let i = 0; i < 40; i++) {
      const payload = Buffer.from(Array.from({ length: 8 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)));
      // Known API keys half of the time, so body parsers see the garbage too, not just the key lookup.
      if (i % 2 === 0) payload.writeInt16BE([ApiKey.Produce, ApiKey.Fetch, ApiKey.Metadata][i % 3]!, 0);
      assert.equal((await sendUntilClosed(proxy.port, frame(payload))).length, 0);
    }
    assert.equal(reasons().length - refusedBefore, 40);
    await bystanderStillServed();
  });

  test('a request whose body is cut short is refused: ERROR flow, parse error, no forwarding', async () => {
    proxy.metrics.clear();
    const before = await logEndOffset(broker.port, ANNOUNCE);
    const full = encodeRequest({ apiKey: ApiKey.Produce, apiVersion: 7, correlationId: 5, clientId: 'empire-hq' }, produceBody([ANNOUNCE]));
    const answer = await sendUntilClosed(proxy.port, frame(full.subarray(4, full.length - 10)));
    assert.equal(answer.length, 0);
    assert.match(reasons().at(-1) ?? '', /refused Kafka request/);
    const record = proxy.flows.l7('REQUEST').at(-1)!;
    assert.deepEqual([record.verdict, record.l7!.kafka!.apiKey, record.l7!.kafka!.correlationId, record.l7!.kafka!.errorCode], ['ERROR', ApiKey.Produce, 5, 42]);
    assert.deepEqual(proxy.metrics.of('policyL7'), [['parse_errors', 'kafka']]);
    assert.equal(await logEndOffset(broker.port, ANNOUNCE), before);
    await bystanderStillServed();
  });

  test('unknown API keys and versions the proxy does not offer are refused and counted as unsupported', async () => {
    proxy.metrics.clear();
    const unknownKey = Buffer.from([0x03, 0xe7, 0, 0, 0, 0, 0, 9, 0, 2, 0x68, 0x71]); // key 999 v0, corr 9, client "hq"
    assert.equal((await sendUntilClosed(proxy.port, frame(unknownKey))).length, 0);
    // Fetch v13 names topics by id: the codec reads it, but ApiVersions never offers it and policy could not check it.
    const fetch13 = encodeRequest({ apiKey: ApiKey.Fetch, apiVersion: 13, correlationId: 3, clientId: 'empire-hq' }, { ...fetchBody(ANNOUNCE, 0n), topics: [] });
    assert.equal((await sendUntilClosed(proxy.port, fetch13)).length, 0);
    assert.match(reasons().at(-1) ?? '', /API 1 version 13 is not accepted by this proxy/);
    // SaslHandshake v0 would be followed by SASL tokens outside Kafka framing: refused before it reaches the broker.
    const handshake0 = encodeRequest({ apiKey: ApiKey.SaslHandshake, apiVersion: 0, correlationId: 4, clientId: 'empire-hq' }, { mechanism: 'PLAIN' });
    assert.equal((await sendUntilClosed(proxy.port, handshake0)).length, 0);
    assert.match(reasons().at(-1) ?? '', /API 17 version 0 is not accepted by this proxy/);
    assert.deepEqual(proxy.metrics.of('kafkaUnsupported'), [[999, 0], [ApiKey.Fetch, 13], [17, 0]]);
    assert.deepEqual(proxy.metrics.of('policyL7'), [['parse_errors', 'kafka'], ['parse_errors', 'kafka'], ['parse_errors', 'kafka']]);
    await bystanderStillServed();
  });

  test('after all of it, new clients are served as before', async () => {
    const c = await KafkaWireClient.connect(proxy.port, EMPIRE.hq);
    try {
      const r = await c.request(ApiKey.Produce, 7, produceBody([ANNOUNCE]));
      assert.equal(rows(rows(r.responses)[0]!.partitionResponses)[0]!.errorCode, 0);
    } finally {
      c.close();
    }
  });
});
