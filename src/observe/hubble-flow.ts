// Renders a FlowEvent as one `hubble observe -o json` line: a GetFlowsResponse envelope around a flow.Flow in
// protojson form (proto field names, enums as strings, uint64 as strings, zero values left out, `is_reply`
// always printed). Keys are emitted in flow.proto declaration order, as protojson does, so output diffs cleanly
// against real Hubble records. Pure (its caches only memoise): no clocks, no I/O.
import { isIPv4, isIPv6 } from 'node:net';
import type { Decision, HttpDecision, Identity, Peer, RuleRef } from '../policy/types.js';
import type { DropReason, FlowEvent, HttpFlowFields, KafkaFlowFields, LocalReplyFields } from './types.js';
// The policy engine's naming (Cilium's names, then Kafka's lower-cased): flows and decision reasons agree.
import { kafkaApiName } from '../policy/kafka-api-keys.js';
import { LineSlab } from './line-slab.js';
import { policyDropReason } from './drop-reason.js';
import { REDACTED, redactQuery, redactUrl, type QueryRedaction } from './url-redaction.js';

/** Monitor message types (cilium pkg/monitor/api/types.go) used as `event_type.type`. */
const MESSAGE_TYPE_DROP = 1;
const MESSAGE_TYPE_POLICY_VERDICT = 5;
const MESSAGE_TYPE_ACCESS_LOG = 129;

/** Datapath drop reasons (cilium pkg/monitor/api/drop.go): default deny vs. an explicit deny rule. */
const DROP_POLICY_DENIED = datapathDrop(133, 'POLICY_DENIED');
const DROP_POLICY_DENY = datapathDrop(181, 'POLICY_DENY');

interface DatapathDrop {
  readonly code: number;
  readonly name: DropReason;
  /** `,"drop_reason":<code>` */
  readonly field: Buffer;
}

function datapathDrop(code: number, name: DropReason): DatapathDrop {
  return { code, name, field: Buffer.from(`,"drop_reason":${code}`) };
}

export interface RenderOptions {
  /** Lower-cased header names whose values are replaced by `HUBBLE_REDACTED`. */
  readonly redactHeaders: ReadonlySet<string>;
  /** `redactQuery`; absent (the default), URLs keep their query. */
  readonly redactQuery?: QueryRedaction;
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
  const time = timeFields(event.time, node);
  out.bytes(time.head);
  const l7 = event.type === 'L7' ? event.l7 : undefined;
  let drop: DatapathDrop | undefined;
  if (l7) {
    out.bytes(l7Head(event, l7.type, node));
  } else {
    drop = event.type === 'L3_L4' && event.verdict === 'DROPPED' ? dropReason(event.decision) : undefined;
    out.bytes(verdictField(event.verdict));
    if (drop) out.bytes(drop.field);
    out.bytes(renderParties(event, node).bytes);
  }
  const latency = l7?.latencyNs !== undefined && l7.latencyNs !== 0n ? l7.latencyNs : undefined;
  const http = l7?.http;
  let url = NO_URL;
  let kafkaSummary: string | undefined;
  if (l7) {
    if (latency !== undefined) {
      out.bytes(LATENCY);
      writeBigint(out, latency);
      out.byte(QUOTE);
    }
    if (http) {
      url = writeHttp(out, http, opts);
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
    out.byte(BRACE_CLOSE);
  }
  const reason = event.reason !== undefined && event.reason !== '' ? event.reason : undefined;
  const verdict = verdictFields(event, drop);
  // The Summary's text is the L7 record's, else the event's reason.
  if (http) {
    out.bytes(verdict.withSummary);
    out.jsonText(http.protocol);
    out.byte(SPACE);
    if (l7!.type === 'RESPONSE') {
      out.number(http.code ?? 0);
      out.byte(SPACE);
      if (latency === undefined) out.byte(ZERO);
      else writeMilliseconds(out, latency);
      out.bytes(MS_OPEN);
      out.jsonText(http.method);
      out.byte(SPACE);
      out.repeat(url.start, url.end);
      out.byte(PAREN_CLOSE);
    } else {
      out.jsonText(http.method);
      out.byte(SPACE);
      out.repeat(url.start, url.end);
    }
    out.byte(QUOTE);
  } else if (kafkaSummary !== undefined || reason !== undefined) {
    out.bytes(verdict.withSummary);
    if (kafkaSummary !== undefined) out.text(kafkaSummary);
    else out.jsonText(reason!);
    out.byte(QUOTE);
  } else {
    out.bytes(verdict.bytes);
  }
  writePolicyFields(out, event.decision, event.listener, reason);
  const kafka = event.l7?.kafka;
  if (kafka?.errorCode && event.l7!.type === 'REQUEST') {
    out.bytes(KAFKA_ERROR_CODE);
    out.number(kafka.errorCode);
  }
  if (event.localReply !== undefined) writeLocalReply(out, event.localReply);
  out.bytes(time.tail);
  out.endLine();
}

const bytesOf = (text: string): Buffer => Buffer.from(text, 'utf8');
const LATENCY = bytesOf(',"latency_ns":"');
const KAFKA_ERROR_CODE = bytesOf(',"kafka_error_code":');
const REASON = bytesOf(',"reason":"');
const LOCAL_REPLY = bytesOf(',"local_reply":{"code":');
const GRPC_STATUS = bytesOf(',"grpc_status":');
const MS_OPEN = bytesOf('ms (');
const QUOTE = 0x22;
const SPACE = 0x20;
const ZERO = 0x30;
const PAREN_CLOSE = 0x29;
const BRACE_CLOSE = 0x7d;
const NO_URL = { start: 0, end: 0 };
const EMPTY: Buffer = Buffer.alloc(0);

/** `","verdict":"..."`, encoded once per verdict (looked up by the verdict, a literal whose hash V8 keeps). */
function verdictField(verdict: string): Buffer {
  let bytes = VERDICTS.get(verdict);
  if (bytes === undefined) VERDICTS.set(verdict, (bytes = bytesOf(`","verdict":"${verdict}"`)));
  return bytes;
}
const VERDICTS = new Map<string, Buffer>();

/** `,"node_name":"..."`, or nothing without a node name. */
interface NodeJson {
  readonly name: string;
  readonly json: string;
  readonly bytes: Buffer;
}

/** The last node name's field is kept (a recorder has one). */
function nodeField(name: string): NodeJson {
  if (name !== lastNode.name) {
    const json = name === '' ? '' : `,"node_name":${JSON.stringify(name)}`;
    lastNode = { name, json, bytes: bytesOf(json) };
  }
  return lastNode;
}
let lastNode: NodeJson = { name: '', json: '', bytes: EMPTY };

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
  readonly node: NodeJson;
  readonly bytes: Buffer;
  /** L7 records' text from the verdict to the `l7` type, by type and verdict. */
  readonly l7Heads: Map<string, Map<string, Buffer>>;
}

