// The server side of a TLS handshake on a socket whose ClientHello was already peeked: the peeked bytes are put
// back and the socket is handed to a non-listening `tls.Server`. A `tls.Server` (rather than a bare
// `new tls.TLSSocket(socket, {isServer: true})`) is what verifies client certificates and sets `authorized`.
// One server per (certificate secret, client CA, client-certificate mode): the certificate is chosen before the
// handshake (by policy for the SNI, or by the listener), and a store reload swaps the server's context.
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { PortcullisError } from '../../errors.js';
import type { TlsSecretRef } from '../../policy/types.js';
import type { CertStore } from '../../secrets/store.js';
import { tlsSocketParent } from '../node-internals.js';

export type ClientCertificateMode = 'none' | 'request' | 'require';

export interface TerminationOptions {
  /** Certificate and key presented to the client. */
  readonly secret: TlsSecretRef;
  /** CA that client certificates are verified against (with mode request/require). */
  readonly clientCA?: TlsSecretRef;
  readonly clientCertificates: ClientCertificateMode;
  /** ALPN protocols offered, in server preference order. */
  readonly alpn: readonly string[];
}

/** A handshake that did not complete; `message` says why (for the flow record). */
export class TlsHandshakeError extends PortcullisError {
  readonly code = 'PCL_ERR_TLS_HANDSHAKE';
}

interface Pending {
  resolve(socket: TLSSocket): void;
  reject(err: Error): void;
}

interface TerminatingServer {
  readonly server: tls.Server;
  /** The store's options object the server's default context was built from (identity changes on reload). */
  material: Readonly<tls.SecureContextOptions>;
}

export class TlsTerminator {
  private readonly servers = new Map<string, TerminatingServer>();
  private readonly pending = new WeakMap<Socket, Pending>();

  constructor(
    private readonly certs: CertStore,
    private readonly handshakeTimeoutMs: number,
    /** Session ticket keys shared by every worker, so a session resumes whichever worker the client reaches. */
    private readonly ticketKeys?: Buffer,
  ) {}

  /**
   * Completes the handshake on `socket`, whose first bytes (`buffered`, the peeked ClientHello) were read and are
   * put back here. Resolves with the TLS socket once the handshake is done (client certificate verified when
   * `require`d); rejects with a TlsSecretError when the secret is unusable, or a TlsHandshakeError.
   */
  terminate(socket: Socket, buffered: Buffer, options: TerminationOptions): Promise<TLSSocket> {
    const { server } = this.serverFor(options);
    return new Promise<TLSSocket>((resolve, reject) => {
      const onClose = () => settle(new TlsHandshakeError('the client closed the connection during the TLS handshake'));
      const settle = (result: TLSSocket | Error) => {
        if (this.pending.get(socket) === undefined) return;
        this.pending.delete(socket);
        socket.off('close', onClose);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      this.pending.set(socket, { resolve: settle, reject: settle });
      socket.once('close', onClose);
      socket.unshift(buffered);
      server.emit('connection', socket);
    });
  }

  /** The handshake a server's TLS socket belongs to, by the socket it wraps. */
  #pendingOf(tlsSocket: TLSSocket): Pending | undefined {
    const tcp = tlsSocketParent(tlsSocket);
    return tcp === undefined ? undefined : this.pending.get(tcp);
  }

  private serverFor(options: TerminationOptions): TerminatingServer {
    const { secret, clientCA, clientCertificates: mode } = options;
    const ca = mode === 'none' ? undefined : clientCA;
    // Throws TlsSecretError for an unusable secret; the same object while the secret is unchanged.
    const material = this.certs.terminatingOptions(secret, ca);
    const key = JSON.stringify([secret, ca ?? null, mode, options.alpn]);
    const existing = this.servers.get(key);
    if (existing !== undefined) {
      if (existing.material !== material) {
        existing.server.setSecureContext({ ...material });
        existing.material = material;
      }
      return existing;
    }
    const server = tls.createServer({
      ...material,
      requestCert: mode !== 'none',
      rejectUnauthorized: mode === 'require',
      ALPNProtocols: [...options.alpn],
      handshakeTimeout: this.handshakeTimeoutMs,
      ...(this.ticketKeys !== undefined && { ticketKeys: this.ticketKeys }),
    });
    server.on('secureConnection', (tlsSocket: TLSSocket) => this.#pendingOf(tlsSocket)?.resolve(tlsSocket));
    server.on('tlsClientError', (err: Error, tlsSocket: TLSSocket) => {
      this.#pendingOf(tlsSocket)?.reject(new TlsHandshakeError(`TLS handshake failed: ${describeHandshakeError(err)}`, { cause: err }));
      tlsSocket.destroy();
    });
    const created = { server, material };
    this.servers.set(key, created);
    return created;
  }
}

function describeHandshakeError(err: Error): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timed out';
  if (code === 'ECONNRESET') return 'the client reset the connection (a rejected client certificate ends this way too)';
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
}
