// Incremental fetch sessions (KIP-227, Fetch v7+) let a client list only the partitions that changed since
// its previous Fetch — often none — and let the broker remember the rest. Policy must see every topic a
// request reads, and the proxy keeps no per-session state, so it asks brokers for sessionless fetches: a
// Fetch opening a new session (id 0, epoch 0) is forwarded with epoch -1 ("full fetch, no session"). The
// broker then answers with session id 0 and the client — the Java consumer does this — keeps sending full
// requests, which policy checks topic by topic. kafkajs and librdkafka already send epoch -1: their
// requests pass unchanged. An incremental Fetch (a session id the proxy never let a broker create) is
// decided on the topics it lists, so a `topic` rule denies it when it lists none.
import { decodeRequest, encodeRequest } from '../codec/codec.js';
import type { KafkaPolicyFacts } from './facts.js';

const NO_SESSION_EPOCH = -1;

/** The request to forward: `frame` itself unless it is a Fetch asking the broker to open a fetch session. */
export function withoutFetchSession(frame: Buffer, facts: KafkaPolicyFacts): Buffer {
  if (!facts.opensFetchSession) return frame;
  const { header, body } = decodeRequest(frame);
  return encodeRequest(header, { ...body, sessionEpoch: NO_SESSION_EPOCH });
}
