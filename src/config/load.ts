// Loads and validates `portcullis.yaml` (the contract in README.md "Configuration").
// Every problem is reported with file, line, column and field; unknown fields are errors, not ignored.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { SourceError, TlsSecretRef } from '../policy/types.js';
import { DEFAULT_KAFKA_REQUEST_LIMITS } from './kafka-request-limits.js';
import { LOG_FORMATS, LOG_LEVELS } from './log-options.js';
import { parseSecretName } from '../secrets/secret-path.js';
import type {
  EndpointConfig, ForwardListenerOptions, HttpLimits, HubbleConfig, HubbleTlsOptions, KafkaListenerOptions, ListenerConfig, ListenerTlsOptions, PortcullisConfig,
} from './types.js';
import { parseYamlSource, type YamlNode } from './yaml-source.js';

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  headersTimeoutMs: 60_000,
  idleTimeoutMs: 5_000,
  upstreamConnectTimeoutMs: 5_000,
  upstreamTimeoutMs: 60_000,
  upstreamMaxConnections: 256,
  upstreamMaxPending: 1024,
  escapedSlashes: 'reject',
  xForwardedFor: 'append',
  maxConcurrentStreams: 100,
  maxResetsPerSecond: 100,
  streamIdleTimeoutMs: 300_000,
  initialWindowSize: 1024 * 1024,
  maxContinuationFrames: 8,
  maxConsecutiveEmptyFrames: 1,
  maxPriorityFramesPerStream: 100,
  maxWindowUpdatesPerDataFrame: 10,
  maxOutboundControlFrames: 1000,
  tunnelIdleTimeoutMs: 3_600_000,
};

export const DEFAULT_KAFKA_OPTIONS: KafkaListenerOptions = {
  maxFrameSize: 100 * 1024 * 1024,
  upstreamConnectTimeoutMs: 5_000,
  brokerPorts: new Map(),
  zeroCopy: true,
  maxTopicsPerRequest: DEFAULT_KAFKA_REQUEST_LIMITS.maxTopics,
  maxPartitionsPerRequest: DEFAULT_KAFKA_REQUEST_LIMITS.maxPartitions,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 600_000,
  maxBufferedBytes: 256 * 1024 * 1024,
};
const KAFKA_FIELDS = [
  'maxFrameSize', 'upstreamConnectTimeoutMs', 'advertisedHost', 'brokerPorts', 'zeroCopy',
  'maxTopicsPerRequest', 'maxPartitionsPerRequest', 'requestTimeoutMs', 'idleTimeoutMs', 'maxBufferedBytes',
];

export const DEFAULT_TLS_OPTIONS: ListenerTlsOptions = {
  clientCertificates: 'none',
  handshakeTimeoutMs: 10_000,
  maxClientHelloBytes: 16 * 1024,
};
const TLS_FIELDS = ['secret', 'clientCA', 'clientCertificates', 'handshakeTimeoutMs', 'maxClientHelloBytes'];

export const DEFAULT_FORWARD_OPTIONS: ForwardListenerOptions = {
  hosts: new Map(),
  systemResolver: true,
  resolveTimeoutMs: 5_000,
  maxConcurrentLookups: 2,
  maxQueuedLookups: 64,
  allowUnselectedClients: false,
};
const FORWARD_FIELDS = ['hosts', 'systemResolver', 'resolveTimeoutMs', 'maxConcurrentLookups', 'maxQueuedLookups', 'allowUnselectedClients'];
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?)*$/;

const DEFAULT_ADMIN = { host: '127.0.0.1', port: 9901 };
/** More workers than this is a typo, not a machine: each one holds every listener's state and a compiled policy. */
export const MAX_WORKERS = 256;

export const DEFAULT_REDACTED_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];

