// The `kafka` listener in-process in front of a broker, configured from real portcullis.yaml text and real
// policy YAML compiled by the real policy engine, with recording observers and hot reload by snapshot swap.
// The Empire identities live on their own loopback addresses; kcat cannot bind a source address, so the
// endpoint at 127.0.0.1 (`local`) takes whatever labels a test gives it.
import { readFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import type { EndpointConfig, ListenerConfig, PortcullisConfig } from '../../src/config/types.js';
import { packageFile } from '../../src/package-root.js';
import { parsePolicyText } from '../../src/policy/load.js';
import { buildSnapshot } from '../../src/policy/snapshot.js';
import { formatSourceError, type PolicyDocument, type PolicySnapshot } from '../../src/policy/index.js';
import type { RunningListener } from '../../src/protocols/context.js';
import { startKafkaListener } from '../../src/protocols/kafka/proxy/listener.js';
import { LISTENER_TIMINGS } from '../../src/protocols/timings.js';
import { RecordingFlows, RecordingMetrics } from './http-observers.js';

/** Source addresses of the Empire's Kafka clients (and the broker's own identity, app=kafka). */
export const EMPIRE = {
  broker: '127.0.0.70',
  hq: '127.0.0.71',
  outpost: '127.0.0.72',
  backup: '127.0.0.73',
  /** app=empire-spy: may look up and list deathstar-plans and run a group on it, but not fetch it. */
  spy: '127.0.0.74',
  /** app=empire-scout: may read empire-announce without a consumer group, but not join one. */
  scout: '127.0.0.75',
  /** Not in any policy. */
  stranger: '127.0.0.76',
} as const;

export const ANNOUNCE = 'empire-announce';
export const PLANS = 'deathstar-plans';

/** Cilium's Empire policy, as the demo ships it. */
export const EMPIRE_POLICY = readFileSync(packageFile('policies', 'kafka', 'kafka-sw-security-policy.yaml'), 'utf8');

/** Extra identities for the denials the guide has no client for: fetch (spy) and consumer-group (scout) denials. */
export const SPY_AND_SCOUT_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: empire-spy-and-scout}
specs:
  - endpointSelector: {matchLabels: {app: kafka}}
    ingress:
    - fromEndpoints: [{matchLabels: {app: empire-spy}}]
      toPorts:
      - ports: [{port: "9092", protocol: TCP}]
        rules:
          kafka:
          - {apiKey: apiversions}
          - {apiKey: metadata, topic: ${PLANS}}
          - {apiKey: offsets, topic: ${PLANS}}
          - {apiKey: offsetfetch, topic: ${PLANS}}
          - {apiKey: offsetcommit, topic: ${PLANS}}
          - {apiKey: findcoordinator}
          - {apiKey: joingroup}
          - {apiKey: syncgroup}
          - {apiKey: heartbeat}
          - {apiKey: leavegroup}
  - endpointSelector: {matchLabels: {app: kafka}}
    ingress:
    - fromEndpoints: [{matchLabels: {app: empire-scout}}]
      toPorts:
      - ports: [{port: "9092", protocol: TCP}]
        rules:
          kafka:
          - {apiKey: apiversions}
          - {apiKey: metadata, topic: ${ANNOUNCE}}
          - {apiKey: offsets, topic: ${ANNOUNCE}}
          - {apiKey: fetch, topic: ${ANNOUNCE}}
          - {apiKey: findcoordinator}
`;

/**
 * The Empire's produce and consume rules for a broker reached over TLS (app=kafka-tls, port 9093): hq produces to
 * both topics, outposts consume announcements, and the hop to the broker is TLS verified with `originatingCa`
 * (a kube-system secret). The sources are who their client certificates say they are.
 */
export const empireTlsPolicy = (originatingCa: string): string => {
  const rule = (from: string, rules: string) => `    - fromEndpoints: [{matchLabels: {app: ${from}}}]
      toPorts:
      - ports: [{port: "9093", protocol: TCP}]
        originatingTLS: {secret: {namespace: kube-system, name: ${originatingCa}}}
        rules:
          kafka:
${rules}`;
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: kafka-tls-broker}
specs:
  - endpointSelector: {matchLabels: {app: kafka-tls}}
    ingress:
${rule('empire-hq', `          - {role: produce, topic: ${PLANS}}\n          - {role: produce, topic: ${ANNOUNCE}}`)}
${rule('empire-outpost', `          - {role: consume, topic: ${ANNOUNCE}}`)}
`;
};

/** Also records the optional counters the Kafka listener reports: unsupported requests, spliced bytes. */
export class KafkaRecordingMetrics extends RecordingMetrics {
  kafkaUnsupported(apiKey: number, apiVersion: number): void {
    this.calls.push(['kafkaUnsupported', apiKey, apiVersion]);
  }
  kafkaSpliced(listener: string, bytes: number): void {
    this.calls.push(['kafkaSpliced', listener, bytes]);
  }
}

