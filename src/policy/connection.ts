// A ConnectionDecision: both sides' verdicts combined (both must allow), plus the per-request matchers.
// Per-request work is matching only; common answers are precomputed and shared (allocation-free).
import type {
  ConnectionDecision, Decision, HeaderAction, HttpDecision, HttpRequestFacts, KafkaRequestFacts, RuleRef, TlsSecretRef, Verdict,
} from './types.js';
import type { SideResult } from './side.js';
import { describeRef } from './side.js';
import type { HttpRule } from './http-rules.js';
import { matchKafka } from './kafka-rules.js';
import type { KafkaRule } from './kafka-rules.js';
import { kafkaApiName } from './kafka-api-keys.js';

const NONE: readonly never[] = Object.freeze([]);
const NO_NAMES: ReadonlySet<string> = new Set();
const MAX_REASON_VALUE = 200;

function clip(s: string): string {
  return s.length > MAX_REASON_VALUE ? `${s.slice(0, MAX_REASON_VALUE)}...(${s.length} chars)` : s;
}

interface Outcome {
  readonly allowed: boolean;
  readonly error?: boolean;
  readonly reason: string;
  readonly allowedBy: readonly RuleRef[];
  readonly deniedBy: readonly RuleRef[];
}

/** Applies audit mode: a would-be denial is forwarded with verdict AUDIT and the reason kept. */
function decision(o: Outcome, audit: boolean): Decision {
  if (o.allowed) return { allowed: true, verdict: 'FORWARDED', reason: o.reason, allowedBy: o.allowedBy, deniedBy: o.deniedBy };
  const verdict: Verdict = audit ? 'AUDIT' : o.error ? 'ERROR' : 'DROPPED';
  return { allowed: audit, verdict, reason: audit ? `audit: would be dropped: ${o.reason}` : o.reason, allowedBy: o.allowedBy, deniedBy: o.deniedBy };
}

function httpDecision(d: Decision, actions: readonly HeaderAction[] = NONE, missing: readonly string[] = NONE, rejected: readonly string[] = NONE): HttpDecision {
  return {
    allowed: d.allowed, verdict: d.verdict, reason: d.reason, allowedBy: d.allowedBy, deniedBy: d.deniedBy,
    headerActions: actions, missingHeaders: missing, rejectedHeaders: rejected,
  };
}

function pickTls(sides: readonly SideResult[], field: 'terminatingTLS' | 'originatingTLS'): TlsSecretRef | undefined | { conflict: string } {
  const set = sides.map((s) => s[field]).filter((t): t is TlsSecretRef => t !== undefined);
  const [a, b] = set;
  if (a && b && (a.namespace !== b.namespace || a.name !== b.name))
    return { conflict: `egress and ingress policies ask for different ${field} contexts (${a.namespace}/${a.name} and ${b.namespace}/${b.name})` };
  return a;
}

class Connection implements ConnectionDecision {
  readonly allowed: boolean;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly allowedBy: readonly RuleRef[];
  readonly deniedBy: readonly RuleRef[];
  readonly l7: ConnectionDecision['l7'];
  readonly terminatingTLS?: TlsSecretRef;
  readonly originatingTLS?: TlsSecretRef;

  /** Sides that restrict requests. */
  private readonly l7Sides: readonly SideResult[];
  /** The answer for every request when no side restricts L7, or when the connection itself is denied. */
  private readonly fixedHttp: HttpDecision | undefined;
  private readonly fixedKafka: Decision | undefined;
  /** Allowed decisions per matching rule (one restricting side), built on first use. */
  private byRule: Map<HttpRule | KafkaRule, HttpDecision> | undefined;
  private headerNames: ReadonlySet<string> | undefined;

