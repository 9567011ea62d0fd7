// What a protocol listener is given by the runtime: the current policy snapshot (swapped on reload),
// the observers, and its own configuration. Protocols never build or cache snapshots themselves.
import type { ListenerConfig } from '../config/types.js';
import type { FlowRecorder, Metrics } from '../observe/types.js';
import type { PolicySnapshot } from '../policy/types.js';
import type { CertStore } from '../secrets/store.js';
import type { ListenerTimings } from './timings.js';
import type { Logger } from 'pino';

export interface ListenerContext {
  readonly config: ListenerConfig;
  /** The snapshot to use for the next decision; read it per connection and per request. */
  snapshot(): PolicySnapshot;
  readonly flows: FlowRecorder;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** What the listener waits on by itself (production values but in tests). */
  readonly timings: ListenerTimings;
  /** The runtime's certificate store (`certs:`), for listeners that terminate or originate TLS. */
  readonly certs?: CertStore;
  /** TLS session ticket keys (48 bytes) shared by every worker; absent, each terminating server makes its own. */
  readonly tlsTicketKeys?: Buffer;
  /**
   * The port of a Kafka listener's per-broker socket for `nodeId` (0: any). With workers, the primary hands out
   * one port per broker so every worker advertises the same address for it.
   */
  brokerPort?(listener: string, nodeId: number): Promise<number>;
}

/** A running listener. `close` stops accepting and ends open connections gracefully. */
export interface RunningListener {
  readonly name: string;
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}