export interface KafkaProxyOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  /** Policy YAML documents; none means no policy (everything allowed). */
  readonly policies?: readonly string[];
  /** YAML flow-map body of the listener's `kafka:` options, e.g. `maxFrameSize: 4096`. */
  readonly kafka?: string;
  /** More listener fields, e.g. `{maxConnectionsPerSource: 20}`. */
  readonly listenerFields?: Readonly<Record<string, string | number>>;
  /** Labels of the endpoint at 127.0.0.1 (kcat's source address); default app=local. */
  readonly localLabels?: Readonly<Record<string, string>>;
  /** Audit mode: would-be denials are forwarded and recorded as AUDIT. */
  readonly audit?: boolean;
  /** Where the listener logs; default silent (KAFKA_TEST_LOG=debug shows it). */
  readonly log?: Logger;
}

export interface KafkaProxy {
  readonly host: string;
  readonly port: number;
  readonly bootstrap: string;
  readonly config: ListenerConfig;
  readonly flows: RecordingFlows;
  readonly metrics: KafkaRecordingMetrics;
  /** Compiles these policies and makes them the current snapshot, as a hot reload does. */
  usePolicies(policies: readonly string[]): void;
  /** Gives the endpoint at 127.0.0.1 these labels (a reload too). */
  useLocalLabels(labels: Readonly<Record<string, string>>): void;
  close(): Promise<void>;
}

export async function startKafkaProxy(o: KafkaProxyOptions): Promise<KafkaProxy> {
  const config = loadConfig(o);
  let policies = o.policies ?? [];
  let localLabels = o.localLabels ?? { app: 'local' };
  let revision = 1;
  let snapshot = compile(policies, config, localLabels, revision);
  const flows = new RecordingFlows();
  const metrics = new KafkaRecordingMetrics();
  const listenerConfig = config.listeners[0]!;
  const ctx = { config: listenerConfig, snapshot: () => snapshot, flows, metrics, log: o.log ?? pino({ level: process.env.KAFKA_TEST_LOG ?? 'silent' }), timings: LISTENER_TIMINGS };
  const listener: RunningListener = await startKafkaListener(ctx);
  const { host, port } = listener.address;
  return {
    host,
    port,
    bootstrap: `${host}:${port}`,
    config: listenerConfig,
    flows,
    metrics,
    usePolicies(next) {
      policies = next;
      snapshot = compile(policies, config, localLabels, ++revision);
    },
    useLocalLabels(labels) {
      localLabels = labels;
      snapshot = compile(policies, config, localLabels, ++revision);
    },
    close: () => listener.close(),
  };
}

/** The portcullis.yaml text of the fixture's one listener (also run as a process by the denial-of-service tests). */
export function kafkaProxyConfigText(o: Pick<KafkaProxyOptions, 'upstream' | 'kafka' | 'listenerFields' | 'audit'>, policies = '[]'): string {
  return `policies: ${policies}
admin: "off"
flows: "off"
audit: ${o.audit ?? false}
endpoints:
  - {name: kafka-broker, labels: {app: kafka}, addresses: [${EMPIRE.broker}]}
  - {name: empire-hq, labels: {app: empire-hq}, addresses: [${EMPIRE.hq}]}
  - {name: empire-outpost-8888, labels: {app: empire-outpost, outpostid: "8888"}, addresses: [${EMPIRE.outpost}]}
  - {name: empire-backup, labels: {app: empire-backup}, addresses: [${EMPIRE.backup}]}
  - {name: empire-spy, labels: {app: empire-spy}, addresses: [${EMPIRE.spy}]}
  - {name: empire-scout, labels: {app: empire-scout}, addresses: [${EMPIRE.scout}]}
listeners:
  - name: kafka-service
    listen: "127.0.0.1:0"
    protocol: kafka
    to: kafka-broker
    upstream: "${o.upstream.host}:${o.upstream.port}"
    port: 9092
    kafka: {${o.kafka ?? ''}}
${Object.entries(o.listenerFields ?? {}).map(([k, v]) => `    ${k}: ${v}\n`).join('')}`;
}

function loadConfig(o: KafkaProxyOptions): PortcullisConfig {
  const text = kafkaProxyConfigText(o);
  const { config, errors } = parseConfigText(text, 'portcullis.yaml');
  if (config === undefined) throw new Error(errors.map(formatSourceError).join('\n'));
  return config;
}

function compile(policies: readonly string[], config: PortcullisConfig, localLabels: Readonly<Record<string, string>>, revision: number): PolicySnapshot {
  const documents: PolicyDocument[] = [];
  policies.forEach((text, i) => {
    const parsed = parsePolicyText(text, `policy-${i}.yaml`);
    if (parsed.errors.length > 0) throw new Error(parsed.errors.map(formatSourceError).join('\n'));
    documents.push(...parsed.documents);
  });
  const local: EndpointConfig = { name: 'local', namespace: 'default', labels: localLabels, addresses: ['127.0.0.1/32'], identities: [], file: 'portcullis.yaml', line: 1 };
  const built = buildSnapshot({ documents, endpoints: [...config.endpoints, local], enforcement: config.enforcement, audit: config.audit, revision });
  if (built.snapshot === undefined) throw new Error(built.errors.map(formatSourceError).join('\n'));
  return built.snapshot;
}
