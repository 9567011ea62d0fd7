// peekClientHello on real sockets: a splicing server reads the ClientHello, records what it saw, and splices the
// untouched bytes to a TLS upstream; real clients (curl, openssl, Node) must complete a verified handshake through
// it, including hellos split over one-byte TCP segments and over several TLS records.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { CertStore } from '../../src/secrets/store.js';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import { peekClientHello, type ClientHello, type ClientHelloError } from '../../src/protocols/tls/client-hello.js';
import { captureClientHello, nodeClient } from '../helpers/tls-capture-client-hello.js';
import { records, unframe } from '../helpers/tls-client-hello-builder.js';
import { closeServer, listenLocal, runCommand, tlsConnectFrom } from '../helpers/tls-net.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';
import { waitUntil } from '../helpers/wait.js';

type PeekOutcome = { hello: ClientHello; bufferedBytes: number } | { error: ClientHelloError };

let store: TempStore;
let certs: CertStore;
let caFile: string;
let upstream: tls.Server;
let upstreamPort: number;
let splicer: net.Server;
let splicerPort: number;
const outcomes: PeekOutcome[] = [];

/** The next peek outcome the splicer records. */
function nextOutcome(): Promise<PeekOutcome> {
  const seen = outcomes.length;
  return waitUntil('the splicer to see a connection', () => outcomes[seen], 10_000, 5);
}

