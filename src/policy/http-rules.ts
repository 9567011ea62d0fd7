// HTTP L7 rules (`rules.http`) and the per-request matcher. A rule matches when all of its constraints
// hold (AND); a set of rules allows a request when any rule matches (OR). `headerMatches` with a
// `mismatch` action never deny: they ask for header changes and log missing/rejected headers, and as in
// cilium-envoy every rule whose other constraints match contributes its actions.
import type { HeaderAction, HttpRequestFacts, RuleRef } from './types.js';
import type { StringMatcher } from './regex.js';

/** A hard header constraint: `headers` entries and `headerMatches` without `mismatch`. */
export interface HeaderRequirement {
  /** Lower-cased. */
  readonly name: string;
  /** Exact value of all values joined with `,`; undefined = the header only has to be present. */
  readonly value: string | undefined;
}

export type MismatchAction = 'LOG' | 'ADD' | 'DELETE' | 'REPLACE';

export interface HeaderMatchAction {
  /** Lower-cased. */
  readonly name: string;
  /** '' = presence match. */
  readonly value: string;
  readonly mismatch: MismatchAction;
}

export interface HttpRule {
  readonly ref: RuleRef;
  readonly method: StringMatcher | undefined;
  readonly path: StringMatcher | undefined;
  readonly host: StringMatcher | undefined;
  readonly headers: readonly HeaderRequirement[];
  readonly actions: readonly HeaderMatchAction[];
  /** e.g. `POST /v1/request-landing`, for reasons. */
  readonly text: string;
}

/** The value of header `name` (lower-case) as Envoy matches it: all values joined with `,`. */
function headerValue(facts: HttpRequestFacts, name: string): string | undefined {
  switch (name) {
    case ':method':
      return facts.method;
    case ':path':
      return facts.path;
    case ':authority':
      return facts.host;
  }
  let out: string | undefined;
  for (const [n, v] of facts.headers) if (n === name) out = out === undefined ? v : `${out},${v}`;
  return out;
}

function constraintsHold(rule: HttpRule, facts: HttpRequestFacts): boolean {
  if (rule.method && !rule.method.matches(facts.method)) return false;
  if (rule.path && !rule.path.matches(facts.path)) return false;
  if (rule.host && !rule.host.matches(facts.host)) return false;
  for (const h of rule.headers) {
    const v = headerValue(facts, h.name);
    if (v === undefined || (h.value !== undefined && v !== h.value)) return false;
  }
  return true;
}

export interface HttpMatch {
  /** The first rule that matched; undefined when none did. */
  readonly rule: HttpRule | undefined;
  readonly actions: readonly HeaderAction[];
  readonly missing: readonly string[];
  readonly rejected: readonly string[];
}

const NONE: readonly never[] = Object.freeze([]);

function applyMismatchActions(
  rule: HttpRule,
  facts: HttpRequestFacts,
  out: { actions: HeaderAction[]; missing: string[]; rejected: string[] },
): void {
  for (const a of rule.actions) {
    const v = headerValue(facts, a.name);
    if (v !== undefined && (a.value === '' || v === a.value)) continue;
    switch (a.mismatch) {
      case 'LOG':
        out.missing.push(a.name);
        break;
      case 'ADD':
        out.actions.push({ op: 'add', name: a.name, value: a.value });
        out.missing.push(a.name);
        break;
      case 'DELETE':
        if (v !== undefined) {
          out.rejected.push(a.name);
          out.actions.push({ op: 'delete', name: a.name, value: '' });
        }
        break;
      case 'REPLACE':
        if (v !== undefined) out.rejected.push(a.name);
        out.actions.push({ op: 'replace', name: a.name, value: a.value });
        out.missing.push(a.name);
        break;
    }
  }
}

/**
 * The union of the HTTP rules that apply to one connection. Rules with a literal path are indexed by it,
 * so thousands of literal rules cost one Map lookup; the rest are tried in order.
 */
export class HttpRuleSet {
  private readonly byPath = new Map<string, HttpRule[]>();
  private readonly others: HttpRule[] = [];
  /** Some rule has `headerMatches` actions: use matchAll, which applies them. */
  readonly hasActions: boolean;
  /** Every header name a rule constrains or acts on (`headers`, `headerMatches`), lower-cased. */
  readonly headerNames: ReadonlySet<string>;

  constructor(readonly rules: readonly HttpRule[]) {
    for (const r of rules) {
      const literal = r.path?.literal;
      if (literal === undefined) this.others.push(r);
      else {
        const list = this.byPath.get(literal);
        if (list) list.push(r);
        else this.byPath.set(literal, [r]);
      }
    }
    this.hasActions = rules.some((r) => r.actions.length > 0);
    this.headerNames = new Set(rules.flatMap((r) => [...r.headers.map((h) => h.name), ...r.actions.map((a) => a.name)]));
  }

  /** The first rule whose constraints hold (header actions are not evaluated). */
  firstMatch(facts: HttpRequestFacts): HttpRule | undefined {
    const indexed = this.byPath.get(facts.path);
    if (indexed) for (const r of indexed) if (constraintsHold(r, facts)) return r;
    for (const r of this.others) if (constraintsHold(r, facts)) return r;
    return undefined;
  }

  /** Every matching rule contributes its header actions, so there is no short-circuit. */
  matchAll(facts: HttpRequestFacts): HttpMatch {
    let first: HttpRule | undefined;
    const out = { actions: [] as HeaderAction[], missing: [] as string[], rejected: [] as string[] };
    for (const list of [this.byPath.get(facts.path) ?? NONE, this.others]) {
      for (const r of list) {
        if (!constraintsHold(r, facts)) continue;
        first ??= r;
        applyMismatchActions(r, facts, out);
      }
    }
    return { rule: first, ...out };
  }

  private description: string | undefined;

  /** The first few rule texts, for "no http rule matched" reasons. */
  describe(): string {
    const max = 5;
    const more = this.rules.length > max ? `, ... ${this.rules.length - max} more` : '';
    return (this.description ??= this.rules.slice(0, max).map((r) => r.text).join(', ') + more);
  }
}