const TOP_FIELDS = ['policies', 'certs', 'enforcement', 'audit', 'workers', 'admin', 'nodeName', 'hubble', 'flows', 'log', 'redactHeaders', 'redactQuery', 'http', 'endpoints', 'listeners'];
const LOG_FIELDS = ['level', 'format'];
const HUBBLE_FIELDS = ['listen', 'bufferSize', 'peers', 'tls'];
const HUBBLE_TLS_FIELDS = ['secret', 'clientCA', 'clusterName'];
const PEER_FIELDS = ['name', 'address'];
/** Hubble's default ring size (hubble-event-buffer-capacity); the cap keeps a typo from pinning gigabytes. */
const DEFAULT_HUBBLE_BUFFER = 4095;
const MAX_HUBBLE_BUFFER = 1_048_575;
const ENDPOINT_FIELDS = ['name', 'namespace', 'labels', 'addresses', 'identities'];
const LISTENER_FIELDS = [
  'name', 'listen', 'protocol', 'to', 'upstream', 'port', 'upstreamProtocol', 'maxConnections', 'maxConnectionsPerSource', 'http', 'kafka', 'tls', 'forward',
];
/**
 * Connection caps per listener. Envoy's edge guidance caps a whole proxy at 50000 downstream connections
 * (overload.global_downstream_max_connections); 10000 per listener keeps a few listeners under that and, at two
 * fds per proxied connection, under the fd limit Node raises itself to at start-up. 1000 per source leaves room
 * for many clients behind one NAT address, while one host cannot take a listener on its own.
 */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 1_000;
const PROTOCOLS = ['http', 'kafka', 'tls', 'forward'] as const;
const UPSTREAM_PROTOCOLS = ['http1', 'h2c', 'h2'] as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Collects errors while reading typed values out of located YAML nodes. */
class Reader {
  readonly errors: SourceError[] = [];
  /** Valid, but likely not what was meant (`check` prints them, `run` logs them, `check --strict` fails on them). */
  readonly warnings: SourceError[] = [];

  fail(node: YamlNode, message: string): undefined {
    this.errors.push(node.error(message));
    return undefined;
  }

  onlyFields(node: YamlNode, allowed: readonly string[]): void {
    for (const f of node.fields()) {
      if (!allowed.includes(f.name)) this.errors.push(f.key.error(`unknown field "${f.name}" (expected one of: ${allowed.join(', ')})`));
    }
  }

  string(node: YamlNode, fallback?: string): string | undefined {
    if (!node.present || node.kind === 'null') return fallback;
    if (typeof node.value === 'string' && node.value !== '') return node.value;
    return this.fail(node, 'must be a non-empty string');
  }

  boolean(node: YamlNode, fallback: boolean): boolean {
    if (!node.present) return fallback;
    if (typeof node.value === 'boolean') return node.value;
    this.fail(node, 'must be true or false');
    return fallback;
  }

  oneOf<T extends string>(node: YamlNode, values: readonly T[], fallback: T): T {
    if (!node.present) return fallback;
    if (typeof node.value === 'string' && (values as readonly string[]).includes(node.value)) return node.value as T;
    this.fail(node, `must be one of: ${values.join(', ')}`);
    return fallback;
  }

  integer(node: YamlNode, min: number, max: number, fallback?: number): number | undefined {
    if (!node.present) return fallback;
    const v = typeof node.value === 'string' && /^\d+$/.test(node.value) ? Number(node.value) : node.value;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    return this.fail(node, `must be an integer from ${min} to ${max}`);
  }

