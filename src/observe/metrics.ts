// Prometheus metrics named after Cilium/Hubble's, on a registry of our own (never prom-client's global one, so
// several proxies or tests in one process do not collide). Label values that come from traffic (methods,
// protocols, status codes, Kafka keys) are folded into small fixed sets: a client must not be able to create
// series at will.
import prom from 'prom-client';
import type { Metrics } from './types.js';
import type { Verdict } from '../policy/types.js';
import { kafkaApiKeyByName, kafkaApiName } from '../policy/kafka-api-keys.js';

export interface PortcullisMetrics extends Metrics {
  readonly registry: prom.Registry;
  /** portcullis_policy_reload_total{result}. */
  reload(result: 'success' | 'failure'): void;
  /** portcullis_policy_revision, cilium_policy (policy documents), cilium_endpoint (registered endpoints). */
  snapshotInfo(revision: number, policies: number, endpoints: number): void;
  /** portcullis_certificate_expiry_seconds{secret}: seconds until notAfter, computed at scrape time. */
  certificateExpiry(secret: string, notAfter: Date): void;
  /** portcullis_kafka_unsupported_requests_total{api_key, api_version}: requests refused as unparseable. */
  kafkaUnsupported(apiKey: number, apiVersion: number): void;
  /** hubble_lost_events_total{source="flow_recorder"}: flows dropped because the writer fell behind. */
  flowsLost(count: number): void;
  kafkaSpliced(listener: string, bytes: number): void;
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const HTTP_PROTOCOLS = new Set(['HTTP/1.0', 'HTTP/1.1', 'HTTP/2']);
const OTHER = 'OTHER';

export function createMetrics(): PortcullisMetrics {
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const policyL7 = counter({
    name: 'cilium_policy_l7_total',
    help: 'Number of total proxy requests handled, by outcome (received, forwarded, denied, parse_errors)',
    labelNames: ['rule', 'proxy_type'] as const,
    registers,
  });
  const httpRequests = counter({
    name: 'hubble_http_requests_total',
    help: 'Count of HTTP requests answered, by method, protocol and response status',
    labelNames: ['method', 'protocol', 'status'] as const,
    registers,
  });
  const drops = counter({
    name: 'hubble_drop_total',
    help: 'Number of connections dropped by L3/L4 policy, by drop reason and protocol',
    labelNames: ['reason', 'protocol'] as const,
    registers,
  });
  const kafkaRequests = counter({
    name: 'hubble_kafka_requests_total',
    help: 'Count of Kafka requests, by API key, error code and verdict',
    labelNames: ['api_key', 'error_code', 'verdict'] as const,
    registers,
  });
  const kafkaUnsupported = counter({
    name: 'portcullis_kafka_unsupported_requests_total',
    help: 'Kafka requests refused because their API key or version cannot be parsed (connection closed)',
    labelNames: ['api_key', 'api_version'] as const,
    registers,
  });
  const lostEvents = counter({
    name: 'hubble_lost_events_total',
    help: 'Number of flow records lost because the destination could not keep up',
    labelNames: ['source'] as const,
    registers,
  });
  const spliced = counter({
    name: 'portcullis_kafka_spliced_bytes_total',
    help: 'Kafka response bytes moved from the broker socket to the client socket in the kernel (splice), never copied through the proxy',
    labelNames: ['listener'] as const,
    registers,
  });
  const retries = counter({
    name: 'portcullis_upstream_retries_total',
    help: 'Requests sent to the upstream again because it refused them unprocessed (REFUSED_STREAM, or above its GOAWAY)',
    labelNames: ['listener', 'reason'] as const,
    registers,
  });
  const reloads = counter({
    name: 'portcullis_policy_reload_total',
    help: 'Policy and endpoint reloads, by result (a failure keeps the last good snapshot)',
    labelNames: ['result'] as const,
    registers,
  });
  const connections = new prom.Gauge({
    name: 'portcullis_connections',
    help: 'Open downstream connections, by listener',
    labelNames: ['listener'] as const,
    registers,
  });
  const policies = new prom.Gauge({ name: 'cilium_policy', help: 'Number of policy documents loaded', registers });
  const endpoints = new prom.Gauge({ name: 'cilium_endpoint', help: 'Number of registered endpoints', registers });
  const revision = new prom.Gauge({ name: 'portcullis_policy_revision', help: 'Revision of the policy snapshot in use', registers });

  const notAfter = new Map<string, number>();
  new prom.Gauge({
    name: 'portcullis_certificate_expiry_seconds',
    help: 'Seconds until the certificate of a stored TLS secret expires (negative once expired)',
    labelNames: ['secret'] as const,
    registers,
    // Every worker reports the same certificates: summing their seconds would be nonsense.
    aggregator: 'min',
    collect() {
      const now = Date.now();
      for (const [secret, expiry] of notAfter) this.set({ secret }, Math.floor((expiry - now) / 1000));
    },
  });

  return {
    registry,
    policyL7: (rule, proxyType) => policyL7(rule, proxyType).inc(),
    httpRequest: (method, protocol, status) =>
      httpRequests(
        HTTP_METHODS.has(method) ? method : OTHER,
        HTTP_PROTOCOLS.has(protocol) ? protocol : OTHER,
        boundedInt(status, 100, 599) ?? OTHER,
      ).inc(),
    drop: (reason, protocol) => drops(reason, protocol).inc(),
    kafkaRequest: (apiKey: string, errorCode: number, verdict: Verdict) =>
      kafkaRequests(kafkaApiKeyLabel(apiKey), boundedInt(errorCode, -1, 199) ?? OTHER, verdict).inc(),
    kafkaUnsupported: (apiKey, apiVersion) =>
      kafkaUnsupported(boundedInt(apiKey, 0, 99) ?? OTHER, boundedInt(apiVersion, 0, 99) ?? OTHER).inc(),
    connectionOpened: (listener) => connections.inc({ listener }),
    connectionClosed: (listener) => connections.dec({ listener }),
    flowsLost: (count) => lostEvents('flow_recorder').inc(count),
    upstreamRetry: (listener, reason) => retries(listener, reason).inc(),
    kafkaSpliced: (listener, bytes) => spliced(listener).inc(bytes),
    reload: (result) => reloads(result).inc(),
    snapshotInfo(rev, policyCount, endpointCount) {
      revision.set(rev);
      policies.set(policyCount);
      endpoints.set(endpointCount);
    },
    certificateExpiry(secret, date) {
      notAfter.set(secret, date.getTime());
    },
  };
}

/** The primary's own series, beside the sums of its workers' (src/runtime/primary.ts). */
export interface ClusterMetrics {
  /** portcullis_worker_restarts_total{worker}: a worker that exited unasked was replaced. */
  restarted(worker: number): void;
}

export function createClusterMetrics(registry: prom.Registry, serving: () => number): ClusterMetrics {
  new prom.Gauge({
    name: 'portcullis_workers',
    help: 'Worker processes serving the listeners',
    registers: [registry],
    collect() {
      this.set(serving());
    },
  });
  const restarts = new prom.Counter({
    name: 'portcullis_worker_restarts_total',
    help: 'Workers replaced after they exited unasked (crash, out of memory, killed), by worker slot',
    labelNames: ['worker'] as const,
    registers: [registry],
  });
  return { restarted: (worker) => restarts.inc({ worker: String(worker) }) };
}

/** One label tuple's count since prom-client last collected it. */
class CounterCell {
  pending = 0;
  constructor(readonly labels: Partial<Record<string, string>>) {}
  inc(by = 1): void {
    this.pending += by;
  }
}

/**
 * A counter whose hot path is one addition. prom-client hashes the label object on every `inc`, which showed in
 * profiles of the proxies: counts accumulate in a cell per label tuple and reach prom-client when it collects
 * (at scrape time). Cells are as bounded as the label values are.
 */
function counter<L extends string>(config: prom.CounterConfiguration<L>): (...values: string[]) => CounterCell {
  // One map level per label: lookups hash the label values (mostly constants, hashed once), never a joined key.
  const root = new Map<string, CellTree>();
  const all: CounterCell[] = [];
  const names = config.labelNames ?? [];
  new prom.Counter({
    ...config,
    collect() {
      for (const cell of all) {
        if (cell.pending === 0) continue;
        this.inc(cell.labels, cell.pending);
        cell.pending = 0;
      }
    },
  });
  return (...values) => {
    let level = root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]!) as Map<string, CellTree> | undefined;
      if (next === undefined) level.set(values[i]!, (next = new Map()));
      level = next;
    }
    let cell = level.get(values[last]!) as CounterCell | undefined;
    if (cell === undefined) {
      cell = new CounterCell(Object.fromEntries(names.map((name, i) => [name, values[i]!])));
      level.set(values[last]!, cell);
      all.push(cell);
    }
    return cell;
  };
}

type CellTree = Map<string, CellTree> | CounterCell;

function boundedInt(n: number, min: number, max: number): string | undefined {
  return Number.isInteger(n) && n >= min && n <= max ? String(n) : undefined;
}

/** A known API key, given by name (any case) or number, as `kafkaApiName` prints it; anything else is one bucket. */
function kafkaApiKeyLabel(apiKey: string): string {
  let label = apiKeyLabels.get(apiKey);
  if (label === undefined) {
    label = apiKeyLabelOf(apiKey);
    // Inputs are API names from the codec, a few dozen; the cap keeps the cache bounded whatever a caller passes.
    if (apiKeyLabels.size < 1024) apiKeyLabels.set(apiKey, label);
  }
  return label;
}
const apiKeyLabels = new Map<string, string>();

function apiKeyLabelOf(apiKey: string): string {
  const key = /^\d{1,5}$/.test(apiKey) ? Number(apiKey) : kafkaApiKeyByName(apiKey);
  if (key === undefined) return OTHER;
  const name = kafkaApiName(key);
  return name === String(key) ? OTHER : name;
}
