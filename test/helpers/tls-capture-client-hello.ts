// Captures the raw ClientHello a real client sends: a plain `net` server on 127.0.0.1:0 reads TLS records until
// the first handshake message is complete, then drops the connection. The framing logic here is deliberately
// independent of src/protocols/tls/client-hello.ts, which is what the captures are used to test.
// Run directly (`node dist/test/helpers/tls-capture-client-hello.js`) to regenerate test/fixtures/tls/*.hex.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

/** Bytes of the records carrying the first handshake message, exactly as received. */
export async function captureClientHello(startClient: (port: number) => () => void): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  let stopClient: () => void = () => {};
  try {
    const captured = new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket) => {
        let buf = Buffer.alloc(0);
        socket.on('error', () => {});
        socket.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          const end = endOfFirstHandshakeMessage(buf);
          if (end === undefined) return;
          socket.destroy();
          resolve(buf.subarray(0, end));
        });
        socket.on('close', () => reject(new Error(`client closed after ${buf.length} bytes`)));
      });
    });
    stopClient = startClient(port);
    return await withTimeout(captured, 10_000);
  } finally {
    stopClient();
    server.close();
  }
}

/** Offset just past the record that completes the first handshake message, or undefined if not there yet. */
function endOfFirstHandshakeMessage(buf: Buffer): number | undefined {
  let at = 0;
  let handshake = Buffer.alloc(0);
  while (at + 5 <= buf.length) {
    const length = buf.readUInt16BE(at + 3);
    if (at + 5 + length > buf.length) return undefined;
    handshake = Buffer.concat([handshake, buf.subarray(at + 5, at + 5 + length)]);
    at += 5 + length;
    if (handshake.length >= 4 && handshake.length >= 4 + handshake.readUIntBE(1, 3)) return at;
  }
  return undefined;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ClientHello within ${ms} ms`)), ms);
    }),
  ]);
}

/** A Node `tls.connect` client; it fails once the capture server hangs up, which is expected. */
export function nodeClient(options: tls.ConnectionOptions): (port: number) => () => void {
  return (port) => {
    const socket = tls.connect({ ...options, host: '127.0.0.1', port });
    socket.on('error', () => {});
    return () => socket.destroy();
  };
}

/** An external command; `{port}` in its arguments is replaced by the capture port. */
export function commandClient(command: string, args: readonly string[]): (port: number) => () => void {
  return (port) => {
    const child = spawn(command, args.map((a) => a.replaceAll('{port}', String(port))), { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {});
    return () => child.kill();
  };
}

/** The clients behind test/fixtures/tls/*.hex (expected values are asserted in test/unit/tls-client-hello.test.ts). */
export const FIXTURE_CLIENTS: Record<string, (port: number) => () => void> = {
  'openssl-sni-alpn': commandClient('openssl', ['s_client', '-connect', '127.0.0.1:{port}', '-servername', 'api.example.com', '-alpn', 'h2,http/1.1']),
  'openssl-tls12-sni': commandClient('openssl', ['s_client', '-connect', '127.0.0.1:{port}', '-servername', 'Deathstar.Empire.Local', '-tls1_2']),
  'node-sni-alpn': nodeClient({ servername: 'deathstar.empire.local', ALPNProtocols: ['h2', 'http/1.1'] }),
  'node-no-sni': nodeClient({}),
  'curl-sni': commandClient('curl', ['-sk', '--max-time', '5', '--resolve', 'www.cilium.io:{port}:127.0.0.1', 'https://www.cilium.io:{port}/']),
};

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/tls');
  for (const [name, client] of Object.entries(FIXTURE_CLIENTS)) {
    const hello = await captureClientHello(client);
    writeFileSync(path.join(dir, `${name}.hex`), hello.toString('hex') + '\n');
    console.log(`${name}: ${hello.length} bytes`);
  }
}
