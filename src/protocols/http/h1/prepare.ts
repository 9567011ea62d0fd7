// Turns a parsed HTTP/1.x request head into policy facts, or into the reason it is refused (hygiene runs
// before policy: a request that could be read two ways is never decided, let alone forwarded).
import type { HttpLimits } from '../../../config/types.js';
import type { HttpRequestFacts } from '../../../policy/types.js';
import { FramingError, type RequestHead } from './framing.js';
import type { H1Request } from './request.js';
import { endToEndRequestHeaders, lowerCasePairs, type Headers } from '../forward-headers.js';
import { normalizeAbsoluteTarget, normalizePath, PathError } from '../path.js';
import type { HttpProtocol } from '../request-policy.js';
import { isValidAuthority } from '../request-fields.js';

export interface PreparedRequest {
  readonly head: RequestHead;
  /** Policy facts; their headers are the end-to-end fields, the ones forwarded. */
  readonly facts: HttpRequestFacts;
  /** Every header as received (lower-case names), for the flow record. */
  readonly received: Headers;
  /** The authority of an absolute-form target; it replaces Host upstream. */
  readonly authority: string | undefined;
  readonly protocol: HttpProtocol;
}

export interface Refusal {
  readonly status: number;
  readonly reason: string;
}

const INVALID_HOST: Refusal = { status: 400, reason: 'invalid Host header' };

export function prepareRequest(req: H1Request, limits: HttpLimits): PreparedRequest | Refusal {
  const head = req.framing;
  if (head instanceof FramingError) return head;
  // An empty Host is allowed (RFC 9112 §3.2: a target URI without an authority); anything else must be one.
  if (head.host !== undefined && head.host !== '' && !isValidAuthority(head.host)) return INVALID_HOST;
  const target = req.url;
  let path: string;
  let authority: string | undefined;
  if (target.charCodeAt(0) === 0x2f) {
    const normalized = normalizePath(target, limits.escapedSlashes);
    if (normalized instanceof PathError) return { status: 400, reason: normalized.reason };
    path = normalized;
  } else {
    const absolute = normalizeAbsoluteTarget(target, limits.escapedSlashes);
    if (absolute instanceof PathError) return { status: 400, reason: absolute.reason };
    ({ path, authority } = absolute);
  }
  const received = lowerCasePairs(req.rawHeaders);
  const facts: HttpRequestFacts = {
    method: req.method,
    path,
    host: authority ?? head.host ?? '',
    headers: withAuthority(endToEndRequestHeaders(received, head.connectionOptions), authority),
  };
  return { head, facts, received, authority, protocol: httpProtocol(req) };
}

export function httpProtocol(req: H1Request): HttpProtocol {
  return req.versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
}

export function isRefusal(value: PreparedRequest | Refusal): value is Refusal {
  return 'reason' in value;
}

/** RFC 9112 §3.2.2: an absolute-form target's authority is the Host, so policy sees the Host that is forwarded. */
function withAuthority(headers: Headers, authority: string | undefined): Headers {
  if (authority === undefined) return headers;
  const out: Array<readonly [string, string]> = headers.filter(([name]) => name !== 'host');
  out.unshift(['host', authority]);
  return out;
}
