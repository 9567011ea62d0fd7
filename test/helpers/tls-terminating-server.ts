// A minimal terminating server built the way a Portcullis TLS listener should use the TLS building blocks:
// peek the ClientHello on the raw socket, put the bytes back (`unshift`) and hand the socket to a non-listening
// `tls.Server` (`emit('connection')`), whose SNICallback picks the certificate from the cert store and whose
// default certificate (clients without SNI) comes from `terminatingOptions`. A `tls.Server` is needed rather than
// a bare `new tls.TLSSocket({isServer: true})`: only the server verifies client certificates (`authorized`).
// Each request is answered with JSON describing the connection.
import net from 'node:net';
import tls from 'node:tls';
import type { TlsSecretRef } from '../../src/policy/types.js';
import type { CertStore } from '../../src/secrets/store.js';
import { peekClientHello, type ClientHello } from '../../src/protocols/tls/client-hello.js';
import { verifiedPeerNames } from '../../src/protocols/tls/peer-identity.js';
import { closeServer, listenLocal } from './tls-net.js';

export interface ConnectionReport {
  readonly sni: string | null;
  readonly alpn: string | false | null;
  readonly authorized: boolean;
  readonly peerNames: readonly string[];
}

export interface TerminatingServer {
  readonly port: number;
  /** ClientHellos peeked, in arrival order. */
  readonly hellos: ClientHello[];
  /** TLS handshake failures (bad client certificate, no certificate, ...). */
  readonly clientErrors: Error[];
  /** Re-read the default certificate after the store reloaded it. */
  refreshDefault(): void;
  close(): Promise<void>;
}

export async function startTerminatingServer(certs: CertStore, defaultSecret: TlsSecretRef, clientCA?: TlsSecretRef): Promise<TerminatingServer> {
  const hellos: ClientHello[] = [];
  const clientErrors: Error[] = [];
  let defaultOptions = certs.terminatingOptions(defaultSecret, clientCA);
  const tlsServer = tls.createServer({
    ...defaultOptions,
    SNICallback: (name, cb) => {
      try {
        cb(null, certs.contextForServerName(name, clientCA) ?? certs.terminatingContext(defaultSecret, clientCA));
      } catch (err) {
        cb(err as Error);
      }
    },
    requestCert: clientCA !== undefined,
    rejectUnauthorized: clientCA !== undefined,
    ALPNProtocols: ['http/1.1'],
    handshakeTimeout: 5000,
  });
  tlsServer.on('tlsClientError', (err) => clientErrors.push(err));
  tlsServer.on('secureConnection', (socket) => {
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const report: ConnectionReport = { sni: socket.servername || null, alpn: socket.alpnProtocol, authorized: socket.authorized, peerNames: verifiedPeerNames(socket) };
      const body = JSON.stringify(report);
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
  });

  const server = net.createServer(async (raw) => {
    raw.on('error', () => {});
    try {
      const { hello, buffered } = await peekClientHello(raw, { timeoutMs: 5000 });
      hellos.push(hello);
      raw.unshift(buffered);
      tlsServer.emit('connection', raw);
    } catch {
      raw.destroy();
    }
  });
  const port = await listenLocal(server);
  return {
    port,
    hellos,
    clientErrors,
    refreshDefault() {
      const next = certs.terminatingOptions(defaultSecret, clientCA);
      if (next === defaultOptions) return;
      defaultOptions = next;
      tlsServer.setSecureContext({ ...next });
    },
    close: () => closeServer(server),
  };
}
