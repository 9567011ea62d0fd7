// `portcullis trace`: offline L7 policy trace. Given a source, a destination, a port and a request, print the
// verdict and the rule that decided it, or why nothing matched — the L7 trace Cilium never had.
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { PortcullisError } from '../errors.js';
import type { EndpointConfig, ListenerConfig } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { forwardDestination } from '../protocols/connection-policy.js';
import { normalizePath, PathError } from '../protocols/http/path.js';
import { suggestion } from '../policy/parse-fields.js';
import {
  formatSourceError,
  type ConnectionDecision,
  type Decision,
  type HttpRequestFacts,
  type KafkaRequestFacts,
  type Peer,
  type PolicySnapshot,
  type RuleRef,
} from '../policy/types.js';
import { kafkaApiKeyByName } from '../policy/kafka-api-keys.js';
import { compileConfig } from '../runtime/compile.js';

interface TraceOptions {
  config: string;
  from: string;
  to: string;
  port?: string;
  namespace: string;
  http?: string;
  grpc?: string;
  host?: string;
  header: string[];
  kafka?: string;
  clientId?: string;
  sni?: string;
  json?: boolean;
}

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

function syntheticEndpoint(role: 'from' | 'to', text: string, namespace: string): EndpointConfig | undefined {
  const labels = parseLabelSet(text);
  if (labels === undefined) return undefined;
  return { name: `trace-${role}`, namespace, labels, addresses: [], identities: [], file: '<trace>', line: 0 };
}

/** An endpoint name, a label set, an IP address, a reserved entity, or a DNS name (a world destination). */
function resolvePeer(snapshot: PolicySnapshot, role: 'from' | 'to', text: string): Peer {
  const endpoints = snapshot.endpoints;
  const endpoint = endpoints.byName(parseLabelSet(text) ? `trace-${role}` : text);
  if (endpoint !== undefined) return { identity: endpoint.identity, ...(endpoint.addresses[0] ? { address: endpoint.addresses[0].split('/')[0]! } : {}) };
  if (isIP(text)) return { identity: endpoints.resolveAddress(text), address: text };
  if (ENTITIES.includes(text)) return { identity: endpoints.reserved(text) };
  if (role === 'to' && /^[a-z0-9_]([-a-z0-9_]*)(\.[a-z0-9_][-a-z0-9_]*)+\.?$/i.test(text)) {
    return { identity: endpoints.reserved('world'), names: [text.toLowerCase().replace(/\.$/, '')] };
  }
  const names = endpoints.list().flatMap((e) => [e.name, `${e.namespace}/${e.name}`]);
  throw new UsageError(`--${role} "${text}": not an endpoint, label set, IP address, entity (${ENTITIES.join(', ')}) or DNS name${suggestion(text, [...names, ...ENTITIES])}`);
}

/** `--port`: a whole number from 1 to 65535, or nothing (the listener's). */
function portOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`--port "${text}": expected a port number from 1 to 65535`);
  return port;
}

/**
 * The listener a connection to `destination` arrives on: the one that fronts it, else a forward proxy (egress to
 * anything else goes through one). A name the forward proxy maps in `hosts` is traced at its first address.
 */
function routeTo(listeners: readonly ListenerConfig[], snapshot: PolicySnapshot, destination: Peer): { listener?: ListenerConfig; destination: Peer } {
  const fronting = listeners.find((l) => l.to !== undefined && snapshot.endpoints.byName(l.to)?.identity === destination.identity);
  if (fronting !== undefined) return { listener: fronting, destination };
  const forward = listeners.find((l) => l.protocol === 'forward');
  if (forward === undefined) return { destination };
  const names = destination.names ?? [];
  const address = names[0] === undefined ? undefined : forward.forward?.hosts.get(names[0])?.[0];
  // forwardDestination looks at the address and the names only; the port is decided below.
  return { listener: forward, destination: address === undefined ? destination : forwardDestination(snapshot, { address, port: 0, names }) };
}

