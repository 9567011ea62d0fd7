// Reads flow records back (one JSON line each, as the recorder writes them) and renders them for a terminal the
// way `hubble observe` does (cilium hubble/pkg/printer/printer.go): the compact line and the table's columns, with
// Portcullis' deciding rule and reason after Hubble's fields. Pure: no clocks, no I/O. `portcullis observe` and
// the demos print flows through it.
import { isIP } from 'node:net';

/** The parts of a Hubble flow this file reads; everything else in the record is passed through untouched. */
export interface FlowEndpointJson {
  readonly identity?: number;
  readonly namespace?: string;
  readonly labels?: readonly string[];
  readonly pod_name?: string;
}

export interface FlowJson {
  readonly time?: string;
  readonly verdict?: string;
  readonly drop_reason?: number;
  readonly drop_reason_desc?: string;
  readonly IP?: { readonly source?: string; readonly destination?: string };
  readonly l4?: { readonly TCP?: { readonly source_port?: number; readonly destination_port?: number } };
  readonly source?: FlowEndpointJson;
  readonly destination?: FlowEndpointJson;
  readonly Type?: string;
  readonly source_names?: readonly string[];
  readonly destination_names?: readonly string[];
  readonly l7?: {
    readonly type?: string;
    readonly http?: { readonly code?: number; readonly method?: string; readonly url?: string; readonly headers?: ReadonlyArray<{ readonly key?: string; readonly value?: string }> };
    readonly kafka?: Record<string, unknown>;
  };
  readonly event_type?: { readonly type?: number };
  readonly traffic_direction?: string;
  readonly is_reply?: boolean;
  readonly Summary?: string;
  readonly portcullis?: {
    readonly listener?: string;
    readonly reason?: string;
    readonly rules?: readonly string[];
    /** The answer the proxy made itself (a denial, a failure, a refused request). */
    readonly local_reply?: { readonly code: number; readonly grpc_status?: number };
  };
}

/** One line of a flow stream: a flow record (with its text as read), Hubble's lost-events notice, or neither. */
export type FlowLine =
  | { readonly kind: 'flow'; readonly flow: FlowJson; readonly text: string }
  | { readonly kind: 'lost'; readonly count: number }
  | { readonly kind: 'bad'; readonly why: string };

export function parseFlowLine(text: string): FlowLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'bad', why: 'not JSON' };
  }
  if (!isObject(value)) return { kind: 'bad', why: 'not a flow record' };
  const lost = value['lost_events'];
  if (isObject(lost)) return { kind: 'lost', count: Number(lost['num_events_lost']) || 0 };
  const flow = value['flow'];
  if (!isObject(flow) || typeof flow['time'] !== 'string') return { kind: 'bad', why: 'not a flow record' };
  return { kind: 'flow', flow: flow as FlowJson, text };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Hubble's `<TIME> SOURCE DESTINATION TYPE VERDICT SUMMARY`, with Portcullis' rule and reason in SUMMARY. */
export interface FlowColumns {
  readonly time: string;
  readonly source: string;
  readonly destination: string;
  readonly type: string;
  readonly verdict: string;
  readonly summary: string;
}

/** `hubble observe`'s compact line, then ` rule: file:line` and ` reason: ...` where the record has them. */
export function renderCompact(flow: FlowJson): string {
  let src = `${host(flow, 'source')} ${identity(flow.source)}`;
  let dst = `${host(flow, 'destination')} ${identity(flow.destination)}`;
  let arrow = '->';
  if (flow.is_reply === undefined) arrow = '<>';
  else if (flow.is_reply) [src, dst, arrow] = [dst, src, '<-']; // Hubble shows a reply from the client's side
  const summary = flow.Summary === undefined || flow.Summary === '' ? '' : ` (${flow.Summary})`;
  return `${stampMilli(flow.time)}: ${src} ${arrow} ${dst} ${flowType(flow)} ${verdict(flow)}${summary}${decidedBy(flow)}`;
}

/** The table's columns for one flow (the table itself is `FlowTable`). */
export function flowColumns(flow: FlowJson): FlowColumns {
  const decided = decidedBy(flow);
  return {
    time: stampMilli(flow.time),
    source: host(flow, 'source'),
    destination: host(flow, 'destination'),
    type: flowType(flow),
    verdict: verdict(flow),
    summary: `${flow.Summary ?? ''}${decided}`.trim(),
  };
}

const HEADER: FlowColumns = { time: 'TIME', source: 'SOURCE', destination: 'DESTINATION', type: 'TYPE', verdict: 'VERDICT', summary: 'SUMMARY' };
const ALIGNED = ['time', 'source', 'destination', 'type', 'verdict'] as const;
/** Hubble's tabwriter puts three spaces between columns. */
const GAP = '   ';

/**
 * Aligned columns for a stream: rows come in batches (all of them at once for a file, a read's worth when
 * following), and a column only ever widens, so the header and earlier rows stay aligned as well as they can.
 */
export class FlowTable {
  readonly #widths = new Map<string, number>(ALIGNED.map((k) => [k, HEADER[k].length]));
  #headerDone = false;

