// `portcullis observe`'s filters, as hubble observe combines them: a flow must pass every flag given (AND), and
// any one of a repeated flag's values (OR). They read the parsed record, so they work the same on a file, stdin
// and the admin stream. Each value is checked when parsed (`parse*`), so a typo fails at once with a hint.
import { isIP } from 'node:net';
import type { FlowEndpointJson, FlowJson } from './flow-line.js';

export const VERDICTS = ['FORWARDED', 'DROPPED', 'ERROR', 'AUDIT'] as const;
export const PROTOCOLS = ['http', 'grpc', 'kafka', 'tls', 'tcp'] as const;
export const FLOW_TYPES = ['l7', 'l3-l4'] as const;

export interface FlowFilterOptions {
  readonly verdict?: readonly string[];
  readonly from?: readonly string[];
  readonly to?: readonly string[];
  readonly listener?: readonly string[];
  readonly protocol?: readonly string[];
  readonly httpStatus?: readonly string[];
  readonly type?: readonly string[];
}

export type FlowFilter = (flow: FlowJson) => boolean;

/** One predicate for all the flags given; a flag given no value is not a filter. */
export function flowFilter(o: FlowFilterOptions): FlowFilter {
  const checks: FlowFilter[] = [];
  const any = (values: readonly string[] | undefined, match: (value: string, flow: FlowJson) => boolean): void => {
    if (values !== undefined && values.length > 0) checks.push((flow) => values.some((v) => match(v, flow)));
  };
  any(o.verdict, (v, flow) => flow.verdict === v.toUpperCase());
  any(o.from, (v, flow) => peerMatches(v, flow.source, flow.IP?.source, flow.source_names));
  any(o.to, (v, flow) => peerMatches(v, flow.destination, flow.IP?.destination, flow.destination_names));
  any(o.listener, (v, flow) => flow.portcullis?.listener === v);
  any(o.protocol, (v, flow) => PROTOCOL_MATCHES[v as Protocol](flow));
  // The status the client got: the upstream's response, or the proxy's own answer.
  any(o.httpStatus, (v, flow) => statusMatches(v, flow.l7?.http?.code ?? flow.portcullis?.local_reply?.code));
  any(o.type, (v, flow) => (v === 'l7' ? flow.Type === 'L7' : flow.Type === 'L3_L4'));
  return (flow) => checks.every((check) => check(flow));
}

type Protocol = (typeof PROTOCOLS)[number];

/**
 * How each protocol is recognised in a record. http: an HTTP record (gRPC included: it is HTTP/2); grpc: an HTTP
 * record whose content-type is application/grpc*; kafka: a Kafka record; tls: an `https://` URL, a CONNECT, an
 * L3/L4 record naming the server (SNI) or a refused ClientHello; tcp: an L3/L4 (connection) record.
 */
const PROTOCOL_MATCHES: Record<Protocol, FlowFilter> = {
  http: (flow) => flow.l7?.http !== undefined,
  grpc: (flow) => flow.l7?.http?.headers?.some((h) => h.key === 'content-type' && h.value?.startsWith('application/grpc')) === true,
  kafka: (flow) => flow.l7?.kafka !== undefined,
  tls: (flow) => {
    const http = flow.l7?.http;
    if (http !== undefined) return http.method === 'CONNECT' || http.url?.startsWith('https://') === true;
    return flow.Type === 'L3_L4' && ((flow.destination_names?.length ?? 0) > 0 || flow.drop_reason_desc === 'INVALID_TLS_CLIENT_HELLO');
  },
  tcp: (flow) => flow.Type === 'L3_L4',
};

/**
 * `name`, `namespace/name`, a label `k=v` (also matching `k8s:k=v`, any source prefix) or `reserved:world`, an IP,
 * a DNS name, or an entity (`world`, `host`: the reserved label).
 */
function peerMatches(value: string, ep: FlowEndpointJson | undefined, ip: string | undefined, names: readonly string[] | undefined): boolean {
  if (isIP(value) !== 0) return ip === value;
  const labels = ep?.labels ?? [];
  if (value.includes('=') || value.includes(':')) return labels.some((l) => l === value || l.endsWith(`:${value}`));
  const slash = value.indexOf('/');
  if (slash >= 0) return ep?.namespace === value.slice(0, slash) && ep.pod_name === value.slice(slash + 1);
  return ep?.pod_name === value || names?.includes(value) === true || labels.includes(`reserved:${value}`);
}

function statusMatches(value: string, code: number | undefined): boolean {
  if (code === undefined) return false;
  return /^\dxx$/i.test(value) ? Math.floor(code / 100) === Number(value[0]) : code === Number(value);
}

/** Argument checks for the CLI: the value to keep, or an Error whose message says what is accepted. */
export function checkVerdict(value: string): string | Error {
  const v = value.toUpperCase();
  return (VERDICTS as readonly string[]).includes(v) ? v : new Error(`expected one of ${VERDICTS.join(', ')}`);
}

export function checkProtocol(value: string): string | Error {
  const v = value.toLowerCase();
  return (PROTOCOLS as readonly string[]).includes(v) ? v : new Error(`expected one of ${PROTOCOLS.join(', ')}`);
}

export function checkFlowType(value: string): string | Error {
  const v = value.toLowerCase();
  return (FLOW_TYPES as readonly string[]).includes(v) ? v : new Error(`expected one of ${FLOW_TYPES.join(', ')}`);
}

export function checkHttpStatus(value: string): string | Error {
  return /^[1-5](\d\d|xx)$/i.test(value) ? value.toLowerCase() : new Error('expected a status code (403) or a class (5xx)');
}

export function checkPeer(value: string): string | Error {
  return value.trim() === '' ? new Error('expected a name, namespace/name, label k=v or IP address') : value;
}
