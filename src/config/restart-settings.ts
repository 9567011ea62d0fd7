// Which edits of portcullis.yaml a reload cannot apply. Policies, endpoints, `enforcement`, `audit` and the policy
// paths apply on reload; listeners (with the `http` defaults folded into them), `admin`, `nodeName`, `hubble`, `flows`,
// `redactHeaders`, `redactQuery`, `certs`, `workers` and `log` are set up once at start (with workers, `SIGUSR2` applies the settings each worker
// sets up for itself). Compared field by field, not as text: comments, key order and lines that moved (a listener's
// or `hubble.tls`' `line`) are no change.
import type { PortcullisConfig } from './types.js';

/** Set up at start; a changed value waits for a restart. */
const AT_START = ['admin', 'nodeName', 'hubble', 'flows', 'redactHeaders', 'redactQuery', 'certs', 'workers', 'log'] as const;
/** What a worker sets up from the revision it starts with: replacing every worker (SIGUSR2) applies them. */
export const WORKER_SETTINGS = ['listeners', 'certs', 'redactHeaders', 'redactQuery', 'nodeName'] as const;
/** Where a listener or `hubble.tls` was declared: moving it is no change. */
const LOCATION = new Set(['file', 'line']);

/**
 * What `next` changes, against the config the process started with, that only a restart applies: e.g.
 * `listener "web": listen.port`, `listener "kafka" added`, `admin.port`. Empty when everything applies live.
 */
export function restartOnlyChanges(running: PortcullisConfig, next: PortcullisConfig): string[] {
  const out: string[] = [];
  for (const key of AT_START) out.push(...differences(running[key], next[key], key).filter((f) => !LOCATION.has(f.slice(f.lastIndexOf('.') + 1))));
  const before = new Map(running.listeners.map((l) => [l.name, l]));
  for (const l of next.listeners) {
    const old = before.get(l.name);
    if (old === undefined) out.push(`listener "${l.name}" added`);
    else {
      const fields = differences(old, l, '').filter((f) => !LOCATION.has(f));
      if (fields.length > 0) out.push(`listener "${l.name}": ${fields.join(', ')}`);
    }
  }
  for (const name of before.keys()) if (!next.listeners.some((l) => l.name === name)) out.push(`listener "${name}" removed`);
  return out;
}

/** Dotted paths where `a` and `b` differ (maps and lists compared whole). */
function differences(a: unknown, b: unknown, path: string): string[] {
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => differences(a[k], b[k], path === '' ? k : `${path}.${k}`));
  }
  return canonical(a) === canonical(b) ? [] : [path];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map);
}

/** JSON with Maps as entry lists (JSON.stringify writes every Map as `{}`). */
function canonical(v: unknown): string | undefined {
  return JSON.stringify(v, (_key, x: unknown) => (x instanceof Map ? [...x] : x));
}
