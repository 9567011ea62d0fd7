// Renders a FlowEvent as one `hubble observe -o json` line: a GetFlowsResponse envelope around a flow.Flow in
// protojson form (proto field names, enums as strings, uint64 as strings, zero values left out, `is_reply`
// always printed). Keys are emitted in flow.proto declaration order, as protojson does, so output diffs cleanly
// against real Hubble records. Pure (its caches only memoise): no clocks, no I/O.
import { isIPv4, isIPv6 } from 'node:net';
import type { Decision, HttpDecision, Identity, Peer, RuleRef } from '../policy/types.js';
import type { FlowEvent, HttpFlowFields, KafkaFlowFields } from './types.js';
// The policy engine's naming (Cilium's names, then Kafka's lower-cased): flows and decision reasons agree.
import { kafkaApiName } from '../policy/kafka-api-keys.js';
import { LineSlab } from './line-slab.js';

export const REDACTED = 'HUBBLE_REDACTED';

/** Monitor message types (cilium pkg/monitor/api/types.go) used as `event_type.type`. */
const MESSAGE_TYPE_DROP = 1;
const MESSAGE_TYPE_POLICY_VERDICT = 5;
const MESSAGE_TYPE_ACCESS_LOG = 129;

/** Datapath drop reasons (cilium pkg/monitor/api/drop.go): default deny vs. an explicit deny rule. */
const DROP_POLICY_DENIED = dropReasonOf(133, 'POLICY_DENIED');
const DROP_POLICY_DENY = dropReasonOf(181, 'POLICY_DENY');

interface DropReason {
  readonly code: number;
  readonly name: string;
  /** `,"drop_reason":<code>` */
  readonly field: Buffer;
}

function dropReasonOf(code: number, name: string): DropReason {
  return { code, name, field: Buffer.from(`,"drop_reason":${code}`) };
}

export interface RenderOptions {
  /** Lower-cased header names whose values are replaced by `HUBBLE_REDACTED`. */
  readonly redactHeaders: ReadonlySet<string>;
  readonly nodeName: string;
}

/**
 * One flow in Hubble's JSON shape, as one line of JSON text (no newline). Source and destination are printed
 * as given: for replies the protocol passes them swapped (server → client), as Cilium logs response records.
 */
export function renderFlow(event: FlowEvent, opts: RenderOptions): string {
  writeFlow(scratch, event, opts);
  const line = scratch.take();
  return line.toString('utf8', 0, line.length - 1);
}
const scratch = new LineSlab();

/**
 * renderFlow's line and its newline, written into `out`: the recorder's form. On a throw (a malformed event) the
 * line is left incomplete; the caller abandons it.
 *
 * Written as bytes, piece by piece, rather than as a string: flow logging runs for every request, and the parts
 * that repeat (endpoints, the policy behind a shared decision, node and listener names) are encoded once per
 * identity, decision or value and copied from then on; per-record text is encoded in place. Text that appears
 * twice (time, URL) is escaped once and its bytes copied.
 */
