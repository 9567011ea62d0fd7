// Many raw connections from one source address at once, each sending one request: which ones the proxy served
// (an answer arrived, the socket is kept open so it keeps counting) and which it refused (closed or reset without
// a byte). For the connection-cap tests of every listener type.
import { connect, type Socket } from 'node:net';

export interface Burst {
  /** Sockets that got an answer, still open. */
  readonly served: Socket[];
  /** How many were closed without receiving anything. */
  readonly refused: number;
  /** Closes the served sockets and waits until they are closed. */
  close(): Promise<void>;
}

/**
 * Opens `count` connections from `localAddress` to `port` at once, writes `request` on each and waits (at most
 * `waitMs`) until every one either received bytes that satisfy `answered` or was closed without a byte.
 */
export async function connectionBurst(
  port: number,
  localAddress: string,
  count: number,
  request: Buffer,
  answered: (received: Buffer) => boolean,
  waitMs = 5000,
): Promise<Burst> {
  const outcomes = await Promise.all(Array.from({ length: count }, () => oneConnection(port, localAddress, request, answered, waitMs)));
  const served = outcomes.filter((o): o is Socket => o !== 'refused');
  return {
    served,
    refused: outcomes.length - served.length,
    async close() {
      await Promise.all(served.map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()).destroy()))));
    },
  };
}

function oneConnection(port: number, localAddress: string, request: Buffer, answered: (b: Buffer) => boolean, waitMs: number): Promise<Socket | 'refused'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection neither answered nor closed within ${waitMs} ms (received ${received.length} bytes)`));
    }, waitMs);
    socket.on('error', () => {}); // a refused connection is reset; 'close' follows
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!answered(received)) return;
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (received.length === 0) resolve('refused');
      else reject(new Error(`closed after ${received.length} bytes that are not an answer`));
    });
  });
}
