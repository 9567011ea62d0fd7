// The rest of a large broker response goes from the broker's socket to the client's with splice(2) (the native
// addon built by `npm run build`): the client must get exactly the broker's bytes, in order, with the proxy's own
// answers behind them, whether it reads fast or slowly; a client or broker that goes away mid-transfer ends that
// connection only. The broker here is a raw socket server answering every Fetch with a multi-MiB response.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  ApiKey,
  decodeRequest,
  encodeRequest,
  encodeResponse,
  KafkaFrameReader,
  type KafkaStruct,
} from '../../src/protocols/kafka/codec/index.js';
import { buildResponseBody } from '../../src/protocols/kafka/proxy/deny.js';
import { zeroCopySupport } from '../../src/protocols/kafka/proxy/zero-copy.js';
import { startKafkaProxy, type KafkaProxy } from '../helpers/kafka-proxy-fixture.js';
import { fetchBody, produceBody } from '../helpers/kafka-proxy-requests.js';

const TOPIC = 'empire-announce';
const FETCH_VERSION = 11;
const PRODUCE_VERSION = 7;
/** Reads only; a produce from 127.0.0.1 is denied and answered by the proxy itself. */
const READ_ONLY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: read-only}
spec:
  endpointSelector: {matchLabels: {app: kafka}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: local}}]
    toPorts:
    - ports: [{port: "9092", protocol: TCP}]
      rules:
        kafka:
        - {role: consume, topic: ${TOPIC}}
`;

/** A broker that answers Fetch n (counting from 0) with a response carrying `sizes[n % sizes.length]` random record bytes. */
class BigFetchBroker {
  readonly sent: Buffer[] = [];
  private readonly sockets = new Set<Socket>();
  /** Set to make the broker close its connection halfway through its next response. */
  cutNext = false;
  /**
   * Set to make the broker send its next response as Kafka does a Fetch from its log: everything before the
   * record batches in one write (their length is `headBytes`), the records a moment later. Its partition then
   * carries error code 1 (OFFSET_OUT_OF_RANGE), which the proxy can only read from that head.
   */
  headFirst = false;
  headBytes = 0;

  private constructor(private readonly server: Server) {}

  static async start(sizes: readonly number[]): Promise<BigFetchBroker> {
    const server = createServer();
    const broker = new BigFetchBroker(server);
    let n = 0;
    server.on('connection', (socket) => {
      broker.sockets.add(socket);
      socket.on('close', () => broker.sockets.delete(socket));
      socket.on('error', () => {});
      const reader = new KafkaFrameReader();
      socket.on('data', (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) {
          const request = decodeRequest(frame);
          const body = buildResponseBody(request, 0);
          const partition = (body.responses as Array<{ partitions: Array<Record<string, unknown>> }>)[0]!.partitions[0]!;
          partition.highWatermark = 1_000_000n;
          partition.records = randomBytes(sizes[n++ % sizes.length]!);
          if (broker.headFirst) partition.errorCode = 1;
          const response = encodeResponse(request.header.apiKey, request.header.apiVersion, request.header.correlationId, body);
          broker.sent.push(response);
          if (broker.headFirst) {
            broker.headFirst = false;
            // The records are the response's last field (Fetch v11, one topic, one partition).
            broker.headBytes = response.length - (partition.records as Buffer).length;
            socket.write(response.subarray(0, broker.headBytes));
            setTimeout(() => socket.write(response.subarray(broker.headBytes)), 50);
          } else if (broker.cutNext) {
            broker.cutNext = false;
            socket.end(response.subarray(0, response.length >> 1));
          } else {
            socket.write(response);
          }
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return broker;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A raw client: sends request frames, collects whole response frames. */
class Client {
  readonly frames: Buffer[] = [];
  readonly closed: Promise<void>;
  private readonly reader = new KafkaFrameReader({ maxFrameSize: 64 << 20 });
  private waiters: Array<() => void> = [];
  private correlationId = 0;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.frames.push(...this.reader.push(chunk));
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number): Promise<Client> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
    return new Client(socket);
  }

  send(apiKey: number, apiVersion: number, body: KafkaStruct): number {
    const correlationId = ++this.correlationId;
    this.socket.write(encodeRequest({ apiKey, apiVersion, correlationId, clientId: 'zero-copy-test' }, body));
    return correlationId;
  }

  async responses(count: number, timeoutMs = 15_000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < count) {
      if (Date.now() > deadline) throw new Error(`${this.frames.length} of ${count} responses after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.frames.slice(0, count);
  }
}

