// A yardstick for bench/kafka: the least a Node proxy can do in front of a Kafka broker. Requests pass unread;
// of each response only the size is read, and the rest of a large one is spliced from socket to socket with
// the same addon and read buffer Portcullis uses. No policy, no rewriting: like haproxy in TCP mode it leaves
// the broker's own address in Metadata. Between it and Portcullis lies what Portcullis' own work costs; between
// it and haproxy, what Node costs.
//   node dist/bench/peers/kafka-node-relay.js <listen port> <broker host> <broker port>
import { connect, createServer, type NetConnectOpts, type Socket } from 'node:net';
import { AdaptiveReadBuffer } from '../../src/protocols/kafka/codec/read-buffer.js';
import { spliceBetween } from '../../src/protocols/kafka/proxy/zero-copy.js';

const SPLICE_MIN_BYTES = 128 * 1024;
const READ_BYTES = 32 * 1024;

function relay(client: Socket, brokerHost: string, brokerPort: number): void {
  const reads = new AdaptiveReadBuffer(READ_BYTES);
  /** Size prefix bytes of the next response seen so far, and bytes of the current response still to come. */
  const head = Buffer.alloc(4);
  let headLength = 0;
  let left = 0;
  /** The broker side stops while a splice runs or the client's socket is full. */
  let splicing = false;
  let full = false;
  const flow = () => (splicing || full ? broker.pause() : broker.resume());
  const broker = connect({
    host: brokerHost,
    port: brokerPort,
    noDelay: true,
    onread: {
      buffer: () => reads.next(client.writableLength > 0),
      callback: (n: number, buffer: Uint8Array) => {
        reads.filled(n);
        fromBroker((buffer as Buffer).subarray(0, n));
        return true;
      },
    },
  } as NetConnectOpts);
  const fromBroker = (chunk: Buffer) => {
    full = !client.write(chunk);
    for (let pos = 0; pos < chunk.length; ) {
      if (left === 0) {
        const n = Math.min(4 - headLength, chunk.length - pos);
        chunk.copy(head, headLength, pos, pos + n);
        headLength += n;
        pos += n;
        if (headLength < 4) break;
        headLength = 0;
        left = head.readInt32BE(0);
      }
      const n = Math.min(left, chunk.length - pos);
      left -= n;
      pos += n;
    }
    if (left >= SPLICE_MIN_BYTES) spliceRest();
    else flow();
  };
  const spliceRest = () => {
    const bytes = left;
    left = 0;
    splicing = true;
    flow();
    const spliced = () => {
      splicing = false;
      flow();
    };
    const start = () => {
      if (spliceBetween(broker, client, bytes, (err) => (err ? client.destroy(err) : spliced())) === undefined) spliced();
    };
    if (client.writableLength === 0) start();
    else client.write(Buffer.alloc(0), start);
  };
  client.on('drain', () => {
    full = false;
    flow();
  });
  client.setNoDelay(true);
  client.pipe(broker);
  for (const s of [client, broker]) {
    s.on('error', () => undefined);
    s.on('close', () => (s === client ? broker : client).destroy());
  }
}

const [listenPort, brokerHost, brokerPort] = process.argv.slice(2);
createServer((client) => relay(client, brokerHost!, Number(brokerPort))).listen(Number(listenPort), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
