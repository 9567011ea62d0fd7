// What the primary and its workers say to each other over the cluster IPC channel. Plain JSON.
import type { Registry } from 'prom-client';
import { LOG_FORMATS, type LogOptions } from '../config/log-options.js';
import type { Sources } from './compile.js';

/**
 * With `flows: stdout`, the descriptor a worker writes its rendered flow records to; the primary merges them, whole
 * lines, into its stdout. A flow file is appended to by every worker itself (O_APPEND: each write lands whole at the
 * end, as nginx workers share an access log).
 */
export const WORKER_FLOWS_FD = 3;

/**
 * A worker's environment: its slot, and the log settings of the run (the logger exists before the first message
 * arrives, and a worker never reads the config file).
 */
export function workerEnv(slot: number, log: LogOptions): Record<string, string> {
  return { PORTCULLIS_WORKER: String(slot), PORTCULLIS_LOG_LEVEL: log.level, PORTCULLIS_LOG_FORMAT: log.format };
}

export function workerLogOptions(env: NodeJS.ProcessEnv): LogOptions {
  const format = LOG_FORMATS.find((f) => f === env.PORTCULLIS_LOG_FORMAT) ?? 'json';
  return { level: env.PORTCULLIS_LOG_LEVEL ?? 'info', format };
}

export type ToWorker =
  /** First message: the revision to serve and what every worker must share. */
  | { readonly t: 'start'; readonly sources: Sources; readonly revision: number; readonly ticketKeys: string; readonly watchCerts: boolean }
  /** A reload: switch to this revision and say so. */
  | { readonly t: 'policy'; readonly sources: Sources; readonly revision: number }
  | { readonly t: 'metrics'; readonly id: number }
  /** The answer to a `port` request. */
  | { readonly t: 'port'; readonly id: number; readonly port: number }
  /** SIGHUP: reopen the flow file (log rotation) and re-read the stored secrets. */
  | { readonly t: 'reopen' }
  /** Stop accepting, finish what is in flight, exit. */
  | { readonly t: 'drain' };

export type WorkerMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type FromWorker =
  /** The worker listens for messages (ESM loads asynchronously: one sent earlier would be lost). */
  | { readonly t: 'up' }
  | { readonly t: 'ready'; readonly revision: number }
  /** Start-up failed (the listener could not bind, a certificate is unusable, ...): the message is the whole answer. */
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'applied'; readonly revision: number }
  | { readonly t: 'rejected'; readonly revision: number; readonly message: string }
  | { readonly t: 'metrics'; readonly id: number; readonly metrics: WorkerMetrics }
  /** Its metrics as it exits after a drain, so its counts stay in the sum. */
  | { readonly t: 'final'; readonly metrics: WorkerMetrics }
  /** Which port the per-broker socket of `nodeId` on Kafka listener `listener` uses. */
  | { readonly t: 'port'; readonly id: number; readonly listener: string; readonly nodeId: number };
