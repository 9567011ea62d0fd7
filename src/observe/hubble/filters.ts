// Hubble's FlowFilter (flow.proto), applied to a flow's protojson object as Hubble's server does
// (cilium pkg/hubble/filters): a flow passes when it matches any whitelist filter (or there is none) and no
// blacklist filter; within a filter every field given must match, and a field matches when any of its values
// does. Fields about things Portcullis' flows never carry (services, workloads, clusters, interfaces, TCP flags,
// DNS, tracing, node labels, translated IPs, encryption, UUIDs) match no flow, as in Hubble for flows without
// them. Malformed values (a bad regex, CIDR, status code or label selector) throw a FilterError.
import { BlockList, isIP } from 'node:net';
import { RE2JS } from 're2js';
import type { FlowJson } from './flow-message.js';
import { PortcullisError } from '../../errors.js';

export class FilterError extends PortcullisError {
  readonly code = 'PCL_ERR_HUBBLE_FILTER';
}

export type FlowPredicate = (json: FlowJson) => boolean;

type Json = Record<string, unknown>;
/** A FlowFilter as decoded (enums by name, repeated fields as arrays). */
export type FlowFilter = Readonly<Record<string, unknown>>;

/** Fields Portcullis' flows never set: a filter naming one matches nothing. */
const NEVER_SET = [
  'uuid', 'source_ip_xlated', 'source_service', 'destination_service', 'source_workload', 'destination_workload',
  'source_cluster_name', 'destination_cluster_name', 'interface', 'tcp_flags', 'node_labels', 'dns_query',
  'trace_id', 'ip_trace_id', 'encrypted',
];

export function compileFilters(whitelist: readonly FlowFilter[], blacklist: readonly FlowFilter[]): FlowPredicate {
  const allow = whitelist.map(compileFilter);
  const deny = blacklist.map(compileFilter);
  return (json) => (allow.length === 0 || allow.some((f) => f(json))) && !deny.some((f) => f(json));
}

function compileFilter(filter: FlowFilter): FlowPredicate {
  const checks: FlowPredicate[] = [];
  const list = (name: string): unknown[] => {
    const v = filter[name];
    return Array.isArray(v) ? v : [];
  };
  const strings = (name: string): string[] => list(name).map(String);
  const add = (name: string, make: (values: string[]) => FlowPredicate): void => {
    const values = strings(name);
    if (values.length > 0) checks.push(make(values));
  };
  for (const name of NEVER_SET) if (list(name).length > 0) checks.push(() => false);
  const experimental = filter.experimental as Json | undefined;
  if (Array.isArray(experimental?.cel_expression) && experimental.cel_expression.length > 0) {
    throw new FilterError('experimental.cel_expression filters are not supported by Portcullis');
  }

  add('source_ip', (v) => ipFilter(v, (f) => field(f, 'IP', 'source')));
  add('destination_ip', (v) => ipFilter(v, (f) => field(f, 'IP', 'destination')));
  add('source_pod', (v) => podFilter(v, 'source'));
  add('destination_pod', (v) => podFilter(v, 'destination'));
  add('source_fqdn', (v) => fqdnFilter(v, 'source_names'));
  add('destination_fqdn', (v) => fqdnFilter(v, 'destination_names'));
  add('source_label', (v) => labelFilter(v, 'source'));
  add('destination_label', (v) => labelFilter(v, 'destination'));
  add('source_identity', (v) => oneOf(v, (f) => String(field(f, 'source', 'identity') ?? 0)));
  add('destination_identity', (v) => oneOf(v, (f) => String(field(f, 'destination', 'identity') ?? 0)));
  add('verdict', (v) => oneOf(v, (f) => field(f, 'verdict') ?? 'VERDICT_UNKNOWN'));
  add('traffic_direction', (v) => oneOf(v, (f) => field(f, 'traffic_direction') ?? 'TRAFFIC_DIRECTION_UNKNOWN'));
  add('drop_reason_desc', (v) => oneOf(v, (f) => field(f, 'drop_reason_desc') ?? 'DROP_REASON_UNKNOWN'));
  add('ip_version', (v) => oneOf(v, (f) => field(f, 'IP', 'ipVersion') ?? 'IP_NOT_USED'));
  add('reply', (v) => oneOf(v, (f) => (typeof f.is_reply === 'boolean' ? String(f.is_reply) : undefined)));
  add('source_port', (v) => oneOf(v, (f) => numberText(field(f, 'l4', 'TCP', 'source_port'))));
  add('destination_port', (v) => oneOf(v, (f) => numberText(field(f, 'l4', 'TCP', 'destination_port'))));
  add('protocol', protocolFilter);
  add('node_name', nodeNameFilter);
  add('http_status_code', statusFilter);
  add('http_method', (v) => {
    const methods = v.map((m) => m.toUpperCase());
    return (json) => {
      const method = field(json.flow, 'l7', 'http', 'method');
      return typeof method === 'string' && methods.includes(method.toUpperCase());
    };
  });
  add('http_path', (v) => regexFilter(v, (f) => urlPath(field(f, 'l7', 'http', 'url'))));
  add('http_url', (v) => regexFilter(v, (f) => nonEmpty(field(f, 'l7', 'http', 'url'))));
  const headers = list('http_header') as Json[];
  if (headers.length > 0) {
    checks.push((json) => {
      const flowHeaders = field(json.flow, 'l7', 'http', 'headers');
      return Array.isArray(flowHeaders) && flowHeaders.some((h: Json) => headers.some((w) => w.key === h.key && w.value === h.value));
    });
  }
  const eventTypes = list('event_type') as Json[];
  if (eventTypes.length > 0) {
    checks.push((json) => {
      const type = field(json.flow, 'event_type', 'type') ?? 0;
      const sub = field(json.flow, 'event_type', 'sub_type') ?? 0;
      return eventTypes.some((e) => (e.type ?? 0) === type && (!e.match_sub_type || (e.sub_type ?? 0) === sub));
    });
  }
  return (json) => checks.every((check) => check(json));
}

