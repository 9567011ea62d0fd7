// Offline decisions for `portcullis trace` and `portcullis test`: peers and requests as a person writes them
// (an endpoint name, a label set, "POST /v1/request-landing", "produce deathstar-plans") turned into the facts the
// policy engine decides on, and the decision itself, so both commands answer from the same code.
import { isIP } from 'node:net';
import { PortcullisError } from '../errors.js';
import type { EndpointConfig, ListenerConfig, PortcullisConfig } from '../config/types.js';
import { forwardDestination } from '../protocols/connection-policy.js';
import { normalizePath, PathError } from '../protocols/http/path.js';
import type {
  ConnectionDecision, Decision, HttpRequestFacts, KafkaRequestFacts, Peer, PolicySnapshot, RuleRef,
} from '../policy/types.js';
import { kafkaApiKeyByName } from '../policy/kafka-api-keys.js';
import { suggestion } from '../policy/parse-fields.js';

export class UsageError extends PortcullisError {
  readonly code = 'PCL_ERR_USAGE';
}

const ENTITIES = ['world', 'host', 'unmanaged', 'health', 'init', 'remote-node', 'kube-apiserver', 'ingress'];

/** `k=v,k2=v2` -> labels; anything else -> undefined. */
function parseLabelSet(text: string): Record<string, string> | undefined {
  if (!text.includes('=')) return undefined;
  const labels: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`"${text}": expected a label set like org=empire,class=tiefighter`);
    labels[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return labels;
}

/** An endpoint standing for a label-set peer (`org=empire,class=tiefighter`); undefined for any other peer text. */
export function syntheticEndpoint(name: string, text: string, namespace: string, file: string): EndpointConfig | undefined {
  const labels = parseLabelSet(text);
  if (labels === undefined) return undefined;
  return { name, namespace, labels, addresses: [], identities: [], file, line: 0 };
}

/**
 * An endpoint name, a label set (found as the synthetic endpoint `synthetic` names), an IP address, a reserved
 * entity, or a DNS name (a world destination). `field` names the argument in errors (`--from`, `from`).
 */
export function resolvePeer(snapshot: PolicySnapshot, role: 'from' | 'to', field: string, text: string, synthetic?: EndpointConfig): Peer {
  const endpoints = snapshot.endpoints;
  const endpoint = synthetic
    ? endpoints.list().find((e) => e.name === synthetic.name && e.namespace === synthetic.namespace)
    : endpoints.byName(text);
  if (endpoint !== undefined) return { identity: endpoint.identity, ...(endpoint.addresses[0] ? { address: endpoint.addresses[0].split('/')[0]! } : {}) };
  if (isIP(text)) return { identity: endpoints.resolveAddress(text), address: text };
  if (ENTITIES.includes(text)) return { identity: endpoints.reserved(text) };
  if (role === 'to' && /^[a-z0-9_]([-a-z0-9_]*)(\.[a-z0-9_][-a-z0-9_]*)+\.?$/i.test(text)) {
    return { identity: endpoints.reserved('world'), names: [text.toLowerCase().replace(/\.$/, '')] };
  }
  const names = endpoints.list().flatMap((e) => [e.name, `${e.namespace}/${e.name}`]);
  throw new UsageError(`${field} "${text}": not an endpoint, label set, IP address, entity (${ENTITIES.join(', ')}) or DNS name${suggestion(text, [...names, ...ENTITIES])}`);
}

/**
 * The listener a connection to `destination` arrives on: the one whose `to` it is (it gives a trace or a test its
 * default port), else a forward proxy (egress to anything else goes through one). A name the forward proxy maps in
 * `hosts` is decided at its first address, as the proxy connects there.
 */
export function routeTo(config: PortcullisConfig, snapshot: PolicySnapshot, destination: Peer): { listener?: ListenerConfig; destination: Peer } {
  const fronting = config.listeners.find((l) => l.to !== undefined && snapshot.endpoints.byName(l.to)?.identity === destination.identity);
  if (fronting !== undefined) return { listener: fronting, destination };
  const forward = config.listeners.find((l) => l.protocol === 'forward');
  return forward === undefined ? { destination } : { listener: forward, destination: throughForward(forward, snapshot, destination) };
}

/** `destination` as the forward proxy `forward` reaches it: a name it maps in `hosts` becomes its first address. */
export function throughForward(forward: ListenerConfig, snapshot: PolicySnapshot, destination: Peer): Peer {
  const names = destination.names ?? [];
  const address = names[0] === undefined ? undefined : forward.forward?.hosts.get(names[0])?.[0];
  // forwardDestination looks at the address and the names only; the caller decides the port.
  return address === undefined ? destination : forwardDestination(snapshot, { address, port: 0, names });
}

