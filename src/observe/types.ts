// What protocols hand to the observers. Protocols describe what happened; src/observe renders it
// (Hubble-shaped flow JSON, Prometheus metrics) off the request path.
import type { Decision, Direction, Peer, Verdict } from '../policy/types.js';

export interface HttpFlowFields {
  /** Response status; absent on request records. */
  readonly code?: number;
  readonly method: string;
  /** `<scheme>://<host><path>` as Hubble prints it. */
  readonly url: string;
  /** `HTTP/1.1` or `HTTP/2`. */
  readonly protocol: string;
  /** Lower-cased names; values of redacted headers are replaced by the recorder. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

export interface KafkaFlowFields {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** One record per topic, as Cilium does; '' for topic-less requests. */
  readonly topic: string;
  /** Present on responses and denials. */
  readonly errorCode?: number;
}

/** What a client got from the proxy itself: `portcullis.local_reply`. */
export interface LocalReplyFields {
  /** HTTP status (for gRPC the `:status`, 200). */
  readonly code: number;
  /** The `grpc-status` of a gRPC answer. */
  readonly grpcStatus?: number;
}

export interface FlowEvent {
  /** Wall-clock time the event happened. */
  readonly time: Date;
  readonly verdict: Verdict;
  /** Ingress when the listener fronts `to`; egress for forward-proxy listeners. */
  readonly direction: Direction;
  readonly source: Peer;
  readonly destination: Peer;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** L3_L4 for connection decisions, L7 for requests and responses. */
  readonly type: 'L3_L4' | 'L7';
  readonly l7?: {
    readonly type: 'REQUEST' | 'RESPONSE';
    readonly latencyNs?: bigint;
    readonly http?: HttpFlowFields;
    readonly kafka?: KafkaFlowFields;
  };
  /**
   * True for response records. As in Cilium's response records, their `source`/`destination` (and ports) are
   * swapped relative to the request: source is the server side. The renderer prints them as given.
   */
  readonly isReply: boolean;
  /** The decision behind the verdict (policy names for `*_allowed_by` / `*_denied_by`). */
  readonly decision?: Decision;
  /**
   * Why, in the event's own words (an upstream failure, a refused request, a TLS or Kafka parse error): it is
   * what `portcullis.reason` says, instead of the decision's reason. L3/L4 records' Summary as well.
   */
  readonly reason?: string;
  /** The answer the proxy made itself instead of the destination's (a record in the request's direction). */
  readonly localReply?: LocalReplyFields;
  /** Listener name, for operators running several. */
  readonly listener: string;
}

/** A connection refused before it is read, by a listener's caps (maxConnections, maxConnectionsPerSource). */
export type RefusalReason = 'LISTENER_CONNECTION_LIMIT' | 'SOURCE_CONNECTION_LIMIT';

/**
 * Why a connection was dropped: hubble_drop_total{reason} and a flow's `drop_reason_desc`. Cilium's drop reason
 * names (pkg/monitor/api/drop.go) where Cilium has one, Portcullis' own for what only a proxy sees.
 */
export type DropReason =
  | 'POLICY_DENIED' // no rule allows it (default deny)
  | 'POLICY_DENY' // a deny rule matched
  | 'INVALID_TLS_CLIENT_HELLO' // the TLS front could not read a ClientHello
  | RefusalReason;

/** portcullis_upstream_retries_total{reason}: how the upstream refused a request unprocessed. */
export type UpstreamRetryReason = 'refused_stream' | 'goaway';

export interface FlowRecorder {
  /** False when flow records are off: callers on a request's path skip building events nobody reads. */
  readonly enabled: boolean;
  record(event: FlowEvent): void;
}

/** Counter-style hooks, named after Cilium/Hubble's metrics. */
export interface Metrics {
  /** cilium_policy_l7_total{rule=received|forwarded|denied|parse_errors, proxy_type}. */
  policyL7(rule: 'received' | 'forwarded' | 'denied' | 'parse_errors', proxyType: 'http' | 'kafka' | 'tls'): void;
  /** hubble_http_requests_total{method, protocol, status}. */
  httpRequest(method: string, protocol: string, status: number): void;
  /** hubble_drop_total{reason, protocol}: L3/L4 drops. */
  drop(reason: DropReason, protocol: 'TCP'): void;
  /** hubble_kafka_requests_total{api_key, error_code, verdict}. */
  kafkaRequest(apiKey: string, errorCode: number, verdict: Verdict): void;
  /** portcullis_connections{listener}: open downstream connections. */
  connectionOpened(listener: string): void;
  connectionClosed(listener: string): void;
  /** portcullis_kafka_unsupported_requests_total{api_key, api_version}: requests refused as unparseable. */
  kafkaUnsupported?(apiKey: number, apiVersion: number): void;
  /** portcullis_kafka_spliced_bytes_total{listener}: response bytes moved from broker to client in the kernel (zero copy). */
  kafkaSpliced?(listener: string, bytes: number): void;
  /** portcullis_upstream_retries_total{listener, reason}: requests sent again after the upstream refused them unprocessed. */
  upstreamRetry?(listener: string, reason: UpstreamRetryReason): void;
  /** portcullis_certificate_expiry_seconds{secret}: call when a stored certificate is loaded. */
  certificateExpiry?(secret: string, notAfter: Date): void;
}
