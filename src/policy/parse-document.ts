// Parses one CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy document into a PolicyDocument:
// envelope (apiVersion, kind, metadata, spec/specs) and rules. Every problem is reported with its
// location; a document with any problem yields no PolicyDocument.
import type { YamlNode } from '../config/yaml-source.js';
import type { Direction, PolicyKind, RuleRef } from './types.js';
import type { AllowEntry, DenyEntry, PolicyDocument, PolicyRule } from './model.js';
import { ALL_PORTS } from './model.js';
import { booleanOf, checkFields, closestName, listOf, stringOf } from './parse-fields.js';
import type { Problems } from './parse-fields.js';
import { parseSelector } from './parse-selector.js';
import { subjectSelector } from './selector.js';
import { parsePeer } from './parse-peers.js';
import { parsePortRule } from './parse-ports.js';
import { formatLabel, parseLabelString } from './labels.js';

const KINDS: readonly PolicyKind[] = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy'];
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const OBJECT_META = [
  'name', 'namespace', 'labels', 'annotations', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'generateName',
  'ownerReferences', 'finalizers', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink',
];
const RULE_FIELDS = [
  'endpointSelector', 'nodeSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny', 'enableDefaultDeny', 'description', 'labels', 'log',
];

const NOT_K8S = 'it needs Kubernetes or the eBPF datapath';
const COMMON_UNSUPPORTED = { icmps: 'ICMP never reaches a TCP proxy', authentication: 'mutual authentication needs the Cilium agent' };
const UNSUPPORTED_PEERS: Readonly<Record<Direction, Readonly<Record<string, string>>>> = {
  ingress: { fromNodes: `node identities: ${NOT_K8S}`, fromGroups: 'cloud provider groups need the Cilium operator' },
  egress: {
    toNodes: `node identities: ${NOT_K8S}`,
    toGroups: 'cloud provider groups need the Cilium operator',
    toServices: 'Kubernetes services do not exist here; use toEndpoints',
  },
};
const PEER_KNOWN: Readonly<Record<Direction, readonly string[]>> = {
  ingress: ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromRequires', 'toPorts'],
  egress: ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toRequires', 'toPorts'],
};

interface Context {
  readonly p: Problems;
  readonly kind: PolicyKind;
  /** The CNP's namespace; undefined for a CCNP. */
  readonly namespace: string | undefined;
  readonly policy: RuleRef['policy'];
  /** The rule's `log.value`. */
  readonly log?: string;
}

function refAt(ctx: Context, direction: Direction, node: YamlNode): RuleRef {
  const ref = { policy: ctx.policy, direction, file: node.file, line: node.line, path: node.path };
  return ctx.log === undefined ? ref : { ...ref, log: ctx.log };
}

function parseDirection(
  rule: YamlNode,
  field: 'ingress' | 'egress' | 'ingressDeny' | 'egressDeny',
  ctx: Context,
): { allow: AllowEntry[]; deny: DenyEntry[] } {
  const direction: Direction = field.startsWith('ingress') ? 'ingress' : 'egress';
  const deny = field.endsWith('Deny');
  const allow: AllowEntry[] = [];
  const denies: DenyEntry[] = [];
  const known = [...PEER_KNOWN[direction], ...(direction === 'egress' && !deny ? ['toFQDNs'] : [])];
  const unsupported: Record<string, string> = { ...UNSUPPORTED_PEERS[direction], ...COMMON_UNSUPPORTED };
  if (deny && direction === 'egress') unsupported['toFQDNs'] = 'deny rules do not support toFQDNs';
  if (deny) unsupported['authentication'] = 'deny rules have no authentication';

  for (const item of listOf(rule.get(field), ctx.p)) {
    if (!checkFields(item, known, ctx.p, unsupported)) continue;
    const peer = parsePeer(item, direction, ctx.namespace, ctx.p);
    const toPorts = listOf(item.get('toPorts'), ctx.p);
    const ref = (n: YamlNode) => refAt(ctx, direction, n);
    // Ports are parsed even when the peer is bad, so every problem of the rule is reported.
    const portRules = toPorts.map((pr) => ({ node: pr, parsed: parsePortRule(pr, direction, deny, ctx.namespace, ref, ctx.p) }));
    if (!peer) continue;
    if (toPorts.length === 0) {
      // Without toPorts a rule needs a peer: `ingress: [{}]` allows nothing (but still enables default deny).
      if (!peer.explicit) continue;
      if (deny) denies.push({ ref: ref(item), peer: peer.matcher, ports: ALL_PORTS });
      else allow.push({
        ref: ref(item), peer: peer.matcher, ports: ALL_PORTS, l7: undefined, l7Ref: undefined, columns: { ref: item.column, l7: item.column },
        serverNames: undefined, terminatingTLS: undefined, originatingTLS: undefined,
      });
      continue;
    }
    for (const { node: pr, parsed } of portRules) {
      if (!parsed) continue;
      if (deny) denies.push({ ref: ref(pr), peer: peer.matcher, ports: parsed.ports });
      else {
        const { l7Node, ...rest } = parsed;
        allow.push({ ref: ref(pr), peer: peer.matcher, l7Ref: rest.l7 ? ref(l7Node) : undefined, columns: { ref: pr.column, l7: l7Node.column }, ...rest });
      }
    }
  }
  return { allow, deny: denies };
}

