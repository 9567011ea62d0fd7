// Shape checks shared by the policy parsers. Every problem is collected (never thrown), located at the
// offending key or value, so one run reports everything wrong with a file.
import type { SourceError } from './types.js';
import type { YamlNode } from '../config/yaml-source.js';

export class Problems {
  readonly errors: SourceError[] = [];
  /** What is ignored rather than enforced: reported, never a reason to reject (unless `check --strict`). */
  readonly warnings: SourceError[] = [];

  at(node: YamlNode, message: string): void {
    this.errors.push(node.error(message));
  }

  warn(node: YamlNode, message: string): void {
    this.warnings.push(node.error(message));
  }
}

const KIND_NAMES = { map: 'a map', seq: 'a list', scalar: 'a scalar', null: 'empty', missing: 'missing' } as const;

function describeKind(node: YamlNode): string {
  if (node.kind !== 'scalar') return KIND_NAMES[node.kind];
  const v = node.value;
  return typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'a boolean' : 'a scalar';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The known name closest to `name`, when it is close enough to be a typo of it. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

/** ` (did you mean "x"?)`, or nothing. */
export function suggestion(name: string, known: readonly string[]): string {
  const best = closestName(name, known);
  return best !== undefined ? ` (did you mean "${best}"?)` : '';
}

/**
 * Requires a map whose keys are all `known` or `unsupported` (field -> why Portcullis cannot do it).
 * Returns false (after reporting) when the node is not a map.
 */
export function checkFields(
  node: YamlNode,
  known: readonly string[],
  p: Problems,
  unsupported: Readonly<Record<string, string>> = {},
): boolean {
  if (node.kind !== 'map') {
    p.at(node, `expected a map, got ${describeKind(node)}`);
    return false;
  }
  for (const f of node.fields()) {
    if (known.includes(f.name)) continue;
    const why = Object.hasOwn(unsupported, f.name) ? unsupported[f.name] : undefined;
    if (why !== undefined) p.at(f.key, `${f.name} is not supported by Portcullis (${why})`);
    else p.at(f.key, `unknown field "${f.name}"${suggestion(f.name, known)}`);
  }
  return true;
}

/** A list; missing or empty (`null`) is []; anything else is reported. */
export function listOf(node: YamlNode, p: Problems): YamlNode[] {
  if (node.kind === 'missing' || node.kind === 'null') return [];
  if (node.kind !== 'seq') {
    p.at(node, `expected a list, got ${describeKind(node)}`);
    return [];
  }
  return node.items();
}

/** A string; undefined (reported unless missing/null and optional) otherwise. */
export function stringOf(node: YamlNode, p: Problems, required = false): string | undefined {
  if (node.kind === 'missing' || node.kind === 'null') {
    if (required) p.at(node, node.kind === 'missing' ? `${lastSegment(node.path)} is required` : 'must not be empty');
    return undefined;
  }
  const s = node.string;
  if (s === undefined) p.at(node, `expected a string, got ${describeKind(node)}`);
  return s;
}

export function booleanOf(node: YamlNode, p: Problems): boolean | undefined {
  if (node.kind === 'missing' || node.kind === 'null') return undefined;
  if (typeof node.value !== 'boolean') {
    p.at(node, `expected true or false, got ${describeKind(node)}`);
    return undefined;
  }
  return node.value;
}

/** The last field name of a path, for messages like "name is required". */
function lastSegment(path: string): string {
  const m = /(?:^|\.)([^.[\]]+)$|\["([^"]+)"\]$/.exec(path);
  return m?.[1] ?? m?.[2] ?? path;
}

/** A list of strings; non-strings are reported and skipped. */
export function stringsOf(node: YamlNode, p: Problems): Array<{ node: YamlNode; value: string }> {
  const out: Array<{ node: YamlNode; value: string }> = [];
  for (const item of listOf(node, p)) {
    const value = stringOf(item, p, true);
    if (value !== undefined) out.push({ node: item, value });
  }
  return out;
}
