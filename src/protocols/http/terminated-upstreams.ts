// The upstream hop of terminated TLS connections. With `originatingTLS` the proxy is a TLS client that trusts only
// the secret's CA and checks the certificate against the destination name (SNI and hostname verification, as
// Envoy does with the downstream SNI); with only `terminatingTLS` the hop is plaintext, as in Cilium. There is no
// fallback from one to the other: a verification failure is an upstream connect error (503 + ERROR flow).
//
// Upstreams are shared by the connections that go to the same place the same way, and closed when the last one
// has been gone for a while. HTTP/1.1 requests always go as HTTP/1.1; HTTP/2 streams go as HTTP/2 (h2 by ALPN over
// TLS, prior-knowledge h2c in plaintext) when the target speaks it, else they are relayed as HTTP/1.1.
import type tls from 'node:tls';
import type { HttpLimits } from '../../config/types.js';
import type { TlsSecretRef } from '../../policy/types.js';
import { closeUpstream as closeClient, h2Upstream, http1Upstream, type ConnectionUpstream } from './upstream.js';
import type { CertStore } from '../../secrets/store.js';

export interface OriginTarget {
  /** Address (or host name) connected to. */
  readonly host: string;
  readonly port: number;
  /** Whether HTTP/2 streams go upstream as HTTP/2 (else as HTTP/1.1 requests). */
  readonly http2: boolean;
  /** TLS to the upstream (`originatingTLS`); absent: plaintext. */
  readonly tls?: {
    readonly secret: TlsSecretRef;
    /** SNI sent and name the certificate must carry; default: `host` (an IP is then checked against IP SANs). */
    readonly servername?: string;
  };
}

export interface AcquiredUpstream {
  readonly upstream: ConnectionUpstream;
  /** The connection that acquired it is gone. */
  release(): void;
}

interface Route {
  readonly upstream: ConnectionUpstream;
  users: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/** An upstream nobody used for this long is closed (its keep-alive connections with it). */
const ROUTE_IDLE_MS = 30_000;

export class UpstreamRoutes {
  private readonly routes = new Map<string, Route>();
  // Contexts are rebuilt when a secret changes; a new context means a new route, so rotations apply.
  private readonly contextIds = new WeakMap<tls.SecureContext, number>();
  private nextContextId = 0;
  private closed = false;

  constructor(
    private readonly certs: CertStore | undefined,
    private readonly limits: HttpLimits,
  ) {}

  /** The upstream for one connection. Throws TlsSecretError when the `originatingTLS` secret is unusable. */
  acquire(target: OriginTarget): AcquiredUpstream {
    if (this.closed) throw new Error('upstream routes are closed');
    const context = target.tls === undefined ? undefined : this.originatingContext(target.tls.secret);
    const servername = target.tls?.servername;
    const key = `${target.host}|${target.port}|${target.http2}|${context === undefined ? 'plain' : `${this.contextId(context)}|${servername ?? ''}`}`;
    let route = this.routes.get(key);
    if (route === undefined) {
      route = { upstream: this.createUpstream(target, context, servername), users: 0, idleTimer: undefined };
      this.routes.set(key, route);
    }
    const used = route;
    used.users++;
    clearTimeout(used.idleTimer);
    let released = false;
    return {
      upstream: used.upstream,
      release: () => {
        if (released) return;
        released = true;
        if (--used.users > 0 || this.closed) return;
        used.idleTimer = setTimeout(() => {
          if (used.users > 0) return;
          this.routes.delete(key);
          void closeUpstream(used.upstream);
        }, ROUTE_IDLE_MS);
        used.idleTimer.unref();
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const routes = [...this.routes.values()];
    this.routes.clear();
    for (const r of routes) clearTimeout(r.idleTimer);
    await Promise.all(routes.map((r) => closeUpstream(r.upstream)));
  }

  private originatingContext(secret: TlsSecretRef): tls.SecureContext {
    if (this.certs === undefined) throw new Error('originatingTLS needs the certificate store (config "certs")');
    return this.certs.originatingContext(secret);
  }

  private contextId(context: tls.SecureContext): number {
    let id = this.contextIds.get(context);
    if (id === undefined) this.contextIds.set(context, (id = this.nextContextId++));
    return id;
  }

  private createUpstream(target: OriginTarget, context: tls.SecureContext | undefined, servername: string | undefined): ConnectionUpstream {
    const verify = context === undefined ? undefined : { secureContext: context, rejectUnauthorized: true, ...(servername !== undefined ? { servername } : {}) };
    const http1 = http1Upstream(target.host, target.port, this.limits, verify);
    return { http1, h2: target.http2 ? h2Upstream(target.host, target.port, this.limits, verify) : http1 };
  }
}

async function closeUpstream(upstream: ConnectionUpstream): Promise<void> {
  await Promise.allSettled([closeClient(upstream.http1), upstream.h2 === upstream.http1 ? undefined : closeClient(upstream.h2)]);
}