  /** The text for `flows` (and the header before the first batch), each line ending in a newline. */
  render(flows: readonly FlowJson[]): string {
    const rows = flows.map(flowColumns);
    for (const row of rows) for (const k of ALIGNED) this.#widths.set(k, Math.max(this.#widths.get(k)!, row[k].length));
    if (!this.#headerDone && rows.length > 0) {
      rows.unshift(HEADER);
      this.#headerDone = true;
    }
    return rows.map((row) => `${ALIGNED.map((k) => row[k].padEnd(this.#widths.get(k)!)).join(GAP)}${GAP}${row.summary}`.trimEnd() + '\n').join('');
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.StampMilli (`Jan _2 15:04:05.000`) in UTC, as Hubble prints a flow's time; `N/A` when unreadable. */
export function stampMilli(time: string | undefined): string {
  const date = time === undefined ? undefined : new Date(time);
  if (date === undefined || Number.isNaN(date.getTime())) return 'N/A';
  const iso = date.toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ
  return `${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${iso.slice(11, 23)}`;
}

/** Hubble's Hostname: `namespace/pod`, else the DNS names, else the IP; then `:port`. */
function host(flow: FlowJson, side: 'source' | 'destination'): string {
  const ep = flow[side];
  const names = side === 'source' ? flow.source_names : flow.destination_names;
  const ip = side === 'source' ? flow.IP?.source : flow.IP?.destination;
  const tcp = flow.l4?.TCP;
  const port = side === 'source' ? tcp?.source_port : tcp?.destination_port;
  let name = ip ?? '';
  if (ep?.pod_name) name = ep.namespace ? `${ep.namespace}/${ep.pod_name}` : ep.pod_name;
  else if (names !== undefined && names.length > 0) name = names.join(',');
  if (!port) return name;
  return isIP(name) === 6 ? `[${name}]:${port}` : `${name}:${port}`;
}

/** Reserved identities by number (cilium pkg/identity/numericidentity.go). */
const RESERVED = ['unknown', 'host', 'world', 'unmanaged', 'health', 'init', 'remote-node', 'kube-apiserver', 'ingress', 'world-ipv4', 'world-ipv6'];

function identity(ep: FlowEndpointJson | undefined): string {
  const id = ep?.identity ?? 0;
  return id < RESERVED.length ? `(${RESERVED[id]})` : `(ID:${id})`;
}

/** Cilium's monitor message types the recorder writes (pkg/monitor/api/types.go). */
const MESSAGE_TYPE_DROP = 1;
const MESSAGE_TYPE_POLICY_VERDICT = 5;

/** Datapath drop reasons as Hubble prints them (pkg/monitor/api/drop.go). */
const DROP_REASONS = new Map([
  [133, 'Policy denied'],
  [181, 'Policy denied by denylist'],
]);

/** Hubble's GetFlowType: `http-request`, `kafka-response`, a drop reason, or `policy-verdict:none INGRESS`. */
export function flowType(flow: FlowJson): string {
  const l7 = flow.l7;
  if (l7 !== undefined) {
    const protocol = l7.http !== undefined ? 'http' : l7.kafka !== undefined ? 'kafka' : 'l7';
    return `${protocol}-${(l7.type ?? 'unknown').toLowerCase()}`;
  }
  const type = flow.event_type?.type;
  if (type === MESSAGE_TYPE_DROP) return DROP_REASONS.get(flow.drop_reason ?? 0) ?? flow.drop_reason_desc ?? 'drop';
  // Portcullis decides on identities and ports, which Cilium calls the L3-L4 match; it writes no match type.
  if (type === MESSAGE_TYPE_POLICY_VERDICT) return `policy-verdict:none ${flow.traffic_direction ?? ''}`.trimEnd();
  return 'UNKNOWN';
}

/** Hubble's verdict words: a policy-verdict event says ALLOWED/DENIED/AUDITED instead. */
function verdict(flow: FlowJson): string {
  const v = flow.verdict ?? 'VERDICT_UNKNOWN';
  if (flow.event_type?.type !== MESSAGE_TYPE_POLICY_VERDICT) return v;
  if (v === 'FORWARDED' || v === 'REDIRECTED') return 'ALLOWED';
  if (v === 'DROPPED' || v === 'ERROR') return 'DENIED';
  return v === 'AUDIT' ? 'AUDITED' : v;
}

/** `file:line` of a rule written as `file:line path` (a file name may hold spaces; the path does not). */
const RULE_LOCATION = /^(.*:\d+) \S+$/;

/**
 * ` rule: file:line[, ...]`, ` reason: ...` and ` local reply: 503`: what Hubble cannot say. Rules are written
 * `file:line path`. A forwarded flow's reason only restates the rule that allowed it, so it is left out when that
 * rule is shown.
 */
function decidedBy(flow: FlowJson): string {
  const ext = flow.portcullis;
  let text = '';
  const rules = ext?.rules?.map((r) => RULE_LOCATION.exec(r)?.[1] ?? r);
  const ruled = rules !== undefined && rules.length > 0;
  if (ruled) text += ` rule: ${rules.join(', ')}`;
  if (ext?.reason && !(ruled && flow.verdict === 'FORWARDED')) text += ` reason: ${ext.reason}`;
  const reply = ext?.local_reply;
  if (reply !== undefined) text += ` local reply: ${reply.code}${reply.grpc_status === undefined ? '' : ` grpc-status ${reply.grpc_status}`}`;
  return text;
}
