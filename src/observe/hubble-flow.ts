// Renders a FlowEvent as one `hubble observe -o json` line: a GetFlowsResponse envelope around a flow.Flow in
// protojson form (proto field names, enums as strings, uint64 as strings, zero values left out, `is_reply`
// always printed). Keys are emitted in flow.proto declaration order, as protojson does, so output diffs cleanly
// against real Hubble records. Pure: no clocks, no I/O.
import { isIPv4, isIPv6 } from 'node:net';
import type { Decision, HttpDecision, Identity, RuleRef } from '../policy/types.js';
import type { FlowEvent, HttpFlowFields, KafkaFlowFields } from './types.js';
// The policy engine's naming (Cilium's names, then Kafka's lower-cased): flows and decision reasons agree.
import { kafkaApiName } from '../policy/kafka-api-keys.js';

export const REDACTED = 'HUBBLE_REDACTED';

/** Monitor message types (cilium pkg/monitor/api/types.go) used as `event_type.type`. */
const MESSAGE_TYPE_DROP = 1;
const MESSAGE_TYPE_POLICY_VERDICT = 5;
const MESSAGE_TYPE_ACCESS_LOG = 129;

/** Datapath drop reasons (cilium pkg/monitor/api/drop.go): default deny vs. an explicit deny rule. */
const DROP_POLICY_DENIED = { code: 133, name: 'POLICY_DENIED' } as const;
const DROP_POLICY_DENY = { code: 181, name: 'POLICY_DENY' } as const;

export interface RenderOptions {
  /** Lower-cased header names whose values are replaced by `HUBBLE_REDACTED`. */
  readonly redactHeaders: ReadonlySet<string>;
  readonly nodeName: string;
}

/**
 * One flow in Hubble's JSON shape. Source and destination are printed as given: for replies the protocol
 * passes them swapped (server → client), as Cilium logs response records.
 */
export function renderFlow(event: FlowEvent, opts: RenderOptions): object {
  const time = formatFlowTime(event.time);
  const src = event.source;
  const dst = event.destination;
  const drop = event.type === 'L3_L4' && event.verdict === 'DROPPED' ? dropReason(event.decision) : undefined;
  const l7 = event.type === 'L7' ? renderL7(event, opts.redactHeaders) : undefined;

  const flow: Record<string, unknown> = { time, verdict: event.verdict };
  if (drop) flow.drop_reason = drop.code;
  putIfSet(flow, 'IP', renderIp(src.address, dst.address));
  putIfSet(flow, 'l4', renderTcp(event.sourcePort, event.destinationPort));
  putIfSet(flow, 'source', renderEndpoint(src.identity));
  putIfSet(flow, 'destination', renderEndpoint(dst.identity));
  flow.Type = event.type;
  putIfSet(flow, 'node_name', opts.nodeName);
  putIfSet(flow, 'source_names', nonEmpty(src.names));
  putIfSet(flow, 'destination_names', nonEmpty(dst.names));
  putIfSet(flow, 'l7', l7?.json);
  flow.event_type = eventType(event, drop);
  flow.traffic_direction = event.direction === 'ingress' ? 'INGRESS' : 'EGRESS';
  if (drop) flow.drop_reason_desc = drop.name;
  flow.is_reply = event.isReply;
  putIfSet(flow, 'Summary', l7?.summary ?? event.info);
  if (event.decision) {
    // A denied request's decision still names the rules that admitted its connection; they did not allow it.
    // (Decided by the decision, not the record: the 403 response to a denial is itself FORWARDED.)
    const allowed = event.decision.verdict === 'FORWARDED' ? event.decision.allowedBy : [];
    putIfSet(flow, 'egress_allowed_by', renderPolicies(allowed, 'egress'));
    putIfSet(flow, 'ingress_allowed_by', renderPolicies(allowed, 'ingress'));
    putIfSet(flow, 'egress_denied_by', renderPolicies(event.decision.deniedBy, 'egress'));
    putIfSet(flow, 'ingress_denied_by', renderPolicies(event.decision.deniedBy, 'ingress'));
    putIfSet(flow, 'policy_log', policyLog([...allowed, ...event.decision.deniedBy]));
  }
  flow.portcullis = renderExtension(event);
  const envelope: Record<string, unknown> = { flow };
  putIfSet(envelope, 'node_name', opts.nodeName);
  envelope.time = time;
  return envelope;
}

