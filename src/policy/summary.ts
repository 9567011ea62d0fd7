// What a revision puts in force, and what it changed from the one before: the line `run` logs at start-up and on
// every reload, so an operator sees that an edit did what was meant (a policy they touched is named, one they did
// not touch is not).
import type { Endpoint, PolicySnapshot, PolicySummary, RuleCounts } from './types.js';

export interface RevisionSummary {
  readonly revision: number;
  readonly policies: number;
  readonly endpoints: number;
  /** Rules of every policy, by protocol (RuleCounts). */
  readonly rules: RuleCounts;
  readonly enforcement: PolicySnapshot['enforcement'];
  readonly audit: boolean;
}

interface NameChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

/** Policies and endpoints by name (`namespace/name`; a clusterwide policy by its name). */
export interface RevisionChanges {
  readonly policies: NameChanges;
  readonly endpoints: NameChanges;
}

const NO_RULES: RuleCounts = { l3l4: 0, http: 0, kafka: 0, dns: 0, deny: 0 };

export function summarizeRevision(s: PolicySnapshot): RevisionSummary {
  const rules = { ...NO_RULES };
  for (const p of s.policies) for (const k of Object.keys(rules) as (keyof RuleCounts)[]) rules[k] += p.ruleCounts[k];
  return { revision: s.revision, policies: s.policies.length, endpoints: s.endpoints.list().length, rules, enforcement: s.enforcement, audit: s.audit };
}

export function diffRevisions(before: PolicySnapshot, after: PolicySnapshot): RevisionChanges {
  return {
    // A policy changed when its rules as written did; moving it to another file or line is no change.
    policies: diffByName(before.policies, after.policies, policyName, (p) => JSON.stringify(p.spec)),
    endpoints: diffByName(before.endpoints.list(), after.endpoints.list(), endpointName, (e) => JSON.stringify([e.labels, e.addresses, e.certIdentities])),
  };
}

/** `revision 2, 3 policies, 4 endpoints, rules 5 http, 1 l3l4, enforcement default` and, after a reload, what changed. */
export function describeRevision(s: RevisionSummary, changes?: RevisionChanges): string {
  const rules = Object.entries(s.rules).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  const text = `revision ${s.revision}, ${plural(s.policies, 'policy', 'policies')}, ${plural(s.endpoints, 'endpoint', 'endpoints')}, ` +
    `rules ${rules.length > 0 ? rules.join(', ') : 'none'}, enforcement ${s.enforcement}${s.audit ? ', audit mode' : ''}`;
  if (changes === undefined) return text;
  const said = [...describeNames('policy', changes.policies), ...describeNames('endpoint', changes.endpoints)];
  return `${text}; ${said.length > 0 ? said.join('; ') : 'no policy or endpoint changed'}`;
}

function describeNames(what: string, c: NameChanges): string[] {
  return (['added', 'changed', 'removed'] as const).filter((k) => c[k].length > 0).map((k) => `${k} ${what} ${c[k].join(', ')}`);
}

function diffByName<T>(before: readonly T[], after: readonly T[], name: (x: T) => string, content: (x: T) => string): NameChanges {
  const old = new Map(before.map((x) => [name(x), content(x)]));
  const now = new Map(after.map((x) => [name(x), content(x)]));
  return {
    added: [...now.keys()].filter((n) => !old.has(n)),
    removed: [...old.keys()].filter((n) => !now.has(n)),
    changed: [...now].filter(([n, c]) => old.has(n) && old.get(n) !== c).map(([n]) => n),
  };
}

function policyName(p: PolicySummary): string {
  return p.namespace !== undefined ? `${p.namespace}/${p.name}` : p.name;
}

function endpointName(e: Endpoint): string {
  return `${e.namespace}/${e.name}`;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