/** The flow object's nested field, e.g. field(flow, 'l7', 'http', 'code'). */
function field(flow: Json, ...path: string[]): unknown {
  let v: unknown = flow;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Json)[key] : undefined;
  return v;
}

const flowOf = (json: FlowJson): Json => json.flow;
const numberText = (v: unknown): string | undefined => (typeof v === 'number' ? String(v) : undefined);
const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function oneOf(values: string[], get: (flow: Json) => unknown): FlowPredicate {
  return (json) => {
    const v = get(flowOf(json));
    return v !== undefined && values.includes(String(v));
  };
}

/** Addresses or CIDR prefixes. */
function ipFilter(values: string[], get: (flow: Json) => unknown): FlowPredicate {
  const exact = new Set<string>();
  const prefixes = new BlockList();
  for (const v of values) {
    const slash = v.indexOf('/');
    if (slash < 0) {
      if (isIP(v) === 0) throw new FilterError(`invalid IP address in filter: "${v}"`);
      exact.add(v);
      continue;
    }
    const address = v.slice(0, slash);
    const bits = Number(v.slice(slash + 1));
    const family = isIP(address);
    if (family === 0 || !/^\d+$/.test(v.slice(slash + 1)) || bits > (family === 4 ? 32 : 128)) {
      throw new FilterError(`invalid CIDR in filter: "${v}"`);
    }
    prefixes.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (json) => {
    const ip = get(flowOf(json));
    if (typeof ip !== 'string' || ip === '') return false;
    const family = isIP(ip);
    return exact.has(ip) || (family !== 0 && prefixes.check(ip, family === 4 ? 'ipv4' : 'ipv6'));
  };
}

/** `namespace/pod-name-prefix`, `namespace/` (a whole namespace) or `pod-name-prefix` (any namespace). */
function podFilter(values: string[], side: 'source' | 'destination'): FlowPredicate {
  const wanted = values.map((v) => {
    if (v === '') throw new FilterError('invalid filter, name must not be empty');
    const slash = v.indexOf('/');
    return slash < 0 ? { ns: '', prefix: v } : { ns: v.slice(0, slash), prefix: v.slice(slash + 1) };
  });
  return (json) => {
    const ns = String(field(json.flow, side, 'namespace') ?? '');
    const pod = String(field(json.flow, side, 'pod_name') ?? '');
    if (ns === '' && pod === '') return false;
    return wanted.some((w) => (w.prefix === '' || pod.startsWith(w.prefix)) && (w.ns === '' || w.ns === ns));
  };
}

/** Glob patterns (`*` within a DNS label) against the flow's DNS names. */
function fqdnFilter(values: string[], key: 'source_names' | 'destination_names'): FlowPredicate {
  const patterns = values.map((v) => new RegExp(`^${v.toLowerCase().split('*').map(escapeRegex).join('[^.]*')}$`));
  return (json) => {
    const names = json.flow[key];
    return Array.isArray(names) && names.some((n) => patterns.some((p) => p.test(String(n).toLowerCase())));
  };
}

/** Node names as `cluster/node` glob patterns; Portcullis' node names have no cluster part. */
function nodeNameFilter(values: string[]): FlowPredicate {
  const patterns = values.map((v) => {
    const node = v.includes('/') ? v.slice(v.indexOf('/') + 1) : v;
    return new RegExp(`^${node.split('*').map(escapeRegex).join('[^/]*')}$`);
  });
  return (json) => {
    const name = json.node_name ?? json.flow.node_name;
    return typeof name === 'string' && patterns.some((p) => p.test(name));
  };
}

function protocolFilter(values: string[]): FlowPredicate {
  const wanted = values.map((v) => v.toLowerCase());
  return (json) => {
    const f = json.flow;
    const present: string[] = [];
    if (field(f, 'l4', 'TCP') !== undefined) present.push('tcp');
    if (field(f, 'l7', 'http') !== undefined) present.push('http');
    if (field(f, 'l7', 'kafka') !== undefined) present.push('kafka');
    return present.some((p) => wanted.includes(p));
  };
}

/** `200` (a whole code) or `4+` / `40+` (a prefix), as Hubble's --http-status. */
function statusFilter(values: string[]): FlowPredicate {
  const full: string[] = [];
  const prefixes: string[] = [];
  for (const v of values) {
    if (/^[1-5][0-9]{2}$/.test(v)) full.push(v);
    else if (/^[1-5][0-9]?\+$/.test(v)) prefixes.push(v.slice(0, -1));
    else throw new FilterError(`invalid http status code filter: invalid status code prefix: "${v}"`);
  }
  return (json) => {
    const code = field(json.flow, 'l7', 'http', 'code');
    if (typeof code !== 'number' || code === 0) return false;
    const text = String(code).padStart(3, '0');
    return full.includes(text) || prefixes.some((p) => text.startsWith(p));
  };
}

/** RE2 patterns (Go's regexp syntax and its unanchored match), linear time on what clients send. */
function regexFilter(values: string[], get: (flow: Json) => string | undefined): FlowPredicate {
  const res = values.map((v) => {
    try {
      return RE2JS.compile(v);
    } catch {
      throw new FilterError(`invalid regular expression in filter: "${v}"`);
    }
  });
  return (json) => {
    const text = get(flowOf(json));
    return text !== undefined && res.some((re) => re.matcher(text).find());
  };
}

function urlPath(url: unknown): string | undefined {
  if (typeof url !== 'string' || url === '') return undefined;
  try {
    return new URL(url, 'http://host').pathname;
  } catch {
    return undefined;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface Label {
  readonly source: string;
  readonly key: string;
  readonly value: string;
}

/**
 * Kubernetes label selectors (`app=x,tier!=db`, `key`, `!key`, `key in (a,b)`, `key notin (a)`) over Cilium's
 * `source:key=value` labels; a key without a source (`app`) matches any source, `k8s:app` only k8s labels.
 */
function labelFilter(selectors: string[], side: 'source' | 'destination'): FlowPredicate {
  const compiled = selectors.map(parseSelector);
  return (json) => {
    const raw = field(json.flow, side, 'labels');
    const labels = Array.isArray(raw) ? raw.map((l) => parseLabel(String(l))) : [];
    return compiled.some((requirements) => requirements.every((r) => r(labels)));
  };
}

function parseLabel(text: string): Label {
  const eq = text.indexOf('=');
  const keyPart = eq < 0 ? text : text.slice(0, eq);
  const colon = keyPart.indexOf(':');
  return {
    source: colon < 0 ? '' : keyPart.slice(0, colon),
    key: colon < 0 ? keyPart : keyPart.slice(colon + 1),
    value: eq < 0 ? '' : text.slice(eq + 1),
  };
}

type Requirement = (labels: readonly Label[]) => boolean;

function parseSelector(selector: string): Requirement[] {
  const parts = splitTopLevel(selector);
  if (parts.length === 0) throw new FilterError(`invalid label selector: "${selector}"`);
  return parts.map((part) => {
    const m = /^(!)?\s*([^\s!=()]+)\s*(?:(==|=|!=)\s*([^\s,()]*)|\s+(in|notin)\s*\(([^)]*)\))?$/.exec(part);
    if (m === null || (m[1] !== undefined && (m[3] !== undefined || m[5] !== undefined))) {
      throw new FilterError(`invalid label selector: "${selector}"`);
    }
    const keyText = m[2]!;
    const colon = keyText.indexOf(':');
    const source = colon < 0 || keyText.slice(0, colon) === 'any' ? '' : keyText.slice(0, colon);
    const key = colon < 0 ? keyText : keyText.slice(colon + 1);
    const matching = (labels: readonly Label[]): Label[] => labels.filter((l) => l.key === key && (source === '' || l.source === source));
    if (m[1] !== undefined) return (labels) => matching(labels).length === 0;
    if (m[3] !== undefined) {
      const value = m[4]!;
      if (m[3] === '!=') return (labels) => !matching(labels).some((l) => l.value === value);
      return (labels) => matching(labels).some((l) => l.value === value);
    }
    if (m[5] !== undefined) {
      const set = m[6]!.split(',').map((s) => s.trim());
      if (m[5] === 'in') return (labels) => matching(labels).some((l) => set.includes(l.value));
      return (labels) => !matching(labels).some((l) => set.includes(l.value));
    }
    return (labels) => matching(labels).length > 0;
  });
}

/** Splits on commas outside parentheses, dropping empty parts. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if ((c === ',' && depth === 0) || c === undefined) {
      const part = text.slice(start, i).trim();
      if (part !== '') out.push(part);
      start = i + 1;
    }
  }
  return out;
}