before(async () => {
  store = await tempStoreWithCa();
  await issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name: 'api' }, names: ['api.example.com'] });
  caFile = path.join(store.root, 'default', 'api', 'ca.crt');
  certs = new CertStore(store.root, { watch: false });
  assert.deepEqual(certs.setServerNameSecrets([{ namespace: 'default', name: 'api' }]), []);

  // The upstream answers one HTTP request with the SNI it saw, then closes.
  upstream = tls.createServer({ SNICallback: (name, cb) => cb(null, certs.contextForServerName(name)), ALPNProtocols: ['http/1.1'] }, (socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\nupstream-says-hi`));
  });
  upstreamPort = await listenLocal(upstream);

  splicer = net.createServer(async (client) => {
    client.on('error', () => {});
    try {
      const { hello, buffered } = await peekClientHello(client, { timeoutMs: 2000 });
      outcomes.push({ hello, bufferedBytes: buffered.length });
      const up = net.connect(upstreamPort, '127.0.0.1');
      up.on('error', () => client.destroy());
      up.write(buffered);
      client.pipe(up).pipe(client);
    } catch (err) {
      // peekClientHello rejects only with ClientHelloError; the tests check `.reason` on it.
      outcomes.push({ error: err as ClientHelloError });
      client.destroy();
    }
  });
  splicerPort = await listenLocal(splicer);
});

after(async () => {
  await Promise.all([closeServer(splicer), closeServer(upstream)]);
  store.cleanup();
});

describe('SNI peek and splice with real clients', () => {
  it('curl: verified HTTPS through the splicer, SNI and ALPN seen', async () => {
    const seen = nextOutcome();
    const result = await runCommand('curl', ['-sS', '--max-time', '5', '--interface', '127.0.0.51', '--cacert', caFile, '--resolve', `api.example.com:${splicerPort}:127.0.0.1`, `https://api.example.com:${splicerPort}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'upstream-says-hi');
    const outcome = await seen;
    assert.ok('hello' in outcome);
    assert.equal(outcome.hello.sni, 'api.example.com');
    assert.deepEqual(outcome.hello.alpn, ['h2', 'http/1.1']);
  });

  it('openssl s_client -servername with -verify_return_error', async () => {
    const seen = nextOutcome();
    const result = await runCommand(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${splicerPort}`, '-servername', 'api.example.com', '-CAfile', caFile, '-verify_return_error', '-verify_hostname', 'api.example.com', '-ign_eof'],
      { input: 'GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n' },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Verify return code: 0 \(ok\)/);
    assert.match(result.stdout, /upstream-says-hi/);
    const outcome = await seen;
    assert.ok('hello' in outcome && outcome.hello.sni === 'api.example.com');
  });

  it('a ClientHello in three TLS records (openssl -max_send_frag 512) still completes the handshake', async () => {
    const seen = nextOutcome();
    const alpn = [...Array.from({ length: 120 }, (_, i) => `proto-${i}`), 'http/1.1'].join(',');
    const result = await runCommand(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${splicerPort}`, '-servername', 'api.example.com', '-CAfile', caFile, '-verify_return_error', '-max_send_frag', '512', '-alpn', alpn, '-ign_eof'],
      { input: 'GET / HTTP/1.1\r\n\r\n' },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /upstream-says-hi/);
    const outcome = await seen;
    assert.ok('hello' in outcome);
    assert.equal(outcome.hello.sni, 'api.example.com');
    assert.equal(outcome.hello.alpn.length, 121);
    // 3 records of at most 512 bytes: the hello needed more than one.
    assert.ok(outcome.bufferedBytes > 2 * 517, `hello spans 3 records (${outcome.bufferedBytes} bytes)`);
  });

  it('Node tls.connect with its hello dribbled one byte per TCP segment', async () => {
    // A relay between client and splicer that forwards the first 600 client bytes one byte per write.
    const relay = net.createServer((inbound) => {
      const outbound = net.connect({ port: splicerPort, host: '127.0.0.1', noDelay: true });
      outbound.on('error', () => inbound.destroy());
      inbound.on('error', () => outbound.destroy());
      let dribbled = 0;
      inbound.on('data', async (chunk: Buffer) => {
        inbound.pause();
        for (const byte of chunk) {
          outbound.write(Buffer.from([byte]));
          if (dribbled++ < 600) await new Promise((r) => setTimeout(r, 1));
        }
        inbound.resume();
      });
      outbound.pipe(inbound);
    });
    const relayPort = await listenLocal(relay);
    try {
      const seen = nextOutcome();
      const body = await new Promise<string>((resolve, reject) => {
        const socket = tlsConnectFrom('127.0.0.52', relayPort, { servername: 'api.example.com', ca: readFileSync(caFile) });
        socket.on('secureConnect', () => {
          assert.equal(socket.authorized, true);
          socket.write('GET / HTTP/1.1\r\n\r\n');
        });
        let data = '';
        socket.on('data', (d: Buffer) => (data += d.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      assert.match(body, /upstream-says-hi$/);
      const outcome = await seen;
      assert.ok('hello' in outcome && outcome.hello.sni === 'api.example.com');
    } finally {
      await closeServer(relay);
    }
  });
});

describe('peekClientHello failures on real sockets', () => {
  async function send(bytes: Buffer, end: boolean): Promise<PeekOutcome> {
    const seen = nextOutcome();
    const socket = net.connect({ port: splicerPort, host: '127.0.0.1', localAddress: '127.0.0.53' });
    socket.on('error', () => {});
    socket.write(bytes);
    if (end) socket.end();
    const outcome = await seen;
    socket.destroy();
    return outcome;
  }

  it('plain HTTP is not TLS, and the bytes read are handed back', async () => {
    const request = Buffer.from('GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n');
    const outcome = await send(request, false);
    assert.ok('error' in outcome);
    assert.equal(outcome.error.reason, 'not-tls');
    assert.deepEqual(outcome.error.buffered, request);
  });

  it('a client that stops mid-hello is truncated', async () => {
    const hello = await captureClientHello(nodeClient({ servername: 'api.example.com' }));
    const outcome = await send(hello.subarray(0, 100), true);
    assert.ok('error' in outcome);
    assert.equal(outcome.error.reason, 'truncated');
    assert.equal(outcome.error.buffered?.length, 100);
  });

  it('a client that sends half a hello and waits is timed out', async () => {
    const hello = await captureClientHello(nodeClient({ servername: 'api.example.com' }));
    const started = Date.now();
    const outcome = await send(hello.subarray(0, 50), false);
    assert.ok('error' in outcome);
    assert.equal(outcome.error.reason, 'timeout');
    assert.ok(Date.now() - started >= 1900, 'waited for the 2 s timeout');
  });

  it('a captured hello re-framed into 3 records is read whole; buffered is exactly what was sent', async () => {
    const message = unframe(await captureClientHello(nodeClient({ servername: 'Multi.Record.Example' })));
    const reframed = records(message, [3, 200]);
    const outcome = await send(reframed, false);
    assert.ok('hello' in outcome);
    assert.equal(outcome.hello.sni, 'multi.record.example');
    assert.equal(outcome.bufferedBytes, reframed.length);
  });
});