export function writeFlow(out: LineSlab, event: FlowEvent, opts: RenderOptions): void {
  const node = nodeField(opts.nodeName);
  const drop = event.type === 'L3_L4' && event.verdict === 'DROPPED' ? dropReason(event.decision) : undefined;
  out.bytes(FLOW_TIME);
  const timeStart = out.lineOffset;
  writeTime(out, event.time);
  const timeEnd = out.lineOffset;
  out.bytes(fixed(VERDICTS, event.verdict, '","verdict":"', '"'));
  if (drop) out.bytes(drop.field);
  out.bytes(renderParties(event, node));
  const l7 = event.type === 'L7' ? event.l7 : undefined;
  const latency = l7?.latencyNs !== undefined && l7.latencyNs !== 0n ? l7.latencyNs : undefined;
  const http = l7?.http;
  let url: { start: number; end: number } | undefined;
  let kafkaSummary: string | undefined;
  if (l7) {
    out.bytes(fixed(L7_TYPES, l7.type, ',"l7":{"type":"', '"'));
    if (latency !== undefined) {
      out.bytes(LATENCY);
      writeBigint(out, latency);
      out.bytes(QUOTE);
    }
    if (http) {
      url = writeHttp(out, http, opts.redactHeaders);
    } else if (l7.kafka) {
      const kafka = l7.kafka;
      const apiKey = kafkaApiName(kafka.apiKey);
      out.text(`,"kafka":${renderKafka(kafka, apiKey, l7.type === 'RESPONSE')}`);
      const request = `${escape(apiKey)} correlation id ${kafka.correlationId} topic '${escape(kafka.topic)}'`;
      // Broker responses stream through unread: their return code is shown only when the proxy knows it.
      kafkaSummary = l7.type === 'RESPONSE'
        ? `Kafka response ${request}${kafka.errorCode === undefined ? '' : ` return code ${kafka.errorCode}`}`
        : `Kafka request ${request}`;
    }
    out.bytes(BRACE_CLOSE);
  }
  const info = event.info !== undefined && event.info !== '' ? event.info : undefined;
  out.bytes(verdictFields(event, drop));
  // The Summary's text is the L7 record's, else `info`.
  if (http && url) {
    out.bytes(SUMMARY);
    out.jsonText(http.protocol);
    out.bytes(SPACE);
    if (l7!.type === 'RESPONSE') {
      out.number(http.code ?? 0);
      out.bytes(SPACE);
      if (latency === undefined) out.bytes(ZERO);
      else writeMilliseconds(out, latency);
      out.bytes(MS_OPEN);
      out.jsonText(http.method);
      out.bytes(SPACE);
      out.repeat(url.start, url.end);
      out.bytes(PAREN_CLOSE);
    } else {
      out.jsonText(http.method);
      out.bytes(SPACE);
      out.repeat(url.start, url.end);
    }
    out.bytes(QUOTE);
  } else if (kafkaSummary !== undefined || info !== undefined) {
    out.bytes(SUMMARY);
    if (kafkaSummary !== undefined) out.text(kafkaSummary);
    else out.jsonText(info!);
    out.bytes(QUOTE);
  }
  out.bytes(policyFields(event.decision, event.listener));
  const kafka = event.l7?.kafka;
  if (kafka?.errorCode && event.l7!.type === 'REQUEST') {
    out.bytes(KAFKA_ERROR_CODE);
    out.number(kafka.errorCode);
  }
  if (info !== undefined) {
    out.bytes(INFO);
    out.jsonText(info);
    out.bytes(QUOTE);
  }
  out.bytes(FLOW_CLOSE);
  out.bytes(node.bytes);
  out.bytes(TIME);
  out.repeat(timeStart, timeEnd);
  out.bytes(RECORD_CLOSE);
  out.endLine();
}

const bytesOf = (text: string): Buffer => Buffer.from(text, 'utf8');
const FLOW_TIME = bytesOf('{"flow":{"time":"');
const LATENCY = bytesOf(',"latency_ns":"');
const SUMMARY = bytesOf(',"Summary":"');
const KAFKA_ERROR_CODE = bytesOf(',"kafka_error_code":');
const INFO = bytesOf(',"info":"');
const FLOW_CLOSE = bytesOf('}}');
const TIME = bytesOf(',"time":"');
const RECORD_CLOSE = bytesOf('"}');
const QUOTE = bytesOf('"');
const SPACE = bytesOf(' ');
const ZERO = bytesOf('0');
const MS_OPEN = bytesOf('ms (');
const PAREN_CLOSE = bytesOf(')');
const BRACE_CLOSE = bytesOf('}');
const EMPTY: Buffer = Buffer.alloc(0);

/**
 * `before + value + after`, encoded once per enum value (verdict, types): looked up by the value, a literal
 * whose hash V8 keeps, rather than by a text made per record.
 */
function fixed(texts: Map<string, Buffer>, value: string, before: string, after: string): Buffer {
  let bytes = texts.get(value);
  if (bytes === undefined) texts.set(value, (bytes = bytesOf(before + value + after)));
  return bytes;
}
const VERDICTS = new Map<string, Buffer>();
const L7_TYPES = new Map<string, Buffer>();

/** `,"node_name":"..."`, or nothing without a node name; the last one is kept (a recorder has one). */
function nodeField(name: string): { readonly name: string; readonly bytes: Buffer } {
  if (name !== lastNode.name) lastNode = { name, bytes: bytesOf(name === '' ? '' : `,"node_name":${JSON.stringify(name)}`) };
  return lastNode;
}
let lastNode = { name: '', bytes: EMPTY };