function parseRuleLabels(node: YamlNode, p: Problems): string[] {
  const out: string[] = [];
  for (const item of listOf(node, p)) {
    if (item.kind === 'scalar' && item.string !== undefined) {
      out.push(formatLabel(parseLabelString(item.string, 'unspec')));
      continue;
    }
    if (!checkFields(item, ['key', 'value', 'source'], p)) continue;
    const key = stringOf(item.get('key'), p, true);
    const value = stringOf(item.get('value'), p) ?? '';
    const source = stringOf(item.get('source'), p) || 'unspec';
    if (key !== undefined) out.push(formatLabel({ source, key, value }));
  }
  return out;
}

function parseRule(node: YamlNode, ctx: Context): PolicyRule | undefined {
  const p = ctx.p;
  const before = p.errors.length;
  if (!checkFields(node, RULE_FIELDS, p)) return undefined;
  const nodeSelector = node.get('nodeSelector');
  if (nodeSelector.present) {
    if (ctx.kind === 'CiliumNetworkPolicy') p.at(nodeSelector, 'Invalid CiliumNetworkPolicy spec: rule cannot have NodeSelector');
    else p.at(nodeSelector, 'nodeSelector is not supported by Portcullis (host policies need the eBPF host firewall)');
  }
  const selNode = node.get('endpointSelector');
  if (!selNode.present && !nodeSelector.present) p.at(selNode, 'rule must have one of EndpointSelector or NodeSelector');
  const selector = selNode.present ? parseSelector(selNode, p, true) : undefined;

  const dd = node.get('enableDefaultDeny');
  let explicitDefaultDeny: { ingress?: boolean | undefined; egress?: boolean | undefined } = {};
  if (dd.present && dd.kind !== 'null' && checkFields(dd, ['ingress', 'egress'], p))
    explicitDefaultDeny = { ingress: booleanOf(dd.get('ingress'), p), egress: booleanOf(dd.get('egress'), p) };
  stringOf(node.get('description'), p);
  const labels = parseRuleLabels(node.get('labels'), p);
  let log: string | undefined;
  const logNode = node.get('log');
  if (logNode.present && checkFields(logNode, ['value'], p)) {
    log = stringOf(logNode.get('value'), p);
    if (log !== undefined && (log.length > 32 || !/^[\x20-\x7e]*$/.test(log))) p.at(logNode.get('value'), 'log.value must be at most 32 printable characters');
  }
  const ruleCtx: Context = { ...ctx, policy: { ...ctx.policy, labels: [...ctx.policy.labels, ...labels] }, ...(log !== undefined ? { log } : {}) };
  const directions = ['ingress', 'ingressDeny', 'egress', 'egressDeny'] as const;
  const empty = (n: YamlNode) => n.kind === 'missing' || n.kind === 'null' || (n.kind === 'seq' && n.items().length === 0);
  if (directions.every((d) => empty(node.get(d))))
    p.at(node, 'rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny');
  const [ingress, ingressDeny, egress, egressDeny] = directions.map((d) => parseDirection(node, d, ruleCtx)) as [
    ReturnType<typeof parseDirection>, ReturnType<typeof parseDirection>, ReturnType<typeof parseDirection>, ReturnType<typeof parseDirection>,
  ];

  if (p.errors.length !== before || !selector) return undefined;

  const hasRules = (d: Direction) => !empty(node.get(d)) || !empty(node.get(`${d}Deny`));
  return {
    policy: ruleCtx.policy,
    path: node.path,
    line: node.line,
    subject: subjectSelector(selector, ctx.namespace),
    allow: { ingress: ingress.allow, egress: egress.allow },
    deny: { ingress: ingressDeny.deny, egress: egressDeny.deny },
    hasRules: { ingress: hasRules('ingress'), egress: hasRules('egress') },
    defaultDeny: { ingress: explicitDefaultDeny.ingress ?? hasRules('ingress'), egress: explicitDefaultDeny.egress ?? hasRules('egress') },
  };
}

