// One side of a flow: the subject endpoint's ingress (remote = source) or egress (remote = destination)
// policy, decided at connection time as in Cilium (reference §2.8): enforcement/default deny, deny
// rules, L3/L4 allows, SNI, then the L7 rules that remain for requests on this connection.
import type { Direction, Identity, Peer, RuleRef, TlsSecretRef } from './types.js';
import type { AllowEntry, DenyEntry, DnsRule, PolicyRule } from './model.js';
import { portsCover } from './model.js';
import { HttpRuleSet } from './http-rules.js';
import type { HttpRule } from './http-rules.js';
import type { KafkaRule } from './kafka-rules.js';
import { describeIdentity, isEndpointIdentity } from './identity.js';

export type Enforcement = 'default' | 'always' | 'never';

/** Every rule that selects one subject identity, for one direction. */
export interface SubjectPolicy {
  readonly direction: Direction;
  readonly subject: Identity;
  readonly mode: Enforcement;
  /** Default deny is on (a selecting rule enables it, or enforcement is `always`). */
  readonly enforced: boolean;
  /** Some rule selecting the subject has rules in this direction (default-allow ones included). */
  readonly selected: boolean;
  readonly allow: readonly AllowEntry[];
  readonly deny: readonly DenyEntry[];
  /** `CiliumNetworkPolicy default/rule1`, ... of the rules that select the subject. */
  readonly policies: readonly string[];
}

export function policyName(ref: RuleRef['policy']): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/** `spec.ingress[0] of CiliumNetworkPolicy default/rule1 (policies/a.yaml:12)`. */
export function describeRef(ref: RuleRef): string {
  return `${ref.path} of ${policyName(ref.policy)} (${ref.file}:${ref.line})`;
}

export function subjectPolicy(rules: readonly PolicyRule[], subject: Identity, direction: Direction, mode: Enforcement): SubjectPolicy {
  const selecting = rules.filter((r) => r.subject.matches(subject.labels));
  return {
    direction,
    subject,
    mode,
    enforced: mode === 'always' || (mode === 'default' && selecting.some((r) => r.defaultDeny[direction])),
    selected: selecting.some((r) => r.hasRules[direction] || r.defaultDeny[direction]),
    allow: selecting.flatMap((r) => r.allow[direction]),
    deny: selecting.flatMap((r) => r.deny[direction]),
    policies: [...new Set(selecting.map((r) => policyName(r.policy)))],
  };
}

export type L7Restriction =
  | { readonly type: 'http'; readonly rules: HttpRuleSet }
  | { readonly type: 'kafka'; readonly rules: readonly KafkaRule[] }
  | { readonly type: 'dns'; readonly rules: readonly DnsRule[] };

export interface SideResult {
  readonly direction: Direction;
  readonly subject: Identity;
  readonly allowed: boolean;
  /** Denied because the policy cannot be applied consistently (verdict ERROR), not by a rule. */
  readonly error: boolean;
  readonly reason: string;
  readonly allowedBy: readonly RuleRef[];
  readonly deniedBy: readonly RuleRef[];
  /** Undefined: every request on the connection is allowed by this side. */
  readonly l7: L7Restriction | undefined;
  readonly terminatingTLS: TlsSecretRef | undefined;
  readonly originatingTLS: TlsSecretRef | undefined;
}

const NO_REFS: readonly RuleRef[] = Object.freeze([]);

function result(policy: SubjectPolicy, fields: Partial<SideResult> & Pick<SideResult, 'allowed' | 'reason'>): SideResult {
  return {
    direction: policy.direction, subject: policy.subject, error: false, allowedBy: NO_REFS, deniedBy: NO_REFS,
    l7: undefined, terminatingTLS: undefined, originatingTLS: undefined, ...fields,
  };
}

