// How a request body moves from the hop that receives it to the hop that sends it, with back-pressure and
// without streams: the HTTP/1.1 server's request and the HTTP/2 server's stream are sources, the upstream clients
// are sinks.

/** Where body bytes go. */
export interface BodySink {
  /** One piece of the body; false asks the source to stop until `resume()`. */
  data(chunk: Buffer): boolean;
  /** The body is complete; `trailers` flat `[name, value, ...]` (lower-case names), empty when none. */
  end(trailers: readonly string[]): void;
}

/** A request body, delivered once to one sink. */
export interface BodySource {
  /** Starts delivering to `sink` (possibly synchronously, with bytes already received). */
  start(sink: BodySink): void;
  /** The sink can take more after `data` returned false. */
  resume(): void;
  /**
   * The exchange no longer needs the rest of the body (answered or failed early). The source reads off and drops
   * what is left of it when its connection can carry another request, or gives up the connection.
   */
  abandon(): void;
}
