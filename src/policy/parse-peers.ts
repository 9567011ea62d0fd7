// Parses the peer half of an ingress/egress (deny) rule into a PeerMatcher: endpoints selectors, entities,
// CIDRs (with except), or FQDNs. Cilium allows one kind of peer per rule.
import type { YamlNode } from '../config/yaml-source.js';
import type { Direction, Peer } from './types.js';
import type { PeerMatcher } from './model.js';
import { Problems, checkFields, listOf, stringOf, stringsOf } from './parse-fields.js';
import { parseSelector } from './parse-selector.js';
import { peerSelector } from './selector.js';
import type { LabelSelector } from './selector.js';
import { RESERVED_IDENTITY_IDS, WORLD_ID, isEndpointIdentity } from './identity.js';
import { cidrContains, cidrContainsCidr, parseCidr, parseIp } from './ip.js';
import type { Cidr } from './ip.js';
import { compileMatchName, compileMatchPattern, matchNameProblem, matchPatternProblem } from './names.js';
import type { NameMatcher } from './names.js';

const PEER_FIELDS: Readonly<Record<Direction, readonly string[]>> = {
  ingress: ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromNodes', 'fromGroups'],
  egress: ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toGroups', 'toNodes', 'toFQDNs'],
};

const WORLD_IDS = new Set([WORLD_ID, RESERVED_IDENTITY_IDS['world-ipv4']!, RESERVED_IDENTITY_IDS['world-ipv6']!]);
const isWorld = (peer: Peer): boolean => WORLD_IDS.has(peer.identity.id);
const family = (peer: Peer): 4 | 6 | undefined => (peer.address === undefined ? undefined : parseIp(peer.address)?.family);

const ANY_PEER: PeerMatcher = { text: 'any peer', key: '*', matches: () => true };

/** Cilium's entities (pkg/policy/api/entity.go), as predicates on a peer. */
const ENTITIES: ReadonlyMap<string, (peer: Peer) => boolean> = new Map([
  ['all', () => true],
  ['world', isWorld],
  ['world-ipv4', (peer) => peer.identity.id === RESERVED_IDENTITY_IDS['world-ipv4'] || (peer.identity.id === WORLD_ID && family(peer) === 4)],
  ['world-ipv6', (peer) => peer.identity.id === RESERVED_IDENTITY_IDS['world-ipv6'] || (peer.identity.id === WORLD_ID && family(peer) === 6)],
  // Every registered endpoint, the host and the other reserved identities that are not world.
  ['cluster', (peer) => isEndpointIdentity(peer.identity) || !isWorld(peer)],
  ['none', () => false],
  ...['host', 'remote-node', 'kube-apiserver', 'ingress', 'health', 'init', 'unmanaged'].map(
    (name) => [name, (peer: Peer) => peer.identity.id === RESERVED_IDENTITY_IDS[name]] as const,
  ),
]);

interface CidrRule {
  readonly cidr: Cidr;
  readonly except: readonly Cidr[];
}

/** CIDR rules only apply to peers outside the registry (world); a /0 also selects world without an address. */
function cidrMatcher(field: string, rules: readonly CidrRule[]): PeerMatcher {
  const text = rules.map((r) => (r.except.length ? `${r.cidr.text} except ${r.except.map((e) => e.text).join(',')}` : r.cidr.text));
  return {
    text: `${field} [${text.join(', ')}]`,
    key: `cidr:${text.join(',')}`,
    matches(peer) {
      if (!isWorld(peer)) return false;
      const ip = peer.address === undefined ? undefined : parseIp(peer.address);
      if (!ip) return rules.some((r) => r.cidr.prefix === 0);
      return rules.some((r) => cidrContains(r.cidr, ip) && !r.except.some((e) => cidrContains(e, ip)));
    },
  };
}

function parseCidrText(node: YamlNode, p: Problems): Cidr | undefined {
  const text = stringOf(node, p, true);
  if (text === undefined) return undefined;
  const cidr = parseCidr(text);
  if (!cidr) p.at(node, `invalid CIDR "${text}" (expected an IPv4/IPv6 address or prefix such as 10.0.0.0/8)`);
  return cidr;
}

function parseCidrSet(node: YamlNode, p: Problems): CidrRule | undefined {
  const unsupported = {
    cidrGroupRef: 'CiliumCIDRGroup objects do not exist outside Kubernetes; list the CIDRs',
    cidrGroupSelector: 'CiliumCIDRGroup objects do not exist outside Kubernetes; list the CIDRs',
  };
  if (!checkFields(node, ['cidr', 'except'], p, unsupported)) return undefined;
  if (!node.has('cidr')) {
    if (!node.has('cidrGroupRef') && !node.has('cidrGroupSelector')) p.at(node, 'one of cidr, cidrGroupRef, or cidrGroupSelector is required');
    return undefined;
  }
  const cidr = parseCidrText(node.get('cidr'), p);
  const except: Cidr[] = [];
  for (const e of listOf(node.get('except'), p)) {
    const c = parseCidrText(e, p);
    if (!c || !cidr) continue;
    if (!cidrContainsCidr(cidr, c)) p.at(e, `allow CIDR prefix ${cidr.text} does not contain exclude CIDR prefix ${c.text}`);
    else except.push(c);
  }
  return cidr ? { cidr, except } : undefined;
}