  stringList(node: YamlNode): string[] {
    if (!node.present || node.kind === 'null') return [];
    if (node.kind === 'scalar' && typeof node.value === 'string') return [node.value];
    if (node.kind !== 'seq') return this.fail(node, 'must be a list of strings') ?? [];
    const out: string[] = [];
    for (const item of node.items()) {
      const s = this.string(item);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /**
   * `host:port`, `[v6]:port`, or a bare port (host defaults). The host is an IP address or a host name; listen
   * addresses may use port 0 (the OS picks one).
   */
  hostPort(node: YamlNode, defaultHost: string, minPort = 1): { host: string; port: number } | undefined {
    const raw = typeof node.value === 'number' ? String(node.value) : node.string;
    if (raw === undefined) return this.fail(node, 'must be "host:port"');
    const split = splitHostPort(raw);
    if (typeof split === 'string') return this.fail(node, `"${raw}": ${split}`);
    const { host, portText } = split;
    const hostProblem = host === '' ? undefined : describeBadHost(host);
    if (hostProblem !== undefined) return this.fail(node, `"${raw}": ${hostProblem}`);
    if (portText === undefined || portText === '') return this.fail(node, `"${raw}" has no port (expected host:port, e.g. ${host.includes(':') ? `[${host}]` : host || defaultHost}:8080)`);
    if (!/^\d+$/.test(portText)) return this.fail(node, `"${raw}": port "${portText}" is not a number`);
    const port = Number(portText);
    if (port < minPort || port > 65535) return this.fail(node, `"${raw}": port ${port} is out of range (${minPort} to 65535)`);
    return { host: host || defaultHost, port };
  }

  /** A listen address: as hostPort, and a warning where it is not what it may seem. */
  listenAddress(node: YamlNode): { host: string; port: number } | undefined {
    const address = this.hostPort(node, '127.0.0.1', 0);
    if (address === undefined) return undefined;
    const raw = node.string ?? '';
    if (raw.startsWith(':')) {
      this.warnings.push(node.error(`"${raw}" listens on 127.0.0.1 only (an empty host means loopback here, not every interface): write 127.0.0.1${raw} or 0.0.0.0${raw} to say which`));
    } else if (address.host === '0.0.0.0' || address.host === '::') {
      this.warnings.push(node.error(`"${raw}" listens on every interface: reachable from other machines, not only from this one`));
    }
    return address;
  }
}

/** `host` and the text after its `:` (undefined without one), or what is wrong with the shape. */
function splitHostPort(raw: string): { host: string; portText: string | undefined } | string {
  if (/^\d+$/.test(raw)) return { host: '', portText: raw };
  if (raw.startsWith('[')) {
    const end = raw.indexOf(']');
    const rest = raw.slice(end + 1);
    if (end < 0 || (rest !== '' && !rest.startsWith(':'))) return 'expected "[IPv6 address]:port"';
    const host = raw.slice(1, end);
    if (isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
    return { host, portText: rest === '' ? undefined : rest.slice(1) };
  }
  const colon = raw.lastIndexOf(':');
  if (raw.indexOf(':') !== colon) return isIP(raw) === 6 ? `an IPv6 address needs brackets and a port: "[${raw}]:8080"` : 'expected "host:port"';
  return colon < 0 ? { host: raw, portText: undefined } : { host: raw.slice(0, colon), portText: raw.slice(colon + 1) };
}

/** Why `host` (no brackets) is neither an IP address nor a host name; undefined when it is one. */
function describeBadHost(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined;
  if (/^[\d.]+$/.test(host)) return `"${host}" is not an IPv4 address (four numbers from 0 to 255)`;
  return HOST_NAME.test(host.toLowerCase()) ? undefined : `"${host}" is not an IP address or host name`;
}

function readHttpLimits(r: Reader, node: YamlNode, base: HttpLimits): HttpLimits {
  if (!node.present) return base;
  r.onlyFields(node, Object.keys(DEFAULT_HTTP_LIMITS));
  const int = (key: keyof HttpLimits, min: number, max: number) => r.integer(node.get(key), min, max, base[key] as number) ?? (base[key] as number);
  return {
    maxHeaderBytes: int('maxHeaderBytes', 1024, 1024 * 1024),
    maxHeaderCount: int('maxHeaderCount', 8, 10_000),
    headersTimeoutMs: int('headersTimeoutMs', 100, 3_600_000),
    idleTimeoutMs: int('idleTimeoutMs', 100, 3_600_000),
    upstreamConnectTimeoutMs: int('upstreamConnectTimeoutMs', 10, 600_000),
    upstreamTimeoutMs: int('upstreamTimeoutMs', 10, 3_600_000),
    upstreamMaxConnections: int('upstreamMaxConnections', 1, 100_000),
    upstreamMaxPending: int('upstreamMaxPending', 0, 1_000_000),
    escapedSlashes: r.oneOf(node.get('escapedSlashes'), ['reject', 'keep'], base.escapedSlashes),
    xForwardedFor: r.oneOf(node.get('xForwardedFor'), ['append', 'strip', 'pass'], base.xForwardedFor),
    maxConcurrentStreams: int('maxConcurrentStreams', 1, 10_000),
    maxResetsPerSecond: int('maxResetsPerSecond', 1, 100_000),
    streamIdleTimeoutMs: int('streamIdleTimeoutMs', 100, 3_600_000),
    initialWindowSize: int('initialWindowSize', 65_535, 2 ** 31 - 1),
    maxContinuationFrames: int('maxContinuationFrames', 1, 10_000),
    maxConsecutiveEmptyFrames: int('maxConsecutiveEmptyFrames', 1, 10_000),
    maxPriorityFramesPerStream: int('maxPriorityFramesPerStream', 1, 10_000),
    maxWindowUpdatesPerDataFrame: int('maxWindowUpdatesPerDataFrame', 1, 10_000),
    maxOutboundControlFrames: int('maxOutboundControlFrames', 10, 100_000),
    tunnelIdleTimeoutMs: int('tunnelIdleTimeoutMs', 100, 86_400_000),
  };
}

function readKafkaOptions(r: Reader, node: YamlNode): KafkaListenerOptions {
  if (!node.present) return DEFAULT_KAFKA_OPTIONS;
  if (node.kind !== 'map') return r.fail(node, `must be a map with any of: ${KAFKA_FIELDS.join(', ')}`) ?? DEFAULT_KAFKA_OPTIONS;
  r.onlyFields(node, KAFKA_FIELDS);
  const base = DEFAULT_KAFKA_OPTIONS;
  const brokerPorts = new Map<number, number>();
  const portsNode = node.get('brokerPorts');
  if (portsNode.present && portsNode.kind !== 'map') r.fail(portsNode, 'must be a map of broker node id to listen port, e.g. {1: 19092}');
  for (const f of portsNode.fields()) {
    const nodeId = /^\d{1,10}$/.test(f.name) ? Number(f.name) : NaN;
    const port = r.integer(f.value, 1, 65535);
    if (!(nodeId <= 2 ** 31 - 1)) r.fail(f.key, `"${f.name}" is not a broker node id (0 to 2147483647)`);
    else if (port !== undefined) brokerPorts.set(nodeId, port);
  }
  const advertisedHost = r.string(node.get('advertisedHost'));
  type IntField = 'maxFrameSize' | 'upstreamConnectTimeoutMs' | 'maxTopicsPerRequest' | 'maxPartitionsPerRequest' | 'requestTimeoutMs' | 'idleTimeoutMs' | 'maxBufferedBytes';
  const int = (key: IntField, min: number, max: number) => r.integer(node.get(key), min, max, base[key]) ?? base[key];
  const maxFrameSize = int('maxFrameSize', 1024, 2 ** 31 - 1);
  const maxBufferedBytes = int('maxBufferedBytes', 1024, Number.MAX_SAFE_INTEGER);
  // A frame larger than the whole budget could never be read: every connection sending one would wait forever.
  if (maxBufferedBytes < maxFrameSize) {
    const at = node.get('maxBufferedBytes').present ? node.get('maxBufferedBytes') : node.get('maxFrameSize');
    r.fail(at, `maxBufferedBytes (${maxBufferedBytes}) must be at least maxFrameSize (${maxFrameSize})`);
  }
  return {
    maxFrameSize,
    upstreamConnectTimeoutMs: int('upstreamConnectTimeoutMs', 10, 600_000),
    ...(advertisedHost !== undefined ? { advertisedHost } : {}),
    brokerPorts,
    zeroCopy: r.boolean(node.get('zeroCopy'), base.zeroCopy),
    maxTopicsPerRequest: int('maxTopicsPerRequest', 1, 10_000_000),
    maxPartitionsPerRequest: int('maxPartitionsPerRequest', 1, 100_000_000),
    requestTimeoutMs: int('requestTimeoutMs', 100, 3_600_000),
    idleTimeoutMs: int('idleTimeoutMs', 100, 86_400_000),
    maxBufferedBytes,
  };
}

function readSecretRef(r: Reader, node: YamlNode): TlsSecretRef | undefined {
  const text = r.string(node);
  if (text === undefined) return undefined;
  try {
    return parseSecretName(text);
  } catch (e) {
    return r.fail(node, (e as Error).message);
  }
}

/** `tls:` of a listener; `secret`/`clientCA` only where they mean something for the protocol. */
function readTlsOptions(r: Reader, node: YamlNode, protocol: ListenerConfig['protocol']): ListenerTlsOptions {
  if (!node.present) return DEFAULT_TLS_OPTIONS;
  if (node.kind !== 'map') return r.fail(node, `must be a map with any of: ${TLS_FIELDS.join(', ')}`) ?? DEFAULT_TLS_OPTIONS;
  r.onlyFields(node, TLS_FIELDS);
  const base = DEFAULT_TLS_OPTIONS;
  const secret = readSecretRef(r, node.get('secret'));
  const clientCA = readSecretRef(r, node.get('clientCA'));
  const modeNode = node.get('clientCertificates');
  const clientCertificates = r.oneOf(modeNode, ['none', 'request', 'require'], clientCA !== undefined ? 'request' : 'none');
  if (protocol === 'forward') {
    for (const field of ['secret', 'clientCA', 'clientCertificates']) {
      if (node.has(field)) r.fail(node.get(field), 'a forward listener presents the certificate of the terminatingTLS secret of the policy; only the timeouts and limits apply here');
    }
  } else if (clientCertificates !== 'none' && clientCA === undefined) {
    r.fail(modeNode, 'client certificates need "clientCA" (the secret whose ca.crt verifies them)');
  } else if (clientCA !== undefined && secret === undefined && !node.has('secret')) {
    r.fail(node, 'verifying client certificates needs "secret" (the server certificate presented before policy can choose one)');
  }
  return {
    ...(secret !== undefined ? { secret } : {}),
    ...(clientCA !== undefined ? { clientCA } : {}),
    clientCertificates,
    handshakeTimeoutMs: r.integer(node.get('handshakeTimeoutMs'), 100, 600_000, base.handshakeTimeoutMs) ?? base.handshakeTimeoutMs,
    maxClientHelloBytes: r.integer(node.get('maxClientHelloBytes'), 512, 64 * 1024, base.maxClientHelloBytes) ?? base.maxClientHelloBytes,
  };
}

function readForwardOptions(r: Reader, node: YamlNode): ForwardListenerOptions {
  if (!node.present) return DEFAULT_FORWARD_OPTIONS;
  if (node.kind !== 'map') return r.fail(node, `must be a map with any of: ${FORWARD_FIELDS.join(', ')}`) ?? DEFAULT_FORWARD_OPTIONS;
  r.onlyFields(node, FORWARD_FIELDS);
  const base = DEFAULT_FORWARD_OPTIONS;
  const hosts = new Map<string, string[]>();
  const hostsNode = node.get('hosts');
  if (hostsNode.present && hostsNode.kind !== 'map') r.fail(hostsNode, 'must be a map of host name to address(es), e.g. {api.example.com: [192.0.2.10]}');
  for (const f of hostsNode.fields()) {
    const name = f.name.toLowerCase().replace(/\.$/, '');
    if (!HOST_NAME.test(name)) r.fail(f.key, `"${f.name}" is not a DNS name`);
    const addresses = r.stringList(f.value);
    if (addresses.length === 0) r.fail(f.value, 'must name at least one address');
    for (const a of addresses) if (isIP(a) === 0) r.fail(f.value, `"${a}" is not an IP address`);
    hosts.set(name, addresses);
  }
  return {
    hosts,
    systemResolver: r.boolean(node.get('systemResolver'), base.systemResolver),
    resolveTimeoutMs: r.integer(node.get('resolveTimeoutMs'), 10, 600_000, base.resolveTimeoutMs) ?? base.resolveTimeoutMs,
    maxConcurrentLookups: r.integer(node.get('maxConcurrentLookups'), 1, 1024, base.maxConcurrentLookups) ?? base.maxConcurrentLookups,
    maxQueuedLookups: r.integer(node.get('maxQueuedLookups'), 0, 100_000, base.maxQueuedLookups) ?? base.maxQueuedLookups,
    allowUnselectedClients: r.boolean(node.get('allowUnselectedClients'), base.allowUnselectedClients),
  };
}

function readEndpoint(r: Reader, node: YamlNode): EndpointConfig | undefined {
  if (node.kind !== 'map') return r.fail(node, 'an endpoint must be a map with name, labels and addresses');
  r.onlyFields(node, ENDPOINT_FIELDS);
  const name = r.string(node.get('name'));
  if (name === undefined && !node.has('name')) r.fail(node, 'name is required');
  const namespace = r.string(node.get('namespace'), 'default') ?? 'default';
  if (!DNS_LABEL.test(namespace)) r.fail(node.get('namespace'), 'must be a DNS label (lower-case letters, digits, "-")');
  const labels: Record<string, string> = {};
  const labelsNode = node.get('labels');
  if (labelsNode.present && labelsNode.kind !== 'map') r.fail(labelsNode, 'must be a map of label keys to values');
  for (const f of labelsNode.fields()) {
    const v = f.value.value;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') labels[f.name] = String(v);
    else r.fail(f.value, 'label values must be strings');
  }
  if (name === undefined) return undefined;
  return {
    name,
    namespace,
    labels,
    addresses: r.stringList(node.get('addresses')),
    identities: r.stringList(node.get('identities')),
    file: node.file,
    line: node.line,
  };
}

function readListener(r: Reader, node: YamlNode, limits: HttpLimits, endpoints: readonly EndpointConfig[]): ListenerConfig | undefined {
  if (node.kind !== 'map') return r.fail(node, 'a listener must be a map');
  r.onlyFields(node, LISTENER_FIELDS);
  const name = r.string(node.get('name'));
  if (!node.has('name')) r.fail(node, 'name is required');
  const listenNode = node.get('listen');
  const listen = listenNode.present ? r.listenAddress(listenNode) : r.fail(node, 'listen is required');
  const protocol = node.has('protocol') ? r.oneOf(node.get('protocol'), PROTOCOLS, 'http') : r.fail(node, `protocol is required (${PROTOCOLS.join(', ')})`);
  const toNode = node.get('to');
  const to = r.string(toNode);
  if (to !== undefined && !endpoints.some((e) => e.name === to || `${e.namespace}/${e.name}` === to)) {
    r.fail(toNode, `no endpoint named "${to}" in endpoints`);
  }
  const upstreamNode = node.get('upstream');
  const upstream = upstreamNode.present ? r.hostPort(upstreamNode, '127.0.0.1') : undefined;
  if (protocol !== undefined && protocol !== 'forward') {
    if (to === undefined && !toNode.present) r.fail(node, `"to" (the destination endpoint) is required for a ${protocol} listener`);
    if (!upstreamNode.present) r.fail(node, `"upstream" is required for a ${protocol} listener`);
  }
  if (protocol === 'forward' && (toNode.present || upstreamNode.present)) {
    r.fail(toNode.present ? toNode : upstreamNode, 'a forward listener chooses its destination per request: remove "to" and "upstream"');
  }
  const port = r.integer(node.get('port'), 1, 65535) ?? upstream?.port ?? 0;
  const kafkaNode = node.get('kafka');
  if (kafkaNode.present && protocol !== undefined && protocol !== 'kafka') r.fail(kafkaNode, `"kafka" options only apply to kafka listeners, not ${protocol}`);
  const tlsNode = node.get('tls');
  if ((protocol === 'http' || protocol === 'kafka') && tlsNode.present && !tlsNode.has('secret')) {
    r.fail(tlsNode, `a ${protocol} listener that terminates TLS needs "secret" (its server certificate)`);
  }
  const forwardNode = node.get('forward');
  if (forwardNode.present && protocol !== undefined && protocol !== 'forward') r.fail(forwardNode, `"forward" options only apply to forward listeners, not ${protocol}`);
  const upstreamProtocolNode = node.get('upstreamProtocol');
  if (upstreamProtocolNode.present && protocol === 'forward') {
    r.fail(upstreamProtocolNode, 'a forward listener talks to each destination in the protocol the client negotiated (ALPN h2 or http/1.1); remove "upstreamProtocol"');
  }
  if (protocol === 'tls' && upstreamProtocolNode.value === 'h2') {
    r.fail(upstreamProtocolNode, 'on a tls listener TLS to the upstream comes from the policy\'s originatingTLS: use "h2c" for HTTP/2 (h2 over TLS when originatingTLS is set)');
  }
  const withTls = protocol === 'tls' || protocol === 'forward' || ((protocol === 'http' || protocol === 'kafka') && tlsNode.present);
  if (name === undefined || listen === undefined || protocol === undefined) return undefined;
  return {
    name,
    listen,
    protocol,
    maxConnections: r.integer(node.get('maxConnections'), 1, 1_000_000, DEFAULT_MAX_CONNECTIONS) ?? DEFAULT_MAX_CONNECTIONS,
    maxConnectionsPerSource: r.integer(node.get('maxConnectionsPerSource'), 1, 1_000_000, DEFAULT_MAX_CONNECTIONS_PER_SOURCE) ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
    ...(to !== undefined ? { to } : {}),
    ...(upstream !== undefined ? { upstream } : {}),
    port,
    upstreamProtocol: r.oneOf(node.get('upstreamProtocol'), UPSTREAM_PROTOCOLS, 'http1'),
    http: readHttpLimits(r, node.get('http'), limits),
    ...(protocol === 'kafka' ? { kafka: readKafkaOptions(r, kafkaNode) } : {}),
    ...(withTls ? { tls: readTlsOptions(r, tlsNode, protocol) } : {}),
    ...(protocol === 'forward' ? { forward: readForwardOptions(r, forwardNode) } : {}),
    file: node.file,
    line: node.line,
  };
}

export interface ParsedConfig {
  readonly config?: PortcullisConfig;
  readonly errors: SourceError[];
  readonly warnings: SourceError[];
}

/** Parses config text; `file` is used for error locations and to resolve relative paths. */
export function parseConfigText(text: string, file: string): ParsedConfig {
  const absolute = resolve(file);
  const base = dirname(absolute);
  const { documents, errors } = parseYamlSource(text, file);
  if (errors.length > 0) return { errors, warnings: [] };
  const root = documents[0];
  const kind = root?.get('kind');
  if (kind?.string !== undefined && root!.has('apiVersion')) {
    const message = `this is a ${kind.string}, not a portcullis.yaml config: give policy files to "portcullis check <paths>" or list them under "policies:" in the config`;
    return { errors: [kind.error(message)], warnings: [] };
  }
  if (documents.length !== 1 || root === undefined || root.kind !== 'map') {
    return { errors: [{ file, line: 1, column: 1, path: '', message: 'the config must be exactly one YAML map' }], warnings: [] };
  }
  const r = new Reader();
  r.onlyFields(root, TOP_FIELDS);

  const policies = r.stringList(root.get('policies'));
  const adminNode = root.get('admin');
  const admin = !adminNode.present ? DEFAULT_ADMIN : adminNode.string === 'off' ? undefined : r.listenAddress(adminNode);
  const limits = readHttpLimits(r, root.get('http'), DEFAULT_HTTP_LIMITS);
  const hubble = readHubble(r, root.get('hubble'), root.get('workers'));

  const endpoints: EndpointConfig[] = [];
  const endpointsNode = root.get('endpoints');
  if (endpointsNode.present && endpointsNode.kind !== 'seq') r.fail(endpointsNode, 'must be a list of endpoints');
  for (const item of endpointsNode.items()) {
    const e = readEndpoint(r, item);
    if (e === undefined) continue;
    if (endpoints.some((o) => o.name === e.name && o.namespace === e.namespace)) r.fail(item.get('name'), `duplicate endpoint ${e.namespace}/${e.name}`);
    else endpoints.push(e);
  }

  const listeners: ListenerConfig[] = [];
  const listenersNode = root.get('listeners');
  if (listenersNode.present && listenersNode.kind !== 'seq') r.fail(listenersNode, 'must be a list of listeners');
  for (const item of listenersNode.items()) {
    const l = readListener(r, item, limits, endpoints);
    if (l === undefined) continue;
    if (listeners.some((o) => o.name === l.name)) r.fail(item.get('name'), `duplicate listener name "${l.name}"`);
    else listeners.push(l);
  }

  const flows = r.string(root.get('flows'), 'stdout') ?? 'stdout';
  const config: PortcullisConfig = {
    file: absolute,
    policies: policies.map((p) => resolve(base, p)),
    certs: resolve(base, r.string(root.get('certs'), './certs') ?? './certs'),
    enforcement: r.oneOf(root.get('enforcement'), ['default', 'always', 'never'], 'default'),
    audit: r.boolean(root.get('audit'), false),
    workers: readWorkers(r, root.get('workers')),
    ...(admin !== undefined ? { admin } : {}),
    ...(root.has('nodeName') ? { nodeName: r.string(root.get('nodeName')) ?? '' } : {}),
    ...(hubble !== undefined ? { hubble } : {}),
    flows: flows === 'stdout' || flows === 'off' ? flows : resolve(base, flows),
    log: readLog(r, root.get('log')),
    redactHeaders: root.has('redactHeaders') ? r.stringList(root.get('redactHeaders')).map((h) => h.toLowerCase()) : DEFAULT_REDACTED_HEADERS,
    redactQuery: readRedactQuery(r, root.get('redactQuery')),
    endpoints,
    listeners,
  };
  return r.errors.length > 0 ? { errors: r.errors, warnings: r.warnings } : { config, errors: [], warnings: r.warnings };
}

/** `redactQuery`: true, false, or the names of the query parameters whose values flow records hide. */
function readRedactQuery(r: Reader, node: YamlNode): PortcullisConfig['redactQuery'] {
  if (!node.present || node.kind === 'null') return false;
  if (typeof node.value === 'boolean') return node.value;
  if (node.kind === 'seq') return r.stringList(node);
  r.fail(node, 'must be true, false or a list of query parameter names');
  return false;
}

function readLog(r: Reader, node: YamlNode): PortcullisConfig['log'] {
  if (node.present && node.kind !== 'map') r.fail(node, `must be a map with any of: ${LOG_FIELDS.join(', ')}`);
  else r.onlyFields(node, LOG_FIELDS);
  return { level: r.oneOf<string>(node.get('level'), LOG_LEVELS, 'info'), format: r.oneOf(node.get('format'), LOG_FORMATS, 'json') };
}

/**
 * `hubble: {listen, bufferSize, peers, tls}`. One process serves one ring of flows, so it needs `workers: 1`: with
 * several workers each would see only the flows of its own connections.
 */
function readHubble(r: Reader, node: YamlNode, workers: YamlNode): HubbleConfig | undefined {
  if (!node.present || node.kind === 'null') return undefined;
  if (node.kind !== 'map') return r.fail(node, `must be a map with: ${HUBBLE_FIELDS.join(', ')}`);
  // Listeners' TLS fields written one level too high get their own error instead of a bare "unknown field".
  const misplaced = ['secret', 'clientCA'].filter((field) => node.has(field));
  for (const field of misplaced) r.fail(node.get(field), `"${field}" goes under "tls:" (tls: {secret: <namespace>/<name>, clientCA: <namespace>/<name>})`);
  r.onlyFields(node, [...HUBBLE_FIELDS, ...misplaced]);
  const listenNode = node.get('listen');
  if (!listenNode.present) return r.fail(node, 'needs "listen" (e.g. 127.0.0.1:4245)');
  const listen = r.listenAddress(listenNode);
  const bufferSize = r.integer(node.get('bufferSize'), 1, MAX_HUBBLE_BUFFER, DEFAULT_HUBBLE_BUFFER);
  const peersNode = node.get('peers');
  if (peersNode.present && peersNode.kind !== 'seq') r.fail(peersNode, 'must be a list of {name, address}');
  const peers: HubbleConfig['peers'][number][] = [];
  for (const item of peersNode.items()) {
    r.onlyFields(item, PEER_FIELDS);
    const name = r.string(item.get('name'));
    const address = item.has('address') ? r.hostPort(item.get('address'), '127.0.0.1') : r.fail(item, 'needs "address" (host:port of its Hubble server)');
    if (name === undefined) r.fail(item, 'needs "name" (its node name)');
    else if (peers.some((p) => p.name === name)) r.fail(item.get('name'), `duplicate peer name "${name}"`);
    else if (address !== undefined) peers.push({ name, address });
  }
  if (workers.value !== 1 && workers.value !== '1') {
    return r.fail(node, 'the Hubble server runs in a single process: set "workers: 1" (each of several workers would serve only the flows of its own connections)');
  }
  const tlsNode = node.get('tls');
  const tls = tlsNode.present ? readHubbleTls(r, tlsNode) : undefined;
  if (listen === undefined || bufferSize === undefined || (tlsNode.present && tls === undefined)) return undefined;
  return { listen, bufferSize, peers, ...(tls !== undefined ? { tls } : {}) };
}

/** `hubble.tls`: the server certificate is required; a client CA turns on mTLS. */
function readHubbleTls(r: Reader, node: YamlNode): HubbleTlsOptions | undefined {
  if (node.kind !== 'map') return r.fail(node, `must be a map with: ${HUBBLE_TLS_FIELDS.join(', ')}`);
  r.onlyFields(node, HUBBLE_TLS_FIELDS);
  const secret = readSecretRef(r, node.get('secret'));
  const clientCA = readSecretRef(r, node.get('clientCA'));
  const clusterNode = node.get('clusterName');
  const clusterName = r.string(clusterNode, 'default');
  if (clusterName !== undefined && !DNS_LABEL.test(clusterName)) r.fail(clusterNode, 'must be a DNS label (lower-case letters, digits and "-"), as Cilium\'s cluster-name');
  if (!node.has('secret')) {
    const why = clientCA !== undefined ? ' (clientCA verifies clients; the server still needs its own certificate)' : '';
    return r.fail(node, `needs "secret" (the Hubble server's certificate: <namespace>/<name> in the secret store)${why}`);
  }
  if (secret === undefined || clusterName === undefined || (node.has('clientCA') && clientCA === undefined)) return undefined;
  return { secret, ...(clientCA !== undefined ? { clientCA } : {}), clusterName, file: node.file, line: node.line };
}

function readWorkers(r: Reader, node: YamlNode): 'auto' | number {
  if (!node.present || node.value === 'auto') return 'auto';
  if (typeof node.value === 'string' && !/^\d+$/.test(node.value)) {
    r.fail(node, `must be auto or an integer from 1 to ${MAX_WORKERS}`);
    return 'auto';
  }
  return r.integer(node, 1, MAX_WORKERS) ?? 'auto';
}

export function loadConfig(file: string): ParsedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { errors: [{ file, line: 1, column: 1, path: '', message: `cannot read config: ${(e as Error).message}` }], warnings: [] };
  }
  return parseConfigText(text, file);
}