/**
 * Policy folders also hold other Kubernetes objects (kustomization.yaml, ConfigMaps, Services): a document of another
 * kind, or no Kubernetes object at all, is skipped with a warning. A document meant as a Cilium policy (a kind one typo away, or a cilium.io
 * `...NetworkPolicy`) is an error: skipping it would silently drop a policy.
 */
function isOtherKind(root: YamlNode, p: Problems): boolean {
  if (!['apiVersion', 'kind', 'spec', 'specs'].some((f) => root.has(f))) {
    p.warn(root, 'skipped: not a Kubernetes object (no apiVersion or kind)');
    return true;
  }
  const kindNode = root.get('kind');
  const kind = kindNode.string;
  if (kind === undefined || KINDS.includes(kind as PolicyKind)) return false;
  const typo = closestName(kind, KINDS);
  if (typo !== undefined || (root.get('apiVersion').string?.startsWith('cilium.io/') && kind.endsWith('NetworkPolicy'))) {
    p.at(kindNode, `unsupported kind "${kind}" (${typo !== undefined ? `did you mean "${typo}"?` : 'expected CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy'})`);
    return true;
  }
  const name = root.get('metadata').get('name').string;
  p.warn(kindNode, `skipped ${kind}${name ? ` "${name}"` : ''}: not a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy`);
  return true;
}

/** One YAML document; undefined (with problems reported) when it is not a valid policy. */
export function parsePolicyDocument(root: YamlNode, p: Problems): PolicyDocument | undefined {
  const before = p.errors.length;
  if (root.kind !== 'map') {
    p.at(root, `expected a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy document (a map), got ${root.kind === 'seq' ? 'a list' : 'a scalar'}`);
    return undefined;
  }
  if (isOtherKind(root, p)) return undefined;
  const description = root.get('description');
  if (description.present) p.warn(description, 'ignored: only spec.description is part of a policy');
  if (!checkFields(root, ['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'status', 'description'], p)) return undefined;
  const apiVersion = stringOf(root.get('apiVersion'), p, true);
  if (apiVersion !== undefined && apiVersion !== 'cilium.io/v2') p.at(root.get('apiVersion'), `unsupported apiVersion "${apiVersion}" (expected cilium.io/v2)`);
  const kindText = stringOf(root.get('kind'), p, true);
  if (kindText === undefined) return undefined;
  const kind = kindText as PolicyKind;

  const meta = root.get('metadata');
  if (!meta.present) {
    p.at(meta, `${kind} must have name`);
    return undefined;
  }
  if (!checkFields(meta, OBJECT_META, p)) return undefined;
  const name = stringOf(meta.get('name'), p);
  if (!name) p.at(meta.get('name'), `${kind} must have name`);
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) p.at(meta.get('name'), `invalid name "${name}": must be a lower-case DNS subdomain`);
  let namespace: string | undefined;
  const nsNode = meta.get('namespace');
  if (kind === 'CiliumClusterwideNetworkPolicy') {
    if (nsNode.present) p.at(nsNode, 'a CiliumClusterwideNetworkPolicy is cluster-scoped and cannot have a namespace');
  } else {
    namespace = stringOf(nsNode, p) || 'default';
    if (namespace.length > 63 || !DNS_LABEL.test(namespace)) p.at(nsNode, `invalid namespace "${namespace}": must be a lower-case DNS label`);
  }
  if (p.errors.length !== before || !name) return undefined;

  const policyLabels = [
    `k8s:io.cilium.k8s.policy.derived-from=${kind}`,
    `k8s:io.cilium.k8s.policy.name=${name}`,
    ...(namespace !== undefined ? [`k8s:io.cilium.k8s.policy.namespace=${namespace}`] : []),
  ];
  const ctx: Context = { p, kind, namespace, policy: { name, ...(namespace !== undefined ? { namespace } : {}), kind, labels: policyLabels } };
  const ruleNodes: YamlNode[] = [];
  const spec = root.get('spec');
  if (spec.present && spec.kind !== 'null') ruleNodes.push(spec);
  ruleNodes.push(...listOf(root.get('specs'), p));
  if (ruleNodes.length === 0) {
    p.at(root, `Invalid ${kind} spec(s): empty policy`);
    return undefined;
  }
  const rules = ruleNodes.map((n) => parseRule(n, ctx));
  if (p.errors.length !== before) return undefined;
  return {
    kind, name, namespace, file: root.file, line: root.line,
    rules: rules as PolicyRule[],
    source: ruleNodes.map((n) => n.toJS()),
  };
}
