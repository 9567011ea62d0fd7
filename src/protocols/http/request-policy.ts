// The protocol-neutral steps of one HTTP request, shared by HTTP/1.1 and HTTP/2 (gRPC included):
// facts → decision → flow records → metrics. Protocol code extracts the facts and writes the bytes
// (a 403, or a gRPC PERMISSION_DENIED); everything observable about the decision is here.
import type { ListenerContext } from '../context.js';
import type { FlowParties } from '../connection-policy.js';
import type { ConnectionDecision, HttpDecision, HttpRequestFacts, Peer, Verdict } from '../../policy/types.js';
import type { FlowEvent, LocalReplyFields, UpstreamRetryReason } from '../../observe/types.js';
import { applyHeaderActions, type Headers } from './forward-headers.js';

/** An answer the proxy wrote itself: its status, and the headers sendLocalReply/writeRawReply/sendH2LocalReply return. */
export interface SentReply {
  readonly code: number;
  readonly headers: Headers;
}

/** Hubble's protocol strings. */
export type HttpProtocol = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

/** One request on an admitted connection: its decision, and the records of what became of it. */
export class HttpExchange {
  /** When the request head was complete (latency of the response record is measured from here). */
  readonly started = process.hrtime.bigint();
  readonly decision: HttpDecision;
  /** The request headers to forward (lower-case names): the facts' headers after policy header actions. */
  readonly headers: Headers;
  /** The headers as received (hop-by-hop ones included) after policy header actions, for the REQUEST record. */
  private readonly recorded: Headers;
  private readonly source: Peer;
  private readonly destination: Peer;
  private readonly url: string;

  /**
   * Decides `facts` under the connection's current decision, records the REQUEST flow of an allowed request
   * (FORWARDED or AUDIT) and counts it. The caller forwards when `allowed`, else answers with its denial and
   * calls `denied`.
   * `received` is the whole header section as it arrived, for the record; policy decides on `facts.headers`,
   * its end-to-end fields.
   */
  constructor(
    private readonly ctx: ListenerContext,
    private readonly conn: FlowParties,
    connection: ConnectionDecision,
    readonly facts: HttpRequestFacts,
    readonly protocol: HttpProtocol,
    scheme: 'http' | 'https',
    received: Headers = facts.headers,
  ) {
    this.source = conn.source;
    this.destination = conn.destination;
    this.url = `${scheme}://${facts.host}${facts.path}`;
    const { metrics } = ctx;
    metrics.policyL7('received', 'http');
    this.decision = connection.decideHttp(facts);
    metrics.policyL7(this.decision.allowed ? 'forwarded' : 'denied', 'http');
    const actions = this.decision.headerActions;
    const act = this.decision.allowed && actions.length > 0;
    this.headers = act ? applyHeaderActions(facts.headers, actions) : facts.headers;
    this.recorded = received === facts.headers ? this.headers : act ? applyHeaderActions(received, actions) : received;
    if (this.decision.allowed && ctx.flows.enabled) ctx.flows.record(this.requestEvent(this.decision.verdict));
  }

  get allowed(): boolean {
    return this.decision.allowed;
  }

  /** Records the upstream's response the client got: RESPONSE flow + request metric. */
  responded(code: number, headers: Headers): void {
    const { ctx } = this;
    ctx.metrics.httpRequest(this.facts.method, this.protocol, code);
    if (!ctx.flows.enabled) return;
    ctx.flows.record({
      time: new Date(),
      verdict: 'FORWARDED',
      direction: this.conn.direction,
      source: this.destination,
      destination: this.source,
      sourcePort: this.conn.destinationPort,
      destinationPort: this.conn.sourcePort,
      type: 'L7',
      l7: {
        type: 'RESPONSE',
        latencyNs: process.hrtime.bigint() - this.started,
        http: { code, method: this.facts.method, url: this.url, protocol: this.protocol, headers },
      },
      isReply: true,
      // No decision: as in Hubble, the policy that let the request through is on the request record.
      listener: ctx.config.name,
    });
  }