/** `,"portcullis":{"listener":"..."`; the last one is kept (flows come in runs from one listener). */
function listenerField(name: string): Buffer {
  if (name !== lastListener.name) lastListener = { name, bytes: bytesOf(`,"portcullis":{"listener":${JSON.stringify(name)}`) };
  return lastListener.bytes;
}
let lastListener = { name: '', bytes: bytesOf(',"portcullis":{"listener":""') };

/** A bigint's decimal digits; safe integers (any real latency) take the cheaper Number path to the same digits. */
function writeBigint(out: LineSlab, n: bigint): void {
  if (n <= MAX_SAFE && n >= -MAX_SAFE) out.number(Number(n));
  else out.text(String(n));
}

/** Whole milliseconds, truncated toward zero as bigint division does. */
function writeMilliseconds(out: LineSlab, ns: bigint): void {
  if (ns > MAX_SAFE || ns < -MAX_SAFE) {
    out.text(String(ns / 1_000_000n));
    return;
  }
  const n = Number(ns);
  out.number((n - (n % 1_000_000)) / 1_000_000);
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The fields fixed by a record's parties: rendered once per connection and direction, not per record. */
interface PartiesJson {
  readonly destination: Peer;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly type: FlowEvent['type'];
  readonly node: string;
  readonly bytes: Buffer;
}

const partiesBySource = new WeakMap<Peer, PartiesJson>();

/** `,"IP":...,"l4":...,"source":...,"destination":...,"Type":...,"node_name":...` and the DNS names. */
function renderParties(event: FlowEvent, node: { readonly name: string; readonly bytes: Buffer }): Buffer {
  const { source: src, destination: dst, sourcePort, destinationPort, type } = event;
  const cached = partiesBySource.get(src);
  if (
    cached !== undefined && cached.destination === dst && cached.sourcePort === sourcePort &&
    cached.destinationPort === destinationPort && cached.type === type && cached.node === node.name
  ) {
    return cached.bytes;
  }
  let text = renderIp(src.address, dst.address) + renderTcp(sourcePort, destinationPort);
  text += `,"source":${renderEndpoint(src.identity)},"destination":${renderEndpoint(dst.identity)},"Type":"${type}"`;
  const bytes = Buffer.concat([bytesOf(text), node.bytes, bytesOf(peerNames(src, dst))]);
  partiesBySource.set(src, { destination: dst, sourcePort, destinationPort, type, node: node.name, bytes });
  return bytes;
}

function peerNames(src: Peer, dst: Peer): string {
  let text = '';
  if (src.names !== undefined && src.names.length > 0) text += `,"source_names":${JSON.stringify(src.names)}`;
  if (dst.names !== undefined && dst.names.length > 0) text += `,"destination_names":${JSON.stringify(dst.names)}`;
  return text;
}

/** RFC 3339 in UTC with nine fractional digits (a Date carries milliseconds; the rest are zeros). */
export function formatFlowTime(time: Date): string {
  writeTime(scratch, time);
  scratch.endLine();
  const line = scratch.take();
  return line.toString('latin1', 0, line.length - 1);
}

/**
 * formatFlowTime's text (its characters need no escaping). The date and seconds are formatted once per second;
 * each record writes only its milliseconds.
 */
function writeTime(out: LineSlab, time: Date): void {
  const ms = time.getTime();
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond.second) {
    const iso = time.toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ (throws for an invalid Date)
    lastSecond = { second, prefix: bytesOf(iso.slice(0, -4)) };
  }
  out.bytes(lastSecond.prefix);
  out.number(ms - second * 1000, 3);
  out.bytes(NANOS);
}
let lastSecond = { second: NaN, prefix: EMPTY };
const NANOS = bytesOf('000000Z');

