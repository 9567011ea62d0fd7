// Renders a FlowEvent as one `hubble observe -o json` line: a GetFlowsResponse envelope around a flow.Flow in
// protojson form (proto field names, enums as strings, uint64 as strings, zero values left out, `is_reply`
// always printed). Keys are emitted in flow.proto declaration order, as protojson does, so output diffs cleanly
// against real Hubble records. Pure (its caches only memoise): no clocks, no I/O.
import { isIPv4, isIPv6 } from 'node:net';
import type { Decision, HttpDecision, Identity, Peer, RuleRef } from '../policy/types.js';
import type { FlowEvent, HttpFlowFields, KafkaFlowFields } from './types.js';
// The policy engine's naming (Cilium's names, then Kafka's lower-cased): flows and decision reasons agree.
import { kafkaApiName } from '../policy/kafka-api-keys.js';

export const REDACTED = 'HUBBLE_REDACTED';

/** Monitor message types (cilium pkg/monitor/api/types.go) used as `event_type.type`. */
const MESSAGE_TYPE_DROP = 1;
const MESSAGE_TYPE_POLICY_VERDICT = 5;
const MESSAGE_TYPE_ACCESS_LOG = 129;

/** Datapath drop reasons (cilium pkg/monitor/api/drop.go): default deny vs. an explicit deny rule. */
const DROP_POLICY_DENIED: DropReason = { code: 133, name: 'POLICY_DENIED' };
const DROP_POLICY_DENY: DropReason = { code: 181, name: 'POLICY_DENY' };

interface DropReason {
  readonly code: number;
  readonly name: string;
}

export interface RenderOptions {
  /** Lower-cased header names whose values are replaced by `HUBBLE_REDACTED`. */
  readonly redactHeaders: ReadonlySet<string>;
  readonly nodeName: string;
}

/**
 * One flow in Hubble's JSON shape, as one line of JSON text (no newline). Source and destination are printed
 * as given: for replies the protocol passes them swapped (server → client), as Cilium logs response records.
 *
 * Built as text rather than an object for JSON.stringify: flow logging runs for every request, and the parts
 * that repeat (endpoints, the policy behind a shared decision, time, node and listener names) are rendered once
 * per identity, decision or value. Strings are escaped once each (the URL serves `url` and `Summary`).
 */
export function renderFlow(event: FlowEvent, opts: RenderOptions): string {
  const time = flowTimeJson(event.time);
  const node = nodeField(opts.nodeName);
  const drop = event.type === 'L3_L4' && event.verdict === 'DROPPED' ? dropReason(event.decision) : undefined;
  let flow = `{"time":${time},"verdict":"${event.verdict}"`;
  if (drop) flow += `,"drop_reason":${drop.code}`;
  flow += renderParties(event, node);
  // The Summary's text is the L7 record's, else `info`.
  let summary = '';
  const l7 = event.type === 'L7' ? event.l7 : undefined;
  if (l7) {
    flow += `,"l7":{"type":"${l7.type}"`;
    const latency = l7.latencyNs !== undefined && l7.latencyNs !== 0n ? latencyText(l7.latencyNs) : undefined;
    if (latency !== undefined) flow += `,"latency_ns":"${latency}"`;
    if (l7.http) {
      const http = l7.http;
      const url = escape(redactUrl(http.url));
      flow += `,"http":${renderHttp(http, url, opts.redactHeaders)}`;
      summary = l7.type === 'RESPONSE'
        ? `${escape(http.protocol)} ${http.code ?? 0} ${latency === undefined ? '0' : milliseconds(l7.latencyNs!)}ms (${escape(http.method)} ${url})`
        : `${escape(http.protocol)} ${escape(http.method)} ${url}`;
    } else if (l7.kafka) {
      const kafka = l7.kafka;
      const apiKey = kafkaApiName(kafka.apiKey);
      flow += `,"kafka":${renderKafka(kafka, apiKey, l7.type === 'RESPONSE')}`;
      const request = `${escape(apiKey)} correlation id ${kafka.correlationId} topic '${escape(kafka.topic)}'`;
      // Broker responses stream through unread: their return code is shown only when the proxy knows it.
      summary = l7.type === 'RESPONSE'
        ? `Kafka response ${request}${kafka.errorCode === undefined ? '' : ` return code ${kafka.errorCode}`}`
        : `Kafka request ${request}`;
    }
    flow += '}';
  }
  const info = event.info !== undefined && event.info !== '' ? escape(event.info) : '';
  if (summary === '') summary = info;
  flow += verdictFields(event, drop);
  if (summary !== '') flow += `,"Summary":"${summary}"`;
  flow += policyFields(event.decision, event.listener);
  const kafka = event.l7?.kafka;
  if (kafka?.errorCode && event.l7!.type === 'REQUEST') flow += `,"kafka_error_code":${kafka.errorCode}`;
  if (info !== '') flow += `,"info":"${info}"`;
  return `{"flow":${flow}}}${node},"time":${time}}`;
}

