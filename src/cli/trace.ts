// `portcullis trace`: offline L7 policy trace. Given a source, a destination, a port and a request, print the
// verdict and the rule that decided it, or why nothing matched — the L7 trace Cilium never had.
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { ListenerConfig } from '../config/types.js';
import { formatSourceError, type Decision } from '../policy/types.js';
import { compileConfig } from '../runtime/compile.js';
import {
  decideOffline, decidingRules, describePeer, grpcFacts, httpFacts, kafkaFacts, resolvePeer, routeTo, syntheticEndpoint, UsageError,
} from './offline-decision.js';

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

/** `--port`: a whole number from 1 to 65535, or nothing (the listener's). */
function portOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`--port "${text}": expected a port number from 1 to 65535`);
  return port;
}

/** What the client is answered when the connection is denied. */
function deniedConnectionAnswer(listener: ListenerConfig | undefined): string {
  // A forward proxy has no connection to reset per request: it answers the request or the CONNECT itself.
  return listener?.protocol === 'forward' ? `the forward proxy "${listener.name}" answers 403 Access denied to the request or CONNECT` : 'the connection is reset';
}

/** The verdict, the engine's reason, and the deciding rules the reason does not already name. */
function printDecision(label: string, d: Decision): void {
  process.stdout.write(`${label}: ${d.verdict}\n  ${d.reason}\n`);
  for (const line of decidingRules(d)) process.stdout.write(`  ${line}\n`);
}

function trace(o: TraceOptions): number {
  const requestedPort = portOption(o.port);
  const loaded = loadConfig(o.config);
  if (loaded.config === undefined) {
    for (const e of loaded.errors) process.stderr.write(`${formatSourceError(e)}\n`);
    return 1;
  }
  const from = syntheticEndpoint('trace-from', o.from, o.namespace, '<trace>');
  const to = syntheticEndpoint('trace-to', o.to, o.namespace, '<trace>');
  const { compiled, errors } = compileConfig(loaded.config, { revision: 1, extraEndpoints: [from, to].filter((e) => e !== undefined) });
  if (compiled === undefined) {
    for (const e of errors) process.stderr.write(`${formatSourceError(e)}\n`);
    return 1;
  }
  const snapshot = compiled.snapshot;
  const source = resolvePeer(snapshot, 'from', '--from', o.from, from);
  const { listener, destination } = routeTo(compiled.config, snapshot, resolvePeer(snapshot, 'to', '--to', o.to, to));
  const forward = listener?.protocol === 'forward';
  // Through a forward proxy: http://name/ means port 80, and a TLS name is most likely a CONNECT to 443.
  const port = requestedPort ?? (forward ? (o.sni ? 443 : 80) : listener?.port);
  if (port === undefined) throw new UsageError('--port is required (no listener fronts that destination)');

  const http = o.grpc !== undefined ? grpcFacts('--grpc', o.grpc, o.host, o.header) : o.http !== undefined ? httpFacts('--http', o.http, o.host, o.header) : undefined;
  const kafka = o.kafka !== undefined ? kafkaFacts('--kafka', o.kafka, o.clientId) : undefined;
  const { connection, l7, final } = decideOffline(snapshot, {
    source,
    destination,
    port,
    ...(o.sni ? { sni: o.sni } : {}),
    ...(forward ? { forwardClients: listener.forward?.allowUnselectedClients ? ('any' as const) : ('selected' as const) } : {}),
    ...(http ? { http } : kafka ? { kafka } : {}),
  });

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
