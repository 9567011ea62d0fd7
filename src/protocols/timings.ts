// How long the protocol listeners wait on their own: fixed in production (these values), shorter in the tests,
// which pass their own through the listener context instead of waiting the production times out.
export interface ListenerTimings {
  /** How often live HTTP/2 sessions are re-decided after a policy reload (a denied one is closed). */
  readonly reloadCheckMs: number;
  /** After a local reply, bytes still arriving are read and dropped this long before closing, so the reply is not lost to a reset. */
  readonly lingerMs: number;
  /** A denied client that has not sent anything yet gets this long to do so before the reset. */
  readonly deniedWaitMs: number;
  /**
   * At shutdown, how long a connection that has not reached its protocol server yet (first bytes not sniffed, TLS
   * handshake not done) or has not begun its first request may take to do so: one accepted just before the listener
   * stopped (a worker replaced in a rolling restart) still gets its first request answered, with `Connection: close`.
   */
  readonly firstRequestGraceMs: number;
  /**
   * How long a listener's shutdown lets in-flight work finish (HTTP/1.1 exchanges, Kafka responses still owed,
   * HTTP/2 streams after GOAWAY) before destroying what is left.
   */
  readonly shutdownGraceMs: number;
}

export const LISTENER_TIMINGS: ListenerTimings = {
  reloadCheckMs: 500,
  lingerMs: 1000,
  deniedWaitMs: 1000,
  firstRequestGraceMs: 1000,
  shutdownGraceMs: 10_000,
};