function selectorMatcher(field: string, selectors: readonly LabelSelector[]): PeerMatcher {
  const text = selectors.map((s) => s.describe()).join(', ');
  return {
    text: `${field} [${text}]`,
    key: `endpoints:${text}`,
    matches: (peer) => selectors.some((s) => s.matches(peer.identity.labels)),
  };
}

function entityMatcher(field: string, names: readonly string[]): PeerMatcher {
  const preds = names.map((n) => ENTITIES.get(n)!);
  return { text: `${field} [${names.join(', ')}]`, key: `entities:${[...names].sort().join(',')}`, matches: (peer) => preds.some((f) => f(peer)) };
}

/** toFQDNs: the names the destination was reached by; registered endpoints are never FQDN peers. */
function fqdnMatcher(selectors: readonly NameMatcher[]): PeerMatcher {
  const text = selectors.map((s) => s.text).join(', ');
  return {
    text: `toFQDNs [${text}]`,
    key: `fqdn:${text}`,
    matches: (peer) => !isEndpointIdentity(peer.identity) && (peer.names ?? []).some((n) => selectors.some((s) => s.matches(n))),
  };
}

function parseFqdnSelector(node: YamlNode, p: Problems): NameMatcher | undefined {
  if (!checkFields(node, ['matchName', 'matchPattern'], p)) return undefined;
  const name = stringOf(node.get('matchName'), p);
  const pattern = stringOf(node.get('matchPattern'), p);
  if (name !== undefined && pattern !== undefined) {
    p.at(node, 'only one of MatchName or MatchPattern is allowed in an FQDNSelector');
    return undefined;
  }
  if (name !== undefined) {
    const problem = matchNameProblem(name);
    if (problem) p.at(node.get('matchName'), problem);
    return problem ? undefined : compileMatchName(name);
  }
  if (pattern !== undefined) {
    const problem = matchPatternProblem(pattern);
    if (problem) p.at(node.get('matchPattern'), problem);
    return problem ? undefined : compileMatchPattern(pattern);
  }
  p.at(node, 'one of matchName or matchPattern is required');
  return undefined;
}

export interface ParsedPeer {
  /** ANY_PEER when the rule names no peer (with toPorts: every peer; without: the rule allows nothing). */
  readonly matcher: PeerMatcher;
  readonly explicit: boolean;
}

/**
 * The peer of one rule. `namespace` is the CNP's namespace (undefined for a CCNP), for injection into
 * endpoint selectors. Unsupported peer fields are reported by the rule's field check, not here.
 */
export function parsePeer(rule: YamlNode, direction: Direction, namespace: string | undefined, p: Problems): ParsedPeer | undefined {
  const before = p.errors.length;
  const present = rule.fields().filter((f) => PEER_FIELDS[direction].includes(f.name));
  const nonEmpty = present.filter((f) => f.value.kind === 'seq' && f.value.items().length > 0);
  for (const f of nonEmpty.slice(1)) p.at(f.key, `combining ${nonEmpty[0]!.name} and ${f.name} is not supported yet`);
  const requires = direction === 'ingress' ? 'fromRequires' : 'toRequires';
  if (listOf(rule.get(requires), p).length > 0)
    p.at(rule.get(requires), `${requires} is not supported by Portcullis (deprecated in Cilium 1.20, where it must be empty)`);
  const field = present[0];
  if (!field) return p.errors.length === before ? { matcher: ANY_PEER, explicit: false } : undefined;

  let matcher: PeerMatcher | undefined;
  const items = listOf(field.value, p);
  switch (field.name) {
    case 'fromEndpoints':
    case 'toEndpoints': {
      const selectors = items.map((n) => parseSelector(n, p)).filter((s): s is LabelSelector => s !== undefined);
      matcher = selectorMatcher(field.name, selectors.map((s) => peerSelector(s, namespace)));
      break;
    }
    case 'fromEntities':
    case 'toEntities': {
      const names = stringsOf(field.value, p).filter(({ node, value }) => {
        if (ENTITIES.has(value)) return true;
        p.at(node, `unsupported entity: ${value}`);
        return false;
      });
      matcher = entityMatcher(field.name, names.map((n) => n.value));
      break;
    }
    case 'fromCIDR':
    case 'toCIDR': {
      const cidrs = items.map((n) => parseCidrText(n, p)).filter((c): c is Cidr => c !== undefined);
      matcher = cidrMatcher(field.name, cidrs.map((cidr) => ({ cidr, except: [] })));
      break;
    }
    case 'fromCIDRSet':
    case 'toCIDRSet':
      matcher = cidrMatcher(field.name, items.map((n) => parseCidrSet(n, p)).filter((r): r is CidrRule => r !== undefined));
      break;
    case 'toFQDNs':
      matcher = fqdnMatcher(items.map((n) => parseFqdnSelector(n, p)).filter((s): s is NameMatcher => s !== undefined));
      break;
    default:
      // fromNodes, toServices, ...: reported as unsupported by the caller's field check.
      return undefined;
  }
  return p.errors.length === before ? { matcher, explicit: true } : undefined;
}
