// A worker: serves every listener with the revision the primary sends. It never reads the config or policy files
// (the primary does, once per revision), appends its flow records to the flow file (or, for stdout, writes them to a
// pipe the primary merges), and answers the primary's metric scrapes. See primary.ts.
import type { Logger } from 'pino';
import { createFlowRecorder, type RunningFlowRecorder } from '../observe/flows.js';
import { createLogger } from '../observe/logger.js';
import { createMetrics } from '../observe/metrics.js';
import { formatSourceError, type PolicySnapshot } from '../policy/types.js';
import type { RunningListener } from '../protocols/context.js';
import { WORKER_FLOWS_FD, workerLogOptions, type FromWorker, type ToWorker } from './cluster-messages.js';
import { compileSources, type Compiled, type Sources } from './compile.js';
import { openCertStore, startListeners, startupError } from './listeners.js';
import { TIMINGS } from './timings.js';

type Start = Extract<ToWorker, { t: 'start' }>;

export function runWorker(): void {
  const log = createLogger(workerLogOptions(process.env)).child({ worker: Number(process.env.PORTCULLIS_WORKER) });
  // With a callback, a send that fails because the primary is gone is not an 'error' event (which would crash the
  // worker with a stack trace); the 'disconnect' below deals with the primary's end.
  const send = (message: FromWorker): void => {
    if (process.connected) process.send!(message, ignoreSendError);
  };
  let serving: Serving | undefined;
  // Settles once the start is over either way: a drain waits for it (its flow file may still be opening).
  let started: Promise<unknown> = Promise.resolve();
  let draining = false;
  let told = false;
  // Kafka listeners ask the primary for per-broker ports; answers are matched by id.
  const ports = new PortRequests(send);
  const drain = (): void => {
    if (draining) return;
    draining = true;
    void started.then(() => serving?.close()).then(
      async () => {
        // What this worker counted stays in the primary's sums after it is gone.
        const metrics = await serving?.metrics.registry.getMetricsAsJSON();
        if (metrics !== undefined && process.connected) process.send!({ t: 'final', metrics } satisfies FromWorker, () => process.exit(0));
        else process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'worker shutdown failed');
        process.exit(1);
      },
    );
  };
  // The primary drains its workers on SIGTERM; a signal sent to the whole process group (Ctrl-C) reaches the
  // workers too and means the same.
  process.on('SIGTERM', drain);
  process.on('SIGINT', drain);
  // The IPC channel closed without a drain: the primary died, and nobody reads the flow pipe any more. node:cluster's
  // own listener exits the worker at once, so this one goes first and drops the flows (see abandon).
  process.prependOnceListener('disconnect', () => serving?.abandonFlows());
  process.on('message', (message: ToWorker) => {
    switch (message.t) {
      case 'start':
        // Started once only. Drained before it was told what to serve: it exits without starting (a flow file opened
        // now would still be opening at exit).
        if (!told && !draining) {
          told = true;
          started = serve(message, log, send, ports).then(
            (s) => {
              serving = s;
              send({ t: 'ready', revision: message.revision });
            },
            (err: unknown) => {
              const failed: FromWorker = { t: 'failed', message: startupError(err).message };
              if (process.connected) process.send!(failed, () => process.exit(1));
              else process.exit(1);
            },
          );
        }
        return;
      case 'policy':
        serving?.apply(message.sources, message.revision);
        return;
      case 'metrics':
        void serving?.metrics.registry.getMetricsAsJSON().then((metrics) => send({ t: 'metrics', id: message.id, metrics }));
        return;
      case 'port':
        ports.answered(message.id, message.port);
        return;
      case 'reopen':
        serving?.onSighup();
        return;
      case 'drain':
        drain();
        return;
    }
  });
  send({ t: 'up' });
}

function ignoreSendError(): void {}

interface Serving {
  readonly metrics: ReturnType<typeof createMetrics>;
  apply(sources: Sources, revision: number): void;
  abandonFlows(): void;
  /** SIGHUP: reopen the flow file, re-read the stored secrets. */
  onSighup(): void;
  close(): Promise<void>;
}

class PortRequests {
  #next = 0;
  readonly #pending = new Map<number, (port: number) => void>();

  constructor(private readonly send: (m: FromWorker) => void) {}

  brokerPort(listener: string, nodeId: number): Promise<number> {
    const id = this.#next++;
    return new Promise<number>((resolve) => {
      this.#pending.set(id, resolve);
      this.send({ t: 'port', id, listener, nodeId });
    });
  }

  answered(id: number, port: number): void {
    this.#pending.get(id)?.(port);
    this.#pending.delete(id);
  }
}

async function serve(start: Start, log: Logger, send: (m: FromWorker) => void, ports: PortRequests): Promise<Serving> {
  const { config, snapshot: first } = compileRevision(start.sources, start.revision);
  let snapshot: PolicySnapshot = first;
  const metrics = createMetrics();
  const flows: RunningFlowRecorder = createFlowRecorder({
    target: config.flows === 'stdout' ? WORKER_FLOWS_FD : config.flows,
    redactHeaders: config.redactHeaders,
    redactQuery: config.redactQuery,
    ...(config.nodeName !== undefined && { nodeName: config.nodeName }),
    log,
    onLost: (n) => metrics.flowsLost(n),
  });
  const certs = openCertStore(config.certs, start.watchCerts, log, metrics);
  const listeners: RunningListener[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(listeners.map((l) => l.close()));
    await flows.close();
    certs.close();
  };
  try {
    await startListeners(
      config,
      {
        snapshot: () => snapshot,
        flows,
        metrics,
        log,
        certs,
        timings: TIMINGS,
        tlsTicketKeys: Buffer.from(start.ticketKeys, 'base64'),
        brokerPort: (listener, nodeId) => ports.brokerPort(listener, nodeId),
      },
      listeners,
    );
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
  return {
    metrics,
    apply(sources, revision) {
      // The primary compiled these very sources before sending them: a failure here is not the files' fault.
      try {
        snapshot = compileRevision(sources, revision).snapshot;
        send({ t: 'applied', revision });
      } catch (e) {
        send({ t: 'rejected', revision, message: (e as Error).message });
      }
    },
    abandonFlows: () => flows.abandon(),
    onSighup: () => {
      flows.reopen();
      certs.reload();
    },
    close,
  };
}

function compileRevision(sources: Sources, revision: number): Compiled {
  const { compiled, errors } = compileSources(sources, { revision });
  if (compiled === undefined) throw new Error(`revision ${revision} does not compile: ${errors.map(formatSourceError).join('; ')}`);
  return compiled;
}