const correlationIdOf = (frame: Buffer) => frame.readInt32BE(4);
const openFds = () => readdirSync('/proc/self/fd').length;
const splicedBytes = (proxy: KafkaProxy) => proxy.metrics.of('kafkaSpliced').reduce((n, [, bytes]) => n + Number(bytes), 0);

describe('kafka proxy: large responses spliced from socket to socket', () => {
  const MiB = 1 << 20;
  let broker: BigFetchBroker;
  const proxies: KafkaProxy[] = [];
  const clients: Client[] = [];
  const proxy = async (kafka = '') => {
    const p = await startKafkaProxy({ upstream: { host: '127.0.0.1', port: broker.port }, policies: [READ_ONLY], kafka });
    proxies.push(p);
    return p;
  };
  const client = async (p: KafkaProxy) => {
    const c = await Client.open(p.port);
    clients.push(c);
    return c;
  };

  before(async () => {
    broker = await BigFetchBroker.start([3 * MiB, 5 * MiB + 1, 200 * 1024]);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    for (const p of proxies.splice(0)) await p.close();
  });
  after(() => broker.close());

  it('the addon is built and loads (npm run build compiles it; CI installs a C compiler)', () => {
    assert.deepEqual(zeroCopySupport(), { available: true });
  });

  it('pipelined Fetches arrive byte for byte and in order, the proxy\'s denial behind them; the bulk is spliced', async () => {
    const p = await proxy();
    const c = await client(p);
    broker.sent.length = 0;
    c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    const denied = c.send(ApiKey.Produce, PRODUCE_VERSION, produceBody([TOPIC]));
    c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    const got = await c.responses(4);
    assert.deepEqual(got.map(correlationIdOf), [1, 2, 3, 4]);
    assert.deepEqual([got[0], got[1], got[3]], broker.sent);
    assert.ok(got[2]!.length < 200, 'the denied produce is answered by the proxy');
    assert.equal(correlationIdOf(got[2]!), denied);
    const total = broker.sent.reduce((n, f) => n + f.length, 0);
    const spliced = splicedBytes(p);
    // The two multi-MiB responses are spliced after their first read; the 200 KiB one may or may not be.
    assert.ok(spliced > 7 * MiB && spliced < total, `spliced ${spliced} of ${total} bytes`);
  });

  it('a Fetch whose head arrives before its records is spliced from right after the head, its error codes read from the head', async () => {
    const p = await proxy();
    const c = await client(p);
    broker.sent.length = 0;
    broker.headFirst = true;
    c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    assert.deepEqual(await c.responses(1), broker.sent);
    // Nothing after the head could change its error codes: the proxy waited for no more of it before splicing.
    assert.equal(splicedBytes(p), broker.sent[0]!.length - broker.headBytes);
    assert.deepEqual(p.metrics.of('kafkaRequest'), [['fetch', 1, 'FORWARDED']]);
  });

  it('a client that reads slowly still gets every byte: the splice waits for its socket', async () => {
    const p = await proxy();
    const c = await client(p);
    broker.sent.length = 0;
    c.socket.pause();
    for (let i = 0; i < 3; i++) c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    await new Promise((r) => setTimeout(r, 500));
    c.socket.resume();
    const got = await c.responses(3);
    assert.deepEqual(got, broker.sent);
    assert.ok(splicedBytes(p) > 0);
  });

  it('with zeroCopy: false the same exchange is copied, and identical', async () => {
    const p = await proxy('zeroCopy: false');
    const c = await client(p);
    broker.sent.length = 0;
    for (let i = 0; i < 3; i++) c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    assert.deepEqual(await c.responses(3), broker.sent);
    assert.equal(splicedBytes(p), 0);
  });

  it('a client gone mid-transfer ends its connection only; descriptors are released; the next client is served', async () => {
    const p = await proxy();
    const fdsBefore = openFds();
    const c = await client(p);
    c.socket.pause(); // the response fills the socket buffers and the splice waits on the client
    c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    await new Promise((r) => setTimeout(r, 300));
    c.socket.destroy();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(openFds() <= fdsBefore + 1, `open descriptors: ${fdsBefore} before, ${openFds()} after`);
    const next = await client(p);
    broker.sent.length = 0;
    next.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    assert.deepEqual(await next.responses(1), broker.sent);
  });

  it('a broker that closes halfway through a spliced response closes the client connection', async () => {
    const p = await proxy();
    const c = await client(p);
    broker.sent.length = 0;
    broker.cutNext = true;
    c.send(ApiKey.Fetch, FETCH_VERSION, fetchBody(TOPIC, 0n));
    await c.closed;
    assert.equal(c.frames.length, 0, 'no partial response is passed off as a whole one');
  });
});
