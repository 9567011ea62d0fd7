// buildSnapshot: policies + endpoints -> an immutable PolicySnapshot. Validates what only makes sense
// across documents (duplicate policies, conflicting L7 parsers or TLS contexts for one endpoint/port);
// any error means no snapshot, so callers keep the last good one.
import type { EndpointConfig } from '../config/types.js';
import type {
  ConnectionDecision, ConnectionRequest, Direction, EndpointRegistry, Identity, Peer, PolicySnapshot, PolicySummary, RuleCounts, SourceError,
} from './types.js';
import type { AllowEntry, PolicyDocument, PolicyRule } from './model.js';
import { portsOverlap } from './model.js';
import { buildEndpointRegistry } from './endpoints.js';
import { describeIdentity, isEndpointIdentity } from './identity.js';
import { decideSide, describeRef, subjectPolicy, unselectedClient } from './side.js';
import type { Enforcement, L7Restriction, SideResult, SubjectPolicy } from './side.js';
import { connectionDecision } from './connection.js';

/** Cached connection decisions per snapshot; the cache is dropped when it grows past this. */
export const MAX_CACHED_CONNECTIONS = 100_000;

export interface SnapshotInput {
  readonly documents: readonly PolicyDocument[];
  readonly endpoints: readonly EndpointConfig[];
  readonly enforcement: Enforcement;
  readonly audit: boolean;
  readonly revision: number;
  /** This machine's addresses (IPs or CIDRs) -> reserved:host. Default: every interface, 127.0.0.0/8, ::1. */
  readonly localAddresses?: readonly string[];
}

function duplicatePolicies(documents: readonly PolicyDocument[]): SourceError[] {
  const seen = new Map<string, PolicyDocument>();
  const errors: SourceError[] = [];
  for (const d of documents) {
    const key = `${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name}`;
    const first = seen.get(key);
    if (first) errors.push({ file: d.file, line: d.line, column: 1, path: 'metadata.name', message: `duplicate ${key} (first defined at ${first.file}:${first.line})` });
    else seen.set(key, d);
  }
  return errors;
}

function entryError(e: AllowEntry, message: string, useL7Ref = false): SourceError {
  const l7 = useL7Ref && e.l7Ref !== undefined;
  const ref = l7 ? e.l7Ref! : e.ref;
  return { file: ref.file, line: ref.line, column: l7 ? e.columns.l7 : e.columns.ref, path: ref.path, message };
}

/**
 * Cilium merges per endpoint and port: one L7 parser per port, and one TLS context per peer and port.
 * Checked for every registered endpoint (policies selecting nobody cannot conflict).
 */
function mergeConflicts(rules: readonly PolicyRule[], registry: EndpointRegistry, mode: Enforcement): SourceError[] {
  const errors = new Map<string, SourceError>();
  const add = (e: SourceError) => errors.set(`${e.file}:${e.line}:${e.path}:${e.message}`, e);
  const seenIdentities = new Set<number>();
  for (const ep of registry.list()) {
    if (seenIdentities.has(ep.identity.id)) continue;
    seenIdentities.add(ep.identity.id);
    for (const direction of ['ingress', 'egress'] as const) {
      const entries = subjectPolicy(rules, ep.identity, direction, mode).allow;
      const subject = describeIdentity(ep.identity);
      entries.forEach((b, i) => {
        for (const a of entries.slice(0, i)) {
          if (!portsOverlap(a.ports, b.ports)) continue;
          if (a.l7 && b.l7 && a.l7.type !== b.l7.type)
            add(entryError(b, `cannot merge conflicting L7 parsers (${a.l7.type}/${b.l7.type}) on a port of ${subject} (${direction}); the other rules are ${describeRef(a.l7Ref ?? a.ref)}`, true));
          if (a.peer.key !== b.peer.key) continue;
          for (const field of ['terminatingTLS', 'originatingTLS'] as const) {
            const x = a[field];
            const y = b[field];
            if (x && y && JSON.stringify(x) !== JSON.stringify(y))
              add(entryError(b, `cannot merge conflicting ${field} contexts (${x.namespace}/${x.name} and ${y.namespace}/${y.name}) for the same peers and port; the other is ${describeRef(a.ref)}`));
          }
        }
      });
    }
  }
  return [...errors.values()];
}

class Snapshot implements PolicySnapshot {
  private readonly subjects = new Map<string, SubjectPolicy>();
  private readonly connections = new Map<string, ConnectionDecision>();
  private readonly l7Cache = new Map<string, L7Restriction | undefined>();
  private readonly entryIds = new Map<AllowEntry, number>();

