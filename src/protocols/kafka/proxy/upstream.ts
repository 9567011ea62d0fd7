// The proxy's connection to a broker. In plaintext, reads go into a reusable buffer (net's `onread`, see
// read-buffer.ts). With `originatingTLS` the proxy is a TLS client that trusts only the secret's CA and checks the
// broker's certificate against the host it connects to — the address the broker advertises, or the listener's
// `upstream` for the bootstrap broker — as the HTTP side does (../http/terminated-upstreams.ts). A failed
// verification closes the client's connection; there is no fallback to plaintext.
import { connect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import tls from 'node:tls';
import type { TlsSecretRef } from '../../../policy/types.js';
import type { CertStore } from '../../../secrets/store.js';
import type { HostPort } from './brokers.js';
import { AdaptiveReadBuffer } from '../codec/read-buffer.js';

/** A broker, and the `originatingTLS` secret whose CA verifies it when the hop is TLS. */
export interface BrokerRoute extends HostPort {
  readonly tls?: TlsSecretRef;
}

export interface BrokerSocketOptions {
  /** Bytes the socket buffers before its writer is told to wait. */
  readonly highWaterMark: number;
  /** Largest read of a plaintext socket. */
  readonly readBytes: number;
  readonly connectTimeoutMs: number;
  readonly certs: CertStore | undefined;
  /** Every chunk the broker sends, in order. */
  readonly onData: (chunk: Buffer) => void;
  /** Whether bytes emitted from the last chunk still wait in the client's queue (its buffer cannot be reused yet). */
  readonly clientBacklog: () => boolean;
}

/** Connects to the broker. Throws TlsSecretError when the `originatingTLS` secret is unusable. */
export function connectBroker(route: BrokerRoute, o: BrokerSocketOptions): Socket {
  const { host, port } = route;
  let socket: Socket;
  if (route.tls !== undefined) {
    if (o.certs === undefined) throw new Error('originatingTLS needs the certificate store (config "certs")');
    const secureContext = o.certs.originatingContext(route.tls);
    // Node sends the host as SNI and verifies the certificate against it (IP SANs for an address).
    const options: tls.ConnectionOptions = { host, port, secureContext, rejectUnauthorized: true, ...(isIP(host) === 0 ? { servername: host } : {}) };
    // highWaterMark: honoured by tls.connect, missing from @types/node's ConnectionOptions.
    socket = tls.connect({ ...options, highWaterMark: o.highWaterMark } as tls.ConnectionOptions);
    socket.setNoDelay(true);
    socket.on('data', o.onData);
  } else {
    const reads = new AdaptiveReadBuffer(o.readBytes);
    socket = connect({
      host,
      port,
      noDelay: true,
      // A stream option net.Socket passes on (missing from @types/node's NetConnectOpts).
      highWaterMark: o.highWaterMark,
      onread: {
        // Called after every read, for the next one: the buffer is reusable once everything emitted from it has reached the kernel.
        buffer: () => reads.next(o.clientBacklog()),
        callback: (n: number, buffer: Uint8Array) => {
          reads.filled(n);
          o.onData((buffer as Buffer).subarray(0, n));
          return true;
        },
      },
    } as NetConnectOpts);
  }
  const ms = o.connectTimeoutMs;
  socket.setTimeout(ms, () => socket.destroy(new Error(`connect timeout after ${ms} ms`)));
  socket.once(route.tls === undefined ? 'connect' : 'secureConnect', () => socket.setTimeout(0));
  return socket;
}
