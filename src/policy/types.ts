// The contract between the policy engine and everything that asks it for a verdict.
// Protocols extract facts and act on decisions; only src/policy decides.

/** A Cilium label: `source:key=value` (source `k8s`, `reserved`, `cidr`, `fqdn`, ... ; `any` only in selectors). */
export interface Label {
  readonly source: string;
  readonly key: string;
  readonly value: string;
}

/** A security identity: a label set with a numeric id (reserved 1..10, user identities from 256). */
export interface Identity {
  readonly id: number;
  /** Sorted, unique. */
  readonly labels: readonly Label[];
  /** `source:key=value` strings, sorted, as Hubble prints them. */
  readonly labelStrings: readonly string[];
  /** Namespace of a registered endpoint; undefined for reserved identities. */
  readonly namespace?: string;
  /** Endpoint name (Hubble `pod_name`); for reserved identities the reserved name, e.g. `world`. */
  readonly name: string;
}

/** One side of a flow: who it is, and where (CIDR rules look at the address, toFQDNs at the names). */
export interface Peer {
  readonly identity: Identity;
  readonly address?: string;
  /** DNS names the destination was reached by (forward proxy), lower-case, no trailing dot. */
  readonly names?: readonly string[];
}

/** A registered endpoint from `portcullis.yaml`. */
export interface Endpoint {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly addresses: readonly string[];
  /** Client-certificate identities (URI SAN or CN) that authenticate as this endpoint. */
  readonly certIdentities: readonly string[];
  readonly identity: Identity;
}

export interface EndpointRegistry {
  list(): readonly Endpoint[];
  /** By name; `ns/name` or a bare name (first match in any namespace). */
  byName(name: string): Endpoint | undefined;
  /** Source identity of a peer address: longest endpoint prefix, else reserved:host for local addresses, else reserved:world. */
  resolveAddress(ip: string): Identity;
  /** Identity for verified client-certificate names (URI SANs and CN), if any endpoint lists one. */
  resolveCertificate(names: readonly string[]): Identity | undefined;
  /** Reserved identity by name (`host`, `world`, ...). */
  reserved(name: string): Identity;
}

export type Direction = 'ingress' | 'egress';
export type Verdict = 'FORWARDED' | 'DROPPED' | 'AUDIT' | 'ERROR';
export type PolicyKind = 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';

/** Where a rule came from: enough for flows (`*_allowed_by`), `trace` and error messages. */
export interface RuleRef {
  readonly policy: { readonly name: string; readonly namespace?: string; readonly kind: PolicyKind; readonly labels: readonly string[] };
  readonly direction: Direction;
  readonly file: string;
  readonly line: number;
  /** Field path inside the document, e.g. `spec.ingress[0].toPorts[0].rules.http[1]`. */
  readonly path: string;
  /** The rule's `log.value` (Hubble `policy_log`), when it has one. */
  readonly log?: string;
}

export interface Decision {
  /** True for FORWARDED and AUDIT. */
  readonly allowed: boolean;
  /** FORWARDED, DROPPED, or AUDIT (would have been dropped; audit mode forwarded it). */
  readonly verdict: Verdict;
  /** One line a human can act on: which rule allowed, or why nothing did. */
  readonly reason: string;
  /** Rules that allowed the flow (source egress and destination ingress). */
  readonly allowedBy: readonly RuleRef[];
  /** The deny rule that dropped it; empty when it was dropped by default deny. */
  readonly deniedBy: readonly RuleRef[];
}

