// The HTTP/2 handler in-process behind a small listener that does what the `http` listener does before it
// hands a connection over (L3/L4 admission, h2c preface sniffing), configured from real portcullis.yaml
// text and real policy YAML compiled by the real policy engine, with recording observers.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import type { ListenerConfig, PortcullisConfig } from '../../src/config/types.js';
import { parsePolicyText } from '../../src/policy/load.js';
import { buildSnapshot } from '../../src/policy/snapshot.js';
import { formatSourceError, type PolicySnapshot } from '../../src/policy/types.js';
import { ConnectionPolicy } from '../../src/protocols/connection-policy.js';
import { createH2Handler } from '../../src/protocols/http/h2/handler.js';
import { sniffProtocol } from '../../src/protocols/http/sniff.js';
import { LISTENER_TIMINGS, type ListenerTimings } from '../../src/protocols/timings.js';
import { RecordingFlows, RecordingMetrics } from './http-observers.js';

/** The upstream's address (endpoint `backend`, app=backend). */
export const BACKEND = '127.0.0.60';
/** A client endpoint (app=client) that test policies allow. */
export const CLIENT = '127.0.0.61';
/** A client endpoint (app=stranger) that test policies do not name. */
export const STRANGER = '127.0.0.62';

/** Allows `app=client` on port 8080 for the given `http` rules (YAML flow sequences), nobody else. */
export function clientPolicy(httpRules: readonly string[]): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: backend-l7}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [${httpRules.join(', ')}]
`;
}

export interface H2ProxyOptions {
  readonly upstreamPort: number;
  readonly upstreamProtocol?: 'http1' | 'h2c';
  /** Policy YAML; empty means no policy (everything allowed). */
  readonly policy?: string;
  /** YAML flow-map body for the listener's `http:` limits, e.g. `maxConcurrentStreams: 10`. */
  readonly http?: string;
  /** Terminate TLS (ALPN h2) and hand the TLSSocket to the handler, as the TLS listener will. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Shorter waits than production's, for a test that would otherwise wait one out. */
  readonly timings?: Partial<ListenerTimings>;
}

export interface H2Proxy {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly config: ListenerConfig;
  readonly flows: RecordingFlows;
  readonly metrics: RecordingMetrics;
  /** Compiles `policy` and makes it the current snapshot, as a hot reload does. */
  usePolicy(policy: string): void;
  close(): Promise<void>;
}

export async function startH2Proxy(o: H2ProxyOptions): Promise<H2Proxy> {
  const config = loadConfig(o);
  let revision = 1;
  let snapshot = compile(o.policy ?? '', config, revision);
  const flows = new RecordingFlows();
  const metrics = new RecordingMetrics();
  const listenerConfig = config.listeners[0]!;
  const ctx = { config: listenerConfig, snapshot: () => snapshot, flows, metrics, log: pino({ level: process.env.H2_TEST_LOG ?? 'silent' }), timings: { ...LISTENER_TIMINGS, ...o.timings } };
  const h2 = createH2Handler(ctx);
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    socket.on('error', () => socket.destroy());
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    return ConnectionPolicy.admit(ctx, socket) !== undefined;
  };
  const server = o.tls
    ? tls.createServer({ ...o.tls, ALPNProtocols: ['h2'] }, (socket) => {
        if (track(socket)) h2.accept(socket);
      })
    : net.createServer((socket) => {
        if (!track(socket)) return;
        sniffProtocol(socket, listenerConfig.http.headersTimeoutMs, (protocol) => (protocol === 'h2' ? h2.accept(socket) : socket.destroy()));
      });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    config: listenerConfig,
    flows,
    metrics,
    usePolicy(policy: string) {
      snapshot = compile(policy, config, ++revision);
    },
    async close() {
      server.close();
      await h2.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** The portcullis.yaml text of the fixture's one listener (also run as a process by the flood tests). */
export function h2ProxyConfigText(o: Pick<H2ProxyOptions, 'upstreamPort' | 'upstreamProtocol' | 'http'>): string {
  return `admin: "off"
flows: "off"
policies: []
endpoints:
  - {name: backend, namespace: default, labels: {app: backend}, addresses: [${BACKEND}]}
  - {name: client, namespace: default, labels: {app: client}, addresses: [${CLIENT}]}
  - {name: stranger, namespace: default, labels: {app: stranger}, addresses: [${STRANGER}]}
listeners:
  - name: backend-http
    listen: "127.0.0.1:0"
    protocol: http
    to: backend
    upstream: "${BACKEND}:${o.upstreamPort}"
    port: 8080
    upstreamProtocol: ${o.upstreamProtocol ?? 'h2c'}
    http: {${o.http ?? ''}}
`;
}

function loadConfig(o: H2ProxyOptions): PortcullisConfig {
  const text = h2ProxyConfigText(o);
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

/** A node:http2 client session to the proxy from `localAddress` (its identity). */
export function connectFrom(proxy: H2Proxy, localAddress: string): http2.ClientHttp2Session {
  const session = http2.connect(proxy.url, { createConnection: () => net.connect({ host: proxy.host, port: proxy.port, localAddress }) });
  session.on('error', () => {});
  return session;
}