/** What the client is answered when the connection is denied. */
function deniedConnectionAnswer(listener: ListenerConfig | undefined): string {
  // A forward proxy has no connection to reset per request: it answers the request or the CONNECT itself.
  return listener?.protocol === 'forward' ? `the forward proxy "${listener.name}" answers 403 Access denied to the request or CONNECT` : 'the connection is reset';
}

function describePeer(p: Peer): string {
  const id = p.identity;
  const who = id.namespace ? `${id.namespace}/${id.name}` : id.name;
  const where = p.address ? ` at ${p.address}` : p.names ? ` (${p.names.join(', ')})` : '';
  return `${who}${where} (identity ${id.id}: ${id.labelStrings.join(' ')})`;
}

function describeRule(r: RuleRef): string {
  const ns = r.policy.namespace ? `${r.policy.namespace}/` : '';
  return `${r.policy.kind} ${ns}${r.policy.name} ${r.path} (${r.file}:${r.line})`;
}

function headerFacts(headers: readonly string[]): Array<[string, string]> {
  return headers.map((h) => {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header "${h}": expected "Name: value"`);
    return [h.slice(0, colon).trim().toLowerCase(), h.slice(colon + 1).trim()];
  });
}

function httpFacts(o: TraceOptions): HttpRequestFacts | undefined {
  const extra = headerFacts(o.header);
  if (o.grpc !== undefined) {
    const m = /^\/?([\w.]+)\/(\w+)$/.exec(o.grpc);
    if (!m) throw new UsageError(`--grpc "${o.grpc}": expected package.Service/Method`);
    return { method: 'POST', path: `/${m[1]}/${m[2]}`, host: o.host ?? '', headers: [['content-type', 'application/grpc'], ['te', 'trailers'], ...extra] };
  }
  if (o.http === undefined) return undefined;
  const m = /^([A-Z][A-Z0-9_-]*)\s+(\S+)$/.exec(o.http.trim());
  if (!m) throw new UsageError(`--http "${o.http}": expected "METHOD /path"`);
  const path = normalizePath(m[2]!, 'reject');
  if (path instanceof PathError) throw new UsageError(`--http: the proxy would answer 400: ${path.reason}`);
  return { method: m[1]!, path, host: o.host ?? '', headers: o.host ? [['host', o.host], ...extra] : extra };
}

function kafkaFacts(o: TraceOptions): KafkaRequestFacts | undefined {
  if (o.kafka === undefined) return undefined;
  const m = /^(\w+)(?:@(\d+))?(?:\s+(\S+))?$/.exec(o.kafka.trim());
  const apiKey = m ? (/^\d+$/.test(m[1]!) ? Number(m[1]) : kafkaApiKeyByName(m[1]!)) : undefined;
  if (!m || apiKey === undefined) throw new UsageError(`--kafka "${o.kafka}": expected "<apiKey>[@version] [topic,topic]", e.g. "produce@9 empire-announce"`);
  return { apiKey, apiVersion: m[2] ? Number(m[2]) : 0, clientId: o.clientId ?? null, topics: m[3] ? m[3].split(',') : [] };
}

/** The verdict, the engine's reason, and the deciding rules the reason does not already name. */
function printDecision(label: string, d: Decision): void {
  process.stdout.write(`${label}: ${d.verdict}\n  ${d.reason}\n`);
  const [verb, rules] = d.allowed ? ['allowed by', d.allowedBy] : ['denied by', d.deniedBy];
  for (const r of rules) if (!d.reason.includes(`${r.file}:${r.line}`)) process.stdout.write(`  ${verb} ${describeRule(r)}\n`);
}

function trace(o: TraceOptions): number {
  const requestedPort = portOption(o.port);
  const loaded = loadConfig(o.config);
  if (loaded.config === undefined) {
    for (const e of loaded.errors) process.stderr.write(`${formatSourceError(e)}\n`);
    return 1;
  }
  const extraEndpoints = [syntheticEndpoint('from', o.from, o.namespace), syntheticEndpoint('to', o.to, o.namespace)].filter((e) => e !== undefined);
  const { compiled, errors } = compileConfig(loaded.config, { revision: 1, extraEndpoints });
  if (compiled === undefined) {
    for (const e of errors) process.stderr.write(`${formatSourceError(e)}\n`);
    return 1;
  }
  const snapshot = compiled.snapshot;
  const source = resolvePeer(snapshot, 'from', o.from);
  const { listener, destination } = routeTo(compiled.config.listeners, snapshot, resolvePeer(snapshot, 'to', o.to));
  const forward = listener?.protocol === 'forward';
  // Through a forward proxy: http://name/ means port 80, and a TLS name is most likely a CONNECT to 443.
  const port = requestedPort ?? (forward ? (o.sni ? 443 : 80) : listener?.port);
  if (port === undefined) throw new UsageError('--port is required (no listener fronts that destination)');

  const http = httpFacts(o);
  const kafka = kafkaFacts(o);
  const forwardClients = forward ? { forwardClients: listener.forward?.allowUnselectedClients ? ('any' as const) : ('selected' as const) } : {};
  const connection: ConnectionDecision = snapshot.decideConnection({ source, destination, port, ...(o.sni ? { sni: o.sni } : {}), ...forwardClients });
  const l7: Decision | undefined = connection.allowed ? (http ? connection.decideHttp(http) : kafka ? connection.decideKafka(kafka) : undefined) : undefined;
  const final = l7 ?? connection;

  const answer = connection.allowed ? undefined : deniedConnectionAnswer(listener);
  if (o.json) {
    const via = { listener: listener?.name ?? null, ...(answer ? { answer } : {}) };
    process.stdout.write(`${JSON.stringify({ source, destination, port, ...via, connection: plain(connection), l7: l7 && plain(l7), verdict: final.verdict }, null, 2)}\n`);
  } else {
    const via = listener ? ` via ${listener.protocol} listener ${listener.name}` : '';
    process.stdout.write(`from ${describePeer(source)}\nto   ${describePeer(destination)} port ${port}/TCP${o.sni ? ` SNI ${o.sni}` : ''}${via}\n`);
    printDecision('L3/L4', connection);
    if (l7 !== undefined) printDecision(http ? `L7 http ${http.method} ${http.path}` : `L7 kafka ${o.kafka}`, l7);
    else if (answer !== undefined) process.stdout.write(`L7: not reached (${answer})\n`);
    else if (connection.l7 !== 'none') process.stdout.write(`L7: ${connection.l7} rules apply; give --http, --grpc or --kafka to trace a request\n`);
    process.stdout.write(`verdict: ${final.verdict}\n`);
  }
  return final.allowed ? 0 : 2;
}

function plain(d: Decision): object {
  return { allowed: d.allowed, verdict: d.verdict, reason: d.reason, allowedBy: d.allowedBy, deniedBy: d.deniedBy };
}

export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description('offline policy trace: the verdict for one connection/request and the rule that decided it')
    .requiredOption('--from <peer>', 'source: endpoint name, label set (org=empire,class=tiefighter), IP address or entity (world, host, ...)')
    .requiredOption('--to <peer>', 'destination: endpoint name, label set, IP address, entity, or DNS name')
    .option('-c, --config <file>', 'config file', 'portcullis.yaml')
    .option('--port <port>', 'destination port, 1..65535 (default: the port of the listener that fronts --to; through a forward proxy 80, or 443 with --sni)')
    .option('-n, --namespace <ns>', 'namespace for label-set peers', 'default')
    .option('--http <request>', 'an HTTP request: "METHOD /path?query"')
    .option('--grpc <method>', 'a gRPC call: package.Service/Method')
    .option('--host <host>', 'Host / :authority of the HTTP request')
    .option('--header <header>', 'a request header "Name: value" (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--kafka <request>', 'a Kafka request: "<apiKey>[@version] [topic,...]", e.g. "produce@9 empire-announce"')
    .option('--client-id <id>', 'Kafka client id')
    .option('--sni <name>', 'TLS server name of the connection')
    .option('--json', 'print the decision as JSON')
    .addHelpText('after', '\nExit codes: 0 allowed (FORWARDED or AUDIT), 2 denied (DROPPED), 1 invalid config, policy or arguments.')
    .action((o: TraceOptions) => {
      try {
        process.exitCode = trace(o);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        process.stderr.write(`portcullis trace: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}