  constructor(sides: readonly SideResult[], private readonly audit: boolean, noSides: string) {
    const denied = sides.find((s) => !s.allowed);
    const terminating = pickTls(sides, 'terminatingTLS');
    const originating = pickTls(sides, 'originatingTLS');
    const conflict = [terminating, originating].find((t): t is { conflict: string } => t !== undefined && 'conflict' in t);
    const allowedBy = sides.flatMap((s) => s.allowedBy);
    let outcome: Outcome;
    if (denied) outcome = { allowed: false, error: denied.error, reason: denied.reason, allowedBy, deniedBy: denied.deniedBy };
    else if (conflict) outcome = { allowed: false, error: true, reason: conflict.conflict, allowedBy, deniedBy: NONE };
    else {
      // Name the rules that allowed; an unenforced side only matters when no side has one.
      const ruled = sides.filter((s) => s.allowedBy.length > 0);
      const shown = ruled.length > 0 ? ruled : sides;
      const reason = shown.length === 0 ? noSides : shown.length === 1 ? shown[0]!.reason : shown.map((s) => `${s.direction}: ${s.reason}`).join('; ');
      outcome = { allowed: true, reason, allowedBy, deniedBy: NONE };
    }
    const d = decision(outcome, audit);
    this.allowed = d.allowed;
    this.verdict = d.verdict;
    this.reason = d.reason;
    this.allowedBy = d.allowedBy;
    this.deniedBy = d.deniedBy;
    if (terminating && !('conflict' in terminating)) this.terminatingTLS = terminating;
    if (originating && !('conflict' in originating)) this.originatingTLS = originating;

    this.l7Sides = outcome.allowed ? sides.filter((s) => s.l7) : NONE;
    const ingress = this.l7Sides.find((s) => s.direction === 'ingress') ?? this.l7Sides[0];
    this.l7 = ingress?.l7?.type ?? 'none';
    if (!outcome.allowed) {
      // Only reachable in audit mode (or by a protocol ignoring the connection verdict): every request
      // carries the connection's verdict.
      const why = { ...outcome, reason: `connection ${audit ? 'would have been dropped' : 'dropped'}: ${outcome.reason}` };
      this.fixedKafka = decision(why, audit);
      this.fixedHttp = httpDecision(this.fixedKafka);
    } else if (this.l7Sides.length === 0) {
      this.fixedKafka = d;
      this.fixedHttp = httpDecision(d);
    }
  }

  get httpHeaderNames(): ReadonlySet<string> {
    if (this.headerNames) return this.headerNames;
    const sets = this.l7Sides.flatMap((s) => (s.l7?.type === 'http' ? [s.l7.rules.headerNames] : []));
    this.headerNames = sets.length === 0 ? NO_NAMES : sets.length === 1 ? sets[0]! : new Set(sets.flatMap((n) => [...n]));
    return this.headerNames;
  }

  decideHttp(req: HttpRequestFacts): HttpDecision {
    if (this.fixedHttp) return this.fixedHttp;
    const only = this.l7Sides.length === 1 ? this.l7Sides[0]!.l7! : undefined;
    if (only?.type === 'http' && !only.rules.hasActions) {
      // The common case: one restricting side, no header actions; the decision depends only on the rule.
      const r = only.rules.firstMatch(req);
      return r ? this.allowedByRule(r, 'http') : this.denyHttp(this.l7Sides[0]!, this.noHttpMatch(this.l7Sides[0]!, req));
    }
    let actions: HeaderAction[] | undefined;
    let missing: string[] | undefined;
    let rejected: string[] | undefined;
    let matched: HttpRule | undefined;
    const refs: RuleRef[] = [];
    for (const side of this.l7Sides) {
      const l7 = side.l7!;
      if (l7.type !== 'http') return this.denyHttp(side, `L7: ${side.direction} rules on this port are ${l7.type} rules; an HTTP request cannot match them`);
      if (!l7.rules.hasActions) {
        const r = l7.rules.firstMatch(req);
        if (!r) return this.denyHttp(side, this.noHttpMatch(side, req));
        matched = r;
        refs.push(r.ref);
        continue;
      }
      const m = l7.rules.matchAll(req);
      if (!m.rule) return this.denyHttp(side, this.noHttpMatch(side, req));
      matched = m.rule;
      refs.push(m.rule.ref);
      (actions ??= []).push(...m.actions);
      (missing ??= []).push(...m.missing);
      (rejected ??= []).push(...m.rejected);
    }
    const reason = `allowed by http rule ${describeRef(matched!.ref)}${refs.length > 1 ? ' and the other side' : ''}`;
    return httpDecision({ allowed: true, verdict: 'FORWARDED', reason, allowedBy: refs, deniedBy: NONE }, actions, missing, rejected);
  }