/** RFC 3339 in UTC with nine fractional digits (a Date carries milliseconds; the rest are zeros). */
export function formatFlowTime(time: Date): string {
  const iso = time.toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ
  return `${iso.slice(0, -1)}000000Z`;
}

/** Replaces the password of `scheme://user:password@host/...` as Hubble's filterURL does. */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return url;
  const authorityStart = schemeEnd + 3;
  let authorityEnd = url.length;
  for (const c of ['/', '?', '#']) {
    const i = url.indexOf(c, authorityStart);
    if (i >= 0 && i < authorityEnd) authorityEnd = i;
  }
  const at = url.lastIndexOf('@', authorityEnd - 1);
  if (at < authorityStart) return url;
  const colon = url.indexOf(':', authorityStart);
  if (colon < 0 || colon > at) return url;
  return `${url.slice(0, colon + 1)}${REDACTED}${url.slice(at)}`;
}

function renderL7(event: FlowEvent, redact: ReadonlySet<string>): { json: object; summary?: string } | undefined {
  const l7 = event.l7;
  if (!l7) return undefined;
  const json: Record<string, unknown> = { type: l7.type };
  if (l7.latencyNs !== undefined && l7.latencyNs !== 0n) json.latency_ns = l7.latencyNs.toString();
  const response = l7.type === 'RESPONSE';
  let summary: string | undefined;
  if (l7.http) {
    const url = redactUrl(l7.http.url);
    json.http = renderHttp(l7.http, url, redact);
    summary = response
      ? `${l7.http.protocol} ${l7.http.code ?? 0} ${(l7.latencyNs ?? 0n) / 1_000_000n}ms (${l7.http.method} ${url})`
      : `${l7.http.protocol} ${l7.http.method} ${url}`;
  } else if (l7.kafka) {
    const apiKey = kafkaApiName(l7.kafka.apiKey);
    json.kafka = renderKafka(l7.kafka, apiKey, response);
    const request = `${apiKey} correlation id ${l7.kafka.correlationId} topic '${l7.kafka.topic}'`;
    summary = response
      ? `Kafka response ${request} return code ${l7.kafka.errorCode ?? 0}`
      : `Kafka request ${request}`;
  }
  return { json, summary };
}

function renderHttp(http: HttpFlowFields, url: string, redact: ReadonlySet<string>): object {
  const out: Record<string, unknown> = {};
  if (http.code) out.code = http.code;
  putIfSet(out, 'method', http.method);
  putIfSet(out, 'url', url);
  putIfSet(out, 'protocol', http.protocol);
  if (http.headers.length > 0) {
    const headers = http.headers.map(([key, value]) => ({
      key,
      value: redact.has(key.toLowerCase()) ? REDACTED : value,
    }));
    // Hubble sorts by key; Array#sort is stable, so duplicates keep their arrival order.
    headers.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    out.headers = headers;
  }
  return out;
}

/** Hubble leaves `error_code` out of request records (even denied ones); the extension keeps it. */
function renderKafka(kafka: KafkaFlowFields, apiKey: string, response: boolean): object {
  const out: Record<string, unknown> = {};
  if (response && kafka.errorCode) out.error_code = kafka.errorCode;
  if (kafka.apiVersion) out.api_version = kafka.apiVersion;
  out.api_key = apiKey;
  if (kafka.correlationId) out.correlation_id = kafka.correlationId;
  putIfSet(out, 'topic', kafka.topic);
  return out;
}

function renderIp(source: string | undefined, destination: string | undefined): object | undefined {
  const src = source === undefined ? undefined : unmapIPv4(source);
  const dst = destination === undefined ? undefined : unmapIPv4(destination);
  if (!src && !dst) return undefined;
  const out: Record<string, unknown> = {};
  putIfSet(out, 'source', src);
  putIfSet(out, 'destination', dst);
  const sample = src || dst || '';
  if (isIPv4(sample)) out.ipVersion = 'IPv4';
  else if (isIPv6(sample)) out.ipVersion = 'IPv6';
  return out;
}

