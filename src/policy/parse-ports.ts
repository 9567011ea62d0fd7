// Parses `toPorts` entries: ports (number, endPort, protocol), L7 rules, serverNames and TLS contexts,
// with Cilium's validation. Portcullis carries TCP only, so UDP/SCTP-only ports never match a flow.
import type { YamlNode } from '../config/yaml-source.js';
import type { Direction, TlsSecretRef } from './types.js';
import type { L7Rules, PortRange } from './model.js';
import { Problems, checkFields, listOf, stringOf, stringsOf } from './parse-fields.js';
import { parseL7Rules } from './parse-l7.js';
import type { RefAt } from './parse-l7.js';
import { compileServerName, serverNameProblem } from './names.js';
import type { NameMatcher } from './names.js';

export const MAX_PORTS = 40;
const IANA_SERVICE_NAME = /^([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$/;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ANY'] as const;
type Protocol = (typeof PROTOCOLS)[number];

interface ParsedPort {
  readonly node: YamlNode;
  readonly port: number;
  readonly endPort: number | undefined;
  readonly protocol: Protocol;
}

function parsePortNumber(node: YamlNode, p: Problems): number | undefined {
  const raw = typeof node.value === 'number' ? String(node.value) : stringOf(node, p);
  if (raw === undefined || raw === '') {
    if (node.kind === 'missing' || node.kind === 'null' || raw === '') p.at(node, 'port must be specified');
    return undefined;
  }
  if (/^[0-9]+$/.test(raw)) {
    if (raw.length > 1 && raw.startsWith('0')) {
      p.at(node, `port "${raw}" has a leading zero (Cilium would read it as octal); write the decimal number`);
      return undefined;
    }
    if (Number(raw) > 65535) {
      p.at(node, `port "${raw}" is out of range 0-65535`);
      return undefined;
    }
    return Number(raw);
  }
  if (raw.length <= 15 && IANA_SERVICE_NAME.test(raw)) p.at(node, `named ports are not supported by Portcullis (use the port number instead of "${raw}")`);
  else p.at(node, `invalid port "${raw}" (expected a number 0-65535)`);
  return undefined;
}

function parsePort(node: YamlNode, p: Problems): ParsedPort | undefined {
  const before = p.errors.length;
  if (!checkFields(node, ['port', 'endPort', 'protocol'], p)) return undefined;
  const port = parsePortNumber(node.get('port'), p);
  const endNode = node.get('endPort');
  let endPort: number | undefined;
  if (endNode.present && endNode.kind !== 'null') {
    const v = endNode.value;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) p.at(endNode, 'endPort must be an integer 0-65535');
    else if (port === 0) p.at(endNode, 'endPort cannot be combined with port 0 (all ports)');
    else if (port !== undefined && v !== 0 && v < port) p.at(endNode, `endPort ${v} is smaller than port ${port}`);
    else if (v !== 0) endPort = v;
  }
  const protoText = stringOf(node.get('protocol'), p) ?? 'ANY';
  const protocol = protoText.toUpperCase() as Protocol;
  if (!PROTOCOLS.includes(protocol)) p.at(node.get('protocol'), `invalid protocol "${protoText}", must be { tcp | udp | sctp | any }`);
  if (p.errors.length !== before || port === undefined) return undefined;
  return { node, port, endPort, protocol };
}

function parseTls(node: YamlNode, namespace: string | undefined, p: Problems): TlsSecretRef | undefined {
  if (node.kind === 'missing' || node.kind === 'null') return undefined;
  const before = p.errors.length;
  if (!checkFields(node, ['secret', 'certificate', 'privateKey', 'trustedCA'], p)) return undefined;
  const secret = node.get('secret');
  if (!secret.present) {
    p.at(secret, 'secret is required');
    return undefined;
  }
  if (!checkFields(secret, ['namespace', 'name'], p)) return undefined;
  const name = stringOf(secret.get('name'), p, true);
  const ns = stringOf(secret.get('namespace'), p) || namespace;
  if (ns === undefined) p.at(secret, 'secret.namespace is required in a CiliumClusterwideNetworkPolicy');
  const items: Record<string, string> = {};
  for (const item of ['certificate', 'privateKey', 'trustedCA'] as const) {
    const v = stringOf(node.get(item), p);
    if (v) items[item] = v;
  }
  if (p.errors.length !== before || name === undefined || ns === undefined) return undefined;
  return { namespace: ns, name, ...items };
}

export interface ParsedPortRule {
  readonly ports: readonly PortRange[];
  readonly l7: L7Rules | undefined;
  readonly l7Node: YamlNode;
  readonly serverNames: readonly NameMatcher[] | undefined;
  readonly terminatingTLS: TlsSecretRef | undefined;
  readonly originatingTLS: TlsSecretRef | undefined;
}

const DENY_ONLY_PORTS = 'deny rules are L3/L4 only';

/**
 * One `toPorts` entry. Deny rules (`deny`) only take `ports`. `namespace` is the CNP's, the default for
 * TLS secret references. Returns undefined after reporting a problem.
 */
export function parsePortRule(
  node: YamlNode,
  direction: Direction,
  deny: boolean,
  namespace: string | undefined,
  refAt: RefAt,
  p: Problems,
): ParsedPortRule | undefined {
  const before = p.errors.length;
  const unsupported: Record<string, string> = deny
    ? { rules: DENY_ONLY_PORTS, serverNames: DENY_ONLY_PORTS, terminatingTLS: DENY_ONLY_PORTS, originatingTLS: DENY_ONLY_PORTS, listener: DENY_ONLY_PORTS }
    : { listener: 'CiliumEnvoyConfig listeners need cilium-envoy' };
  const known = deny ? ['ports'] : ['ports', 'rules', 'serverNames', 'terminatingTLS', 'originatingTLS'];
  if (!checkFields(node, known, p, unsupported)) return undefined;

  const portsNode = node.get('ports');
  const portNodes = listOf(portsNode, p);
  if (portNodes.length > MAX_PORTS) p.at(portsNode, `too many ports, the max is ${MAX_PORTS}`);
  const ports = portNodes.map((n) => parsePort(n, p)).filter((x): x is ParsedPort => x !== undefined);

  const l7Node = node.get('rules');
  const l7 = deny ? undefined : parseL7Rules(l7Node, refAt, p);
  if (portNodes.length === 0 && portsNode.kind !== 'map' && portsNode.kind !== 'scalar')
    p.at(portsNode, l7?.type === 'dns' ? 'port 53 must be specified for DNS rules' : 'toPorts entry must list at least one port in ports');
  const serverNames = deny ? undefined : parseServerNames(node.get('serverNames'), p);
  const terminatingTLS = deny ? undefined : parseTls(node.get('terminatingTLS'), namespace, p);
  const originatingTLS = deny ? undefined : parseTls(node.get('originatingTLS'), namespace, p);

  if (l7) {
    if (l7.type === 'dns' && direction === 'ingress') p.at(l7Node, 'DNS rules are not allowed on ingress');
    for (const port of ports) {
      if (port.port === 0) p.at(port.node.get('port'), 'L7 rules can not be used when a port is 0');
      if (l7.type === 'dns' && port.endPort !== undefined) p.at(port.node.get('endPort'), 'DNS rules do not support port ranges');
      if (l7.type !== 'dns' && (port.protocol === 'UDP' || port.protocol === 'SCTP'))
        p.at(port.node.get('protocol'), `L7 rules can only apply to TCP (not ${port.protocol}) except for DNS rules`);
    }
    if (serverNames && !terminatingTLS) p.at(node.get('serverNames'), 'ServerNames are not allowed with L7 rules without TLS termination');
  }
  if (p.errors.length !== before) return undefined;
  const tcp = ports.filter((x) => x.protocol === 'TCP' || x.protocol === 'ANY');
  const ranges = tcp.map((x) => (x.port === 0 ? { from: 0, to: 65535 } : { from: x.port, to: x.endPort ?? x.port }));
  return { ports: ranges, l7, l7Node, serverNames, terminatingTLS, originatingTLS };
}

function parseServerNames(node: YamlNode, p: Problems): NameMatcher[] | undefined {
  if (node.kind === 'missing' || node.kind === 'null') return undefined;
  const out: NameMatcher[] = [];
  for (const { node: n, value } of stringsOf(node, p)) {
    const problem = serverNameProblem(value);
    if (problem) p.at(n, problem);
    else out.push(compileServerName(value));
  }
  return out.length > 0 ? out : undefined;
}
