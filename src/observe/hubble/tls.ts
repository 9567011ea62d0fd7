// TLS on the Hubble listener from the secret store, the way Cilium's Hubble server does it: a server certificate,
// and with a client CA mandatory client certificates (mTLS, what Hubble Relay's --tls-hubble-client-cert-file
// answers). grpc-js builds its HTTP/2 server's context once, so a rotated secret is pushed to it from the store's
// change notifications; it applies to new connections, open ones keep their session.
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { HubbleTlsOptions } from '../../config/types.js';
import type { CertStore } from '../../secrets/store.js';

/** Cilium's `defaults.GRPCServiceName` and `defaults.DomainName` (pkg/hubble/defaults). */
const SERVER_NAME_SUFFIX = 'hubble-grpc.cilium.io';

/**
 * The TLS server name Relay verifies a Hubble server with, as Cilium's `peer.TLSServerName` builds it:
 * `<node>.<cluster>.hubble-grpc.cilium.io`, dots in either part turned into `-` so every node sits at the same
 * DNS level (one wildcard certificate, `*.<cluster>.hubble-grpc.cilium.io`, covers them all). Relay reaches its
 * peer service as node `hubble-peer`.
 */
export function hubbleServerName(nodeName: string, clusterName: string): string {
  return `${nodeName.replaceAll('.', '-')}.${clusterName.replaceAll('.', '-')}.${SERVER_NAME_SUFFIX}`;
}

/**
 * TLS 1.3 at least, as Cilium's Hubble server (serveroption.MinTLSVersion). Part of every context given to the
 * server: `setSecureContext` resets a minimum it is not given.
 */
const MIN_VERSION = { minVersion: 'TLSv1.3' } as const;

/** Server credentials whose certificate can be replaced while the server runs. */
class RotatingCredentials extends grpc.ServerCredentials {
  constructor(mutual: boolean, options: SecureContextOptions) {
    // Without a client CA no certificate is asked for; with one, a client without a valid one fails the handshake
    // (Cilium's RequireAndVerifyClientCert).
    super({ requestCert: mutual, rejectUnauthorized: mutual }, { ...options, ...MIN_VERSION });
  }

  rotate(options: SecureContextOptions): void {
    this.updateSecureContextOptions({ ...options, ...MIN_VERSION });
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

export interface HubbleCredentials {
  readonly credentials: grpc.ServerCredentials;
  /** Stops following the store. */
  close(): void;
}

/**
 * Credentials serving `tls.secret` (verifying clients with `tls.clientCA`); throws TlsSecretError when unusable.
 * A certificate that does not cover `serverName` is served, with a warning: Relay would refuse it.
 */
export function hubbleCredentials(certs: CertStore, tls: HubbleTlsOptions, serverName: string, log: Logger): HubbleCredentials {
  let current = certs.terminatingOptions(tls.secret, tls.clientCA);
  const secret = `${tls.secret.namespace}/${tls.secret.name}`;
  const checkName = (): void => {
    if (new X509Certificate(String(current.cert)).checkHost(serverName) === undefined) {
      log.warn({ secret, serverName }, 'the hubble server certificate does not cover the server name Hubble Relay verifies');
    }
  };
  checkName();
  const credentials = new RotatingCredentials(tls.clientCA !== undefined, current);
  const close = certs.onChange(() => {
    try {
      const next = certs.terminatingOptions(tls.secret, tls.clientCA);
      if (next === current) return;
      current = next;
      credentials.rotate(next);
      log.info({ secret }, 'hubble server certificate reloaded');
      checkName();
    } catch (err) {
      // The store keeps serving a broken secret's last good version; so does the listener, which keeps `current`.
      log.error({ err }, 'hubble server certificate not reloaded');
    }
  });
  return { credentials, close };
}
