// The validated, normalised form of CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy documents:
// selectors already carry Cilium's namespace injection, regexes and name patterns are compiled, and
// every rule knows where it came from (RuleRef). Produced by parse-*.ts, consumed by snapshot.ts.
import type { Direction, Peer, PolicyKind, RuleRef, TlsSecretRef } from './types.js';
import type { LabelSelector } from './selector.js';
import type { HttpRule } from './http-rules.js';
import type { KafkaRule } from './kafka-rules.js';
import type { NameMatcher } from './names.js';

/** Who a rule's peer fields select. */
export interface PeerMatcher {
  /** Human text, e.g. `fromEndpoints {k8s:org=empire, ...}`, `fromEntities [world]`, `any peer`. */
  readonly text: string;
  /** Equal keys = structurally equal peer specs (used to detect conflicting TLS contexts). */
  readonly key: string;
  matches(peer: Peer): boolean;
}

/** Inclusive TCP port range; port 0 in policy (all ports) is 0-65535. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export interface DnsRule {
  readonly ref: RuleRef;
  readonly name: NameMatcher;
}

export type L7Rules =
  | { readonly type: 'http'; readonly rules: readonly HttpRule[] }
  | { readonly type: 'kafka'; readonly rules: readonly KafkaRule[] }
  | { readonly type: 'dns'; readonly rules: readonly DnsRule[] };

/** One allow: a rule's peers x one `toPorts` entry (or every port for a rule without `toPorts`). */
export interface AllowEntry {
  /** `spec.ingress[0]` for L3-only rules, else `spec.ingress[0].toPorts[1]`. */
  readonly ref: RuleRef;
  readonly peer: PeerMatcher;
  /** TCP ranges covered; [] when the entry only lists UDP/SCTP ports (never matches a TCP flow). */
  readonly ports: readonly PortRange[];
  /** No `rules` (or empty rules): a plain L3/L4 allow, which cancels L7 restrictions for its peers. */
  readonly l7: L7Rules | undefined;
  /** `rules` location, for merge-conflict errors. */
  readonly l7Ref: RuleRef | undefined;
  /** Columns of `ref` and `l7Ref` (RuleRef carries lines only), for located merge-conflict errors. */
  readonly columns: { readonly ref: number; readonly l7: number };
  /** When set, the entry only counts for TLS connections whose SNI matches one of these. */
  readonly serverNames: readonly NameMatcher[] | undefined;
  readonly terminatingTLS: TlsSecretRef | undefined;
  readonly originatingTLS: TlsSecretRef | undefined;
}

export interface DenyEntry {
  readonly ref: RuleRef;
  readonly peer: PeerMatcher;
  readonly ports: readonly PortRange[];
}

export interface PolicyRule {
  /** The policy, with this rule's own `labels` appended to the derived ones. */
  readonly policy: RuleRef['policy'];
  /** `spec` or `specs[i]`. */
  readonly path: string;
  readonly line: number;
  readonly subject: LabelSelector;
  readonly allow: Readonly<Record<Direction, readonly AllowEntry[]>>;
  readonly deny: Readonly<Record<Direction, readonly DenyEntry[]>>;
  /** The rule has allow or deny rules in that direction (`ingress`/`ingressDeny`, `egress`/`egressDeny`). */
  readonly hasRules: Readonly<Record<Direction, boolean>>;
  /** enableDefaultDeny, defaulted as Cilium does (true when the rule has rules in that direction). */
  readonly defaultDeny: Readonly<Record<Direction, boolean>>;
}

export interface PolicyDocument {
  readonly kind: PolicyKind;
  readonly name: string;
  /** Undefined for CiliumClusterwideNetworkPolicy. */
  readonly namespace: string | undefined;
  readonly file: string;
  readonly line: number;
  readonly rules: readonly PolicyRule[];
  /** The rules as written (plain JSON), for `/policies`. */
  readonly source: unknown;
}

export const ALL_PORTS: readonly PortRange[] = Object.freeze([{ from: 0, to: 65535 }]);

export function portsCover(ports: readonly PortRange[], port: number): boolean {
  for (const r of ports) if (port >= r.from && port <= r.to) return true;
  return false;
}

export function portsOverlap(a: readonly PortRange[], b: readonly PortRange[]): boolean {
  return a.some((x) => b.some((y) => x.from <= y.to && y.from <= x.to));
}
