/**
 * YAML with positions: parse multi-document YAML (or JSON) and walk it with every value located, so any
 * problem can be reported as `file:line:column: path: message` (a `SourceError`).
 *
 *   const { documents, errors } = parseYamlSource(text, 'policies/a.yaml');
 *   for (const doc of documents) {                      // one YamlNode per non-empty document
 *     const name = doc.get('metadata').get('name');     // always a YamlNode, present or not
 *     if (typeof name.value !== 'string') errors.push(name.error('must be a string'));
 *     for (const f of doc.fields()) { f.name; f.key; f.value }   // key located separately from value
 *     for (const item of doc.get('specs').items()) { ... }       // item.path === 'specs[0]', ...
 *   }
 *
 * A `YamlNode` knows its file, its field path (`spec.ingress[0].toPorts`), its line/column and its kind
 * (`map`, `seq`, `scalar`, `null` for an explicit empty value, `missing` for an absent field). An absent
 * field is located at its parent, so callers never juggle `undefined`.
 *
 * Parsing rules: YAML 1.2 core schema (only `true`/`false` are booleans, `on`/`yes` stay strings);
 * duplicate keys are errors; alias expansion is capped (billion laughs) and aliases are resolved
 * transparently; merge keys (`<<`) are not special. A document with a syntax error is reported and
 * left out; the other documents of the file are still returned.
 */
import { Alias, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import type { SourceError } from '../policy/types.js';

export type YamlKind = 'map' | 'seq' | 'scalar' | 'null' | 'missing';

export interface YamlField {
  readonly name: string;
  /** The key itself (same path as `value`), for errors about the field rather than its value. */
  readonly key: YamlNode;
  readonly value: YamlNode;
}

export interface YamlSourceOptions {
  /** Max alias expansions per document (yaml's `maxAliasCount`); default 100. */
  readonly maxAliasCount?: number;
}

interface SourceText {
  readonly file: string;
  readonly lines: LineCounter;
  readonly doc: Document;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Appends a map key or sequence index to a field path the way error messages print it. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (PLAIN_KEY.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

export class YamlNode {
  readonly kind: YamlKind;

  constructor(
    private readonly src: SourceText,
    /** Field path inside the document, e.g. `spec.ingress[0]`; '' for the document root. */
    readonly path: string,
    private readonly node: Node | null,
    /** Where errors about this node point (its start, or its parent's for a missing field). */
    private readonly offset: number,
    missing = false,
  ) {
    if (missing) this.kind = 'missing';
    else if (node === null) this.kind = 'null';
    else if (isMap(node)) this.kind = 'map';
    else if (isSeq(node)) this.kind = 'seq';
    else this.kind = isScalar(node) && node.value === null ? 'null' : 'scalar';
  }

  get file(): string {
    return this.src.file;
  }

  /** 1-based line. */
  get line(): number {
    return Math.max(1, this.src.lines.linePos(this.offset).line);
  }

  /** 1-based column. */
  get column(): number {
    return Math.max(1, this.src.lines.linePos(this.offset).col);
  }

  /** True unless the field is absent (an explicit `null`/empty value is present). */
  get present(): boolean {
    return this.kind !== 'missing';
  }

  /** The scalar value (string, number, boolean, null); undefined for maps, sequences and missing fields. */
  get value(): unknown {
    return this.node !== null && isScalar(this.node) ? this.node.value : undefined;
  }

  /** The string value, or undefined when this is not a string scalar. */
  get string(): string | undefined {
    const v = this.value;
    return typeof v === 'string' ? v : undefined;
  }

  /** A map entry by key; a `missing` node located here when absent or when this is not a map. */
  get(key: string): YamlNode {
    for (const f of this.fields()) if (f.name === key) return f.value;
    return new YamlNode(this.src, childPath(this.path, key), null, this.offset, true);
  }

  has(key: string): boolean {
    return this.get(key).present;
  }

  /** Entries of a map, in document order; [] for anything else. Non-scalar keys are stringified. */
  fields(): YamlField[] {
    if (this.node === null || !isMap(this.node)) return [];
    const out: YamlField[] = [];
    for (const pair of this.node.items as Pair[]) {
      if (!isPair(pair)) continue;
      const keyNode = this.resolve(pair.key as Node | null);
      const name = keyNode !== null && isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const path = childPath(this.path, name);
      const keyOffset = rangeStart(keyNode) ?? this.offset;
      const valueNode = this.resolve(pair.value as Node | null);
      out.push({
        name,
        key: new YamlNode(this.src, path, keyNode, keyOffset),
        value: new YamlNode(this.src, path, valueNode, rangeStart(valueNode) ?? keyOffset),
      });
    }
    return out;
  }

  /** Items of a sequence; [] for anything else. */
  items(): YamlNode[] {
    if (this.node === null || !isSeq(this.node)) return [];
    return this.node.items.map((item, i) => {
      const n = this.resolve(item as Node | null);
      return new YamlNode(this.src, childPath(this.path, i), n, rangeStart(n) ?? this.offset);
    });
  }

  /** A located problem about this value. */
  error(message: string): SourceError {
    return { file: this.file, line: this.line, column: this.column, path: this.path, message };
  }

  /** Plain JavaScript value (maps become objects, aliases expanded); undefined when missing. */
  toJS(): unknown {
    if (this.kind === 'missing') return undefined;
    if (this.node === null) return null;
    return (this.node as Node).toJS(this.src.doc, { maxAliasCount: -1 });
  }

  private resolve(n: Node | null): Node | null {
    if (n !== null && isAlias(n)) return (n as Alias).resolve(this.src.doc) ?? null;
    return n ?? null;
  }
}

function rangeStart(n: Node | null): number | undefined {
  return n?.range?.[0];
}

/** Parses every document of `text`; empty documents are skipped. */
export function parseYamlSource(
  text: string,
  file: string,
  options: YamlSourceOptions = {},
): { documents: YamlNode[]; errors: SourceError[] } {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const docs = Array.isArray(parsed) ? parsed : [];
  const documents: YamlNode[] = [];
  const errors: SourceError[] = [];
  const at = (offset: number, message: string): SourceError => {
    const p = lines.linePos(offset);
    return { file, line: Math.max(1, p.line), column: Math.max(1, p.col), path: '', message };
  };
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) errors.push(at(e.pos[0], `invalid YAML: ${e.message}`));
      continue;
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue;
    const root = doc.contents as Node;
    const start = root.range?.[0] ?? doc.range[0];
    try {
      doc.toJS({ maxAliasCount: options.maxAliasCount ?? 100 });
    } catch (e) {
      errors.push(at(start, `invalid YAML: ${(e as Error).message}`));
      continue;
    }
    documents.push(new YamlNode({ file, lines, doc }, '', root, start));
  }
  return { documents, errors };
}