  constructor(
    readonly revision: number,
    readonly audit: boolean,
    readonly enforcement: Enforcement,
    readonly endpoints: EndpointRegistry,
    readonly policies: readonly PolicySummary[],
    private readonly rules: readonly PolicyRule[],
  ) {
    for (const r of rules) for (const e of [...r.allow.ingress, ...r.allow.egress]) this.entryIds.set(e, this.entryIds.size);
  }

  decideConnection(req: ConnectionRequest): ConnectionDecision {
    const key = `${peerKey(req.source)}|${peerKey(req.destination)}|${req.port}|${req.sni ?? ''}|${req.forwardClients ?? ''}`;
    let d = this.connections.get(key);
    if (d) return d;
    const sides: SideResult[] = [];
    const egress = this.subject(req.source.identity, 'egress');
    const unselected = req.forwardClients === 'selected' ? this.unselectedForwardClient(req.source) : undefined;
    if (unselected !== undefined) sides.push(unselected);
    else if (isEndpointIdentity(req.source.identity))
      sides.push(decideSide(egress, { remote: req.destination, port: req.port, sni: req.sni }, this.l7Cache, this.entryIds));
    if (isEndpointIdentity(req.destination.identity))
      sides.push(decideSide(this.subject(req.destination.identity, 'ingress'), { remote: req.source, port: req.port, sni: req.sni }, this.l7Cache, this.entryIds));
    // A forward proxy under `always` relays nothing that no rule governs, even for clients it admits unselected.
    if (sides.length === 0 && req.forwardClients !== undefined && this.enforcement === 'always') sides.push(unselectedClient(egress, req.source.address, 'always'));
    const noSides = `neither ${describeIdentity(req.source.identity, req.source.address)} nor ${describeIdentity(req.destination.identity, req.destination.address)} is a registered endpoint; no policy applies`;
    d = connectionDecision(sides, this.audit, noSides);
    if (this.connections.size >= MAX_CACHED_CONNECTIONS) this.connections.clear();
    this.connections.set(key, d);
    return d;
  }

  refuseForwardClient(source: Peer): ConnectionDecision | undefined {
    const unselected = this.unselectedForwardClient(source);
    return unselected && connectionDecision([unselected], this.audit, '');
  }

  /** The side refusing a forward-proxy client that no rule selects for egress; undefined when one does. */
  private unselectedForwardClient(source: Peer): SideResult | undefined {
    const egress = this.subject(source.identity, 'egress');
    return isEndpointIdentity(source.identity) && egress.selected ? undefined : unselectedClient(egress, source.address);
  }

  private subject(identity: Identity, direction: Direction): SubjectPolicy {
    // Selection depends on labels only; the name is part of the key because reasons print it.
    const key = `${direction}|${identity.id}|${identity.namespace ?? ''}/${identity.name}`;
    let s = this.subjects.get(key);
    if (!s) this.subjects.set(key, (s = subjectPolicy(this.rules, identity, direction, this.enforcement)));
    return s;
  }
}

/** Endpoints are decided by labels (and named in reasons); others also by address and names (CIDR, toFQDNs). */
function peerKey(p: Peer): string {
  const id = p.identity;
  if (isEndpointIdentity(id)) return `${id.id}:${id.namespace ?? ''}/${id.name}`;
  return `${id.id}:${p.address ?? ''}:${p.names?.join(',') ?? ''}`;
}

function countRules(rules: readonly PolicyRule[]): RuleCounts {
  const counts = { l3l4: 0, http: 0, kafka: 0, dns: 0, deny: 0 };
  for (const r of rules) {
    for (const e of [...r.allow.ingress, ...r.allow.egress]) {
      if (e.l7 === undefined) counts.l3l4++;
      else counts[e.l7.type] += e.l7.rules.length;
    }
    counts.deny += r.deny.ingress.length + r.deny.egress.length;
  }
  return counts;
}

export function buildSnapshot(input: SnapshotInput): { snapshot?: PolicySnapshot; errors: SourceError[] } {
  const { registry, errors } = buildEndpointRegistry(input.endpoints, input.localAddresses);
  errors.push(...duplicatePolicies(input.documents));
  const rules = input.documents.flatMap((d) => d.rules);
  if (registry) errors.push(...mergeConflicts(rules, registry, input.enforcement));
  if (!registry || errors.length > 0) return { errors };
  const policies: PolicySummary[] = input.documents.map((d) => ({
    kind: d.kind,
    name: d.name,
    ...(d.namespace !== undefined ? { namespace: d.namespace } : {}),
    file: d.file,
    line: d.line,
    rules: d.rules.length,
    ruleCounts: countRules(d.rules),
    spec: d.source,
  }));
  return { snapshot: new Snapshot(input.revision, input.audit, input.enforcement, registry, policies, rules), errors };
}