/**
 * By source peer: a connection's client, or its upstream for replies. Bounded, because a cache entry per open
 * connection (~1.3 KB for both directions) would be kept by every idle keep-alive connection for as long as it
 * stays open; past PARTIES_CACHED the oldest entry goes, to be rendered again should its connection speak.
 */
const partiesBySource = new Map<Peer, PartiesJson>();
const PARTIES_CACHED = 2048;

/** `,"IP":...,"l4":...,"source":...,"destination":...,"Type":...,"node_name":...` and the DNS names. */
function renderParties(event: FlowEvent, node: NodeJson): PartiesJson {
  const { source: src, destination: dst, sourcePort, destinationPort, type } = event;
  const cached = partiesBySource.get(src);
  if (
    cached !== undefined && cached.destination === dst && cached.sourcePort === sourcePort &&
    cached.destinationPort === destinationPort && cached.type === type && cached.node === node
  ) {
    return cached;
  }
  let text = renderIp(src.address, dst.address) + renderTcp(sourcePort, destinationPort);
  text += `,"source":${renderEndpoint(src.identity)},"destination":${renderEndpoint(dst.identity)},"Type":"${type}"`;
  text += node.json + peerNames(src, dst);
  const parties = { destination: dst, sourcePort, destinationPort, type, node, bytes: bytesOf(text), l7Heads: new Map() };
  if (cached === undefined && partiesBySource.size >= PARTIES_CACHED) partiesBySource.delete(partiesBySource.keys().next().value!);
  partiesBySource.set(src, parties);
  return parties;
}

/** `","verdict":"...",<parties>,"l7":{"type":"..."`: one copy for what an L7 record shares with its connection's. */
function l7Head(event: FlowEvent, l7Type: string, node: NodeJson): Buffer {
  const parties = renderParties(event, node);
  let byVerdict = parties.l7Heads.get(l7Type);
  if (byVerdict === undefined) parties.l7Heads.set(l7Type, (byVerdict = new Map()));
  let bytes = byVerdict.get(event.verdict);
  if (bytes === undefined) {
    bytes = Buffer.concat([verdictField(event.verdict), parties.bytes, bytesOf(`,"l7":{"type":"${l7Type}"`)]);
    byVerdict.set(event.verdict, bytes);
  }
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
  return `${time.toISOString().slice(0, -1)}000000Z`; // toISOString: YYYY-MM-DDTHH:mm:ss.sssZ
}

/**
 * The record's text up to its verdict, and from the end of the flow object to the end of the line: the parts
 * made of its time and node name. Flows come in bursts within the same millisecond: formatted once for all.
 */
