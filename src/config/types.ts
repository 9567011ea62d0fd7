// The parsed form of `portcullis.yaml` (see README "Configuration"). Defaults are filled in by the loader.

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
  /** `%2F`/`%5C` in the path: reject with 400 (default) or keep. */
  readonly escapedSlashes: 'reject' | 'keep';
  /** X-Forwarded-For handling: append the peer address (default), strip the header, or pass it unchanged. */
  readonly xForwardedFor: 'append' | 'strip' | 'pass';
  /** HTTP/2: concurrent streams per connection. */
  readonly maxConcurrentStreams: number;
  /** HTTP/2: close a session whose client resets more than this many streams per second (rapid reset). */
  readonly maxResetsPerSecond: number;
  /** HTTP/2: ms a stream may see no frame in either direction before both hops are reset (default 300000, Envoy's). */
  readonly streamIdleTimeoutMs: number;
  /** HTTP/2: flow-control window per stream, bytes, advertised to clients and upstreams (default 1 MiB). */
  readonly initialWindowSize: number;
}

export interface ListenerConfig {
  readonly name: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly protocol: 'http' | 'kafka' | 'tls' | 'forward';
  /** Destination endpoint name (its ingress policy applies); absent for forward listeners. */
  readonly to?: string;
  readonly upstream?: { readonly host: string; readonly port: number };
  /** Destination port that toPorts is matched against. */
  readonly port: number;
  /** HTTP listeners: how to talk to the upstream. */
  readonly upstreamProtocol: 'http1' | 'h2c' | 'h2';
  readonly http: HttpLimits;
  readonly file: string;
  readonly line: number;
}

export interface PortcullisConfig {
  /** Absolute path of the config file (relative paths below are resolved against its folder). */
  readonly file: string;
  readonly policies: readonly string[];
  readonly certs: string;
  readonly enforcement: 'default' | 'always' | 'never';
  readonly audit: boolean;
  readonly admin?: { readonly host: string; readonly port: number };
  /** `stdout`, `off`, or a file path. */
  readonly flows: string;
  /** Header names whose values flow records show as `HUBBLE_REDACTED`. */
  readonly redactHeaders: readonly string[];
  readonly endpoints: readonly EndpointConfig[];
  readonly listeners: readonly ListenerConfig[];
}