/** `,"node_name":"..."`, or '' without a node name; the last one is kept (a recorder has one). */
function nodeField(name: string): string {
  if (name !== lastNode.name) lastNode = { name, json: name === '' ? '' : flat(`,"node_name":${JSON.stringify(name)}`) };
  return lastNode.json;
}
let lastNode = { name: '', json: '' };

/** `,"portcullis":{"listener":"..."`; the last one is kept (flows come in runs from one listener). */
function listenerField(name: string): string {
  if (name !== lastListener.name) lastListener = { name, json: flat(`,"portcullis":{"listener":${JSON.stringify(name)}`) };
  return lastListener.json;
}
let lastListener = { name: '', json: ',"portcullis":{"listener":""' };

/** A bigint's decimal text; safe integers (any real latency) take the cheaper Number path to the same digits. */
function latencyText(ns: bigint): string {
  return ns <= MAX_SAFE && ns >= -MAX_SAFE ? String(Number(ns)) : String(ns);
}

/** Whole milliseconds, truncated toward zero as bigint division does. */
function milliseconds(ns: bigint): string {
  if (ns > MAX_SAFE || ns < -MAX_SAFE) return String(ns / 1_000_000n);
  const n = Number(ns);
  return String((n - (n % 1_000_000)) / 1_000_000);
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The same text as one flat string. V8 keeps a string built by concatenation as a tree of its pieces, and every
 * record that includes a cached tree walks all of it again when the record is encoded: several times the cost of
 * copying the flat text. A JSON round trip yields the same UTF-16 units, flat; cached text is made once.
 */
function flat(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

/** The fields fixed by a record's parties: rendered once per connection and direction, not per record. */
interface PartiesJson {
  readonly destination: Peer;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly type: FlowEvent['type'];
  readonly node: string;
  readonly text: string;
}

/**
 * By source peer: a connection's client, or its upstream for replies. Bounded, because a cache entry per open
 * connection (~1.3 KB for both directions) would be kept by every idle keep-alive connection for as long as it
 * stays open; past PARTIES_CACHED the oldest entry goes, to be rendered again should its connection speak.
 */
const partiesBySource = new Map<Peer, PartiesJson>();
const PARTIES_CACHED = 2048;

/** `,"IP":...,"l4":...,"source":...,"destination":...,"Type":...,"node_name":...` and the DNS names. */
function renderParties(event: FlowEvent, node: string): string {
  const { source: src, destination: dst, sourcePort, destinationPort, type } = event;
  const cached = partiesBySource.get(src);
  if (
    cached !== undefined && cached.destination === dst && cached.sourcePort === sourcePort &&
    cached.destinationPort === destinationPort && cached.type === type && cached.node === node
  ) {
    return cached.text;
  }
  let text = renderIp(src.address, dst.address) + renderTcp(sourcePort, destinationPort);
  text += `,"source":${renderEndpoint(src.identity)},"destination":${renderEndpoint(dst.identity)},"Type":"${type}"${node}`;
  if (src.names !== undefined && src.names.length > 0) text += `,"source_names":${JSON.stringify(src.names)}`;
  if (dst.names !== undefined && dst.names.length > 0) text += `,"destination_names":${JSON.stringify(dst.names)}`;
  text = flat(text);
  if (cached === undefined && partiesBySource.size >= PARTIES_CACHED) partiesBySource.delete(partiesBySource.keys().next().value!);
  partiesBySource.set(src, { destination: dst, sourcePort, destinationPort, type, node, text });
  return text;
}

/** RFC 3339 in UTC with nine fractional digits (a Date carries milliseconds; the rest are zeros). */
export function formatFlowTime(time: Date): string {
  return cachedTime(time).text;
}

/** formatFlowTime as a JSON string (its characters need no escaping). */
function flowTimeJson(time: Date): string {
  return cachedTime(time).json;
}

function cachedTime(time: Date): { ms: number; text: string; json: string } {
  const ms = time.getTime();
  // Flows come in bursts within the same millisecond: one formatting serves them all.
  if (ms !== lastTime.ms) {
    const iso = time.toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ
    const text = `${iso.slice(0, -1)}000000Z`;
    lastTime = { ms, text, json: flat(`"${text}"`) };
  }
  return lastTime;
}
let lastTime = { ms: NaN, text: '', json: '' };

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

/** The `http` object; `url` is already redacted and escaped (the Summary reuses it). */
function renderHttp(http: HttpFlowFields, url: string, redact: ReadonlySet<string>): string {
  let out = http.code ? `"code":${http.code}` : '';
  if (http.method !== '') out += `${out === '' ? '' : ','}"method":${quote(http.method)}`;
  if (url !== '') out += `${out === '' ? '' : ','}"url":"${url}"`;
  if (http.protocol !== '') out += `${out === '' ? '' : ','}"protocol":${quote(http.protocol)}`;
  if (http.headers.length > 0) {
    // Hubble sorts by key; the sort is stable, so duplicates keep their arrival order.
    const sorted = isSortedByKey(http.headers) ? http.headers : sortByKey(http.headers);
    let headers = '';
    for (let i = 0; i < sorted.length; i++) {
      const [key, value] = sorted[i]!;
      const shown = redact.has(key.toLowerCase()) ? REDACTED : value;
      headers += `${i === 0 ? '' : ','}{"key":${quote(key)},"value":${quote(shown)}}`;
    }
    out += `${out === '' ? '' : ','}"headers":[${headers}]`;
  }
  return `{${out}}`;
}

/** A stable insertion sort by name: header lists are short, and this beats Array#sort's comparator calls. */
function sortByKey(headers: HttpFlowFields['headers']): HttpFlowFields['headers'] {
  const out = headers.slice();
  for (let i = 1; i < out.length; i++) {
    const h = out[i]!;
    let j = i - 1;
    for (; j >= 0 && out[j]![0] > h[0]; j--) out[j + 1] = out[j]!;
    out[j + 1] = h;
  }
  return out;
}

function isSortedByKey(headers: HttpFlowFields['headers']): boolean {
  for (let i = 1; i < headers.length; i++) if (headers[i - 1]![0] > headers[i]![0]) return false;
  return true;
}

/** Characters JSON.stringify would escape: quote, backslash, controls, surrogates (lone ones are escaped). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON string literal; most header text needs no escaping, and skipping JSON.stringify then is cheaper. */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/**
 * A JSON string literal's content, without its quotes. Escaping works per UTF-16 unit, except that a surrogate
 * pair stays as is: parts escaped apart and joined by ASCII text read exactly as the whole escaped at once.
 */
function escape(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text).slice(1, -1) : text;
}

/** Hubble leaves `error_code` out of request records (even denied ones); the extension keeps it. */
function renderKafka(kafka: KafkaFlowFields, apiKey: string, response: boolean): string {
  const fields: string[] = [];
  if (response && kafka.errorCode) fields.push(`"error_code":${kafka.errorCode}`);
  if (kafka.apiVersion) fields.push(`"api_version":${kafka.apiVersion}`);
  fields.push(`"api_key":${JSON.stringify(apiKey)}`);
  if (kafka.correlationId) fields.push(`"correlation_id":${kafka.correlationId}`);
  if (kafka.topic !== '') fields.push(`"topic":${JSON.stringify(kafka.topic)}`);
  return `{${fields.join(',')}}`;
}

/** `,"IP":{...}`, or '' when neither address is known. */
function renderIp(source: string | undefined, destination: string | undefined): string {
  const src = source === undefined ? '' : unmapIPv4(source);
  const dst = destination === undefined ? '' : unmapIPv4(destination);
  if (src === '' && dst === '') return '';
  const fields: string[] = [];
  if (src !== '') fields.push(`"source":${JSON.stringify(src)}`);
  if (dst !== '') fields.push(`"destination":${JSON.stringify(dst)}`);
  const sample = src || dst;
  if (isIPv4(sample)) fields.push('"ipVersion":"IPv4"');
  else if (isIPv6(sample)) fields.push('"ipVersion":"IPv6"');
  return `,"IP":{${fields.join(',')}}`;
}

/** Sockets on dual-stack listeners report `::ffff:a.b.c.d`; Hubble shows the IPv4 address. */
function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** `,"l4":{...}`, or '' without ports. */
function renderTcp(sourcePort: number, destinationPort: number): string {
  if (!sourcePort && !destinationPort) return '';
  const ports: string[] = [];
  if (sourcePort) ports.push(`"source_port":${sourcePort}`);
  if (destinationPort) ports.push(`"destination_port":${destinationPort}`);
  return `,"l4":{"TCP":{${ports.join(',')}}}`;
}

const endpoints = new WeakMap<Identity, string>();

function renderEndpoint(identity: Identity): string {
  let json = endpoints.get(identity);
  if (json === undefined) {
    const fields: string[] = [];
    if (identity.id) fields.push(`"identity":${identity.id}`);
    if (identity.namespace !== undefined && identity.namespace !== '') fields.push(`"namespace":${JSON.stringify(identity.namespace)}`);
    if (identity.labelStrings.length > 0) fields.push(`"labels":${JSON.stringify(identity.labelStrings)}`);
    // Reserved identities (world, host, ...) have no namespace and no pod in Hubble's output.
    if (identity.namespace !== undefined && identity.name !== '') fields.push(`"pod_name":${JSON.stringify(identity.name)}`);
    json = `{${fields.join(',')}}`;
    endpoints.set(identity, json);
  }
  return json;
}

/**
 * `,"event_type":...,"traffic_direction":...,"drop_reason_desc":...,"is_reply":...`: a few combinations, each
 * rendered once.
 */
function verdictFields(event: FlowEvent, drop: DropReason | undefined): string {
  const kind = event.type === 'L7' ? 0 : drop === undefined ? 1 : drop === DROP_POLICY_DENY ? 2 : 3;
  const index = kind * 4 + (event.direction === 'ingress' ? 0 : 2) + (event.isReply ? 1 : 0);
  let text = verdictTexts[index];
  if (text === undefined) {
    text = `,"event_type":${eventType(event, drop)},"traffic_direction":"${event.direction === 'ingress' ? 'INGRESS' : 'EGRESS'}"`;
    if (drop) text += `,"drop_reason_desc":"${drop.name}"`;
    text += `,"is_reply":${event.isReply}`;
    verdictTexts[index] = text = flat(text);
  }
  return text;
}
const verdictTexts: Array<string | undefined> = [];

function eventType(event: FlowEvent, drop: { code: number } | undefined): string {
  if (event.type === 'L7') return `{"type":${MESSAGE_TYPE_ACCESS_LOG}}`;
  if (drop) return `{"type":${MESSAGE_TYPE_DROP},"sub_type":${drop.code}}`;
  return `{"type":${MESSAGE_TYPE_POLICY_VERDICT}}`;
}

function dropReason(decision: Decision | undefined): DropReason {
  return decision && decision.deniedBy.length > 0 ? DROP_POLICY_DENY : DROP_POLICY_DENIED;
}

/** A decision's fields: Hubble's (after `Summary`) and the extension's (after `listener`), each with leading commas. */
interface DecisionJson {
  readonly hubble: string;
  readonly extension: string;
  /** Both around `,"portcullis":{"listener":...`, for the listener last seen with this decision. */
  listener?: string;
  text: string;
}

// Allowed decisions are shared by every request a rule allows: their text is rendered once.
const decisions = new WeakMap<Decision, DecisionJson>();

/** The decision's Hubble fields, then the `portcullis` extension up to its optional Kafka and `info` fields. */
function policyFields(decision: Decision | undefined, listener: string): string {
  if (decision === undefined) return listenerField(listener);
  const json = renderDecision(decision);
  if (json.listener !== listener) {
    json.listener = listener;
    json.text = flat(`${json.hubble},"portcullis":{"listener":${JSON.stringify(listener)}${json.extension}`);
  }
  return json.text;
}

function renderDecision(decision: Decision): DecisionJson {
  let json = decisions.get(decision);
  if (json !== undefined) return json;
  // A denied request's decision still names the rules that admitted its connection; they did not allow it.
  // (Decided by the decision, not the record: the 403 response to a denial is itself FORWARDED.)
  const allowed = decision.verdict === 'FORWARDED' ? decision.allowedBy : [];
  const hubble =
    renderPolicies('egress_allowed_by', allowed, 'egress') +
    renderPolicies('ingress_allowed_by', allowed, 'ingress') +
    renderPolicies('egress_denied_by', decision.deniedBy, 'egress') +
    renderPolicies('ingress_denied_by', decision.deniedBy, 'ingress') +
    policyLog([...allowed, ...decision.deniedBy]);
  json = { hubble, extension: renderExtension(decision), text: '' };
  decisions.set(decision, json);
  return json;
}

/** Hubble `Policy` objects for the rules of one direction, one per policy document: `,"<field>":[...]` or ''. */
function renderPolicies(field: string, refs: readonly RuleRef[], direction: RuleRef['direction']): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const ref of refs) {
    if (ref.direction !== direction) continue;
    const p = ref.policy;
    const key = `${p.kind}/${p.namespace ?? ''}/${p.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let policy = `{"name":${JSON.stringify(p.name)}`;
    if (p.namespace !== undefined && p.namespace !== '') policy += `,"namespace":${JSON.stringify(p.namespace)}`;
    if (p.labels.length > 0) policy += `,"labels":${JSON.stringify(p.labels)}`;
    out.push(`${policy},"kind":${JSON.stringify(p.kind)}}`);
  }
  return out.length > 0 ? `,"${field}":[${out.join(',')}]` : '';
}

/** Hubble's `policy_log`: the `log.value` of each matching rule that has one, once each. */
function policyLog(refs: readonly RuleRef[]): string {
  const values = new Set<string>();
  for (const ref of refs) if (ref.log) values.add(ref.log);
  return values.size > 0 ? `,"policy_log":${JSON.stringify([...values])}` : '';
}

/**
 * Portcullis extension: where the verdict came from, which Hubble cannot say. `rules` locate (`file:line path`)
 * the deny rules when one decided, else the rules the decision names: those that allowed the flow or, for an
 * L7 denial, those whose L7 rules it failed to match.
 */
function renderExtension(decision: Decision): string {
  let out = decision.reason === '' ? '' : `,"reason":${JSON.stringify(decision.reason)}`;
  const deciding = decision.deniedBy.length > 0 ? decision.deniedBy : decision.allowedBy;
  if (deciding.length > 0) out += `,"rules":${JSON.stringify(deciding.map((r) => `${r.file}:${r.line} ${r.path}`))}`;
  // HttpDecision's headerMatches results; other decisions do not carry them.
  const http = decision as Partial<Pick<HttpDecision, 'missingHeaders' | 'rejectedHeaders'>>;
  if (http.missingHeaders?.length) out += `,"missing_headers":${JSON.stringify(http.missingHeaders)}`;
  if (http.rejectedHeaders?.length) out += `,"rejected_headers":${JSON.stringify(http.rejectedHeaders)}`;
  return out;
}
