// Header rewriting between the two hops: hop-by-hop fields are dropped (RFC 9110 §7.6.1) before policy sees
// the request, policy header actions are applied, and the proxy's own X-Forwarded-For / Forwarded /
// X-Forwarded-Proto are added.
// Identity never comes from these headers: it comes from the socket, so a client-supplied
// X-Forwarded-For is at most passed along (mode `pass`), never believed.
import type { HttpLimits } from '../../config/types.js';
import type { HeaderAction } from '../../policy/types.js';

export type Headers = ReadonlyArray<readonly [string, string]>;

/** Request fields that describe the client connection, not the request; the proxy re-frames the message. */
const REQUEST_HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  // Request trailers are forwarded filtered (forwardableRequestTrailers): announcing the unfiltered set would lie.
  'trailer',
  // The proxy answers `Expect: 100-continue` itself once policy allowed the request.
  'expect',
  // Always set by the proxy from the listener, never taken from the client.
  'x-forwarded-proto',
]);

/**
 * Fields a request trailer section may not carry (RFC 9110 §6.5.1): their meaning is needed before the content
 * (framing, routing, authentication, request modifiers, content format), they are this hop's (hop-by-hop), or the
 * proxy sets them (X-Forwarded-For, Forwarded). Upstreams that merge trailers into headers would otherwise let a
 * trailer say what the header section was decided without.
 */
const FORBIDDEN_REQUEST_TRAILERS = new Set([
  ...REQUEST_HOP_BY_HOP,
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'content-range',
  'authorization',
  'proxy-authorization',
  'cookie',
  'cache-control',
  'pragma',
  'max-forwards',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  'x-forwarded-for',
  'forwarded',
]);

/**
 * The request trailers forwarded (to HTTP/1.1 and HTTP/2 upstreams alike): policy decides on the header section, as
 * Cilium's Envoy filter does, so a trailer must not add what a header rule sees. Fields whose
 * name a rule of the policy names (`policyNames`) are dropped with the forbidden ones above. `raw`: flat, names as
 * sent (HTTP/1.1 trailers keep their case); the fields come out with lower-case names.
 */
export function forwardableRequestTrailers(raw: readonly string[], policyNames: ReadonlySet<string>): Headers {
  const out: Array<readonly [string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!FORBIDDEN_REQUEST_TRAILERS.has(name) && !policyNames.has(name)) out.push([name, raw[i + 1]!]);
  }
  return out;
}

const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade']);

export type ForwardedForMode = HttpLimits['xForwardedFor'];

/**
 * The request's end-to-end fields: what policy decides on and what is forwarded. Hop-by-hop fields, and
 * the extra names the client's Connection header nominated (`connectionOptions`), go before policy, so a
 * header a rule required cannot vanish after the rule allowed the request, and a field a `headerMatches`
 * action adds or replaces is never removed afterwards because the client named it.
 */
export function endToEndRequestHeaders(headers: Headers, connectionOptions: readonly string[] | undefined): Headers {
  let hopByHop = false;
  for (const [name] of headers) {
    if (REQUEST_HOP_BY_HOP.has(name) || connectionOptions?.includes(name)) {
      hopByHop = true;
      break;
    }
  }
  if (!hopByHop) return headers;
  return headers.filter(([name]) => !REQUEST_HOP_BY_HOP.has(name) && !connectionOptions?.includes(name));
}

/**
 * The header list (flat `[name, value, ...]`) sent upstream for one request, from its end-to-end fields
 * after policy header actions. `authority`, when set (absolute-form target), replaces Host.
 */
export function upstreamRequestHeaders(
  headers: Headers,
  authority: string | undefined,
  forwardedFor: ForwardedForMode,
  peerAddress: string,
): string[] {
  const out: string[] = [];
  let xff: string | undefined;
  let forwarded: string | undefined;
  for (const [name, value] of headers) {
    // A header action cannot reintroduce a hop-by-hop field: this hop's framing is the proxy's.
    if (REQUEST_HOP_BY_HOP.has(name)) continue;
    if (name === 'host' && authority !== undefined) continue;
    if (forwardedFor !== 'pass' && (name === 'x-forwarded-for' || name === 'forwarded')) {
      // In append mode every earlier hop is kept, in arrival order, in one combined field.
      if (forwardedFor === 'append') {
        if (name === 'forwarded') forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
        else xff = xff === undefined ? value : `${xff}, ${value}`;
      }
      continue;
    }
    out.push(name, value);
  }
  if (authority !== undefined) out.push('host', authority);
  if (forwardedFor === 'append') {
    out.push('x-forwarded-for', xff === undefined ? peerAddress : `${xff}, ${peerAddress}`);
    const element = `for=${forwardedNode(peerAddress)};proto=http`;
    out.push('forwarded', forwarded === undefined ? element : `${forwarded}, ${element}`);
  }
  out.push('x-forwarded-proto', 'http');
  return out;
}

/** RFC 7239 §6: IPv6 nodes are bracketed and quoted. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

/**
 * `headerMatches` mismatch actions as Cilium's proxy applies them before forwarding: ADD appends another
 * value, DELETE removes every value, REPLACE removes every value and sets the policy's.
 */
export function applyHeaderActions(headers: Headers, actions: readonly HeaderAction[]): Headers {
  let out = headers;
  for (const action of actions) {
    const name = action.name.toLowerCase();
    if (action.op !== 'add') out = out.filter(([n]) => n !== name);
    if (action.op !== 'delete') out = [...out, [name, action.value]];
  }
  return out;
}

/**
 * The upstream response's header list (flat, original case) for the client. `keepUpgrade` keeps
 * Connection/Upgrade on a 101 so the client sees the protocol switch; the response writer (h1/response.ts) adds
 * the downstream hop's own Connection, Keep-Alive and framing.
 */
export function downstreamResponseHeaders(raw: readonly string[], keepUpgrade: boolean): string[] {
  const out: string[] = [];
  let connectionOptions: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (RESPONSE_HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') {
        for (const token of value.split(',')) {
          const option = token.trim().toLowerCase();
          if (option !== '' && option !== 'close' && option !== 'keep-alive' && option !== 'upgrade') (connectionOptions ??= []).push(option);
        }
      }
      if (!(keepUpgrade && (lower === 'connection' || lower === 'upgrade'))) continue;
    }
    out.push(name, value);
  }
  if (connectionOptions === undefined) return out;
  const nominated = connectionOptions;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!nominated.includes(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

/** Lower-cased `[name, value]` pairs from a flat raw header list, duplicates and order kept. */
export function lowerCasePairs(raw: readonly string[]): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}
