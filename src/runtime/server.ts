// Starts a whole Portcullis: observers, the policy state, every listener and the admin endpoint.
// Used by `portcullis run` and by the demos and tests, which run it in-process.
import type { Logger } from 'pino';
import type { ListenerConfig } from '../config/types.js';
import { startAdmin } from '../observe/admin.js';
import { createFlowRecorder } from '../observe/flows.js';
import { createLogger } from '../observe/logger.js';
import { createMetrics } from '../observe/metrics.js';
import { formatSourceError } from '../policy/types.js';
import type { ListenerContext, RunningListener } from '../protocols/context.js';
import { CertStore, type CertStoreEvent } from '../protocols/tls/cert-store.js';
import { compile } from './compile.js';
import { PolicyState } from './policy-state.js';

type ListenerStarter = (ctx: ListenerContext) => Promise<RunningListener>;

/**
 * A protocol's machinery is loaded when a listener of it is configured: an http-only proxy does not keep the Kafka
 * codec and its schema tables, or the forward proxy's resolver, in memory.
 */
const STARTERS: Partial<Record<ListenerConfig['protocol'], () => Promise<ListenerStarter>>> = {
  http: async () => (await import('../protocols/http/listener.js')).startHttpListener,
  kafka: async () => (await import('../protocols/kafka/listener.js')).startKafkaListener,
  tls: async () => (await import('../protocols/tls/listener.js')).startTlsListener,
  forward: async () => (await import('../protocols/forward/listener.js')).startForwardListener,
};

export interface Portcullis {
  readonly state: PolicyState;
  readonly listeners: readonly RunningListener[];
  readonly admin?: { readonly address: { readonly host: string; readonly port: number } };
  readonly log: Logger;
  /** Flushes flow records written so far (tests read them). */
  flushFlows(): Promise<void>;
  /** SIGHUP: reload policies and endpoints, and reopen the flow file (log rotation). */
  reload(reason: string): boolean;
  close(): Promise<void>;
}

export class StartupError extends Error {}

export interface StartOptions {
  /** Watch config and policy files for changes (default true). */
  readonly watch?: boolean;
  readonly log?: Logger;
}

export async function startPortcullis(configFile: string, options: StartOptions = {}): Promise<Portcullis> {
  const log = options.log ?? createLogger();
  const { compiled, errors } = compile(configFile, { revision: 1 });
  if (compiled === undefined) {
    const count = `${errors.length} error${errors.length === 1 ? '' : 's'}`;
    throw new StartupError(`cannot start: ${count} in the config and policies\n${errors.map(formatSourceError).join('\n')}`);
  }
  const { config } = compiled;
  for (const l of config.listeners) {
    if (STARTERS[l.protocol] === undefined) throw new StartupError(`cannot start: ${l.file}:${l.line}: listener "${l.name}": protocol "${l.protocol}" is not available in this build`);
  }

  const metrics = createMetrics();
  const flows = startupStep(() => createFlowRecorder({ target: config.flows, redactHeaders: config.redactHeaders, log, onLost: (n) => metrics.flowsLost(n) }));
  const state = new PolicyState(configFile, compiled, log, metrics);
  const listeners: RunningListener[] = [];
  let ready = false;
  let admin: Awaited<ReturnType<typeof startAdmin>> | undefined;
  const certs = openCertStore(config.certs, options.watch !== false, log, metrics);

  const close = async () => {
    ready = false;
    state.unwatch();
    await Promise.allSettled(listeners.map((l) => l.close()));
    await admin?.close();
    await flows.close();
    certs.close();
  };

  try {
    if (config.admin !== undefined) {
      admin = await startAdmin({ listen: config.admin, metrics, ready: () => ready, snapshot: () => state.snapshot, log });
    }
    for (const l of config.listeners) {
      checkListenerSecrets(certs, l);
      const ctx: ListenerContext = { config: l, snapshot: () => state.snapshot, flows, metrics, log: log.child({ listener: l.name }), certs };
      const start = await STARTERS[l.protocol]!();
      const running = await start(ctx);
      listeners.push(running);
      log.info({ listener: l.name, protocol: l.protocol, address: `${running.address.host}:${running.address.port}` }, 'listening');
    }
  } catch (e) {
    // What did start is stopped before the answer; a failure to stop must not replace the reason.
    await close().catch((err: unknown) => log.error({ err }, 'stopping after a failed start'));
    throw startupError(e);
  }
  if (options.watch !== false) state.watch();
  ready = true;
  const reload = (reason: string) => {
    flows.reopen();
    return state.reload(reason);
  };
  return { state, listeners, ...(admin ? { admin } : {}), log, flushFlows: () => flows.flush(), reload, close };
}

function startupError(e: unknown): StartupError {
  return new StartupError(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
}

/** A start-up step that has nothing to undo when it fails. */
function startupStep<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw startupError(e);
  }
}

/**
 * The secret store of `certs:`. Secrets load on first use (a policy's terminatingTLS/originatingTLS, a listener's
 * certificate) and reload when their files change; each load reports the certificate's expiry to /metrics.
 */
function openCertStore(root: string, watch: boolean, log: Logger, metrics: ReturnType<typeof createMetrics>): CertStore {
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
  try {
    if (l.tls?.secret !== undefined) certs.check(l.tls.secret, 'terminating');
    if (l.tls?.clientCA !== undefined) certs.check(l.tls.clientCA, 'originating');
  } catch (e) {
    throw new Error(`${l.file}:${l.line}: listener "${l.name}": ${(e as Error).message}`);
  }
}
