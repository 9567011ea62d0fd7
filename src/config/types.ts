// The parsed form of `portcullis.yaml` (see README "Configuration"). Defaults are filled in by the loader.
import type { TlsSecretRef } from '../policy/types.js';
import type { LogOptions } from './log-options.js';

export interface EndpointConfig {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly addresses: readonly string[];
  readonly identities: readonly string[];
  /** Where it was declared, for error messages. */
  readonly file: string;
  readonly line: number;
}

export interface HttpLimits {
  /** Max bytes of request headers (431 above it). */
  readonly maxHeaderBytes: number;
  /** Max number of request headers (431 above it). */
  readonly maxHeaderCount: number;
  /** ms to receive complete request headers. */
  readonly headersTimeoutMs: number;
  /** ms a keep-alive connection may sit idle between requests. */
  readonly idleTimeoutMs: number;
  /** ms to connect to the upstream. */
  readonly upstreamConnectTimeoutMs: number;
  /** ms to wait for upstream response headers. */
  readonly upstreamTimeoutMs: number;
  /** Connections open at once to one upstream (per destination for forward and TLS-originating routes). */
  readonly upstreamMaxConnections: number;
  /** Requests waiting for a busy upstream's connections; beyond, 503 with an ERROR flow. */
  readonly upstreamMaxPending: number;
  /** `%2F`/`%5C` in the path: reject with 400 (default) or keep. */
  readonly escapedSlashes: 'reject' | 'keep';
  /** X-Forwarded-For handling: append the peer address (default), strip the header, or pass it unchanged. */
  readonly xForwardedFor: 'append' | 'strip' | 'pass';
  /** HTTP/2: concurrent streams per connection. */
  readonly maxConcurrentStreams: number;
  /** HTTP/2: close a session whose client resets more than this many streams per second (rapid reset). */
  readonly maxResetsPerSecond: number;
  /**
   * HTTP/2: ms a stream may see no frame in either direction before both hops are reset (default 300000, Envoy's).
   * HTTP/1.x: ms a request body may make no progress (its connection idle) before the exchange ends with 408.
   */
  readonly streamIdleTimeoutMs: number;
  /** HTTP/2: flow-control window per stream, bytes, advertised to clients and upstreams (default 1 MiB). */
  readonly initialWindowSize: number;
  /** HTTP/2: CONTINUATION frames one request header block may span (default 8, nghttp2's; at least what maxHeaderBytes needs in 16 KiB frames). */
  readonly maxContinuationFrames: number;
  /** HTTP/2: DATA/HEADERS/CONTINUATION frames in a row with no payload and no END_STREAM (default 1, Envoy's). */
  readonly maxConsecutiveEmptyFrames: number;
  /** HTTP/2: PRIORITY frames per stream the client opened (default 100, Envoy's). */
  readonly maxPriorityFramesPerStream: number;
  /** HTTP/2: WINDOW_UPDATE frames per DATA frame sent to the client (default 10, Envoy's). */
  readonly maxWindowUpdatesPerDataFrame: number;
  /** HTTP/2: PING/SETTINGS acknowledgements and resets owed to a client at once (default 1000, nghttp2's max_outbound_ack). */
  readonly maxOutboundControlFrames: number;
  /** ms a spliced tunnel (WebSocket, CONNECT, TLS passthrough) may carry no byte either way before both sides are closed (default 3600000, Envoy's tcp_proxy idle_timeout). */
  readonly tunnelIdleTimeoutMs: number;
}

/** Kafka listeners: framing limits and how brokers are fronted (see src/protocols/kafka/proxy/listener.ts). */
export interface KafkaListenerOptions {
  /** Largest request or response frame accepted, bytes without the size prefix (default 100 MiB, Kafka's socket.request.max.bytes). */
  readonly maxFrameSize: number;
  /** ms to connect to a broker. */
  readonly upstreamConnectTimeoutMs: number;
  /** Host clients are told to reach the proxy at; default the listen host, or the connection's local address when listening on a wildcard. */
  readonly advertisedHost?: string;
  /** Listen port of the per-broker listener, by broker node id; nodes not listed get a port the OS picks. */
  readonly brokerPorts: ReadonlyMap<number, number>;
  /** Large responses go from the broker's socket to the client's with splice(2), where the native addon is built (default true). */
  readonly zeroCopy: boolean;
  /** Topic entries one request may name (default 10,000); more closes the connection before any is read. */
  readonly maxTopicsPerRequest: number;
  /** Partitions and other array entries one request may carry (default 100,000); more closes the connection. */
  readonly maxPartitionsPerRequest: number;
  /** ms a request frame may take to arrive once its first bytes have (default 30,000). */
  readonly requestTimeoutMs: number;
  /** ms a connection may go without a byte either way while nothing is in flight (default 600,000, Kafka's connections.max.idle.ms). */
  readonly idleTimeoutMs: number;
  /** Bytes of incomplete request frames the listener's connections may hold together (default 256 MiB); past it, reading waits. */
  readonly maxBufferedBytes: number;
}

