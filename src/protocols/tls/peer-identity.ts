// The names a client certificate proves, in the order an endpoint's `identities:` list is matched: URI SANs
// (SPIFFE IDs) first, then the subject CN. Only a certificate the TLS layer verified counts.
import type { PeerCertificate, TLSSocket } from 'node:tls';

/** Names from the peer certificate of `socket`, or none when the peer sent no certificate or it did not verify. */
export function verifiedPeerNames(socket: TLSSocket): string[] {
  if (!socket.authorized) return [];
  const cert = socket.getPeerCertificate();
  return cert && cert.subject ? certificateIdentityNames(cert) : [];
}

/** URI SANs in certificate order, then the CN when the subject has exactly one; duplicates removed. */
export function certificateIdentityNames(cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>): string[] {
  const names: string[] = [];
  for (const entry of splitAltNames(cert.subjectaltname ?? '') ?? []) {
    if (entry.startsWith('URI:') && entry.length > 4) names.push(entry.slice(4));
  }
  // Node gives an array when the subject repeats CN; which one is "the" name is ambiguous, so none is used.
  const cn: unknown = cert.subject?.CN;
  if (typeof cn === 'string' && cn !== '' && !names.includes(cn)) names.push(cn);
  return names;
}

const JSON_STRING = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/;

/**
 * Split Node's `subjectaltname` string (`DNS:a, URI:b, ...`). Node JSON-quotes values that contain `,`, `"` or
 * control characters, so a separator inside quotes does not split. Undefined when the string is not in that format
 * (then no SAN is trusted).
 */
export function splitAltNames(altNames: string): string[] | undefined {
  const result: string[] = [];
  let token = '';
  let at = 0;
  while (at < altNames.length) {
    const separator = altNames.indexOf(', ', at);
    const quote = altNames.indexOf('"', at);
    if (quote !== -1 && (separator === -1 || quote < separator)) {
      const match = JSON_STRING.exec(altNames.slice(quote));
      if (!match) return undefined;
      token += altNames.slice(at, quote) + (JSON.parse(match[0]) as string);
      at = quote + match[0].length;
    } else if (separator !== -1) {
      result.push(token + altNames.slice(at, separator));
      token = '';
      at = separator + 2;
    } else {
      result.push(token + altNames.slice(at));
      token = '';
      at = altNames.length;
    }
  }
  if (token !== '') result.push(token);
  return result;
}
