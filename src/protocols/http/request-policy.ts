// The protocol-neutral steps of one HTTP request, shared by HTTP/1.1 and HTTP/2 (gRPC included):
// facts → decision → flow records → metrics. Protocol code extracts the facts and writes the bytes
// (a 403, or a gRPC PERMISSION_DENIED); everything observable about the decision is here.
import type { ListenerContext } from '../context.js';
import type { FlowParties } from '../connection-policy.js';
import type { ConnectionDecision, HttpDecision, HttpRequestFacts, Peer, Verdict } from '../../policy/types.js';
import type { FlowEvent, UpstreamRetryReason } from '../../observe/types.js';
import { applyHeaderActions, type Headers } from './forward-headers.js';

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
   * Decides `facts` under the connection's current decision, records the REQUEST flow (FORWARDED,
   * DROPPED or AUDIT) and counts it. The caller forwards when `allowed`, else answers with its denial.
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
    if (ctx.flows.enabled) ctx.flows.record(this.requestEvent(this.decision.verdict));
  }

  get allowed(): boolean {
    return this.decision.allowed;
  }

  /** Records the response the client got (from upstream or a local 403): RESPONSE flow + request metric. */
  responded(code: number, headers: Headers): void {
    this.recordResponse('FORWARDED', code, headers, undefined);
  }

  /** Counts a request sent to the upstream again after it refused it unprocessed. */
  retried(reason: UpstreamRetryReason): void {
    this.ctx.metrics.upstreamRetry?.(this.ctx.config.name, reason);
  }

  /** Records a response the proxy made because the exchange failed (upstream down or slow), with why in `info`. */
  failed(code: number, info: string, headers: Headers = []): void {
    this.recordResponse('ERROR', code, headers, info);
  }

  private recordResponse(verdict: Verdict, code: number, headers: Headers, info: string | undefined): void {
    const { ctx } = this;
    ctx.metrics.httpRequest(this.facts.method, this.protocol, code);
    if (!ctx.flows.enabled) return;
    ctx.flows.record({
      time: new Date(),
      verdict,
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
      info,
      listener: ctx.config.name,
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

/**
 * A request refused before policy (bad path, ambiguous framing, header limits): counted as a parse error
 * and recorded as an ERROR request flow whose `info` says why, so operators can see the 400/431.
 */
export function recordRejectedRequest(
  ctx: ListenerContext,
  conn: FlowParties,
  method: string,
  target: string,
  protocol: HttpProtocol,
  status: number,
  reason: string,
): void {
  ctx.metrics.policyL7('parse_errors', 'http');
  ctx.metrics.httpRequest(method, protocol, status);
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
    info: `${status}: ${reason}`,
    listener: ctx.config.name,
  });
}