/** What policy needs of one HTTP request (HTTP/1.1, HTTP/2 and gRPC alike). */
export interface HttpRequestFacts {
  readonly method: string;
  /** Normalised path including the query string (`:path`). */
  readonly path: string;
  /** Host header or `:authority`, verbatim (port included if sent). */
  readonly host: string;
  /** Lower-cased names, in arrival order, duplicates kept. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** A header change a `headerMatches` mismatch action asks for, applied before forwarding. */
export interface HeaderAction {
  readonly op: 'add' | 'delete' | 'replace';
  readonly name: string;
  readonly value: string;
}

export interface HttpDecision extends Decision {
  readonly headerActions: readonly HeaderAction[];
  /** Header names logged as missing / rejected by `headerMatches` (LOG and friends), for flow records. */
  readonly missingHeaders: readonly string[];
  readonly rejectedHeaders: readonly string[];
}

/** What policy needs of one Kafka request. */
export interface KafkaRequestFacts {
  readonly apiKey: number;
  readonly apiVersion: number;
  /** null when the header carries no client id (null string). */
  readonly clientId: string | null;
  /** Every topic name in the request (empty for topic-less requests). */
  readonly topics: readonly string[];
}

/** A secret in the certificate store, as a `terminatingTLS`/`originatingTLS` names it. */
export interface TlsSecretRef {
  readonly namespace: string;
  readonly name: string;
  readonly certificate?: string;
  readonly privateKey?: string;
  readonly trustedCA?: string;
}

export interface ConnectionRequest {
  readonly source: Peer;
  readonly destination: Peer;
  readonly port: number;
  /** TLS ClientHello server name; undefined when the connection is not TLS or has no SNI. */
  readonly sni?: string;
  /**
   * Set for forward-proxy requests, whose source would otherwise be relayed anywhere when no egress rule governs
   * it. `selected`: only sources that some policy selects for egress are served. `any` (the listener's
   * `allowUnselectedClients`): others too, except that under `enforcement: always` a request that no rule governs
   * on either side is denied.
   */
  readonly forwardClients?: 'selected' | 'any';
}

/** The L3/L4 (+SNI) verdict of one connection, with the L7 matchers of the rules that apply to it. */
export interface ConnectionDecision extends Decision {
  /** Which L7 protocol the applicable rules restrict; `none` means every request is allowed. */
  readonly l7: 'none' | 'http' | 'kafka' | 'dns';
  decideHttp(request: HttpRequestFacts): HttpDecision;
  /**
   * Header names (lower-case) the HTTP rules deciding this connection's requests constrain or act on. Policy
   * decides on the header section only, so request trailers with these names are not forwarded.
   */
  readonly httpHeaderNames: ReadonlySet<string>;
  decideKafka(request: KafkaRequestFacts): Decision;
  /** TLS contexts of the applicable rules (identical across them, or the policy is rejected). */
  readonly terminatingTLS?: TlsSecretRef;
  readonly originatingTLS?: TlsSecretRef;
}

/** JSON-able summary of one loaded policy document, for `/policies`. */
export interface PolicySummary {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly namespace?: string;
  readonly file: string;
  readonly line: number;
  readonly rules: number;
  /** What its rules govern, for the line that says what is in force (summary.ts). */
  readonly ruleCounts: RuleCounts;
  readonly spec: unknown;
}

/**
 * A policy's rules by what they govern: L7 rules by protocol as written (an `http` list of three counts three; gRPC
 * rules are `http` rules), allows without L7 rules (`l3l4`, one per peer set and `toPorts` entry), and deny rules.
 */
export interface RuleCounts {
  readonly l3l4: number;
  readonly http: number;
  readonly kafka: number;
  readonly dns: number;
  readonly deny: number;
}

/** Compiled, immutable result of all policies + endpoints. Swapped atomically on reload. */
export interface PolicySnapshot {
  readonly revision: number;
  readonly audit: boolean;
  readonly enforcement: 'default' | 'always' | 'never';
  readonly endpoints: EndpointRegistry;
  readonly policies: readonly PolicySummary[];
  /** Cached per (source, destination, port, sni): per-request work is matching only. */
  decideConnection(request: ConnectionRequest): ConnectionDecision;
  /**
   * Forward proxy, before the target is resolved: the refusal of a source that no policy selects for egress
   * (`forwardClients: selected`), so it gets nothing from the proxy, not even a name lookup; undefined when served.
   * Optional for stand-in snapshots: decideConnection refuses such a client per address anyway.
   */
  refuseForwardClient?(source: Peer): ConnectionDecision | undefined;
}

/** A problem in a policy or config file, located precisely. */
export interface SourceError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Field path, e.g. `spec.ingress[0].toPorts[0].rules.http[1].path`. */
  readonly path: string;
  readonly message: string;
}

export function formatSourceError(e: SourceError): string {
  return formatLocated(e, '');
}

/** A problem that does not make the file invalid: `file:line:column: warning: path: message`. */
export function formatSourceWarning(e: SourceError): string {
  return formatLocated(e, 'warning: ');
}

function formatLocated(e: SourceError, label: string): string {
  return `${e.file}:${e.line}:${e.column}: ${label}${e.path ? e.path + ': ' : ''}${e.message}`;
}