function timeFields(time: Date, node: NodeJson): { readonly head: Buffer; readonly tail: Buffer } {
  const ms = time.getTime();
  if (ms !== lastTime.ms || node !== lastTime.node) {
    const text = formatFlowTime(time); // throws for an invalid Date: the record is not written
    lastTime = { ms, node, head: bytesOf(`{"flow":{"time":"${text}`), tail: bytesOf(`}}${node.json},"time":"${text}"}`) };
  }
  return lastTime;
}
let lastTime = { ms: NaN, node: undefined as NodeJson | undefined, head: EMPTY, tail: EMPTY };

/**
 * `,"http":{...}`. Returns where the redacted, escaped URL's text is in the line, for the Summary to copy.
 * Each field's opening text also closes the one before it (FIELD_OPEN), so the constant text between two values
 * is one copy.
 */
function writeHttp(out: LineSlab, http: HttpFlowFields, opts: RenderOptions): { start: number; end: number } {
  let before = AT_START;
  if (http.code) {
    out.bytes(HTTP_CODE);
    out.number(http.code);
    before = AFTER_NUMBER;
  } else {
    out.bytes(HTTP_OPEN);
  }
  if (http.method !== '') {
    out.bytes(METHOD[before]!);
    out.jsonText(http.method);
    before = AFTER_STRING;
  }
  const url = opts.redactQuery === undefined ? redactUrl(http.url) : redactQuery(redactUrl(http.url), opts.redactQuery);
  let start = 0;
  let end = 0;
  if (url !== '') {
    out.bytes(URL_FIELD[before]!);
    start = out.lineOffset;
    out.jsonText(url);
    end = out.lineOffset;
    before = AFTER_STRING;
  }
  if (http.protocol !== '') {
    out.bytes(PROTOCOL[before]!);
    out.jsonText(http.protocol);
    before = AFTER_STRING;
  }
  const headers = http.headers;
  const redact = opts.redactHeaders;
  if (headers.length > 0) {
    // Hubble sorts by key; the sort is stable, so duplicates keep their arrival order.
    const sorted = isSortedByKey(headers) ? headers : sortByKey(headers);
    out.bytes(HEADERS[before]!);
    for (let i = 0; i < sorted.length; i++) {
      const [key, value] = sorted[i]!;
      if (i > 0) out.bytes(NEXT_HEADER);
      out.jsonText(key);
      out.bytes(HEADER_VALUE);
      out.jsonText(redact.has(key.toLowerCase()) ? REDACTED : value);
    }
    out.bytes(HEADERS_CLOSE);
  } else {
    out.bytes(CLOSE_HTTP[before]!);
  }
  return { start, end };
}
const AT_START = 0;
const AFTER_NUMBER = 1;
const AFTER_STRING = 2;
/** `field` opened after nothing, after a number, after a string value (whose closing quote it writes). */
const fieldOpen = (field: string): Buffer[] => ['', ',', '",'].map((before) => bytesOf(`${before}${field}`));
const HTTP_OPEN = bytesOf(',"http":{');
const HTTP_CODE = bytesOf(',"http":{"code":');
const METHOD = fieldOpen('"method":"');
const URL_FIELD = fieldOpen('"url":"');
const PROTOCOL = fieldOpen('"protocol":"');
const HEADERS = fieldOpen('"headers":[{"key":"');
const NEXT_HEADER = bytesOf('"},{"key":"');
const HEADER_VALUE = bytesOf('","value":"');
const HEADERS_CLOSE = bytesOf('"}]}');
const CLOSE_HTTP = [bytesOf('}'), bytesOf('}'), bytesOf('"}')];

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
function verdictFields(event: FlowEvent, drop: DatapathDrop | undefined): VerdictJson {
  const kind = event.type === 'L7' ? 0 : drop === undefined ? 1 : drop === DROP_POLICY_DENY ? 2 : 3;
  const index = kind * 4 + (event.direction === 'ingress' ? 0 : 2) + (event.isReply ? 1 : 0);
  let json = verdictTexts[index];
  if (json === undefined) {
    let text = `,"event_type":${eventType(event, drop)},"traffic_direction":"${event.direction === 'ingress' ? 'INGRESS' : 'EGRESS'}"`;
    if (drop) text += `,"drop_reason_desc":"${drop.name}"`;
    text += `,"is_reply":${event.isReply}`;
    verdictTexts[index] = json = { bytes: bytesOf(text), withSummary: bytesOf(`${text},"Summary":"`) };
  }
  return json;
}
interface VerdictJson {
  readonly bytes: Buffer;
  /** The same and the start of `Summary`, up to its text. */
  readonly withSummary: Buffer;
}
const verdictTexts: Array<VerdictJson | undefined> = [];

