// Cilium labels: `source:key=value`. Selector keys without a source mean `any:` (match the key from any
// source); `$host` is short for `reserved:host`. Endpoint labels from portcullis.yaml become `k8s:` labels.
import type { Label } from './types.js';

export const SOURCE_ANY = 'any';
export const SOURCE_K8S = 'k8s';
export const SOURCE_RESERVED = 'reserved';

export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';
export const CLUSTER_NAME = 'default';
/** Selector keys with this prefix look at namespace labels (which Portcullis endpoints do not carry). */
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';

/** Older Cilium examples write reserved labels as `reserved.world`; Cilium's ParseSource reads them as `reserved:world`. */
const RESERVED_DOT_PREFIX = `${SOURCE_RESERVED}.`;

/**
 * Splits `[source:]key` (Cilium's ParseSource): everything before the first `:` is the source; without one,
 * `$name` and `reserved.name` are reserved labels. Other dotted keys (`k8s.app`) are keys, not sources.
 */
export function splitSource(text: string, defaultSource: string): { source: string; key: string } {
  if (text.startsWith('$')) return { source: SOURCE_RESERVED, key: text.slice(1) };
  const i = text.indexOf(':');
  if (i >= 0) return { source: text.slice(0, i), key: text.slice(i + 1) };
  if (text.startsWith(RESERVED_DOT_PREFIX)) return { source: SOURCE_RESERVED, key: text.slice(RESERVED_DOT_PREFIX.length) };
  return { source: defaultSource, key: text };
}

/** `[source:]key[=value]`, the short string form of rule labels. */
export function parseLabelString(text: string, defaultSource: string): Label {
  const { source, key: rest } = splitSource(text, defaultSource);
  const eq = rest.indexOf('=');
  return eq < 0 ? { source, key: rest, value: '' } : { source, key: rest.slice(0, eq), value: rest.slice(eq + 1) };
}

/** As Cilium prints labels: `source:key=value`, or `source:key` when the value is empty. */
export function formatLabel(l: Label): string {
  return l.value === '' ? `${l.source}:${l.key}` : `${l.source}:${l.key}=${l.value}`;
}

function compareLabels(a: Label, b: Label): number {
  const x = formatLabel(a);
  const y = formatLabel(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Identity labels of a registered endpoint: its labels as `k8s:` plus the namespace and cluster labels. */
export function endpointLabels(labels: Readonly<Record<string, string>>, namespace: string): Label[] {
  const out = new Map<string, Label>();
  for (const [key, value] of Object.entries(labels)) out.set(key, { source: SOURCE_K8S, key, value });
  out.set(NAMESPACE_LABEL, { source: SOURCE_K8S, key: NAMESPACE_LABEL, value: namespace });
  out.set(CLUSTER_LABEL, { source: SOURCE_K8S, key: CLUSTER_LABEL, value: CLUSTER_NAME });
  return [...out.values()].sort(compareLabels);
}

// Kubernetes label syntax (apimachinery validation): name segments and values are <=63 characters of
// [A-Za-z0-9-_.] starting and ending alphanumeric; an optional DNS-subdomain prefix ends with `/`.
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` (without source) is not a valid Kubernetes label key, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    return `invalid label key ${JSON.stringify(key)}: the prefix must be a lower-case DNS subdomain`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name))
    return `invalid label key ${JSON.stringify(key)}: names are 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  return undefined;
}

/** Why `value` is not a valid Kubernetes label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !LABEL_NAME.test(value))
    return `invalid label value ${JSON.stringify(value)}: values are 0-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  return undefined;
}