/** TLS on `http`, `tls`, `forward` and `kafka` listeners (see src/protocols/tls/listener-front.ts). */
export interface ListenerTlsOptions {
  /**
   * Server certificate. `http` and `kafka` listeners terminate every connection with it unless policy names a
   * `terminatingTLS` secret (required there); `tls` listeners
   * present it when they request client certificates (the identity is needed before policy can pick a secret).
   */
  readonly secret?: TlsSecretRef;
  /** Secret whose `ca.crt` verifies client certificates; a verified certificate's names select the source endpoint. */
  readonly clientCA?: TlsSecretRef;
  /** `none` (default without clientCA), `request` (default with it: used when sent) or `require` (handshake fails without one). */
  readonly clientCertificates: 'none' | 'request' | 'require';
  /** ms for the ClientHello to arrive and for the handshake to complete (default 10000). */
  readonly handshakeTimeoutMs: number;
  /** Largest ClientHello accepted, bytes including record headers (default 16384). */
  readonly maxClientHelloBytes: number;
}

/** `forward` listeners: how target names are resolved (see src/protocols/forward/resolve.ts). */
export interface ForwardListenerOptions {
  /** Static name -> addresses (names lower-case, no trailing dot), consulted before the system resolver. */
  readonly hosts: ReadonlyMap<string, readonly string[]>;
  /** Ask the system resolver for names not in `hosts` (default true; false for air-gapped setups and tests). */
  readonly systemResolver: boolean;
  /** ms a name lookup may take, waiting for a turn included (default 5000). */
  readonly resolveTimeoutMs: number;
  /** System lookups at once (default 2: half of libuv's 4 threads, which fs work such as flow-file writes shares). */
  readonly maxConcurrentLookups: number;
  /** Lookups waiting for a turn; more are answered 503 at once (default 64). */
  readonly maxQueuedLookups: number;
  /**
   * Relay for clients that no policy selects for egress (default false: they are refused with 403, since no
   * egress rule would restrict where the proxy goes for them).
   */
  readonly allowUnselectedClients: boolean;
}

export interface ListenerConfig {
  readonly name: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly protocol: 'http' | 'kafka' | 'tls' | 'forward';
  /** Open downstream connections the listener keeps (all its ports); more are reset at accept (default 10000). */
  readonly maxConnections: number;
  /** Open downstream connections from one source address; more are reset at accept (default 1000). */
  readonly maxConnectionsPerSource: number;
  /** Destination endpoint name (its ingress policy applies); absent for forward listeners. */
  readonly to?: string;
  readonly upstream?: { readonly host: string; readonly port: number };
  /** Destination port that toPorts is matched against. */
  readonly port: number;
  /** HTTP listeners: how to talk to the upstream. */
  readonly upstreamProtocol: 'http1' | 'h2c' | 'h2';
  readonly http: HttpLimits;
  /** TLS options: on `http` and `kafka` listeners that terminate TLS; defaults filled in for `tls` and `forward` listeners. */
  readonly tls?: ListenerTlsOptions;
  /** Forward listeners only (filled with defaults by the loader). */
  readonly forward?: ForwardListenerOptions;
  /** Kafka listeners only (filled with defaults by the loader). */
  readonly kafka?: KafkaListenerOptions;
  readonly file: string;
  readonly line: number;
}

/** TLS on the Hubble listener, as Cilium's Hubble server does it for Hubble Relay and the `hubble` CLI. */
export interface HubbleTlsOptions {
  /** Server certificate (tls.crt, tls.key). */
  readonly secret: TlsSecretRef;
  /** Secret whose `ca.crt` verifies client certificates: with it a client must present one (mTLS), as with Cilium's `hubble-tls-client-ca-files`. */
  readonly clientCA?: TlsSecretRef;
  /**
   * Cluster name in the TLS server names announced to Relay, `<node>.<clusterName>.hubble-grpc.cilium.io`; must
   * match Relay's `--cluster-name` (both default to `default`).
   */
  readonly clusterName: string;
  /** Where `tls:` was declared, for start-up errors (an unusable secret). */
  readonly file: string;
  readonly line: number;
}

export interface HubbleConfig {
  readonly listen: { readonly host: string; readonly port: number };
  /** Plaintext when absent. */
  readonly tls?: HubbleTlsOptions;
  /** Flows kept in memory for `hubble observe` (Hubble's own default: 4095). */
  readonly bufferSize: number;
  /** Other Hubble servers (Portcullis instances) this one announces to Hubble Relay besides itself. */
  readonly peers: ReadonlyArray<{ readonly name: string; readonly address: { readonly host: string; readonly port: number } }>;
}

export interface PortcullisConfig {
  /** Absolute path of the config file (relative paths below are resolved against its folder). */
  readonly file: string;
  readonly policies: readonly string[];
  readonly certs: string;
  readonly enforcement: 'default' | 'always' | 'never';
  readonly audit: boolean;
  /** Processes serving the listeners: `auto` (one per core the process may use) or a count; 1 is a single process. */
  readonly workers: 'auto' | number;
  readonly admin?: { readonly host: string; readonly port: number };
  /** Flows' Hubble `node_name` and this node's name for Hubble Relay; absent: the host name. */
  readonly nodeName?: string;
  /** The Hubble API server (`hubble observe`, Hubble Relay); absent when off (the default). */
  readonly hubble?: HubbleConfig;
  /** `stdout`, `off`, or a file path. */
  readonly flows: string;
  /** Operational logs on stderr (`run --log-level` overrides the level). */
  readonly log: LogOptions;
  /** Header names whose values flow records show as `HUBBLE_REDACTED`. */
  readonly redactHeaders: readonly string[];
  /** Flow records' URLs: true drops the query, a list hides those parameters' values (`HUBBLE_REDACTED`). */
  readonly redactQuery: boolean | readonly string[];
  readonly endpoints: readonly EndpointConfig[];
  readonly listeners: readonly ListenerConfig[];
}
