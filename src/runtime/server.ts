// Starts a whole Portcullis in one process: observers, the policy state, every listener and the admin endpoint.
// Used by `portcullis run` with `workers: 1`, and by the demos and tests, which run it in-process.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { startAdmin } from '../observe/admin.js';
import { flowFeed } from '../observe/admin-flows.js';
import { FlowTap } from '../observe/flow-tap.js';
import { createFlowRecorder } from '../observe/flows.js';
import type { RunningHubbleServer } from '../observe/hubble/server.js';
import { createLogger } from '../observe/logger.js';
import { createMetrics } from '../observe/metrics.js';
import { formatSourceError } from '../policy/types.js';
import type { RunningListener } from '../protocols/context.js';
import { compile, type Compiled } from './compile.js';
import { checkProtocols, checkServerSecrets, openCertStore, startListeners, startupError, StartupError } from './listeners.js';
import { PolicyState } from './policy-state.js';
import { TIMINGS, type Timings } from './timings.js';

export interface Portcullis {
  readonly state: PolicyState;
  readonly listeners: readonly RunningListener[];
  readonly admin?: { readonly address: { readonly host: string; readonly port: number } };
  readonly hubble?: { readonly address: { readonly host: string; readonly port: number } };
  readonly log: Logger;
  /** Flushes flow records written so far (tests read them). */
  flushFlows(): Promise<void>;
  /** SIGHUP: reload policies and endpoints, re-read the stored secrets, and reopen the flow file (log rotation). */
  reload(reason: string): boolean;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Watch config and policy files for changes (default true). */
  readonly watch?: boolean;
  readonly log?: Logger;
  /** What the runtime waits on by itself (default: the production TIMINGS); tests pass shorter ones. */
  readonly timings?: Timings;
}

/** Revision 1 of a config and its policies, or a StartupError naming every problem. */
export function compileFirst(configFile: string): Compiled {
  const { compiled, errors } = compile(configFile, { revision: 1 });
  if (compiled === undefined) {
    const count = `${errors.length} error${errors.length === 1 ? '' : 's'}`;
    throw new StartupError(`cannot start: ${count} in the config and policies\n${errors.map(formatSourceError).join('\n')}`);
  }
  checkProtocols(compiled.config);
  return compiled;
}

export async function startPortcullis(configFile: string, options: StartOptions = {}): Promise<Portcullis> {
  const log = options.log ?? createLogger();
  const timings = options.timings ?? TIMINGS;
  const compiled = compileFirst(configFile);
  const { config } = compiled;
  const metrics = createMetrics();
  const nodeName = config.nodeName ?? hostname();
  const tap = config.flows === 'stdout' ? new FlowTap() : undefined;
  // The Hubble server's modules (grpc-js, protobufjs, Cilium's descriptor) load only when it is configured.
  const [ringModule, hubbleModule] = config.hubble ? await Promise.all([import('../observe/hubble/ring.js'), import('../observe/hubble/server.js')]) : [];
  const ring = config.hubble && ringModule && new ringModule.FlowRing(config.hubble.bufferSize);
  // The ring keeps the lines the recorder renders for the file (rendered even with `flows: off` when it is there).
  const onLine = ring && ((line: Uint8Array, timeMs: number) => ring.push(line, timeMs));
  const flows = startupStep(() =>
    createFlowRecorder({ target: config.flows, redactHeaders: config.redactHeaders, redactQuery: config.redactQuery, nodeName, log, onLost: (n) => metrics.flowsLost(n), ...(tap && { tap }), ...(onLine && { onLine }) }),
  );
  const state = new PolicyState(configFile, compiled, log, metrics, timings.policyDebounceMs);
  const listeners: RunningListener[] = [];
  let ready = false;
  let admin: Awaited<ReturnType<typeof startAdmin>> | undefined;
  let hubble: RunningHubbleServer | undefined;
  const certs = openCertStore(config.certs, options.watch !== false, log, metrics);

  const close = async () => {
    ready = false;
    state.unwatch();
    await Promise.allSettled(listeners.map((l) => l.close()));
    await admin?.close();
    await hubble?.close();
    await flows.close();
    certs.close();
  };

  try {
    if (config.admin !== undefined) {
      admin = await startAdmin({ listen: config.admin, metrics, ready: () => ready, snapshot: () => state.snapshot, flows: flowFeed(config.flows, tap), log });
    }
    if (ring && config.hubble && hubbleModule) {
      const { listen, peers, tls } = config.hubble;
      if (tls) checkServerSecrets(certs, tls, `${tls.file}:${tls.line}: hubble.tls`);
      hubble = await hubbleModule.startHubbleServer({ listen, peers, ring, nodeName, log, ...(tls && { tls: { ...tls, certs } }) });
      log.info({ address: `${hubble.address.host}:${hubble.address.port}`, nodeName, bufferSize: ring.capacity, tls: tls === undefined ? 'off' : tls.clientCA ? 'mutual' : 'server' }, 'hubble server listening');
    }
    await startListeners(config, { snapshot: () => state.snapshot, flows, metrics, log, certs, timings }, listeners);
  } catch (e) {
    // What did start is stopped before the answer; a failure to stop must not replace the reason.
    await close().catch((err: unknown) => log.error({ err }, 'stopping after a failed start'));
    throw startupError(e);
  }
  if (options.watch !== false) state.watch();
  ready = true;
  const reload = (reason: string) => {
    flows.reopen();
    // Without watching (`run --no-watch`), this is how a rotated certificate is taken up.
    certs.reload();
    return state.reload(reason);
  };
  return { state, listeners, ...(admin ? { admin } : {}), ...(hubble ? { hubble } : {}), log, flushFlows: () => flows.flush(), reload, close };
}

/** A start-up step that has nothing to undo when it fails. */
export function startupStep<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw startupError(e);
  }
}
