// Builders for policy-engine tests: endpoints, snapshots from inline YAML, peers and request facts.
import type { EndpointConfig } from '../../src/config/types.js';
import { buildSnapshot, formatSourceError, parsePolicyText } from '../../src/policy/index.js';
import type {
  ConnectionDecision, HttpRequestFacts, KafkaRequestFacts, Peer, PolicyDocument, PolicySnapshot, SourceError,
} from '../../src/policy/index.js';

export function endpoint(
  name: string,
  labels: Record<string, string>,
  addresses: string[],
  options: { namespace?: string; identities?: string[]; line?: number } = {},
): EndpointConfig {
  return {
    name,
    namespace: options.namespace ?? 'default',
    labels,
    addresses,
    identities: options.identities ?? [],
    file: 'portcullis.yaml',
    line: options.line ?? 1,
  };
}

/** The Star Wars demo endpoints on loopback. */
export const STAR_WARS: readonly EndpointConfig[] = [
  endpoint('deathstar', { org: 'empire', class: 'deathstar' }, ['127.0.0.10']),
  endpoint('tiefighter', { org: 'empire', class: 'tiefighter' }, ['127.0.0.2']),
  endpoint('xwing', { org: 'alliance', class: 'xwing' }, ['127.0.0.3']),
];

export interface SnapshotOptions {
  readonly enforcement?: 'default' | 'always' | 'never';
  readonly audit?: boolean;
  readonly localAddresses?: readonly string[];
}

/** Parses the YAML texts and builds a snapshot; throws with every located error if anything is wrong. */
export function snapshotOf(yaml: string | readonly string[], endpoints: readonly EndpointConfig[], options: SnapshotOptions = {}): PolicySnapshot {
  const texts = typeof yaml === 'string' ? [yaml] : yaml;
  const documents: PolicyDocument[] = [];
  const errors: SourceError[] = [];
  texts.forEach((t, i) => {
    const r = parsePolicyText(t, `policy-${i}.yaml`);
    documents.push(...r.documents);
    errors.push(...r.errors);
  });
  const built = buildSnapshot({
    documents,
    endpoints,
    enforcement: options.enforcement ?? 'default',
    audit: options.audit ?? false,
    revision: 1,
    localAddresses: options.localAddresses ?? ['127.0.0.0/8', '::1'],
  });
  errors.push(...built.errors);
  if (errors.length > 0 || !built.snapshot) throw new Error(`policy errors:\n${errors.map(formatSourceError).join('\n')}`);
  return built.snapshot;
}

/** Located errors of one policy text (parse only). */
export function errorsOf(yaml: string, file = 'bad.yaml'): SourceError[] {
  return parsePolicyText(yaml, file).errors;
}

/**
 * A peer: `ns/name` or a bare endpoint name (its first address), or an address resolved through the
 * registry (host / world / endpoint by prefix).
 */
export function peer(snap: PolicySnapshot, who: string, names?: string[]): Peer {
  const ep = /^[a-z]/.test(who) && !who.includes(':') ? snap.endpoints.byName(who) : undefined;
  if (ep) return { identity: ep.identity, address: ep.addresses[0]!.replace(/\/.*$/, '') };
  return { identity: snap.endpoints.resolveAddress(who), address: who, ...(names ? { names } : {}) };
}

export function connect(snap: PolicySnapshot, from: string, to: string, port: number, sni?: string, names?: string[]): ConnectionDecision {
  return snap.decideConnection({ source: peer(snap, from), destination: peer(snap, to, names), port, ...(sni !== undefined ? { sni } : {}) });
}

export function http(method: string, path: string, host = 'deathstar', headers: Array<[string, string]> = []): HttpRequestFacts {
  return { method, path, host, headers };
}

export function kafka(apiKey: number, topics: string[] = [], options: { apiVersion?: number; clientId?: string | null } = {}): KafkaRequestFacts {
  return { apiKey, apiVersion: options.apiVersion ?? 0, clientId: options.clientId === undefined ? 'client' : options.clientId, topics };
}

/** A CiliumNetworkPolicy document around one rule body (YAML indented by 2 under `spec:`). */
export function cnp(name: string, spec: string, namespace?: string): string {
  const ns = namespace ? `\n  namespace: ${namespace}` : '';
  return `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: ${name}${ns}\nspec:\n${indent(spec, 2)}`;
}

export function ccnp(name: string, spec: string): string {
  return `apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: ${name}\nspec:\n${indent(spec, 2)}`;
}

function indent(text: string, n: number): string {
  const lines = text.replace(/^\n+|\s+$/g, '').split('\n');
  const min = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => ' '.repeat(n) + l.slice(min)).join('\n') + '\n';
}
