// Label selectors (Kubernetes LabelSelector with Cilium label sources): every requirement must hold (AND);
// no requirements = wildcard. A requirement whose source is `any` looks at the key from every source.
import type { Label } from './types.js';
import { NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX, SOURCE_ANY, SOURCE_K8S, SOURCE_RESERVED } from './labels.js';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export const SELECTOR_OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

export interface Requirement {
  readonly source: string;
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

export class LabelSelector {
  constructor(readonly requirements: readonly Requirement[]) {}

  static readonly wildcard = new LabelSelector([]);

  get isWildcard(): boolean {
    return this.requirements.length === 0;
  }

  matches(labels: readonly Label[]): boolean {
    for (const r of this.requirements) if (!requirementHolds(r, labels)) return false;
    return true;
  }

  get mentionsReserved(): boolean {
    return this.requirements.some((r) => r.source === SOURCE_RESERVED);
  }

  get mentionsNamespace(): boolean {
    return this.requirements.some(
      (r) => (r.key === NAMESPACE_LABEL && (r.source === SOURCE_K8S || r.source === SOURCE_ANY)) || r.key.startsWith(NAMESPACE_LABELS_PREFIX),
    );
  }

  with(extra: Requirement): LabelSelector {
    return new LabelSelector([...this.requirements, extra]);
  }

  without(pred: (r: Requirement) => boolean): LabelSelector {
    return new LabelSelector(this.requirements.filter((r) => !pred(r)));
  }

  /** Compact text for reasons and trace output, e.g. `{k8s:org=empire, any:env in (a,b)}`. */
  describe(): string {
    if (this.isWildcard) return '{}';
    const parts = this.requirements.map((r) => {
      const k = `${r.source}:${r.key}`;
      switch (r.operator) {
        case 'In':
          return r.values.length === 1 ? `${k}=${r.values[0]}` : `${k} in (${r.values.join(',')})`;
        case 'NotIn':
          return `${k} notin (${r.values.join(',')})`;
        case 'Exists':
          return k;
        case 'DoesNotExist':
          return `!${k}`;
      }
    });
    return `{${parts.join(', ')}}`;
  }
}

function requirementHolds(r: Requirement, labels: readonly Label[]): boolean {
  let found = false;
  let valueIn = false;
  for (const l of labels) {
    if (l.key !== r.key || (r.source !== SOURCE_ANY && l.source !== r.source)) continue;
    found = true;
    if (r.values.includes(l.value)) valueIn = true;
  }
  switch (r.operator) {
    case 'In':
      return valueIn;
    case 'NotIn':
      return !valueIn;
    case 'Exists':
      return found;
    case 'DoesNotExist':
      return !found;
  }
}

function namespaceRequirement(namespace: string): Requirement {
  return { source: SOURCE_K8S, key: NAMESPACE_LABEL, operator: 'In', values: [namespace] };
}

const NAMESPACE_EXISTS: Requirement = { source: SOURCE_K8S, key: NAMESPACE_LABEL, operator: 'Exists', values: [] };

/**
 * The subject selector of a rule, after Cilium's namespace injection: a CNP always selects in its own
 * namespace (a namespace match the user wrote is replaced); a CCNP selector is used as written.
 */
export function subjectSelector(selector: LabelSelector, namespace: string | undefined): LabelSelector {
  if (namespace === undefined) return selector;
  return selector
    .without((r) => r.key === NAMESPACE_LABEL && r.operator === 'In' && (r.source === SOURCE_K8S || r.source === SOURCE_ANY))
    .with(namespaceRequirement(namespace));
}

/**
 * A fromEndpoints/toEndpoints selector after Cilium's namespace injection: selectors mentioning reserved
 * labels or the namespace are kept; otherwise a CNP pins them to its namespace and a CCNP requires that
 * the peer has a namespace at all (i.e. is an endpoint, not a reserved identity).
 */
export function peerSelector(selector: LabelSelector, namespace: string | undefined): LabelSelector {
  if (selector.mentionsReserved || selector.mentionsNamespace) return selector;
  return selector.with(namespace === undefined ? NAMESPACE_EXISTS : namespaceRequirement(namespace));
}
