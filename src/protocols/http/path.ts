// Request-target hygiene: the path policy matches is the path the upstream receives.
//
// Path confusion (`/v1/../admin`, `%2e%2e`, `//`, `\`) is the classic way to slip past L7 path rules
// (Envoy CVE-2019-9901), so every request path is normalised before matching, following Envoy as Cilium
// configures it: RFC 3986 dot-segment removal with `%2E` decoded, `\` read as `/`, merged slashes, and an
// explicit choice for encoded slashes. The query string is kept verbatim and stays part of the path
// (Envoy's `:path`, which CNP `path` regexes are matched against). The normalised path is also what gets
// forwarded, so the upstream never sees a path policy did not see. Path and query alike are held to the
// request-target grammar (RFC 9112 §3.2, RFC 3986): no controls, spaces or raw non-ASCII octets, which HTTP/1.1
// clients cannot send at all and HTTP/2 clients must not get past the proxy either.
import { isValidAuthority } from './request-fields.js';

export type EscapedSlashes = 'reject' | 'keep';

/** Why a request-target was refused (answered with 400). */
export class PathError {
  constructor(readonly reason: string) {}
}

const NUL = new PathError('NUL byte in path');
const BAD_PERCENT = new PathError('invalid percent-encoding in path');
const ESCAPED_SLASH = new PathError('escaped slash (%2F or %5C) in path');
const BAD_CHAR = new PathError('invalid character in path');
const BAD_QUERY_CHAR = new PathError('invalid character in query');
const FRAGMENT = new PathError('fragment in request-target');
const BAD_FORM = new PathError('request-target must be origin-form or absolute-form');
const BAD_AUTHORITY = new PathError('invalid authority in absolute-form request-target');

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const QUESTION = 0x3f;
const HASH = 0x23;

/**
 * Normalises an origin-form request-target (`/path?query`) for matching and forwarding. Returns the same
 * string when nothing needs changing (the common case costs one scan and no allocation).
 */
export function normalizePath(target: string, escapedSlashes: EscapedSlashes): string | PathError {
  const end = target.length;
  let i = 0;
  let clean = target.charCodeAt(0) === SLASH;
  for (; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION) break;
    if (c <= 0x20 || c >= 0x7f) return BAD_CHAR;
    if (c === HASH) return FRAGMENT;
    if (c === PERCENT || c === BACKSLASH) clean = false;
    else if (c === SLASH) {
      const next = target.charCodeAt(i + 1);
      if (next === SLASH || next === DOT) clean = false;
    }
  }
  for (let j = i + 1; j < end; j++) {
    const c = target.charCodeAt(j);
    if (c <= 0x20 || c >= 0x7f) return BAD_QUERY_CHAR;
    if (c === HASH) return FRAGMENT;
  }
  if (clean) return target;
  const path = decodeForMatching(target.slice(0, i), escapedSlashes);
  if (path instanceof PathError) return path;
  return mergeSlashes(removeDotSegments(path)) + target.slice(i);
}

/**
 * Splits an absolute-form target (`http://host:port/path?q`, RFC 9112 §3.2.2) into the authority that
 * replaces Host and the normalised origin-form path. Other forms (`*`, authority-form) are refused: a
 * reverse proxy has no use for them and policy paths always start with `/`.
 */
export function normalizeAbsoluteTarget(
  target: string,
  escapedSlashes: EscapedSlashes,
): { readonly authority: string; readonly path: string } | PathError {
  const scheme = /^https?:\/\//i.exec(target);
  if (!scheme) return BAD_FORM;
  const rest = target.slice(scheme[0].length);
  const cut = rest.search(/[/?#]/);
  const authority = cut === -1 ? rest : rest.slice(0, cut);
  if (!isValidAuthority(authority)) return BAD_AUTHORITY;
  const tail = cut === -1 ? '/' : rest.charCodeAt(cut) === SLASH ? rest.slice(cut) : '/' + rest.slice(cut);
  const path = normalizePath(tail, escapedSlashes);
  return path instanceof PathError ? path : { authority, path };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  const lower = c | 0x20;
  return (lower >= 0x61 && lower <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === DOT || c === 0x5f || c === 0x7e;
}

/**
 * Decodes percent-encoded unreserved characters (RFC 3986 §6.2.2.2, so `%2e` and `%61` cannot hide a
 * dot segment or a letter from a path regex), maps `\` to `/`, and validates every other escape. Other
 * escapes are kept byte for byte, as Envoy does (`/%c0%af` stays as is).
 */
function decodeForMatching(path: string, escapedSlashes: EscapedSlashes): string | PathError {
  let out = path.charCodeAt(0) === SLASH ? '' : '/';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === BACKSLASH) {
      out += '/';
    } else if (c === PERCENT) {
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return BAD_PERCENT;
      const byte = hi * 16 + lo;
      if (byte === 0) return NUL;
      if (byte === SLASH || byte === BACKSLASH) {
        if (escapedSlashes === 'reject') return ESCAPED_SLASH;
        out += path.slice(i, i + 3);
      } else {
        out += isUnreserved(byte) ? String.fromCharCode(byte) : path.slice(i, i + 3);
      }
      i += 2;
    } else {
      out += path[i];
    }
  }
  return out;
}

/** RFC 3986 §5.2.4 on an absolute path: `.` segments vanish, `..` removes its parent, never above `/`. */
function removeDotSegments(path: string): string {
  const input = path.split('/');
  const output: string[] = [];
  // input[0] is the empty string before the leading slash.
  for (let i = 1; i < input.length; i++) {
    const segment = input[i]!;
    const last = i === input.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') output.pop();
      // `/a/b/..` resolves to the directory `/a/`, keeping its trailing slash.
      if (last) output.push('');
    } else {
      output.push(segment);
    }
  }
  return '/' + output.join('/');
}

function mergeSlashes(path: string): string {
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}