  /**
   * The proxy answered the denied request (`sent`; undefined when the client had gone): the DROPPED REQUEST
   * record with that answer, and the request metric. No response record: as Cilium's Kafka and DNS proxies
   * log a denial, the destination was never asked.
   */
  denied(sent: SentReply | undefined): void {
    const { ctx } = this;
    if (sent !== undefined) ctx.metrics.httpRequest(this.facts.method, this.protocol, sent.code);
    if (!ctx.flows.enabled) return;
    const event = this.requestEvent(this.decision.verdict);
    ctx.flows.record(sent === undefined ? event : { ...event, localReply: localReplyOf(sent.code, sent.headers) });
  }

  /** Counts a request sent to the upstream again after it refused it unprocessed. */
  retried(reason: UpstreamRetryReason): void {
    this.ctx.metrics.upstreamRetry?.(this.ctx.config.name, reason);
  }

  /**
   * The exchange failed after the request was allowed (upstream down or slow, overloaded, the client reset):
   * an ERROR record in the request's direction, with the latency since the request and `reason`, and the request
   * metric with `code`. `sent`: the headers of the answer the proxy made itself with that code (a gRPC answer's
   * carry its grpc-status), recorded as the local reply; absent when the client got none (it reset the stream,
   * or its stream was reset).
   */
  failed(code: number, reason: string, sent?: Headers): void {
    const { ctx } = this;
    ctx.metrics.httpRequest(this.facts.method, this.protocol, code);
    if (!ctx.flows.enabled) return;
    const event = this.requestEvent('ERROR');
    ctx.flows.record({
      ...event,
      l7: { ...event.l7!, latencyNs: process.hrtime.bigint() - this.started },
      reason,
      ...(sent === undefined ? {} : { localReply: localReplyOf(code, sent) }),
    });
  }

  private requestEvent(verdict: Verdict): FlowEvent {
    return {
      time: new Date(),
      verdict,
      direction: this.conn.direction,
      source: this.source,
      destination: this.destination,
      sourcePort: this.conn.sourcePort,
      destinationPort: this.conn.destinationPort,
      type: 'L7',
      // Cilium logs the headers after `headerMatches` actions were applied.
      l7: { type: 'REQUEST', http: { method: this.facts.method, url: this.url, protocol: this.protocol, headers: this.recorded } },
      isReply: false,
      decision: this.decision,
      listener: this.ctx.config.name,
    };
  }
}

/** `portcullis.local_reply` of an answer: its status, and a gRPC answer's grpc-status. */
function localReplyOf(code: number, headers: Headers): LocalReplyFields {
  for (const [name, value] of headers) {
    const grpcStatus = name === 'grpc-status' ? Number(value) : NaN;
    if (Number.isInteger(grpcStatus)) return { code, grpcStatus };
  }
  return { code };
}

/**
 * A request refused before policy (bad path, ambiguous framing, header limits) and answered with `sent`
 * (undefined when the client had gone): counted as a parse error and recorded as an ERROR request flow whose
 * reason says why, with the answer, so operators can see the 400/431.
 */
export function recordRejectedRequest(
  ctx: ListenerContext,
  conn: FlowParties,
  method: string,
  target: string,
  protocol: HttpProtocol,
  reason: string,
  sent: SentReply | undefined,
): void {
  ctx.metrics.policyL7('parse_errors', 'http');
  if (sent !== undefined) ctx.metrics.httpRequest(method, protocol, sent.code);
  ctx.flows.record({
    time: new Date(),
    verdict: 'ERROR',
    direction: conn.direction,
    source: conn.source,
    destination: conn.destination,
    sourcePort: conn.sourcePort,
    destinationPort: conn.destinationPort,
    type: 'L7',
    l7: { type: 'REQUEST', http: { method, url: target, protocol, headers: [] } },
    isReply: false,
    reason,
    ...(sent === undefined ? {} : { localReply: localReplyOf(sent.code, sent.headers) }),
    listener: ctx.config.name,
  });
}
