// `portcullis run` with workers: the primary process. It never serves traffic (node:cluster's round-robin hands
// each accepted connection to a worker), so a defect in request handling cannot take the whole proxy down. It
// reads, validates and compiles the config and policies (once per revision) and has every worker switch to the
// result; it serves the admin endpoint (readiness of every worker, the sum of their metrics); it writes the flow
// stream when it is stdout (workers append to a flow file themselves); and it replaces workers that exit.
// Signals: SIGTERM/SIGINT drain, SIGHUP reloads, SIGUSR2 replaces the workers one by one.
import type { Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import prom from 'prom-client';
import type { Logger } from 'pino';
import type { LogOptions } from '../config/log-options.js';
import { startAdmin, type RunningAdmin } from '../observe/admin.js';
import { flowFeed } from '../observe/admin-flows.js';
import { FlowTap } from '../observe/flow-tap.js';
import { ensureWritable } from '../observe/flow-file.js';
import { FlowMerge } from '../observe/flow-merge.js';
import { createClusterMetrics, createMetrics } from '../observe/metrics.js';
import type { ToWorker, WorkerMetrics } from './cluster-messages.js';
import { compileFirst, startupStep } from './server.js';
import { startupError } from './listeners.js';
import { PolicyState } from './policy-state.js';
import { TIMINGS } from './timings.js';
import { WorkerPool } from './worker-pool.js';

/** Metric types whose values only grow, so a gone worker's share stays meaningful in a sum. */
const CUMULATIVE = new Set(['counter', 'histogram']);
/** How long a scrape waits for a worker's metrics; a worker that does not answer is left out of the sum. */
const SCRAPE_WAIT_MS = 2000;

export interface Primary {
  /** SIGHUP: reload every worker's policies and endpoints, and reopen the flow file. */
  reload(reason: string): Promise<boolean>;
  /** SIGUSR2: replace the workers one by one. */
  restartWorkers(): Promise<void>;
  close(): Promise<void>;
}

export async function startPrimary(configFile: string, workers: number, options: { watch: boolean; log: Logger; logOptions: LogOptions }): Promise<Primary> {
  const { log } = options;
  const compiled = compileFirst(configFile);
  const { config } = compiled;
  const metrics = createMetrics();
  const state = new PolicyState(configFile, compiled, log, metrics, TIMINGS.policyDebounceMs);
  let latest = compiled;
  // Workers append to a flow file themselves; stdout is the primary's, so their records come through it.
  const tap = config.flows === 'stdout' ? new FlowTap() : undefined;
  const flows = config.flows === 'stdout' ? new FlowMerge(log, tap) : undefined;
  if (config.flows !== 'stdout' && config.flows !== 'off') startupStep(() => ensureWritable(config.flows));
  const scrapes = new Scrapes();
  const brokerPorts = new BrokerPorts(config.listeners);

  const pool: WorkerPool = new WorkerPool({
    size: workers,
    log,
    logOptions: options.logOptions,
    latest: () => ({ sources: latest.sources, revision: latest.snapshot.revision }),
    ticketKeys: randomBytes(48),
    watchCerts: options.watch,
    ...(flows !== undefined && { onFlows: (pipe) => flows.add(pipe) }),
    onMessage: (worker, message) => {
      if (message.t === 'metrics') scrapes.answered(message.id, message.metrics);
      else if (message.t === 'final') scrapes.final(worker, message.metrics);
      else if (message.t === 'port') {
        brokerPorts.portFor(message.listener, message.nodeId).then(
          (port) => worker.send({ t: 'port', id: message.id, port } satisfies ToWorker),
          (err: unknown) => {
            log.error({ err, listener: message.listener, nodeId: message.nodeId }, 'no port for a Kafka broker listener');
            worker.send({ t: 'port', id: message.id, port: 0 } satisfies ToWorker);
          },
        );
      }
    },
    onRestart: (slot) => clusterMetrics.restarted(slot),
    onExit: (worker) => void scrapes.retire(worker),
  });
  const clusterMetrics = createClusterMetrics(metrics.registry, () => pool.serving());

  let admin: RunningAdmin | undefined;
  const close = async (): Promise<void> => {
    state.unwatch();
    await pool.stop();
    await admin?.close();
    await flows?.close();
  };
  try {
    if (config.admin !== undefined) {
      admin = await startAdmin({
        listen: config.admin,
        metrics: { registry: { contentType: metrics.registry.contentType, metrics: () => scrapes.sum(pool.workers().map((w) => w.worker), metrics.registry) } },
        ready: () => pool.allServing(),
        snapshot: () => state.snapshot,
        flows: flowFeed(config.flows, tap),
        workers: () =>
          Promise.all(
            pool.workers().map(async (w) => ({
              worker: w.slot,
              pid: w.worker.process.pid,
              serving: w.serving,
              revision: w.revision,
              connections: openConnections(await scrapes.ask(w.worker)),
            })),
          ),
        log,
      });
    }
    await pool.start();
  } catch (e) {
    await close().catch((err: unknown) => log.error({ err }, 'stopping after a failed start'));
    throw startupError(e);
  }
  log.info({ workers }, 'every worker is serving');

  // Reloads run one after another: each is compiled once, then applied by every worker, then reported.
  let reloads = Promise.resolve(true);
  const reload = (reason: string): Promise<boolean> =>
    (reloads = reloads.then(async () => {
      const next = state.prepare(reason);
      if (next === undefined) return false;
      latest = next;
      try {
        await pool.apply({ sources: next.sources, revision: next.snapshot.revision });
      } catch (err) {
        // A defect here must not end later reloads; workers that start from now on get `next` anyway.
        log.error({ err, reason, revision: next.snapshot.revision }, 'reload could not be applied by every worker');
        return false;
      }
      state.commit(next, reason);
      return true;
    }));
  if (options.watch) state.watch((reason) => void reload(reason));

  return {
    reload: (reason) => {
      pool.broadcast({ t: 'reopen' });
      return reload(reason);
    },
    restartWorkers: () => pool.restartAll().then(() => state.workersReplaced()),
    close,
  };
}

/**
 * Scrapes: every worker's registry as JSON, summed (counters, histograms) with the primary's own series. Counters
 * and histograms of workers that are gone stay in the sum (their final figures when they drained, else their last
 * scrape), so a restart does not make the proxy's counters go back.
 */
class Scrapes {
  #next = 0;
  readonly #pending = new Map<number, (metrics: WorkerMetrics) => void>();
  readonly #last = new WeakMap<Worker, WorkerMetrics>();
  #retired: WorkerMetrics = [];
  #folding = Promise.resolve();

  async sum(workers: readonly Worker[], own: prom.Registry): Promise<string> {
    const answers = await Promise.all(workers.map((w) => this.ask(w)));
    const all = [await own.getMetricsAsJSON(), this.#retired, ...answers.filter((a): a is WorkerMetrics => a !== undefined)];
    return prom.AggregatorRegistry.aggregate(all).metrics();
  }

  answered(id: number, metrics: WorkerMetrics): void {
    this.#pending.get(id)?.(metrics);
  }

  /** One worker's registry; undefined when it does not answer in time. */
  ask(worker: Worker): Promise<WorkerMetrics | undefined> {
    const id = this.#next++;
    return new Promise<WorkerMetrics | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), SCRAPE_WAIT_MS);
      this.#pending.set(id, (metrics) => {
        clearTimeout(timer);
        this.#last.set(worker, metrics);
        resolve(metrics);
      });
      if (worker.isConnected()) worker.send({ t: 'metrics', id } satisfies ToWorker);
    }).finally(() => this.#pending.delete(id));
  }

  final(worker: Worker, metrics: WorkerMetrics): void {
    this.#last.set(worker, metrics);
  }

  /** Folds a gone worker's counts into the retired sum (one fold at a time). */
  retire(worker: Worker): Promise<void> {
    const last = this.#last.get(worker);
    this.#last.delete(worker);
    if (last === undefined) return this.#folding;
    const counts = last.filter((m) => CUMULATIVE.has(String(m.type)));
    this.#folding = this.#folding.then(async () => {
      this.#retired = await prom.AggregatorRegistry.aggregate([this.#retired, counts]).getMetricsAsJSON();
    });
    return this.#folding;
  }
}

/** A worker's open downstream connections over all listeners (null: it did not answer). */
function openConnections(metrics: WorkerMetrics | undefined): number | null {
  const gauge = metrics?.find((m) => m.name === 'portcullis_connections');
  return metrics === undefined ? null : (gauge?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

/**
 * The ports of the Kafka listeners' per-broker sockets. Workers discover brokers in their own order; if each took
 * a port from the OS, one broker would be advertised at different ports by different workers. The primary picks
 * one port per (listener, broker) the first time a worker asks, and every worker, restarted ones included, gets it.
 */
class BrokerPorts {
  readonly #ports = new Map<string, Promise<number>>();

  constructor(private readonly listeners: readonly { readonly name: string; readonly listen: { readonly host: string } }[]) {}

  portFor(listener: string, nodeId: number): Promise<number> {
    const key = `${listener}\0${nodeId}`;
    let port = this.#ports.get(key);
    if (port === undefined) {
      const host = this.listeners.find((l) => l.name === listener)?.listen.host ?? '127.0.0.1';
      port = freePort(host);
      this.#ports.set(key, port);
      port.catch(() => this.#ports.delete(key));
    }
    return port;
  }
}

/** A port the OS reports free on `host` now (bound and released; the worker binds it right after). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
