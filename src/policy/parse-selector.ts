// Parses `endpointSelector` / `fromEndpoints[]` / `toEndpoints[]`: matchLabels + matchExpressions with
// Cilium label sources. Keys without a source mean `any:`; `$host` and `reserved.host` mean `reserved:host`.
// A requirement that no Portcullis identity can satisfy is an error, never a selector that silently matches nothing.
import type { YamlNode } from '../config/yaml-source.js';
import { LabelSelector, SELECTOR_OPERATORS } from './selector.js';
import type { Requirement, SelectorOperator } from './selector.js';
import { SOURCE_ANY, SOURCE_K8S, SOURCE_RESERVED, labelKeyProblem, labelValueProblem, splitSource } from './labels.js';
import { RESERVED_LABEL_NAMES } from './identity.js';
import { Problems, checkFields, listOf, stringOf } from './parse-fields.js';

const UNSUPPORTED_SOURCES: Readonly<Record<string, string>> = {
  cidr: 'cidr: labels are not supported by Portcullis (use fromCIDR/toCIDR or fromCIDRSet/toCIDRSet)',
  fqdn: 'fqdn: labels are not supported by Portcullis (use toFQDNs)',
  cidrgroup: 'cidrgroup: labels are not supported by Portcullis (CiliumCIDRGroup objects do not exist here)',
};

/** Validates a selector key; returns its source and key, or undefined after reporting. */
function parseKey(raw: string, at: YamlNode, p: Problems): { source: string; key: string } | undefined {
  const { source, key } = splitSource(raw, SOURCE_ANY);
  const unsupported = Object.hasOwn(UNSUPPORTED_SOURCES, source) ? UNSUPPORTED_SOURCES[source] : undefined;
  if (unsupported) {
    p.at(at, unsupported);
    return undefined;
  }
  if (source === SOURCE_RESERVED) {
    if (!RESERVED_LABEL_NAMES.has(key)) {
      p.at(at, `unknown reserved label "${key}" (known: ${[...RESERVED_LABEL_NAMES].join(', ')})`);
      return undefined;
    }
    return { source, key };
  }
  if (source !== SOURCE_ANY && source !== SOURCE_K8S) {
    p.at(at, `unknown label source "${source}" in "${raw}" (Portcullis endpoints carry k8s: and reserved: labels; no prefix means any source)`);
    return undefined;
  }
  const problem = labelKeyProblem(key);
  if (problem) {
    p.at(at, problem);
    return undefined;
  }
  return { source, key };
}

/** Reserved identities a Portcullis peer can have: the rest exist in Cilium only (registered endpoints carry k8s: labels). */
const ASSIGNED_RESERVED: ReadonlySet<string> = new Set(['host', 'world']);

/**
 * Why a requirement can never hold, and whether the key or the value is at fault; undefined when it can hold.
 * `reserved:none` selects nothing on purpose, and negations (NotIn, DoesNotExist) always can.
 */
function neverHolds(r: Requirement, subject: boolean): { at: 'key' | 'value'; message: string } | undefined {
  if (r.source !== SOURCE_RESERVED || r.key === 'none' || (r.operator !== 'In' && r.operator !== 'Exists')) return undefined;
  const label = `reserved:${r.key}`;
  if (subject) return { at: 'key', message: `endpointSelector on ${label} selects no endpoint: Portcullis applies policy to registered endpoints, which carry k8s: labels only` };
  if (!ASSIGNED_RESERVED.has(r.key)) {
    const hint = r.key.startsWith('world-') ? ` (fromEntities: [${r.key}] selects the ${r.key.slice(6)} part of world)` : '';
    return { at: 'key', message: `${label} can never match: Portcullis peers are registered endpoints, reserved:host or reserved:world${hint}` };
  }
  if (r.operator === 'In' && !r.values.includes('')) return { at: 'value', message: 'reserved labels carry no value' };
  return undefined;
}

function parseValue(node: YamlNode, p: Problems): string | undefined {
  // Label values are strings in Kubernetes; unquoted numbers and booleans are a common slip.
  if (node.kind === 'scalar' && typeof node.value !== 'string') {
    p.at(node, `label value must be a string (quote it: "${String(node.value)}")`);
    return undefined;
  }
  const value = node.kind === 'null' ? '' : stringOf(node, p);
  if (value === undefined) return undefined;
  const problem = labelValueProblem(value);
  if (problem) {
    p.at(node, problem);
    return undefined;
  }
  return value;
}

function parseExpression(node: YamlNode, p: Problems, subject: boolean): Requirement | undefined {
  if (!checkFields(node, ['key', 'operator', 'values'], p)) return undefined;
  const rawKey = stringOf(node.get('key'), p, true);
  const op = stringOf(node.get('operator'), p, true);
  const valuesNode = node.get('values');
  const items = listOf(valuesNode, p);
  const values: string[] = [];
  for (const v of items) {
    const s = parseValue(v, p);
    if (s !== undefined) values.push(s);
  }
  const key = rawKey === undefined ? undefined : parseKey(rawKey, node.get('key'), p);
  if (op === undefined || key === undefined || values.length !== items.length) return undefined;
  if (!SELECTOR_OPERATORS.includes(op as SelectorOperator)) {
    p.at(node.get('operator'), `"${op}" is not a valid label selector operator`);
    return undefined;
  }
  const operator = op as SelectorOperator;
  if ((operator === 'In' || operator === 'NotIn') && items.length === 0) {
    p.at(valuesNode, "for 'In', 'NotIn' operators, values set can't be empty");
    return undefined;
  }
  if ((operator === 'Exists' || operator === 'DoesNotExist') && items.length > 0) {
    p.at(valuesNode, "values set must be empty for 'Exists' and 'DoesNotExist'");
    return undefined;
  }
  const requirement: Requirement = { ...key, operator, values };
  const never = neverHolds(requirement, subject);
  if (never === undefined) return requirement;
  if (never.at === 'key') p.at(node.get('key'), never.message);
  else p.at(valuesNode, `${never.message}: ${key.source}:${key.key} In [${values.join(', ')}] can never match (use Exists)`);
  return undefined;
}

/** A selector as written (before namespace injection); undefined after reporting a problem. `subject`: an endpointSelector. */
export function parseSelector(node: YamlNode, p: Problems, subject = false): LabelSelector | undefined {
  const before = p.errors.length;
  if (!checkFields(node, ['matchLabels', 'matchExpressions'], p)) return undefined;
  const reqs: Requirement[] = [];
  const matchLabels = node.get('matchLabels');
  if (matchLabels.present && matchLabels.kind !== 'null' && matchLabels.kind !== 'map') p.at(matchLabels, 'expected a map of label keys to values');
  for (const f of matchLabels.fields()) {
    const key = parseKey(f.name, f.key, p);
    const value = parseValue(f.value, p);
    if (!key || value === undefined) continue;
    const requirement: Requirement = { ...key, operator: 'In', values: [value] };
    const never = neverHolds(requirement, subject);
    if (never === undefined) reqs.push(requirement);
    else if (never.at === 'key') p.at(f.key, never.message);
    else p.at(f.value, `${never.message}: ${JSON.stringify(f.name)}: ${JSON.stringify(value)} can never match (write "")`);
  }
  for (const e of listOf(node.get('matchExpressions'), p)) {
    const r = parseExpression(e, p, subject);
    if (r) reqs.push(r);
  }
  return p.errors.length === before ? new LabelSelector(reqs) : undefined;
}
