// The request fields besides the target (path.ts) that both protocols must hold to the same rules, so that a
// request gets the same answer whether it arrived over HTTP/1.1 or HTTP/2. The rules are those of Node's strict
// HTTP/1.1 parser (llhttp), which Portcullis' own HTTP/1.1 parser (h1/head-parser.ts) keeps: anything else is a 400
// before policy. HTTP/2 frames carry arbitrary octets, so the HTTP/2 side checks them here, and both sides check the
// authority grammar, which neither parser knows about.
import { METHODS } from 'node:http';

/** The methods llhttp accepts (case-sensitive): any other method line is a 400 over HTTP/1.1. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);

/**
 * RFC 3986 §3.2.2/§3.2.3 `host [":" port]` with no userinfo: an IP-literal or a reg-name (unreserved,
 * sub-delims, percent-encoded octets), then optional digits. Anything else would be matched by policy as one
 * authority and read by the upstream as another.
 */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::[0-9]*)?$/;

/** Field-value octets llhttp refuses (RFC 9110 §5.5): controls other than HTAB, and DEL. Obs-text is allowed. */
const BAD_VALUE_OCTET = /[\x00-\x08\x0a-\x1f\x7f]/;

export function isKnownMethod(method: string): boolean {
  return KNOWN_METHODS.has(method);
}

export function isValidAuthority(authority: string): boolean {
  return AUTHORITY.test(authority);
}

/** The name of the first field whose value has an octet HTTP/1.1 would refuse; undefined when none has. */
export function fieldWithBadValue(fields: ReadonlyArray<readonly [string, string]>): string | undefined {
  for (const [name, value] of fields) if (BAD_VALUE_OCTET.test(value)) return name;
  return undefined;
}