/** Replaces the password of `scheme://user:password@host/...` as Hubble's filterURL does. */
export function redactUrl(url: string): string {
  if (!url.includes('@')) return url; // no userinfo: the common case, decided in one scan
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

/**
 * `,"http":{...}`. Returns where the redacted, escaped URL's text is in the line, for the Summary to copy.
 */
function writeHttp(out: LineSlab, http: HttpFlowFields, redact: ReadonlySet<string>): { start: number; end: number } {
  out.bytes(HTTP_OPEN);
  let comma = false; // whether a field was written, so the next one starts with a comma
  if (http.code) {
    out.bytes(CODE);
    out.number(http.code);
    comma = true;
  }
  if (http.method !== '') {
    out.bytes(comma ? NEXT_METHOD : METHOD);
    out.jsonText(http.method);
    out.bytes(QUOTE);
    comma = true;
  }
  const url = redactUrl(http.url);
  let start = 0;
  let end = 0;
  if (url !== '') {
    out.bytes(comma ? NEXT_URL : URL_FIELD);
    start = out.lineOffset;
    out.jsonText(url);
    end = out.lineOffset;
    out.bytes(QUOTE);
    comma = true;
  }
  if (http.protocol !== '') {
    out.bytes(comma ? NEXT_PROTOCOL : PROTOCOL);
    out.jsonText(http.protocol);
    out.bytes(QUOTE);
    comma = true;
  }
  if (http.headers.length > 0) {
    // Hubble sorts by key; the sort is stable, so duplicates keep their arrival order.
    const sorted = isSortedByKey(http.headers) ? http.headers : sortByKey(http.headers);
    out.bytes(comma ? NEXT_HEADERS : HEADERS);
    for (let i = 0; i < sorted.length; i++) {
      const [key, value] = sorted[i]!;
      out.bytes(i === 0 ? HEADER_KEY : NEXT_HEADER_KEY);
      out.jsonText(key);
      out.bytes(HEADER_VALUE);
      out.jsonText(redact.has(key.toLowerCase()) ? REDACTED : value);
    }
    out.bytes(HEADERS_CLOSE);
  }
  out.bytes(BRACE_CLOSE);
  return { start, end };
}
const HTTP_OPEN = bytesOf(',"http":{');
const CODE = bytesOf('"code":');
const METHOD = bytesOf('"method":"');
const NEXT_METHOD = bytesOf(',"method":"');
const URL_FIELD = bytesOf('"url":"');
const NEXT_URL = bytesOf(',"url":"');
const PROTOCOL = bytesOf('"protocol":"');
const NEXT_PROTOCOL = bytesOf(',"protocol":"');
const HEADERS = bytesOf('"headers":[');
const NEXT_HEADERS = bytesOf(',"headers":[');
const HEADER_KEY = bytesOf('{"key":"');
const NEXT_HEADER_KEY = bytesOf('"},{"key":"');
const HEADER_VALUE = bytesOf('","value":"');
const HEADERS_CLOSE = bytesOf('"}]');

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
function verdictFields(event: FlowEvent, drop: DropReason | undefined): Buffer {
  const kind = event.type === 'L7' ? 0 : drop === undefined ? 1 : drop === DROP_POLICY_DENY ? 2 : 3;
  const index = kind * 4 + (event.direction === 'ingress' ? 0 : 2) + (event.isReply ? 1 : 0);
  let bytes = verdictTexts[index];
  if (bytes === undefined) {
    let text = `,"event_type":${eventType(event, drop)},"traffic_direction":"${event.direction === 'ingress' ? 'INGRESS' : 'EGRESS'}"`;
    if (drop) text += `,"drop_reason_desc":"${drop.name}"`;
    text += `,"is_reply":${event.isReply}`;
    verdictTexts[index] = bytes = bytesOf(text);
  }
  return bytes;
}
const verdictTexts: Array<Buffer | undefined> = [];

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
  bytes: Buffer;
}

// Allowed decisions are shared by every request a rule allows: their text is rendered once.
const decisions = new WeakMap<Decision, DecisionJson>();

/** The decision's Hubble fields, then the `portcullis` extension up to its optional Kafka and `info` fields. */
function policyFields(decision: Decision | undefined, listener: string): Buffer {
  if (decision === undefined) return listenerField(listener);
  const json = renderDecision(decision);
  if (json.listener !== listener) {
    json.listener = listener;
    json.bytes = bytesOf(`${json.hubble},"portcullis":{"listener":${JSON.stringify(listener)}${json.extension}`);
  }
  return json.bytes;
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
  json = { hubble, extension: renderExtension(decision), bytes: EMPTY };
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