function sameTls(a: TlsSecretRef, b: TlsSecretRef): boolean {
  return a.namespace === b.namespace && a.name === b.name && a.certificate === b.certificate && a.privateKey === b.privateKey && a.trustedCA === b.trustedCA;
}

/** The one TLS context of the entries, undefined when none sets it, or a conflict message. */
function tlsOf(entries: readonly AllowEntry[], field: 'terminatingTLS' | 'originatingTLS'): TlsSecretRef | undefined | { conflict: string } {
  let found: { tls: TlsSecretRef; entry: AllowEntry } | undefined;
  for (const e of entries) {
    const tls = e[field];
    if (!tls) continue;
    if (!found) found = { tls, entry: e };
    else if (!sameTls(found.tls, tls))
      return { conflict: `conflicting ${field} contexts ${found.tls.namespace}/${found.tls.name} (${describeRef(found.entry.ref)}) and ${tls.namespace}/${tls.name} (${describeRef(e.ref)})` };
  }
  return found?.tls;
}

/** A rule matching every HTTP request, standing for an L4 allow that cancels L7 restrictions. */
function matchAllHttp(ref: RuleRef): HttpRule {
  return { ref, method: undefined, path: undefined, host: undefined, headers: [], actions: [], text: '* * (L4 allow)' };
}

/**
 * The L7 rules left on a connection (reference §2.5): the union of the entries' rules; a plain L4/L3
 * allow among them cancels the restriction - except that header actions of HTTP rules still apply, as
 * cilium-envoy evaluates every rule once any has header matches.
 */
function l7Of(entries: readonly AllowEntry[]): L7Restriction | { conflict: string } | undefined {
  const withL7 = entries.filter((e) => e.l7);
  const first = withL7[0]?.l7;
  if (!first) return undefined;
  const other = withL7.find((e) => e.l7!.type !== first.type);
  if (other) return { conflict: `cannot merge conflicting L7 parsers (${first.type}/${other.l7!.type}) (${describeRef(other.ref)})` };
  const plain = entries.find((e) => !e.l7);
  switch (first.type) {
    case 'http': {
      const rules = withL7.flatMap((e) => (e.l7 as { rules: readonly HttpRule[] }).rules);
      if (!plain) return { type: 'http', rules: new HttpRuleSet(rules) };
      return rules.some((r) => r.actions.length > 0) ? { type: 'http', rules: new HttpRuleSet([...rules, matchAllHttp(plain.ref)]) } : undefined;
    }
    case 'kafka':
      return plain ? undefined : { type: 'kafka', rules: withL7.flatMap((e) => (e.l7 as { rules: readonly KafkaRule[] }).rules) };
    case 'dns':
      return plain ? undefined : { type: 'dns', rules: withL7.flatMap((e) => (e.l7 as { rules: readonly DnsRule[] }).rules) };
  }
}

/**
 * The egress side of a forward-proxy client that no policy selects for egress: no rule would restrict where the
 * proxy relays for it, so it is refused (an open relay otherwise). `always`: the listener admits unselected
 * clients, but under `enforcement: always` a request that no rule governs on either side is still denied.
 */
export function unselectedClient(policy: SubjectPolicy, address: string | undefined, always?: 'always'): SideResult {
  const client = describeIdentity(policy.subject, address);
  const why = isEndpointIdentity(policy.subject) ? `no policy selects ${client} for egress` : `${client} is not a registered endpoint`;
  const rule = always
    ? 'enforcement: always, and no rule governs the destination either'
    : 'this listener serves only clients that some policy selects for egress (forward.allowUnselectedClients is false)';
  return result(policy, { allowed: false, reason: `forward proxy client refused: ${why}; ${rule}` });
}

/** Distinct sets of applicable entries are few in practice; the bound only guards against pathologies. */
const MAX_CACHED_L7 = 10_000;

export interface SideRequest {
  readonly remote: Peer;
  readonly port: number;
  readonly sni: string | undefined;
}