export function describePeer(p: Peer): string {
  const id = p.identity;
  const who = id.namespace ? `${id.namespace}/${id.name}` : id.name;
  const where = p.address ? ` at ${p.address}` : p.names ? ` (${p.names.join(', ')})` : '';
  return `${who}${where} (identity ${id.id}: ${id.labelStrings.join(' ')})`;
}

export function describeRule(r: RuleRef): string {
  const ns = r.policy.namespace ? `${r.policy.namespace}/` : '';
  return `${r.policy.kind} ${ns}${r.policy.name} ${r.path} (${r.file}:${r.line})`;
}

/** The rules that decided `d` as "allowed by …"/"denied by …" lines, leaving out those its reason already names. */
export function decidingRules(d: Decision): string[] {
  const [verb, rules] = d.allowed ? ['allowed by', d.allowedBy] : ['denied by', d.deniedBy];
  return rules.filter((r) => !d.reason.includes(`${r.file}:${r.line}`)).map((r) => `${verb} ${describeRule(r)}`);
}

/** The request parsers below name the argument they parse (`--http`, `http`) in their errors. */
export function headerFacts(field: string, headers: readonly string[]): Array<[string, string]> {
  return headers.map((h) => {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`${field} "${h}": expected "Name: value"`);
    return [h.slice(0, colon).trim().toLowerCase(), h.slice(colon + 1).trim()];
  });
}

/** A gRPC call `package.Service/Method` as the HTTP/2 request policy sees. */
export function grpcFacts(field: string, method: string, host: string | undefined, headers: readonly string[]): HttpRequestFacts {
  const m = /^\/?([\w.]+)\/(\w+)$/.exec(method);
  if (!m) throw new UsageError(`${field} "${method}": expected package.Service/Method`);
  return { method: 'POST', path: `/${m[1]}/${m[2]}`, host: host ?? '', headers: [['content-type', 'application/grpc'], ['te', 'trailers'], ...headerFacts(`${field} header`, headers)] };
}

/** `METHOD /path?query`, normalised as the proxy normalises it (or refused as it would be, with 400). */
export function httpFacts(field: string, request: string, host: string | undefined, headers: readonly string[]): HttpRequestFacts {
  const m = /^([A-Z][A-Z0-9_-]*)\s+(\S+)$/.exec(request.trim());
  if (!m) throw new UsageError(`${field} "${request}": expected "METHOD /path"`);
  const path = normalizePath(m[2]!, 'reject');
  if (path instanceof PathError) throw new UsageError(`${field} "${request}": the proxy would answer 400: ${path.reason}`);
  const extra = headerFacts(`${field} header`, headers);
  return { method: m[1]!, path, host: host ?? '', headers: host ? [['host', host], ...extra] : extra };
}

/** `<apiKey>[@version] [topic,topic]`, e.g. `produce@9 empire-announce`. */
export function kafkaFacts(field: string, request: string, clientId: string | undefined): KafkaRequestFacts {
  const m = /^(\w+)(?:@(\d+))?(?:\s+(\S+))?$/.exec(request.trim());
  const apiKey = m ? (/^\d+$/.test(m[1]!) ? Number(m[1]) : kafkaApiKeyByName(m[1]!)) : undefined;
  if (!m || apiKey === undefined) throw new UsageError(`${field} "${request}": expected "<apiKey>[@version] [topic,topic]", e.g. "produce@9 empire-announce"`);
  return { apiKey, apiVersion: m[2] ? Number(m[2]) : 0, clientId: clientId ?? null, topics: m[3] ? m[3].split(',') : [] };
}

export interface OfflineQuery {
  readonly source: Peer;
  readonly destination: Peer;
  readonly port: number;
  readonly sni?: string;
  /** As the forward listener asks (ConnectionRequest.forwardClients); undefined for other listeners. */
  readonly forwardClients?: 'selected' | 'any';
  readonly http?: HttpRequestFacts;
  readonly kafka?: KafkaRequestFacts;
}

export interface OfflineDecision {
  readonly connection: ConnectionDecision;
  /** The request's decision; undefined without a request, or when the connection is not allowed. */
  readonly l7: Decision | undefined;
  /** What the flow ends with: the request's decision, else the connection's. */
  readonly final: Decision;
}

export function decideOffline(snapshot: PolicySnapshot, q: OfflineQuery): OfflineDecision {
  const connection = snapshot.decideConnection({
    source: q.source, destination: q.destination, port: q.port, ...(q.sni ? { sni: q.sni } : {}), ...(q.forwardClients ? { forwardClients: q.forwardClients } : {}),
  });
  const l7 = connection.allowed ? (q.http ? connection.decideHttp(q.http) : q.kafka ? connection.decideKafka(q.kafka) : undefined) : undefined;
  return { connection, l7, final: l7 ?? connection };
}