  decideKafka(req: KafkaRequestFacts): Decision {
    if (this.fixedKafka) return this.fixedKafka;
    const refs: RuleRef[] = [];
    let matched: KafkaRule | undefined;
    for (const side of this.l7Sides) {
      const l7 = side.l7!;
      if (l7.type !== 'kafka') return this.deny(side, `L7: ${side.direction} rules on this port are ${l7.type} rules; a Kafka request cannot match them`);
      const m = matchKafka(l7.rules, req);
      if (!m.rule) {
        const topics = req.topics.length ? ` topics [${clip(req.topics.join(', '))}]` : '';
        const uncovered = m.uncovered.length && m.uncovered.length !== req.topics.length ? ` (not allowed: ${clip(m.uncovered.join(', '))})` : '';
        const client = req.clientId ? ` client "${clip(req.clientId)}"` : '';
        const rules = l7.rules.slice(0, 5).map((r) => r.text).join(', ') + (l7.rules.length > 5 ? `, ... ${l7.rules.length - 5} more` : '');
        return this.deny(side, `L7: no kafka rule matched ${kafkaApiName(req.apiKey)} v${req.apiVersion}${client}${topics}${uncovered} (rules: ${rules})`);
      }
      matched = m.rule;
      refs.push(m.rule.ref);
    }
    if (refs.length === 1) return this.allowedByRule(matched!, 'kafka');
    return { allowed: true, verdict: 'FORWARDED', reason: `allowed by kafka rule ${describeRef(refs[0]!)} and the other side`, allowedBy: refs, deniedBy: NONE };
  }

  /** The shared decision for requests allowed by one rule on the only restricting side. */
  private allowedByRule(rule: HttpRule | KafkaRule, type: 'http' | 'kafka'): HttpDecision {
    const cache = (this.byRule ??= new Map());
    let d = cache.get(rule);
    if (!d) {
      d = httpDecision({ allowed: true, verdict: 'FORWARDED', reason: `allowed by ${type} rule ${describeRef(rule.ref)}`, allowedBy: [rule.ref], deniedBy: NONE });
      cache.set(rule, d);
    }
    return d;
  }

  private noHttpMatch(side: SideResult, req: HttpRequestFacts): string {
    const l7 = side.l7 as { rules: { describe(): string } };
    return `L7: no http rule matched ${clip(req.method)} ${clip(req.path)} (rules: ${l7.rules.describe()})`;
  }

  /** An L7 denial keeps the side's port rules in allowedBy: they are the rules whose L7 rules did not match. */
  private deny(side: SideResult, reason: string): Decision {
    return decision({ allowed: false, reason: `${reason} [${side.direction} of ${side.subject.namespace}/${side.subject.name}]`, allowedBy: side.allowedBy, deniedBy: NONE }, this.audit);
  }

  private denyHttp(side: SideResult, reason: string): HttpDecision {
    return httpDecision(this.deny(side, reason));
  }
}

/** Combines the sides that apply (source egress, destination ingress; either may be absent). */
export function connectionDecision(sides: readonly SideResult[], audit: boolean, noSides: string): ConnectionDecision {
  return new Connection(sides, audit, noSides);
}