/** Sockets on dual-stack listeners report `::ffff:a.b.c.d`; Hubble shows the IPv4 address. */
function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function renderTcp(sourcePort: number, destinationPort: number): object | undefined {
  if (!sourcePort && !destinationPort) return undefined;
  const tcp: Record<string, number> = {};
  if (sourcePort) tcp.source_port = sourcePort;
  if (destinationPort) tcp.destination_port = destinationPort;
  return { TCP: tcp };
}

function renderEndpoint(identity: Identity): object {
  const out: Record<string, unknown> = {};
  if (identity.id) out.identity = identity.id;
  putIfSet(out, 'namespace', identity.namespace);
  putIfSet(out, 'labels', nonEmpty(identity.labelStrings));
  // Reserved identities (world, host, ...) have no namespace and no pod in Hubble's output.
  if (identity.namespace !== undefined) putIfSet(out, 'pod_name', identity.name);
  return out;
}

function eventType(event: FlowEvent, drop: { code: number } | undefined): object {
  if (event.type === 'L7') return { type: MESSAGE_TYPE_ACCESS_LOG };
  if (drop) return { type: MESSAGE_TYPE_DROP, sub_type: drop.code };
  return { type: MESSAGE_TYPE_POLICY_VERDICT };
}

function dropReason(decision: Decision | undefined): { code: number; name: string } {
  return decision && decision.deniedBy.length > 0 ? DROP_POLICY_DENY : DROP_POLICY_DENIED;
}

/** Hubble `Policy` objects for the rules of one direction, one per policy document. */
function renderPolicies(refs: readonly RuleRef[], direction: RuleRef['direction']): readonly object[] | undefined {
  const seen = new Set<string>();
  const out: object[] = [];
  for (const ref of refs) {
    if (ref.direction !== direction) continue;
    const p = ref.policy;
    const key = `${p.kind}/${p.namespace ?? ''}/${p.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const policy: Record<string, unknown> = { name: p.name };
    putIfSet(policy, 'namespace', p.namespace);
    putIfSet(policy, 'labels', nonEmpty(p.labels));
    policy.kind = p.kind;
    out.push(policy);
  }
  return nonEmpty(out);
}

/** Hubble's `policy_log`: the `log.value` of each matching rule that has one, once each. */
function policyLog(refs: readonly RuleRef[]): readonly string[] | undefined {
  const values = new Set<string>();
  for (const ref of refs) if (ref.log) values.add(ref.log);
  return values.size > 0 ? [...values] : undefined;
}

/**
 * Portcullis extension: where the verdict came from, which Hubble cannot say. `rules` locate (`file:line path`)
 * the deny rules when one decided, else the rules the decision names: those that allowed the flow or, for an
 * L7 denial, those whose L7 rules it failed to match.
 */
function renderExtension(event: FlowEvent): object {
  const out: Record<string, unknown> = { listener: event.listener };
  const decision = event.decision;
  if (decision) {
    putIfSet(out, 'reason', decision.reason);
    const deciding = decision.deniedBy.length > 0 ? decision.deniedBy : decision.allowedBy;
    putIfSet(out, 'rules', nonEmpty(deciding.map((r) => `${r.file}:${r.line} ${r.path}`)));
    // HttpDecision's headerMatches results; other decisions do not carry them.
    const http = decision as Partial<Pick<HttpDecision, 'missingHeaders' | 'rejectedHeaders'>>;
    putIfSet(out, 'missing_headers', nonEmpty(http.missingHeaders));
    putIfSet(out, 'rejected_headers', nonEmpty(http.rejectedHeaders));
  }
  const kafka = event.l7?.kafka;
  if (kafka?.errorCode && event.l7?.type === 'REQUEST') out.kafka_error_code = kafka.errorCode;
  putIfSet(out, 'info', event.info);
  return out;
}

function nonEmpty<T>(list: readonly T[] | undefined): readonly T[] | undefined {
  return list && list.length > 0 ? list : undefined;
}

/** protojson leaves out zero values: undefined, '' and empty lists never reach the output. */
function putIfSet(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined || value === '') return;
  target[key] = value;
}
