// What flow records hide of a URL, as Hubble's filterURL (cilium pkg/hubble/parser/seven/http.go) does: a
// userinfo password always, and with `redactQuery` the query string or the values of named parameters.

export const REDACTED = 'HUBBLE_REDACTED';

/** `redactQuery`: true drops the query as `--hubble-redact-http-urlquery` does; names redact those parameters' values. */
export type QueryRedaction = true | ReadonlySet<string>;

/** Replaces the password of `scheme://user:password@host/...` as Hubble's filterURL does. */
export function redactUrl(url: string): string {
  if (!url.includes('@')) return url; // no userinfo: the common case, decided in one scan
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return url;
  const authorityStart = schemeEnd + 3;
  let authorityEnd = url.length;
  for (const c of ['/', '?', '#']) {
    const i = url.indexOf(c, authorityStart);
    if (i >= 0 && i < authorityEnd) authorityEnd = i;
  }
  const at = url.lastIndexOf('@', authorityEnd - 1);
  if (at < authorityStart) return url;
  const colon = url.indexOf(':', authorityStart);
  if (colon < 0 || colon > at) return url;
  return `${url.slice(0, colon + 1)}${REDACTED}${url.slice(at)}`;
}


/**
 * `url` with its query redacted. `true`: the query and the fragment go, as in Hubble (a `?` with nothing after it
 * stays, as Go's url.URL prints it). A set of names: in each `&`-separated parameter whose name, percent-decoded
 * (`+` as a space), is in the set, what follows its first `=` becomes HUBBLE_REDACTED; a parameter without `=`
 * has no value to hide; everything else, order and empty parameters included, stays as written.
 */
export function redactQuery(url: string, how: QueryRedaction): string {
  const hash = url.indexOf('#');
  const end = hash < 0 ? url.length : hash;
  let q = url.indexOf('?');
  if (q >= end) q = -1; // a `?` inside the fragment
  if (how === true) {
    if (q < 0) return url.slice(0, end);
    return url.slice(0, q === end - 1 ? q + 1 : q);
  }
  if (q < 0) return url;
  // One pass over the query, copying only around the values it hides.
  let out = '';
  let copied = 0;
  for (let start = q + 1; start <= end; ) {
    let eq = -1;
    let amp = start;
    for (; amp < end; amp++) {
      const c = url.charCodeAt(amp);
      if (c === AMPERSAND) break;
      if (c === EQUALS && eq < 0) eq = amp;
    }
    if (eq >= 0 && how.has(parameterName(url.slice(start, eq)))) {
      out += `${url.slice(copied, eq + 1)}${REDACTED}`;
      copied = amp;
    }
    start = amp + 1;
  }
  return copied === 0 ? url : out + url.slice(copied);
}
const AMPERSAND = 0x26;
const EQUALS = 0x3d;

/** A parameter's name as a form decoder reads it; one with a malformed escape is compared as written. */
function parameterName(raw: string): string {
  const name = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  if (!name.includes('%')) return name;
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