/**
 * Decides one side. `l7Cache` shares compiled L7 restrictions between connections that end up with the
 * same applicable entries (so thousands of rules are indexed once, not per connection).
 */
export function decideSide(policy: SubjectPolicy, req: SideRequest, l7Cache: Map<string, L7Restriction | undefined>, entryIds: ReadonlyMap<AllowEntry, number>): SideResult {
  const dir = policy.direction;
  const subject = describeIdentity(policy.subject);
  const remote = describeIdentity(req.remote.identity, req.remote.address);
  if (policy.mode === 'never') return result(policy, { allowed: true, reason: `${dir} of ${subject} not enforced (enforcement: never)` });

  for (const d of policy.deny) {
    if (portsCover(d.ports, req.port) && d.peer.matches(req.remote))
      return result(policy, { allowed: false, deniedBy: [d.ref], reason: `denied by ${dir}Deny rule ${describeRef(d.ref)}: ${d.peer.text} on port ${req.port}` });
  }
  const candidates = policy.allow.filter((e) => portsCover(e.ports, req.port) && e.peer.matches(req.remote));
  // Default-allow (enableDefaultDeny false) only spares what no rule selects: a rule whose L3/L4 part selects
  // this peer and port still applies its serverNames and L7 rules, as Cilium does (cilium/cilium#38676).
  if (!policy.enforced && candidates.length === 0) {
    const why = policy.policies.length === 0 ? `no policy selects ${subject} for ${dir}` : `only default-allow policies select ${subject} for ${dir} (${policy.policies.join(', ')})`;
    return result(policy, { allowed: true, reason: `${dir} not enforced: ${why}` });
  }
  if (candidates.length === 0) {
    const by = policy.policies.length > 0 ? `policies: ${policy.policies.join(', ')}` : 'enforcement: always, no policy selects it';
    return result(policy, { allowed: false, reason: `no ${dir} rule of ${subject} allows ${remote} on port ${req.port} (${by})` });
  }
  const sni = req.sni?.toLowerCase();
  const survivors = candidates.filter((e) => !e.serverNames || (sni !== undefined && e.serverNames.some((m) => m.matches(sni))));
  if (survivors.length === 0) {
    const names = [...new Set(candidates.flatMap((e) => e.serverNames!.map((m) => m.text)))].join(', ');
    const refs = candidates.map((e) => describeRef(e.ref)).join('; ');
    const reason = sni === undefined ? `no TLS SNI, but serverNames [${names}] of ${dir} rule ${refs} require one` : `SNI ${sni} not in serverNames [${names}] of ${dir} rule ${refs}`;
    return result(policy, { allowed: false, reason });
  }

  const terminatingTLS = tlsOf(survivors, 'terminatingTLS');
  const originatingTLS = tlsOf(survivors, 'originatingTLS');
  const key = survivors.map((e) => entryIds.get(e)).join(',');
  let l7 = l7Cache.get(key);
  if (l7 === undefined && !l7Cache.has(key)) {
    const computed = l7Of(survivors);
    if (computed && 'conflict' in computed) return result(policy, { allowed: false, error: true, reason: computed.conflict });
    l7 = computed;
    if (l7Cache.size >= MAX_CACHED_L7) l7Cache.clear();
    l7Cache.set(key, l7);
  }
  for (const tls of [terminatingTLS, originatingTLS])
    if (tls && 'conflict' in tls) return result(policy, { allowed: false, error: true, reason: tls.conflict });

  const allowedBy = survivors.map((e) => e.ref);
  const more = survivors.length > 1 ? ` and ${survivors.length - 1} more` : '';
  return result(policy, {
    allowed: true,
    allowedBy,
    reason: `allowed by ${dir} rule ${describeRef(survivors[0]!.ref)}${more}`,
    l7,
    terminatingTLS: terminatingTLS as TlsSecretRef | undefined,
    originatingTLS: originatingTLS as TlsSecretRef | undefined,
  });
}
