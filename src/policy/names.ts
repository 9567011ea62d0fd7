// DNS-name patterns: TLS `serverNames` (cilium/proxy SNI patterns) and `toFQDNs`/`rules.dns`
// (`matchName`/`matchPattern`, cilium pkg/fqdn/matchpattern). Wildcards compile to RE2 (linear time);
// patterns without `*` are plain string comparisons.
import { RE2JS } from 're2js';

export interface NameMatcher {
  /** The pattern as written. */
  readonly text: string;
  matches(name: string): boolean;
}

const LABEL_CHARS = '[-a-z0-9_]';
const ONE_OR_MORE_LABELS = `${LABEL_CHARS}+([.]${LABEL_CHARS}+)*`;
const ANY_NAME: NameMatcher['matches'] = () => true;

function wildcardRegex(body: string): string {
  let out = '';
  for (const ch of body) out += ch === '*' ? `${LABEL_CHARS}*` : ch === '.' ? '[.]' : ch;
  return out;
}

function compiled(text: string, regex: string): NameMatcher {
  const re = RE2JS.compile(regex);
  return { text, matches: (name) => re.testExact(name) };
}

function exact(text: string, expected: string, normalise: (name: string) => string): NameMatcher {
  return { text, matches: (name) => normalise(name) === expected };
}

// Validation pattern for serverNames (cilium pkg/policy/api ServerName, 1.20), run by RE2: nested
// repetitions like this one are where backtracking engines blow up.
const SERVER_NAME = RE2JS.compile(
  '(([*]{1,2}|[*]?[-a-zA-Z0-9_]+([*][-a-zA-Z0-9_]+)*[*]?)[.])*([*]{1,2}|[*]?[-a-zA-Z0-9_]+([*][-a-zA-Z0-9_]+)*[*]?)',
);

export function serverNameProblem(pattern: string): string | undefined {
  if (pattern === '') return 'empty server name is not allowed';
  if (pattern.length > 255) return 'server name is longer than 255 characters';
  if (!SERVER_NAME.testExact(pattern.endsWith('.') ? pattern.slice(0, -1) : pattern))
    return `invalid server name ${JSON.stringify(pattern)}: labels of [-a-zA-Z0-9_] with \`*\` wildcards, or a \`**.\` prefix`;
  return undefined;
}

function normaliseSni(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * A `serverNames` entry (validated with serverNameProblem). `*` alone matches any name; `*` inside a label
 * matches within that label; a `**.` prefix matches one or more whole labels; case-insensitive.
 */
export function compileServerName(pattern: string): NameMatcher {
  let p = normaliseSni(pattern);
  let prefix = '';
  const multi = /^[*]{2,}[.]/.exec(p);
  if (multi) {
    prefix = `${ONE_OR_MORE_LABELS}[.]`;
    p = p.slice(multi[0].length);
  }
  p = p.replace(/[*]{2,}/g, '*');
  if (!prefix && p === '*') return { text: pattern, matches: (name) => /^[-a-z0-9_]+(\.[-a-z0-9_]+)*$/.test(normaliseSni(name)) };
  if (!prefix && !p.includes('*')) return exact(pattern, p, normaliseSni);
  const re = compiled(pattern, prefix + wildcardRegex(p));
  return { text: pattern, matches: (name) => re.matches(normaliseSni(name)) };
}

/** DNS names as toFQDNs/DNS rules compare them: lower-case with a trailing dot. */
export function fqdn(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/**
 * Cilium's `^([-a-zA-Z0-9_]+[.]?)+$` (and the same with `*` for patterns), written without the nested
 * repetition that makes a backtracking engine exponential: allowed characters, no empty label.
 */
function dnsNameShape(text: string, chars: RegExp): boolean {
  return chars.test(text) && !text.startsWith('.') && !text.includes('..');
}

export function matchNameProblem(name: string): string | undefined {
  if (name.length > 255) return 'matchName is longer than 255 characters';
  if (!dnsNameShape(name, /^[-a-zA-Z0-9_.]+$/)) return `invalid matchName ${JSON.stringify(name)}: labels of [-a-zA-Z0-9_] separated by dots`;
  return undefined;
}

export function matchPatternProblem(pattern: string): string | undefined {
  if (pattern.length > 255) return 'matchPattern is longer than 255 characters';
  if (!dnsNameShape(pattern, /^[-a-zA-Z0-9_.*]+$/)) return `invalid matchPattern ${JSON.stringify(pattern)}: labels of [-a-zA-Z0-9_*] separated by dots`;
  return undefined;
}

export function compileMatchName(name: string): NameMatcher {
  return exact(name, fqdn(name), fqdn);
}

/**
 * A `matchPattern`: only wildcards matches everything; a leading `**.` matches one or more labels; any
 * other `*` run matches characters within one label.
 */
export function compileMatchPattern(pattern: string): NameMatcher {
  const p = fqdn(pattern);
  if (/^[*.]+$/.test(p) && !p.slice(0, -1).includes('.')) return { text: pattern, matches: ANY_NAME };
  let prefix = '';
  let body = p;
  if (body.startsWith('**.')) {
    prefix = `(${ONE_OR_MORE_LABELS})[.]`;
    body = body.slice(3);
  }
  if (!prefix && !body.includes('*')) return exact(pattern, body, fqdn);
  const re = compiled(pattern, prefix + wildcardRegex(body.replace(/[*]+/g, '*')));
  return { text: pattern, matches: (name) => re.matches(fqdn(name)) };
}
