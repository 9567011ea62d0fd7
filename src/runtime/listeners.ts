// Starting a proxy's listeners: shared by the single-process runtime (server.ts) and by each worker (worker.ts).
import type { Logger } from 'pino';
import { PortcullisError } from '../errors.js';
import type { ListenerConfig, PortcullisConfig } from '../config/types.js';
import type { PortcullisMetrics } from '../observe/metrics.js';
import type { TlsSecretRef } from '../policy/types.js';
import type { ListenerContext, RunningListener } from '../protocols/context.js';
import { CertStore, type CertStoreEvent } from '../secrets/store.js';

type ListenerStarter = (ctx: ListenerContext) => Promise<RunningListener>;

/**
 * A protocol's machinery is loaded when a listener of it is configured: an http-only proxy does not keep the Kafka
 * codec and its schema tables, or the forward proxy's resolver, in memory.
 */
const STARTERS: Partial<Record<ListenerConfig['protocol'], () => Promise<ListenerStarter>>> = {
  http: async () => (await import('../protocols/http/listener.js')).startHttpListener,
  kafka: async () => (await import('../protocols/kafka/proxy/listener.js')).startKafkaListener,
  // An HTTP listener whose front is TLS (protocols/http/tls-front.ts): spliced, or terminated and served as HTTP.
  tls: async () => (await import('../protocols/http/listener.js')).startHttpListener,
  forward: async () => (await import('../protocols/forward/listener.js')).startForwardListener,
};

export class StartupError extends PortcullisError {
  readonly code = 'PCL_ERR_STARTUP';
}

export function startupError(e: unknown): StartupError {
  return e instanceof StartupError ? e : new StartupError(`cannot start: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** Every listener's protocol must be in this build, before anything is started. */
export function checkProtocols(config: PortcullisConfig): void {
  for (const l of config.listeners) {
    if (STARTERS[l.protocol] === undefined) throw new StartupError(`cannot start: ${l.file}:${l.line}: listener "${l.name}": protocol "${l.protocol}" is not available in this build`);
  }
}

/** What every listener shares (ListenerContext without its own config and logger). */
export type ListenerShared = Omit<ListenerContext, 'config' | 'log'> & { readonly log: Logger; readonly certs: CertStore };

/**
 * Starts every listener of `config` in order and pushes each onto `started` as it comes up (so a caller that fails
 * half-way knows what to close). Throws what stopped it.
 */
export async function startListeners(config: PortcullisConfig, shared: ListenerShared, started: RunningListener[]): Promise<void> {
  for (const l of config.listeners) {
    checkListenerSecrets(shared.certs, l);
    const start = await STARTERS[l.protocol]!();
    // Every line a listener logs names it once, through this child: callers do not pass `listener` again.
    const log = shared.log.child({ listener: l.name });
    const running = await start({ ...shared, config: l, log });
    started.push(running);
    log.info({ protocol: l.protocol, address: `${running.address.host}:${running.address.port}`, tls: l.tls !== undefined }, 'listening');
  }
}

/**
 * The secret store of `certs:`. Secrets load on first use (a policy's terminatingTLS/originatingTLS, a listener's
 * certificate) and reload when their files change; each load reports the certificate's expiry to /metrics.
 */
export function openCertStore(root: string, watch: boolean, log: Logger, metrics: PortcullisMetrics): CertStore {
  const store: CertStore = new CertStore(root, {
    watch,
    onEvent: (event: CertStoreEvent) => {
      if (event.kind === 'failed') {
        log.error({ secret: event.secret, keptLastGood: event.keptLastGood ?? false, err: event.error }, 'TLS secret unusable');
        return;
      }
      const notAfter = store.status().find((s) => s.secret === event.secret)?.notAfter;
      if (notAfter !== undefined) metrics.certificateExpiry(event.secret, notAfter);
      log.info({ secret: event.secret, notAfter }, `TLS secret ${event.kind}`);
    },
  });
  return store;
}

/** A listener's own certificate and client CA must be usable before it accepts anything. */
function checkListenerSecrets(certs: CertStore, l: ListenerConfig): void {
  checkServerSecrets(certs, l.tls ?? {}, `${l.file}:${l.line}: listener "${l.name}"`);
}

/** A server certificate and client CA, checked before a server (listener or Hubble's) starts; `where` names its config. */
export function checkServerSecrets(certs: CertStore, tls: { readonly secret?: TlsSecretRef; readonly clientCA?: TlsSecretRef }, where: string): void {
  try {
    if (tls.secret !== undefined) certs.check(tls.secret, 'terminating');
    if (tls.clientCA !== undefined) certs.check(tls.clientCA, 'originating');
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}