function eventType(event: FlowEvent, drop: { code: number } | undefined): string {
  if (event.type === 'L7') return `{"type":${MESSAGE_TYPE_ACCESS_LOG}}`;
  if (drop) return `{"type":${MESSAGE_TYPE_DROP},"sub_type":${drop.code}}`;
  return `{"type":${MESSAGE_TYPE_POLICY_VERDICT}}`;
}

function dropReason(decision: Decision | undefined): DatapathDrop {
  return policyDropReason(decision) === 'POLICY_DENY' ? DROP_POLICY_DENY : DROP_POLICY_DENIED;
}

/**
 * A decision's fields: Hubble's (after `Summary`) and the extension's (after `listener`), each with leading
 * commas. The extension is kept in two parts around its `reason`, which an event's own reason replaces.
 */
interface DecisionJson {
  readonly hubble: string;
  /** `,"reason":...` or ''. */
  readonly reason: string;
  /** The extension's fields after the reason. */
  readonly rest: string;
  /** For the listener last seen with this decision: everything, and the parts before and after the reason. */
  listener?: string;
  bytes: Buffer;
  head: Buffer;
  tail: Buffer;
}

// Allowed decisions are shared by every request a rule allows: their text is rendered once.
const decisions = new WeakMap<Decision, DecisionJson>();

/**
 * The decision's Hubble fields, then the `portcullis` extension up to its optional Kafka and local reply fields;
 * `reason`, when given, in place of the decision's.
 */
function writePolicyFields(out: LineSlab, decision: Decision | undefined, listener: string, reason: string | undefined): void {
  if (decision === undefined) {
    out.bytes(listenerField(listener));
    if (reason !== undefined) writeReason(out, reason);
    return;
  }
  const json = renderDecision(decision);
  if (json.listener !== listener) {
    json.listener = listener;
    const head = `${json.hubble},"portcullis":{"listener":${JSON.stringify(listener)}`;
    json.bytes = bytesOf(head + json.reason + json.rest);
    json.head = bytesOf(head);
    json.tail = bytesOf(json.rest);
  }
  if (reason === undefined) {
    out.bytes(json.bytes);
    return;
  }
  out.bytes(json.head);
  writeReason(out, reason);
  out.bytes(json.tail);
}

function writeReason(out: LineSlab, reason: string): void {
  out.bytes(REASON);
  out.jsonText(reason);
  out.byte(QUOTE);
}

/** `,"local_reply":{"code":...,"grpc_status":...}`: what the client got from the proxy itself. */
function writeLocalReply(out: LineSlab, reply: LocalReplyFields): void {
  out.bytes(LOCAL_REPLY);
  out.number(reply.code);
  if (reply.grpcStatus !== undefined) {
    out.bytes(GRPC_STATUS);
    out.number(reply.grpcStatus);
  }
  out.byte(BRACE_CLOSE);
}

function renderDecision(decision: Decision): DecisionJson {
  let json = decisions.get(decision);
  if (json !== undefined) return json;
  // A denied request's decision still names the rules that admitted its connection; they did not allow it.
  // (Decided by the decision, not by the verdict of the record it is on.)
  const allowed = decision.verdict === 'FORWARDED' ? decision.allowedBy : [];
  const hubble =
    renderPolicies('egress_allowed_by', allowed, 'egress') +
    renderPolicies('ingress_allowed_by', allowed, 'ingress') +
    renderPolicies('egress_denied_by', decision.deniedBy, 'egress') +
    renderPolicies('ingress_denied_by', decision.deniedBy, 'ingress') +
    policyLog([...allowed, ...decision.deniedBy]);
  const reason = decision.reason === '' ? '' : `,"reason":${JSON.stringify(decision.reason)}`;
  json = { hubble, reason, rest: renderExtension(decision), bytes: EMPTY, head: EMPTY, tail: EMPTY };
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
 * Portcullis extension after its reason: where the verdict came from, which Hubble cannot say. `rules` locate
 * (`file:line path`) the deny rules when one decided, else the rules the decision names: those that allowed the
 * flow or, for an L7 denial, those whose L7 rules it failed to match.
 */
function renderExtension(decision: Decision): string {
  let out = '';
  const deciding = decision.deniedBy.length > 0 ? decision.deniedBy : decision.allowedBy;
  if (deciding.length > 0) out += `,"rules":${JSON.stringify(deciding.map((r) => `${r.file}:${r.line} ${r.path}`))}`;
  // HttpDecision's headerMatches results; other decisions do not carry them.
  const http = decision as Partial<Pick<HttpDecision, 'missingHeaders' | 'rejectedHeaders'>>;
  if (http.missingHeaders?.length) out += `,"missing_headers":${JSON.stringify(http.missingHeaders)}`;
  if (http.rejectedHeaders?.length) out += `,"rejected_headers":${JSON.stringify(http.rejectedHeaders)}`;
  return out;
}
