// The error catalogue: every error class in src extends PortcullisError, whose `code` is one of the stable codes
// below (a plain Error remains where only its message is used: abort reasons, invariants, text a StartupError
// wraps). Codes are API: callers and scripts match on them, so a code is never renamed or reused; messages are for
// humans. This file imports nothing, so every folder may import it.

/** Every code, with what it means: the one list of them. */
export const ERROR_CODES = {
  PCL_ERR_STARTUP: 'the proxy cannot start: config or policy errors, a listener that cannot listen, a worker that did not serve',
  PCL_ERR_USAGE: 'a command line the CLI cannot use (portcullis trace arguments, portcullis test expectations)',
  PCL_ERR_SECRET_NAME: 'a secret or item name that is not a valid Kubernetes name',
  PCL_ERR_TLS_SECRET: 'a TLS secret that cannot be used: missing, unreadable, incomplete or not valid for TLS',
  PCL_ERR_CERT_TOOL: 'portcullis certs cannot create or issue: bad options, an existing CA, an unusable CA',
  PCL_ERR_TLS_HANDSHAKE: 'a client TLS handshake that did not complete (the proxy terminates TLS)',
  PCL_ERR_CLIENT_HELLO: 'a TLS ClientHello that cannot be read (not TLS, malformed, too large, truncated, too slow); `reason` says which',
  PCL_ERR_HPACK: 'a malformed HTTP/2 header block: the connection fails with COMPRESSION_ERROR',
  PCL_ERR_UPSTREAM: 'an HTTP/1.1 upstream exchange failed (closed, timed out, malformed response, socket error); `reason` says which',
  PCL_ERR_KAFKA_DECODE: 'bytes that are not a valid Kafka message for the declared API and version',
  PCL_ERR_KAFKA_FRAME: 'a byte stream that cannot be split into Kafka frames (bad size, TLS or HTTP on a plaintext port)',
  PCL_ERR_KAFKA_LIMIT: 'a Kafka request asking for more than the listener allows (topics, partitions, kept bytes): refused unread',
  PCL_ERR_KAFKA_ENCODE: 'a value that cannot be encoded for the requested Kafka API version',
  PCL_ERR_LOOKUP_GATE_FULL: 'a forward-proxy name lookup refused: as many lookups as allowed are running and waiting',
  PCL_ERR_RESOLVE: 'a forward-proxy target that cannot be resolved (not a host name, no address, timed out, too many lookups)',
  PCL_ERR_HUBBLE_FILTER: 'a Hubble FlowFilter the server cannot apply (a malformed value, a CEL expression): INVALID_ARGUMENT',
  PCL_ERR_DEMO_CLOSE_CONNECTION: 'the demo Kafka broker closes the connection, as Kafka does for a request it cannot serve',
} as const;

export type PortcullisErrorCode = keyof typeof ERROR_CODES;

/** The base of every error class in src: `code` says which kind, `name` is the class name, `cause` what led to it. */
export abstract class PortcullisError extends Error {
  abstract readonly code: PortcullisErrorCode;
  override readonly name: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
