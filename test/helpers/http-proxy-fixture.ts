// The HTTP listener in-process in front of a real echo upstream, configured from real portcullis.yaml
// text (loader defaults included) and real policy YAML compiled by the real policy engine, with
// observers that record what they are given.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import type { ListenerConfig, PortcullisConfig } from '../../src/config/types.js';
import { packageFile } from '../../src/package-root.js';
import { parsePolicyText } from '../../src/policy/load.js';
import { buildSnapshot } from '../../src/policy/snapshot.js';
import { formatSourceError, type PolicySnapshot } from '../../src/policy/types.js';
import type { RunningListener } from '../../src/protocols/context.js';
import { startHttpListener } from '../../src/protocols/http/listener.js';
import { LISTENER_TIMINGS, type ListenerTimings } from '../../src/protocols/timings.js';
import { startEchoUpstream, type EchoUpstream } from './http-echo-upstream.js';
import { RecordingFlows, RecordingMetrics } from './http-observers.js';

export const TIEFIGHTER = '127.0.0.2';
export const XWING = '127.0.0.3';

/** The Star Wars demo's L7 policy: only empire ships, only `POST /v1/request-landing`. */
export const STAR_WARS_L7 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_l7_policy.yaml'), 'utf8');
/** The Star Wars L3/L4 policy: empire ships may send anything on port 80. */
export const STAR_WARS_L4 = readFileSync(packageFile('policies', 'starwars', 'sw_l3_l4_policy.yaml'), 'utf8');

/**
 * portcullis.yaml for a proxy run as a process (proxy-process.ts) in front of an upstream on 127.0.0.1:`upstreamPort`,
 * the policy in ./policy.yaml; `listenerFields` adds to the listener (e.g. `, upstreamProtocol: h2c`); `o` sets the
 * admin endpoint and flow target (default off) and the listener's address (default 127.0.0.1:0).
 */
export function deathstarProcessConfig(upstreamPort: number, listenerFields = '', o: { admin?: string; flows?: string; listen?: string } = {}): string {
  return `policies: ./policy.yaml
admin: ${JSON.stringify(o.admin ?? 'off')}
flows: ${JSON.stringify(o.flows ?? 'off')}
endpoints:
  - {name: deathstar, namespace: default, labels: {org: empire, class: deathstar}, addresses: [127.0.0.10]}
  - {name: tiefighter, namespace: default, labels: {org: empire, class: tiefighter}, addresses: [${TIEFIGHTER}]}
listeners:
  - {name: deathstar, listen: "${o.listen ?? '127.0.0.1:0'}", protocol: http, to: deathstar, upstream: "127.0.0.1:${upstreamPort}", port: 80${listenerFields}}
`;
}

/** A policy letting tiefighters reach the deathstar on port 80 with `rules`: the YAML list items of its `http:` rules. */
export function deathstarHttpPolicy(name: string, rules: string): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}}
spec:
  endpointSelector: {matchLabels: {class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {class: tiefighter}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http:${rules}
`;
}

export interface ProxyOptions {
  readonly policy: string;
  /** YAML flow-map body for the `http:` limits, e.g. `xForwardedFor: strip, maxHeaderCount: 20`. */
  readonly http?: string;
  readonly audit?: boolean;
  /** Point the listener at this port instead of a fresh echo upstream (e.g. a closed port). */
  readonly upstreamPort?: number;
  /** How the listener talks to its upstream (default http1). */
  readonly upstreamProtocol?: 'http1' | 'h2c';
  /** More listener fields, e.g. `{maxConnectionsPerSource: 20}`. */
  readonly listenerFields?: Readonly<Record<string, string | number>>;
  /** Shorter waits than production's, for a test that would otherwise wait one out. */
  readonly timings?: Partial<ListenerTimings>;
}

export interface ProxyFixture {
  readonly port: number;
  readonly url: string;
  readonly upstream: EchoUpstream;
  readonly config: ListenerConfig;
  readonly flows: RecordingFlows;
  readonly metrics: RecordingMetrics;
  readonly listener: RunningListener;
  /** Compiles `policy` and makes it the current snapshot, as a hot reload does. */
  usePolicy(policy: string): void;
  close(): Promise<void>;
}

export async function startProxy(options: ProxyOptions): Promise<ProxyFixture> {
  const upstream = await startEchoUpstream();
  const upstreamPort = options.upstreamPort ?? upstream.port;
  const config = loadConfig(upstreamPort, options);
  let revision = 1;
  let snapshot = compile(options.policy, config, revision);
  const flows = new RecordingFlows();
  const metrics = new RecordingMetrics();
  const listenerConfig = config.listeners[0]!;
  const listener = await startHttpListener({
    config: listenerConfig,
    snapshot: () => snapshot,
    flows,
    metrics,
    log: pino({ level: 'silent' }),
    timings: { ...LISTENER_TIMINGS, ...options.timings },
  });
  return {
    port: listener.address.port,
    url: `http://127.0.0.1:${listener.address.port}`,
    upstream,
    config: listenerConfig,
    flows,
    metrics,
    listener,
    usePolicy(policy: string) {
      snapshot = compile(policy, config, ++revision);
    },
    async close() {
      await listener.close();
      await upstream.close();
    },
  };
}

function loadConfig(upstreamPort: number, options: ProxyOptions): PortcullisConfig {
  const text = `admin: "off"
flows: "off"
audit: ${options.audit ?? false}
http: {${options.http ?? ''}}
endpoints:
  - {name: deathstar, namespace: default, labels: {org: empire, class: deathstar}, addresses: [127.0.0.10]}
  - {name: tiefighter, namespace: default, labels: {org: empire, class: tiefighter}, addresses: [${TIEFIGHTER}]}
  - {name: xwing, namespace: default, labels: {org: alliance, class: xwing}, addresses: [${XWING}]}
listeners:
  - {name: deathstar-http, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.1:${upstreamPort}", port: 80, upstreamProtocol: ${options.upstreamProtocol ?? 'http1'}${Object.entries(options.listenerFields ?? {}).map(([k, v]) => `, ${k}: ${v}`).join('')}}
`;
  const { config, errors } = parseConfigText(text, 'portcullis.yaml');
  if (config === undefined) throw new Error(errors.map(formatSourceError).join('\n'));
  return config;
}

function compile(policy: string, config: PortcullisConfig, revision: number): PolicySnapshot {
  const parsed = parsePolicyText(policy, 'policy.yaml');
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map(formatSourceError).join('\n'));
  const built = buildSnapshot({ documents: parsed.documents, endpoints: config.endpoints, enforcement: config.enforcement, audit: config.audit, revision });
  if (built.snapshot === undefined) throw new Error(built.errors.map(formatSourceError).join('\n'));
  return built.snapshot;
}

const execFileP = promisify(execFile);

/** Runs curl (silent, errors shown, 5 s cap); never throws on a non-zero exit. */
export async function curl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP('curl', ['-sS', '--max-time', '5', ...args], { encoding: 'latin1', maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
